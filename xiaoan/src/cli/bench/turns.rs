//! `xiaoan bench turns`: the end of a turn on speech with pauses in it. Does the live
//! loop cut a resident off who paused mid-sentence, and how long does one who finished
//! wait?
//!
//! * **The clips** are made here, every run the same, with the neural Mandarin voice
//!   (`Speech`): requests spoken in two parts with a pause of 0.6–1.2 s at a hesitation
//!   point (我要办那个……居住证明, 我的身份证号是三二零五……), and complete requests
//!   with no pause. Each part is cut to its speech; the pause and the tail are digital
//!   silence. Some clips are answers to a question (an awaited ID number, a yes/no):
//!   the loop is told what is awaited, as the dialogue tells it.
//! * **A cut-off** is an end-point before the clip's speech ended: the utterance closed
//!   in the pause, and the final text misses what came after it.
//! * **Latency** is from the end of the speech to the end-point with the final text
//!   (the turn handed to the dialogue), and to the first audio of the reply (understanding,
//!   the dialogue, the first sentence synthesised). Audio is released in real time in
//!   20 ms frames through the live loop's [`Hearing`].
//! * `--fixed`: the same clips with the fixed hang-over only (the words are not
//!   judged), the baseline.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::procfs::loadavg;
use anyhow::Result;
use xiaoan_agent::app::build_agent;
use xiaoan_agent::config::Settings;
use xiaoan_agent::pipeline::{Heard, Hearing, Recognizer};
use xiaoan_agent::speech::Speech;
use xiaoan_agent::turn_end::{Expect, TurnCall};
use xiaoan_audio::{AudioBuf, SAMPLE_RATE};
use xiaoan_models::Voice;

use super::dialogue::live_capture;
use super::{pct, sorted};

/// Silence after the speech; no end-point by then counts as a miss.
const TAIL_S: f64 = 3.0;

/// One clip: what is said before the pause, the pause, what follows (empty: a
/// complete request with no pause), what the dialogue awaits.
struct ClipSpec {
    /// written after the judge's rules were tuned on the others
    held_out: bool,
    first: &'static str,
    pause_s: f64,
    rest: &'static str,
    expect: Expect,
}

const fn paused(first: &'static str, pause_s: f64, rest: &'static str) -> ClipSpec {
    ClipSpec {
        held_out: false,
        first,
        pause_s,
        rest,
        expect: Expect::Free,
    }
}

const fn whole(text: &'static str, expect: Expect) -> ClipSpec {
    ClipSpec {
        held_out: false,
        first: text,
        pause_s: 0.0,
        rest: "",
        expect,
    }
}

