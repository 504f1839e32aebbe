//! `xiaoan bench wake`: how well the robot answers to its name (`agent::wake`).
//!
//! The test set is built here, deterministically from `--seed`, with the project's
//! voices (the neural Mandarin voice and espeak-ng `cmn-latn-pinyin`, each at several
//! rates and pitches); nothing is downloaded and nothing large is kept (`--write DIR`
//! saves the clips and a manifest for listening):
//! - addressed: utterances that start with 小安 (a few after a filler: 诶，小安), alone
//!   and over hall babble at about 10 dB below them;
//! - not addressed: other sentences, many with 小 or 安 in them (小区, 小爱, 平安, 西安),
//!   played one after another as by passers-by; and TV-like babble, several voices of
//!   those sentences mixed at random offsets and levels, for `--babble-minutes` (not
//!   the sentences that hold 小安, [`babble_pool`]); a false wake in babble names what
//!   the talkers were saying over the checked window.
//!
//! Reported: misses on the addressed utterances, false wakes per hour on what was not
//! addressed (with the hours tested), and the gate's CPU share while it waits in babble
//! (decode time ÷ audio time, and all the gate's time, VAD included). Nothing asserts a
//! time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use xiaoan_agent::config::Settings;
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_agent::speech::Speech;
use xiaoan_agent::wake::{WakeEvent, WakeGate};
use xiaoan_audio::{AudioBuf, SAMPLE_RATE};
use xiaoan_models::Voice;

/// Requests said after the name.
const REQUESTS: [&str; 16] = [
    "你好",
    "我想问一下敬老卡怎么办",
    "居住证在哪里办",
    "社保卡丢了怎么办",
    "今天几点下班",
    "帮我叫一下工作人员",
    "厕所在哪里",
    "医保怎么报销",
    "我想预约一下明天上午",
    "楼上太吵了我想投诉",
    "高龄补贴怎么申请",
    "你能听懂四川话吗",
    "在吗",
    "我要办低保",
    "老年证要带什么材料",
    "帮我查一下我的回执",
];

/// How an addressed utterance begins (weights by repetition: most say the name first).
const OPENINGS: [&str; 8] = [
    "小安，",
    "小安，",
    "小安，",
    "小安",
    "小安小安，",
    "小安你好，",
    "诶，小安，",
    "嗯，小安，",
];

/// Speech that does not address the robot: service talk between people, and sentences
/// that start with or hold 小 or 安 (the hard cases for a matcher by sound).
const OTHERS: [&str; 48] = [
    "小区门口怎么走",
    "小区的物业电话是多少",
    "小孩上学要办什么手续",
    "小爱同学，今天天气怎么样",
    "小王，你把表格拿过来",
    "小李在三号窗口",
    "小韩今天没来上班",
    "小张你过来一下",
    "晓得了，我等一下再来",
    "笑死我了，这个节目真好看",
    "西安的火车票怎么买",
    "先去一楼取个号",
    "现在几点了",
    "平安保险的电话打不通",
    "安全出口在那边",
    "安排好了我再通知你",
    "我想问一下安装空调的事",
    "大家注意安全",
    "报个平安就行",
    "这个小安静一点好不好",
    "消防安全检查明天开始",
    "敬老卡在一楼三号窗口办理",
    "居住证需要带身份证和租房合同",
    "你先坐一下，马上就叫到你了",
    "今天人好多啊",
    "我妈让我来交医保",
    "下午两点开会，别忘了",
    "这个表格要签字吗",
    "你吃饭了没有",
    "那边的电梯坏了",
    "孩子的疫苗本带了吗",
    "下雨了，记得带伞",
    "明天社区有义诊",
    "你的号码是多少号",
    "广场舞几点开始",
    "我的快递放在门卫了",
    "楼下超市打折了",
    "新闻说明天降温",
    "这个月的水费交了吗",
    "老张家的孙子考上大学了",
    "请三十二号到五号窗口",
    "欢迎收看今天的新闻联播",
    "下面是天气预报",
    "观众朋友们大家好",
    "本台记者报道",
    "接下来请看广告",
    "小心地滑",
    "消费者权益保护日",
];