/// The paused-clip set.
fn clips() -> Vec<ClipSpec> {
    let id = Expect::Digits(18);
    let phone = Expect::Digits(11);
    let mut v = vec![
        paused("我要办那个", 0.8, "居住证明"),
        paused("我要办那个", 1.2, "老年人优待卡"),
        paused(
            "我的身份证号是三二零五",
            1.0,
            "零二一九八八零五二三一二三四",
        ),
        paused(
            "我的身份证号是",
            0.9,
            "三二零五零二一九八八零五二三一二三四",
        ),
        paused("我想问一下就是", 0.7, "社保卡丢了怎么补办"),
        paused("我想问一下", 0.6, "居住证需要带什么材料"),
        paused("我要开一个", 0.9, "居住证明"),
        paused("我家的", 0.6, "水管漏水了找谁修"),
        paused("老年人优待卡和", 0.8, "高龄补贴在哪里办"),
        paused("我想预约", 1.0, "明天上午去办医保"),
        paused("嗯", 1.2, "我想问问居住证要带什么材料"),
        paused("我的手机号是一三八", 0.8, "一二三四五六七八"),
        paused("请问", 0.7, "社区医院几点开门"),
        paused("就是那个", 1.1, "楼上漏水的事情想调解一下"),
        paused("我想办理", 0.9, "社保卡"),
        paused("我要投诉", 0.7, "楼下饭店太吵了"),
        ClipSpec {
            expect: id,
            ..paused("三二零五零二", 1.1, "一九八八零五二三一二三四")
        },
        ClipSpec {
            expect: id,
            ..paused("三二零五零二一九八八", 0.8, "零五二三一二三四")
        },
        ClipSpec {
            expect: phone,
            ..paused("一三八", 0.9, "一二三四五六七八")
        },
        ClipSpec {
            expect: Expect::YesNo,
            ..paused("嗯", 0.8, "是的")
        },
        whole("社保卡丢了怎么办", Expect::Free),
        whole("居住证需要带什么材料", Expect::Free),
        whole("老年人优待卡怎么办", Expect::Free),
        whole("我想办理社保卡", Expect::Free),
        whole("办居住证明要多久", Expect::Free),
        whole("你们几点下班", Expect::Free),
        whole("我要找工作人员", Expect::Free),
        whole("楼上天天半夜吵我想调解", Expect::Free),
        ClipSpec {
            expect: Expect::Name,
            ..paused("我叫", 0.8, "王小明")
        },
        whole("我叫王小明", Expect::Name),
        whole("对，没错", Expect::YesNo),
        whole("再说一遍", Expect::Free),
        whole("是的", Expect::YesNo),
        whole("对", Expect::YesNo),
        whole("三二零五零二一九八八零五二三一二三四", id),
        whole("一三八一二三四五六七八", phone),
        // answers to a form's question in words (what it is for, where)
        ClipSpec {
            expect: Expect::Answer,
            ..paused("孩子", 0.8, "上学要用")
        },
        ClipSpec {
            expect: Expect::Answer,
            ..paused("我住在", 0.9, "三号楼五零二")
        },
        whole("孩子上学要用", Expect::Answer),
        whole("三号楼五零二室", Expect::Answer),
    ];
    let held_out = [
        paused("我想咨询一下那个", 0.9, "独生子女证怎么办"),
        paused("我的电话是一五九", 1.0, "八七六五四三二一"),
        paused("我要申请", 0.8, "低保"),
        paused("帮我查一下", 0.7, "我的社保交到哪个月了"),
        paused("请问就是", 0.9, "居住证明要什么材料"),
        paused("我们小区的", 1.0, "路灯坏了找谁"),
        paused("我想问", 0.6, "医保卡怎么激活"),
        paused(
            "我身份证号码是四四零三",
            1.2,
            "零五一九九零零一零一一二三四",
        ),
        whole("低保怎么申请", Expect::Free),
        whole("医保卡丢了去哪里补", Expect::Free),
        whole("我要预约明天下午办居住证", Expect::Free),
        whole("独生子女证在哪里办", Expect::Free),
        whole("不是", Expect::YesNo),
        whole("四四零三零五一九九零零一零一一二三四", Expect::Digits(18)),
    ];
    v.extend(held_out.into_iter().map(|c| ClipSpec {
        held_out: true,
        ..c
    }));
    v
}

/// `audio` at 16 kHz with its leading and trailing silence cut.
fn speech_only(audio: &AudioBuf) -> Result<Vec<f32>> {
    let a = audio.to_16k()?;
    let end = a.speech_end();
    // the start: the end of the reversed clip
    let rev = AudioBuf::new(
        a.samples[..end].iter().rev().copied().collect(),
        SAMPLE_RATE,
    );
    let start = end - rev.speech_end();
    Ok(a.samples[start..end].to_vec())
}

/// A clip made from its spec: its samples and where the first part's speech ends and
/// all speech ends (samples).
fn make(speech: &Speech, voice: &Voice, c: &ClipSpec) -> Result<(Vec<f32>, usize)> {
    let mut samples = speech_only(&speech.sentence(c.first, voice)?)?;
    if !c.rest.is_empty() {
        samples.extend(std::iter::repeat_n(
            0.0,
            (c.pause_s * SAMPLE_RATE as f64) as usize,
        ));
        samples.extend(speech_only(&speech.sentence(c.rest, voice)?)?);
    }
    let end = samples.len();
    // a short lead-in of silence, as a resident steps up
    let mut clip = vec![0.0; SAMPLE_RATE as usize / 5];
    clip.extend(samples);
    Ok((clip, end + SAMPLE_RATE as usize / 5))
}

/// One clip's outcome.
struct Outcome {
    /// end-points inside the speech
    cut: usize,
    /// end of speech → the final of the utterance holding the last word, ms
    final_ms: Option<f64>,
    /// … → the reply's first audio, ms
    reply_ms: Option<f64>,
    /// the judge's call on each utterance
    calls: Vec<Option<TurnCall>>,
    heard: Vec<String>,
    /// all decode time of the clip
    decode: Duration,
}

/// What every clip runs through.
struct Rig<'a> {
    rec: &'a Recognizer,
    agent: &'a xiaoan_agent::dialogue::Agent,
    speech: &'a Speech,
    voice: &'a Voice,
    judged: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Stream one clip in real time through the live loop.
fn run_clip(rig: &Rig, clip: Vec<f32>, speech_end: usize, expect: Expect) -> Result<Outcome> {
    let Rig {
        rec,
        agent,
        speech,
        voice,
        judged,
    } = *rig;
    let mut hearing = Hearing::new(rec)?;
    hearing.set_judge(judged.then(|| agent.turn_judge()));
    hearing.expect(expect);
    let mut feed = clip;
    feed.extend(std::iter::repeat_n(
        0.0,
        (TAIL_S * SAMPLE_RATE as f64) as usize,
    ));
    let speech_s = speech_end as f64 / SAMPLE_RATE as f64;
    let (start, rx, capture) = live_capture(feed);
    let spoken = start + Duration::from_secs_f64(speech_s);
    let mut out = Outcome {
        cut: 0,
        final_ms: None,
        reply_ms: None,
        calls: Vec::new(),
        heard: Vec::new(),
        decode: Duration::ZERO,
    };
    'frames: for f in rx.iter() {
        for h in hearing.push(&f, "cmn")? {
            let Heard::Final { text, at_s, .. } = h else {
                continue;
            };
            out.heard.push(text.clone());
            out.calls.push(hearing.last_call());
            if at_s < speech_s {
                out.cut += 1;
                continue;
            }
            let now = Instant::now();
            out.final_ms = Some(ms(now.saturating_duration_since(spoken)));
            let mut session = agent.new_session();
            let turn = agent.handle(&mut session, &text);
            if let Some(first) = Speech::first_sentence(&turn.reply) {
                let mut done = None;
                speech.sentence_each(&first, voice, &mut |_| {
                    done.get_or_insert_with(Instant::now);
                })?;
                out.reply_ms = done.map(|d| ms(d.saturating_duration_since(spoken)));
            }
            break 'frames;
        }
    }
    drop(rx);
    let _ = capture.join();
    out.decode = hearing.decode_time();
    Ok(out)
}