/// One voice of the set: engine and its settings.
#[derive(Clone, Debug)]
struct SetVoice {
    engine: &'static str,
    rate_wpm: u32,
    pitch: u8,
}

fn set_voices() -> Vec<SetVoice> {
    let mut v = Vec::new();
    for rate_wpm in [120, 150, 185] {
        for pitch in [30, 50, 70] {
            v.push(SetVoice {
                engine: "neural",
                rate_wpm,
                pitch,
            });
        }
    }
    for rate_wpm in [130, 165] {
        for pitch in [35, 65] {
            v.push(SetVoice {
                engine: "espeak",
                rate_wpm,
                pitch,
            });
        }
    }
    v
}

/// A small deterministic generator (SplitMix64): the set is the same for a seed on
/// every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// uniform in [lo, hi)
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The voices, loaded once.
struct Voices {
    neural: Speech,
    espeak: Option<Speech>,
}

impl Voices {
    fn say(&self, text: &str, v: &SetVoice) -> Result<Option<AudioBuf>> {
        let speech = match v.engine {
            "neural" => &self.neural,
            _ => match &self.espeak {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        let voice = Voice {
            rate_wpm: v.rate_wpm,
            pitch: v.pitch,
            ..Voice::default()
        };
        let a = speech.sentence(text, &voice)?.to_16k()?;
        Ok(Some(a))
    }
}

fn silence(s: f32) -> Vec<f32> {
    vec![0.0; (s * SAMPLE_RATE as f32) as usize]
}

fn gain(x: &mut [f32], db: f32) {
    let g = 10f32.powf(db / 20.0);
    for s in x.iter_mut() {
        *s *= g;
    }
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Add `b` into `a` at `at` samples (growing `a` as needed).
fn mix_into(a: &mut Vec<f32>, b: &[f32], at: usize) {
    if a.len() < at + b.len() {
        a.resize(at + b.len(), 0.0);
    }
    for (x, y) in a[at..].iter_mut().zip(b) {
        *x += y;
    }
}

/// A labelled clip of the set.
struct Clip {
    text: String,
    voice: SetVoice,
    audio: Vec<f32>,
}

/// The clips babble is made of: the other sentences, but not those that hold the
/// name's characters (这个小安静一点好不好). In babble a sentence's start is often
/// drowned by the other voices, and what is left, 小安，静一点好不好, is the name said;
/// that sentence is measured said alone, among the other sentences, where it is whole.
fn babble_pool(others: &[Clip]) -> Vec<&Clip> {
    others
        .iter()
        .filter(|c| !c.text.contains(xiaoan_agent::wake::NAME))
        .collect()
}

/// One clip in a stretch of babble: where it starts and ends (samples) and what it is.
struct Said {
    start: usize,
    end: usize,
    what: String,
}

/// Babble: `talkers` voices, each saying random clips with short gaps, at its own level
/// (0 to −12 dB), mixed, `seconds` long, peak at −3 dBFS; with what was said where.
fn babble(pool: &[&Clip], rng: &mut Rng, seconds: f32) -> (Vec<f32>, Vec<Said>) {
    let len = (seconds * SAMPLE_RATE as f32) as usize;
    let talkers = 3 + rng.below(3);
    let mut out = vec![0.0f32; len];
    let mut said = Vec::new();
    for _ in 0..talkers {
        let level = rng.range(-12.0, 0.0);
        let mut at = (rng.range(0.0, 1.5) * SAMPLE_RATE as f32) as usize;
        while at < len {
            let c = pool[rng.below(pool.len())];
            let mut a = c.audio.clone();
            gain(&mut a, level);
            let n = a.len().min(len - at);
            mix_into(&mut out, &a[..n], at);
            said.push(Said {
                start: at,
                end: at + n,
                what: format!(
                    "{} [{} {} {}] {level:.0} dB",
                    c.text, c.voice.engine, c.voice.rate_wpm, c.voice.pitch
                ),
            });
            at += a.len() + (rng.range(0.05, 0.6) * SAMPLE_RATE as f32) as usize;
        }
    }
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    let g = 0.7 / peak;
    for x in out.iter_mut() {
        *x *= g;
    }
    said.sort_by_key(|s| s.start);
    (out, said)
}

/// What was being said in babble over `from..to` (samples), with each clip's start
/// relative to `from`.
fn said_over(said: &[Said], from: usize, to: usize) -> String {
    said.iter()
        .filter(|s| s.start < to && s.end > from)
        .map(|s| {
            format!(
                "{} from {:+.1} s",
                s.what,
                (s.start as f64 - from as f64) / SAMPLE_RATE as f64
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the gate did on one stretch of audio.
#[derive(Default)]
struct Run {
    wakes: Vec<String>,
    audio_s: f64,
    wall_s: f64,
    decode_s: f64,
    checks: usize,
}

/// Push `audio` through the gate in 100 ms chunks; every wake is counted and the gate
/// put back to waiting at once (nobody talks to it here). `what` names what was said
/// over the woken segment's checked window (its start and end in `audio`, samples).
fn run_gate(
    gate: &mut WakeGate,
    audio: &[f32],
    what: &dyn Fn(usize, usize) -> String,
    out: &mut Run,
) -> Result<()> {
    let before = gate.stats();
    let t = Instant::now();
    let window = ((gate.settings().check_s + 0.3) * SAMPLE_RATE as f32) as usize;
    for (i, c) in audio.chunks(1600).enumerate() {
        if let Some(WakeEvent::Woke {
            heard, audio: seg, ..
        }) = gate.push(c)?
        {
            let end = (i * 1600 + c.len()).min(audio.len());
            let start = end.saturating_sub(seg.len());
            out.wakes.push(format!(
                "{heard:?}{} ({})",
                ratio(gate),
                what(start, start + window)
            ));
            gate.sleep();
        }
    }
    out.wall_s += t.elapsed().as_secs_f64();
    let after = gate.stats();
    out.audio_s += after.audio_s - before.audio_s;
    out.decode_s += after.decode_s - before.decode_s;
    out.checks += after.checks - before.checks;
    Ok(())
}

/// ", by likelihood (ratio …)" when the gate's last check was verified by likelihood.
fn ratio(gate: &WakeGate) -> String {
    let mut s = gate
        .last_ratio()
        .map(|r| format!(", name by likelihood {r:+.2}"))
        .unwrap_or_default();
    if let Some(o) = gate.last_onset() {
        s.push_str(&format!(
            ", second syllable's fricative {} ms",
            o.fricative_ms
        ));
    }
    s
}

/// Whether the gate wakes on one addressed clip (with silence around it), and what its
/// check heard (with the likelihood ratio when it was verified).
fn hits(gate: &mut WakeGate, clip: &[f32]) -> Result<(bool, String)> {
    gate.sleep();
    let mut audio = silence(0.5);
    audio.extend_from_slice(clip);
    audio.extend(silence(1.5));
    for c in audio.chunks(1600) {
        if let Some(WakeEvent::Woke { heard, .. }) = gate.push(c)? {
            gate.sleep();
            return Ok((true, format!("{heard:?}{}", ratio(gate))));
        }
    }
    Ok((false, format!("{:?}{}", gate.last_heard(), ratio(gate))))
}

/// Run the benchmark.
pub fn run(
    s: &Settings,
    seed: u64,
    positives: usize,
    babble_minutes: f32,
    write: Option<&Path>,
) -> Result<ExitCode> {
    let mut rng = Rng(seed);
    let rec = Recognizer::load(s)?;
    let mut gate = WakeGate::from_settings(s, &rec)?;
    let threads = s.config.asr.threads;
    let voices = Voices {
        neural: Speech::for_engine("neural", &s.home, threads)
            .context("the neural voice (run make setup)")?,
        espeak: Speech::for_engine("espeak", &s.home, threads).ok(),
    };
    if voices.espeak.is_none() {
        eprintln!("espeak-ng is not installed: the set has neural voices only");
    }
    let all_voices = set_voices();
    let t = Instant::now();
    // addressed utterances: a random opening, request and voice each
    let mut addressed = Vec::new();
    for _ in 0..positives {
        let text = format!(
            "{}{}。",
            OPENINGS[rng.below(OPENINGS.len())],
            REQUESTS[rng.below(REQUESTS.len())]
        );
        let voice = all_voices[rng.below(all_voices.len())].clone();
        if let Some(a) = voices.say(&text, &voice)? {
            addressed.push(Clip {
                text,
                voice,
                audio: a.samples,
            });
        }
    }
    // the other sentences, each in every voice
    let mut others = Vec::new();
    for text in OTHERS {
        for voice in &all_voices {
            if let Some(a) = voices.say(&format!("{text}。"), voice)? {
                others.push(Clip {
                    text: text.to_string(),
                    voice: voice.clone(),
                    audio: a.samples,
                });
            }
        }
    }
    println!(
        "bench wake  seed {seed}: {} addressed utterances, {} other clips, built in {:.0} s",
        addressed.len(),
        others.len(),
        t.elapsed().as_secs_f64()
    );
    if let Some(dir) = write {
        write_set(dir, &addressed, &others)?;
    }

    // 1. misses on addressed utterances, alone and over babble 10 dB below them
    let mut misses = Vec::new();
    let mut verified = Vec::new();
    let mut by_engine: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for c in &addressed {
        let (hit, heard) = hits(&mut gate, &c.audio)?;
        let e = by_engine.entry(c.voice.engine).or_default();
        e.1 += 1;
        if !hit {
            e.0 += 1;
            misses.push(format!("{} [{:?}] heard {heard}", c.text, c.voice));
        } else if gate.last_ratio().is_some() {
            verified.push(format!("{} [{:?}] heard {heard}", c.text, c.voice));
        }
    }
    let talk = babble_pool(&others);
    let mut noisy_misses = Vec::new();
    for c in &addressed {
        let (mut b, _) = babble(
            &talk,
            &mut rng,
            c.audio.len() as f32 / SAMPLE_RATE as f32 + 2.0,
        );
        let target = rms(&c.audio) * 10f32.powf(-10.0 / 20.0);
        let g = target / rms(&b).max(1e-9);
        for x in b.iter_mut() {
            *x *= g;
        }
        let mut clip = b.clone();
        mix_into(&mut clip, &c.audio, (0.5 * SAMPLE_RATE as f32) as usize);
        // the babble goes on before the resident speaks: the gate hears it first
        let (hit, heard) = hits(&mut gate, &clip)?;
        if !hit {
            noisy_misses.push(format!("{} [{:?}] heard {heard}", c.text, c.voice));
        }
    }
    let n = addressed.len().max(1) as f64;
    println!(
        "addressed, alone: {} utterances, {} missed ({:.1}%)  by engine: {}",
        addressed.len(),
        misses.len(),
        100.0 * misses.len() as f64 / n,
        by_engine
            .iter()
            .map(|(e, (m, t))| format!("{e} {m}/{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for m in &misses {
        println!("  miss: {m}");
    }
    println!(
        "  {} of the wakes were near misses verified by likelihood",
        verified.len()
    );
    for v in &verified {
        println!("  woke: {v}");
    }
    println!(
        "addressed, over babble at -10 dB: {} missed ({:.1}%)",
        noisy_misses.len(),
        100.0 * noisy_misses.len() as f64 / n
    );
    for m in noisy_misses.iter().take(15) {
        println!("  miss in babble: {m}");
    }

    // 2. other sentences one after another, as passers-by say them
    let mut order: Vec<usize> = (0..others.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut sentences = Run::default();
    gate.sleep();
    for i in order {
        let mut a = silence(rng.range(0.4, 2.0));
        let mut clip = others[i].audio.clone();
        gain(&mut clip, rng.range(-12.0, 0.0));
        a.extend(clip);
        let c = &others[i];
        let what = format!(
            "{} [{} {} {}]",
            c.text, c.voice.engine, c.voice.rate_wpm, c.voice.pitch
        );
        run_gate(&mut gate, &a, &|_, _| what.clone(), &mut sentences)?;
    }
    report("other sentences", &sentences);

    // 3. TV-like babble, made a minute at a time
    let mut tv = Run::default();
    gate.sleep();
    let minutes = babble_minutes.max(0.0);
    let mut left = minutes * 60.0;
    while left > 0.0 {
        let secs = left.min(60.0);
        let (b, said) = babble(&talk, &mut rng, secs);
        run_gate(
            &mut gate,
            &b,
            &|from, to| format!("babble: {}", said_over(&said, from, to)),
            &mut tv,
        )?;
        left -= secs;
    }
    report("babble", &tv);
    let hours = (sentences.audio_s + tv.audio_s) / 3600.0;
    let wakes = sentences.wakes.len() + tv.wakes.len();
    println!(
        "\nbench wake  seed {seed}  misses {:.1}% ({}/{}), over babble {:.1}%  false wakes {} in {:.2} h = {:.2}/h  idle CPU in babble: decode {:.2}%, gate {:.2}% of one core ({} checks/h)  [{}]",
        100.0 * misses.len() as f64 / n,
        misses.len(),
        addressed.len(),
        100.0 * noisy_misses.len() as f64 / n,
        wakes,
        hours,
        wakes as f64 / hours.max(1e-9),
        100.0 * tv.decode_s / tv.audio_s.max(1e-9),
        100.0 * tv.wall_s / tv.audio_s.max(1e-9),
        (tv.checks as f64 / (tv.audio_s / 3600.0).max(1e-9)).round(),
        crate::cli::eval::machine()
    );
    Ok(ExitCode::SUCCESS)
}

fn report(what: &str, r: &Run) {
    println!(
        "{what}: {:.2} h, {} checks, {} false wakes ({:.2}/h); decode {:.2}% and gate {:.2}% of the audio's time",
        r.audio_s / 3600.0,
        r.checks,
        r.wakes.len(),
        r.wakes.len() as f64 / (r.audio_s / 3600.0).max(1e-9),
        100.0 * r.decode_s / r.audio_s.max(1e-9),
        100.0 * r.wall_s / r.audio_s.max(1e-9),
    );
    for w in &r.wakes {
        println!("  false wake on {w}");
    }
}

/// Save the clips as WAV files and a JSON Lines manifest (`addressed` true or false).
fn write_set(dir: &Path, addressed: &[Clip], others: &[Clip]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut manifest = String::new();
    for (kind, clips) in [("addressed", addressed), ("other", others)] {
        for (i, c) in clips.iter().enumerate() {
            let name = format!(
                "{kind}-{i:04}-{}-{}-{}.wav",
                c.voice.engine, c.voice.rate_wpm, c.voice.pitch
            );
            let path: PathBuf = dir.join(&name);
            xiaoan_audio::write_wav(&path, &AudioBuf::new(c.audio.clone(), SAMPLE_RATE))?;
            manifest.push_str(
                &serde_json::json!({
                    "audio": name,
                    "text": c.text,
                    "addressed": kind == "addressed",
                    "engine": c.voice.engine,
                    "rate_wpm": c.voice.rate_wpm,
                    "pitch": c.voice.pitch,
                })
                .to_string(),
            );
            manifest.push('\n');
        }
    }
    std::fs::write(dir.join("manifest.jsonl"), manifest)?;
    println!("set written to {}", dir.display());
    Ok(())
}