/// `text` with every run of 7 or more digits masked (made-up ID and phone numbers
/// still look like personal data in a log).
fn masked(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let n = run.chars().count();
        if n >= 7 {
            let head: String = run.chars().take(3).collect();
            out.push_str(&format!("{head}{}", "*".repeat(n - 3)));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else if !run.is_empty() && matches!(c, '-' | ' ' | ',') {
            // separators inside a number the recogniser wrote (3205-0219…)
            continue;
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `xiaoan bench turns [--fixed]`.
pub fn run(s: &Settings, fixed: bool) -> Result<ExitCode> {
    let rec = Recognizer::load(s)?;
    let speech = Speech::from_settings(s)?;
    let voice = Voice {
        name: xiaoan_models::voice_for_dialect("cmn").to_string(),
        ..Voice::default()
    };
    let dir = std::env::temp_dir().join(format!("xiaoan-bench-turns-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let agent = build_agent(s, &dir.join("bench.db"))?;
    let mode = if fixed {
        "fixed hang-over"
    } else {
        "judged from the words"
    };
    println!(
        "bench turns: clips with mid-sentence pauses, neural voice ({}), real time, end of turn {mode}; hang-over {} ms",
        speech.engine_name(),
        s.config.audio.endpoint.trailing_silence_ms
    );
    println!(
        "  machine: {}; load average before: {}",
        crate::cli::eval::machine(),
        loadavg()
    );
    let specs = clips();
    let mut made = Vec::new();
    for c in &specs {
        made.push(make(&speech, &voice, c)?);
    }
    println!(
        "\n  {:<38} {:>7} {:>9} {:>5} {:>8} {:>8} {:<10}  heard",
        "clip", "pause", "awaits", "cut", "final", "reply", "call"
    );
    let (mut finals, mut replies) = (Vec::new(), Vec::new());
    let (mut cut, mut paused_n, mut cut_paused, mut missed) = (0, 0, 0, 0);
    let (mut held_n, mut held_cut) = (0, 0);
    let (mut audio_s, mut decode) = (0.0, Duration::ZERO);
    let rig = Rig {
        rec: &rec,
        agent: &agent,
        speech: &speech,
        voice: &voice,
        judged: !fixed,
    };
    for (c, (clip, end)) in specs.iter().zip(made) {
        // the audio the loop heard: the clip and the silence up to its end-point
        let o = run_clip(&rig, clip.clone(), end, c.expect)?;
        audio_s += end as f64 / SAMPLE_RATE as f64 + o.final_ms.unwrap_or(0.0) / 1000.0;
        decode += o.decode;
        if !c.rest.is_empty() {
            paused_n += 1;
            if o.cut > 0 {
                cut_paused += 1;
            }
        }
        if o.cut > 0 {
            cut += 1;
        }
        if c.held_out {
            held_n += 1;
            if o.cut > 0 {
                held_cut += 1;
            }
        }
        match o.final_ms {
            Some(x) => finals.push(x),
            None => missed += 1,
        }
        replies.extend(o.reply_ms);
        let name = if c.rest.is_empty() {
            c.first.to_string()
        } else {
            format!("{}……{}", c.first, c.rest)
        };
        let name: String = name.chars().take(18).collect();
        println!(
            "  {:<30} {:>6} {:>9} {:>5} {:>8} {:>8} {:<10}  {}",
            name,
            if c.rest.is_empty() {
                "-".to_string()
            } else {
                format!("{:.1}s", c.pause_s)
            },
            c.expect.to_string(),
            if o.cut > 0 { "CUT" } else { "" },
            o.final_ms.map_or("-".into(), |x| format!("{x:.0} ms")),
            o.reply_ms.map_or("-".into(), |x| format!("{x:.0} ms")),
            o.calls
                .iter()
                .map(|c| c.map_or("-".to_string(), |c| c.to_string()))
                .collect::<Vec<_>>()
                .join("|"),
            masked(&o.heard.join(" | "))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (f, r) = (sorted(finals), sorted(replies));
    let n = specs.len();
    println!(
        "\nbench turns  {mode}  clips={n} (paused {paused_n})  cut-offs {cut}/{n} ({:.1}%; paused clips {cut_paused}/{paused_n}; held-out clips {held_cut}/{held_n})  end of speech → final p50 {:.0} ms p95 {:.0} ms; → first reply audio p50 {:.0} ms p95 {:.0} ms  no end-point {missed}  streaming compute RTF {:.3}  [{}; load average after: {}]",
        100.0 * cut as f64 / n.max(1) as f64,
        pct(&f, 50.0),
        pct(&f, 95.0),
        pct(&r, 50.0),
        pct(&r, 95.0),
        decode.as_secs_f64() / audio_s.max(1e-3),
        crate::cli::eval::machine(),
        loadavg()
    );
    Ok(if missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
