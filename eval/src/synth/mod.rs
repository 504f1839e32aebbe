//! A synthetic test set: the project's own test utterances rendered by a [`SynthVoice`]
//! at several speaking rates and pitches, in several rooms ([`Condition`]: clean,
//! reverberant, white or babble-like noise at a given signal-to-noise ratio, and the
//! 8 kHz telephone band).
//!
//! It measures robustness and regressions, **not real dialect accuracy**: a synthetic
//! voice is not a resident. Everything it writes says so — every item id starts with
//! `synth-`, every manifest line carries `"synthetic": true` and a `note` naming the
//! voice, and a `README.txt` sits beside the manifest. [`crate::summarize`] labels
//! reports of such a manifest synthetic.
//!
//! The evaluator stays independent of the agent: the voice is passed in. [`EspeakVoice`]
//! is the espeak-ng program (Mandarin `cmn-latn-pinyin`, Cantonese `yue`, Hakka `hak`;
//! the other dialects have no voice and are rendered in Mandarin, and the note says so),
//! run as a separate program (it is GPL; it is not linked). `xiaoan eval synth` passes
//! the project's neural Mandarin voice by default.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod rooms;

use crate::codes;
use crate::error::{Error, Result};
use crate::manifest::ManifestItem;

/// One sentence to render.
#[derive(Clone, Debug)]
pub struct SynthUtterance {
    /// Base id (variants get `synth-<id>-r<rate>-<noise>`).
    pub id: String,
    /// What is said (in the dialect's usual written form).
    pub text: String,
    /// Dialect code of the text.
    pub dialect: String,
    /// Reference intent.
    pub intent: Option<String>,
    /// Reference service-guide item.
    pub service_id: Option<String>,
}

/// The room a rendering is heard in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Condition {
    /// As the voice made it.
    Clean,
    /// White or babble noise (alternating per variant) at this SNR in dB, measured
    /// against the active speech power.
    Noise(f32),
    /// A reverberant hall: the clip convolved with a synthetic room response
    /// ([`REVERB_RT60_S`]), direct sound kept.
    Reverb,
    /// A telephone line: band-limited to 300–3400 Hz, resampled to 8 kHz, μ-law
    /// companded, written at 8 kHz.
    Phone,
}

impl Condition {
    /// The tag in item ids (`clean`, `white10`, `babble15`, `reverb`, `phone`).
    fn tag(self, babble: bool) -> String {
        match self {
            Condition::Clean => "clean".into(),
            Condition::Noise(db) => {
                let kind = if babble { "babble" } else { "white" };
                format!("{kind}{}", db.round() as i32)
            }
            Condition::Reverb => "reverb".into(),
            Condition::Phone => "phone".into(),
        }
    }
}

/// How to render.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Speaking rates in words per minute (150 is a voice's normal pace).
    pub rates_wpm: Vec<u32>,
    /// Pitches, 0–99 with 50 normal; each rendering takes the next one in turn, so the
    /// set varies in pitch without multiplying its size.
    pub pitches: Vec<u8>,
    /// The rooms every rendering is written in.
    pub conditions: Vec<Condition>,
    /// Seed of the noise and rooms (same seed, same files).
    pub seed: u64,
    /// Render each utterance once, at one rate of `rates_wpm` in turn (and the pitches
    /// in turn across rates), instead of at every rate: a set of many sentences that
    /// still varies in pace and pitch without multiplying its size. Default false.
    pub rate_per_utterance: bool,
}

impl Default for SynthOptions {
    /// Two rates (130 and 175 wpm), three pitches, clean plus 20 dB and 10 dB SNR, seed 7.
    fn default() -> Self {
        SynthOptions {
            rates_wpm: vec![130, 175],
            pitches: vec![50, 42, 58],
            conditions: vec![
                Condition::Clean,
                Condition::Noise(20.0),
                Condition::Noise(10.0),
            ],
            seed: 7,
            rate_per_utterance: false,
        }
    }
}

/// A synthetic voice for the set.
pub trait SynthVoice {
    /// `text` (in `dialect`'s written form) at `rate_wpm` and `pitch` (0–99, 50
    /// normal): samples in [-1, 1] and their rate.
    fn render(
        &self,
        text: &str,
        dialect: &str,
        rate_wpm: u32,
        pitch: u8,
    ) -> Result<(Vec<f32>, u32)>;
    /// What speaks `dialect`, for the manifest's notes, and whether it is that
    /// dialect's own voice (false: rendered in another language's voice).
    fn describe(&self, dialect: &str) -> (String, bool);
}

/// The espeak-ng program as a [`SynthVoice`].
pub struct EspeakVoice {
    tmp: PathBuf,
}

impl EspeakVoice {
    /// A voice that writes its temporary WAV at `tmp`.
    pub fn new(tmp: &Path) -> Self {
        EspeakVoice {
            tmp: tmp.to_path_buf(),
        }
    }
}

impl SynthVoice for EspeakVoice {
    fn render(
        &self,
        text: &str,
        dialect: &str,
        rate_wpm: u32,
        pitch: u8,
    ) -> Result<(Vec<f32>, u32)> {
        let r = espeak(text, voice_for(dialect).0, rate_wpm, pitch, &self.tmp);
        let _ = std::fs::remove_file(&self.tmp);
        r
    }

    fn describe(&self, dialect: &str) -> (String, bool) {
        let (v, own) = voice_for(dialect);
        (format!("espeak-ng voice {v}"), own)
    }
}

/// The espeak-ng voice for a dialect, and whether it is that dialect's own voice.
pub fn voice_for(dialect: &str) -> (&'static str, bool) {
    match dialect {
        "yue" => ("yue", true),
        "hak" => ("hak", true),
        "cmn" => ("cmn-latn-pinyin", true),
        _ => ("cmn-latn-pinyin", false),
    }
}

/// The project's synthetic-set lines, `text⇥dialect⇥intent⇥service_id` (the service id
/// may be empty; `#` starts a comment line). `xiaoan eval synth` renders the same file.
const UTTERANCES_TSV: &str = include_str!("../../data/synth.tsv");

/// The project's own synthetic test utterances (`eval/data/synth.tsv`): service
/// questions and commands in Mandarin, Cantonese and Hakka written forms, with reference
/// intents and service ids. Ids number each dialect's lines in file order: `cmn-01`,
/// `cmn-02`, …, `yue-01`, ….
pub fn default_utterances() -> Vec<SynthUtterance> {
    let mut numbered: HashMap<&str, usize> = HashMap::new();
    UTTERANCES_TSV
        .lines()
        .filter_map(tsv_fields)
        .map(|[text, dialect, intent, service]| {
            let n = numbered.entry(dialect).or_default();
            *n += 1;
            SynthUtterance {
                id: format!("{dialect}-{n:02}"),
                text: text.to_string(),
                dialect: dialect.to_string(),
                intent: Some(intent.to_string()),
                service_id: Some(service.to_string()).filter(|s| !s.is_empty()),
            }
        })
        .collect()
}

/// The four fields of an utterance line (the service id may be empty); `None` for a
/// blank or comment line, or one without text, dialect and intent.
fn tsv_fields(line: &str) -> Option<[&str; 4]> {
    if line.starts_with('#') {
        return None;
    }
    let mut f = line.split('\t').map(str::trim);
    let fields = [f.next()?, f.next()?, f.next()?, f.next().unwrap_or("")];
    fields[..3].iter().all(|x| !x.is_empty()).then_some(fields)
}

/// SplitMix64: a small deterministic generator for the noise.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a: stable across runs and platforms.
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Renders `text` with espeak-ng; returns (samples in [-1, 1], sample rate).
fn espeak(text: &str, voice: &str, rate: u32, pitch: u8, tmp: &Path) -> Result<(Vec<f32>, u32)> {
    let mut child = Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &rate.to_string(),
            "-p",
            &pitch.min(99).to_string(),
            "-w",
        ])
        .arg(tmp)
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Espeak(format!(
                "cannot start the `espeak-ng` program ({e}); install the espeak-ng package"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| Error::Espeak(format!("writing the text: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Espeak(e.to_string()))?;
    if !out.status.success() {
        return Err(Error::Espeak(format!(
            "voice {voice} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let wav_err = |e: hound::Error| Error::wav(tmp, e);
    let reader = hound::WavReader::open(tmp).map_err(wav_err)?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample.saturating_sub(1))) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<std::result::Result<_, _>>()
                .map_err(wav_err)?
        }
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(wav_err)?,
    };
    // espeak-ng writes mono; keep the first channel if it ever does not.
    let ch = usize::from(spec.channels.max(1));
    let mono = samples.into_iter().step_by(ch).collect();
    Ok((mono, spec.sample_rate))
}

/// Mean power over the active part of a signal (samples above 2% of the peak), so that
/// leading and trailing silence does not lower the speech level.
pub(crate) fn active_power(x: &[f32]) -> f64 {
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let thr = peak * 0.02;
    let active: Vec<f64> = x
        .iter()
        .filter(|v| v.abs() > thr)
        .map(|v| f64::from(*v) * f64::from(*v))
        .collect();
    if active.is_empty() {
        0.0
    } else {
        active.iter().sum::<f64>() / active.len() as f64
    }
}

fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_err = |e: hound::Error| Error::wav(path, e);
    let mut w = hound::WavWriter::create(path, spec).map_err(wav_err)?;
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .map_err(wav_err)?;
    }
    w.finalize().map_err(wav_err)
}

#[derive(Clone, Copy, PartialEq)]
enum Noise {
    White,
    Babble,
}

/// Noise of `len` samples: white Gaussian, or babble made of several other utterances
/// overlapped at random offsets (a crowd of the same synthetic speakers).
fn make_noise(kind: Noise, len: usize, others: &[&[f32]], rng: &mut Rng) -> Vec<f32> {
    let mut n = vec![0f32; len];
    match kind {
        Noise::White => n.iter_mut().for_each(|v| *v = rng.gauss() as f32),
        Noise::Babble => {
            for _ in 0..4 {
                let src = others[(rng.next_u64() % others.len() as u64) as usize];
                if src.is_empty() {
                    continue;
                }
                let off = (rng.next_u64() % src.len() as u64) as usize;
                for (i, v) in n.iter_mut().enumerate() {
                    *v += src[(off + i) % src.len()];
                }
            }
        }
    }
    n
}

/// Renders `utts` with `voice` into `out` (`wav/` and `manifest.jsonl`) and returns the
/// manifest path.
///
/// Each utterance is rendered at every rate (with the next pitch of `opts.pitches` in
/// turn), and each rendering is written in every room of `opts.conditions`. Noise
/// alternates deterministically between white and babble per variant; the id says
/// which (`synth-cmn-01-r175-babble10`, `synth-cmn-01-r130-reverb`). Same inputs and
/// seed, same files.
pub fn render(
    out: &Path,
    utts: &[SynthUtterance],
    opts: &SynthOptions,
    voice: &dyn SynthVoice,
) -> Result<PathBuf> {
    check_options(utts, opts)?;
    let wav_dir = out.join("wav");
    std::fs::create_dir_all(&wav_dir).map_err(|e| Error::io(&wav_dir, e))?;
    // Render every clean version first: babble is made from the other utterances.
    let mut clean: Vec<Clean> = Vec::new();
    for (ui, u) in utts.iter().enumerate() {
        for (ri, &rate) in opts.rates_wpm.iter().enumerate() {
            let pitch = if opts.rate_per_utterance {
                if ri != ui % opts.rates_wpm.len() {
                    continue;
                }
                opts.pitches[(ui / opts.rates_wpm.len()) % opts.pitches.len()]
            } else {
                opts.pitches[(ui + ri) % opts.pitches.len()]
            };
            let (x, sr) = voice.render(&u.text, &u.dialect, rate, pitch)?;
            clean.push(Clean {
                utt: ui,
                rate,
                pitch,
                samples: x,
                sample_rate: sr,
            });
        }
    }
    let mut lines = Vec::new();
    for (k, c) in clean.iter().enumerate() {
        let u = &utts[c.utt];
        let others: Vec<&[f32]> = clean
            .iter()
            .filter(|o| o.utt != c.utt && o.sample_rate == c.sample_rate)
            .map(|o| o.samples.as_slice())
            .collect();
        for (si, cond) in opts.conditions.iter().enumerate() {
            let mut rng = Rng(opts.seed
                ^ hash_str(&u.id).rotate_left(17)
                ^ (u64::from(c.rate) << 32)
                ^ si as u64);
            let babble = (k + si) % 2 == 1 && !others.is_empty();
            let (audio, rate, room_note) = in_room(c, *cond, babble, &others, &mut rng);
            let id = format!("synth-{}-r{}-{}", u.id, c.rate, cond.tag(babble));
            let rel = format!("wav/{id}.wav");
            write_wav(&out.join(&rel), &audio, rate)?;
            let (voice_note, own) = voice.describe(&u.dialect);
            let voice_note = if own {
                voice_note
            } else {
                format!("{voice_note} (no {} voice)", u.dialect)
            };
            let note = format!(
                "synthetic: {voice_note}, {} wpm, pitch {}, {room_note}",
                c.rate, c.pitch
            );
            lines.push(manifest_line(id, rel, u, &note)?);
        }
    }
    let manifest = out.join("manifest.jsonl");
    std::fs::write(&manifest, lines.join("\n") + "\n").map_err(|e| Error::io(&manifest, e))?;
    let readme = out.join("README.txt");
    let note = format!(
        "SYNTHETIC test set made by `xiaoan eval synth`: {} utterances x {} x {} rooms = {} items.\n\
         Voice: {} (the note of each item says which voice spoke it; dialects without a voice of their own are spoken in Mandarin).\n\
         Rooms: {}. Seed {}. It measures robustness and regressions, not real dialect accuracy.\n",
        utts.len(),
        if opts.rate_per_utterance {
            format!("one of {} rates each", opts.rates_wpm.len())
        } else {
            format!("{} rates", opts.rates_wpm.len())
        },
        opts.conditions.len(),
        lines.len(),
        voice.describe("cmn").0,
        opts.conditions
            .iter()
            .map(|c| c.tag(false).replace("white", "noise "))
            .collect::<Vec<_>>()
            .join(", "),
        opts.seed
    );
    std::fs::write(&readme, note).map_err(|e| Error::io(&readme, e))?;
    Ok(manifest)
}

/// One clean rendering.
struct Clean {
    utt: usize,
    rate: u32,
    pitch: u8,
    samples: Vec<f32>,
    sample_rate: u32,
}

fn check_options(utts: &[SynthUtterance], opts: &SynthOptions) -> Result<()> {
    if utts.is_empty()
        || opts.rates_wpm.is_empty()
        || opts.conditions.is_empty()
        || opts.pitches.is_empty()
    {
        return Err(Error::Options(
            "synth needs at least one utterance, one rate, one pitch and one room".into(),
        ));
    }
    if let Some(r) = opts.rates_wpm.iter().find(|r| !(80..=450).contains(*r)) {
        return Err(Error::Options(format!(
            "speaking rate {r} wpm is outside 80..450"
        )));
    }
    if let Some(p) = opts.pitches.iter().find(|p| **p > 99) {
        return Err(Error::Options(format!("pitch {p} is outside 0..99")));
    }
    for u in utts {
        if !codes::is_dialect(&u.dialect) {
            return Err(Error::UnknownDialect(u.dialect.clone()));
        }
    }
    Ok(())
}

/// The contract's fields first (id leading), then the synthetic marks.
fn manifest_line(id: String, rel: String, u: &SynthUtterance, note: &str) -> Result<String> {
    let item = ManifestItem {
        id,
        audio: Some(rel),
        text: None,
        dialect: Some(u.dialect.clone()),
        transcript: Some(u.text.clone()),
        intent: u.intent.clone(),
        service_id: u.service_id.clone(),
    };
    let json = serde_json::to_string(&item).map_err(|e| Error::Options(e.to_string()))?;
    let note = serde_json::Value::from(note);
    let body = json.strip_suffix('}').unwrap_or(&json);
    Ok(format!("{body},\"synthetic\":true,\"note\":{note}}}"))
}

/// A clean rendering heard in `cond`: (samples, their rate, a note).
fn in_room(
    c: &Clean,
    cond: Condition,
    babble: bool,
    others: &[&[f32]],
    rng: &mut Rng,
) -> (Vec<f32>, u32, String) {
    let x = &c.samples;
    match cond {
        Condition::Clean => (x.clone(), c.sample_rate, "clean".into()),
        Condition::Noise(db) => {
            let kind = if babble { Noise::Babble } else { Noise::White };
            let noise = make_noise(kind, x.len(), others, rng);
            let name = if babble { "babble" } else { "white" };
            (
                add_at_snr(x, &noise, db),
                c.sample_rate,
                format!("{name} noise at {db} dB SNR"),
            )
        }
        Condition::Reverb => (
            normalise_peak(rooms::reverb(x, c.sample_rate, rng)),
            c.sample_rate,
            format!("reverberant room (RT60 {REVERB_RT60_S} s)"),
        ),
        Condition::Phone => (
            rooms::telephone(x, c.sample_rate),
            rooms::PHONE_RATE,
            "telephone band (300-3400 Hz, 8 kHz, mu-law)".into(),
        ),
    }
}

/// `x` plus `noise` scaled to `db` SNR against the active speech power, kept under
/// full scale.
fn add_at_snr(x: &[f32], noise: &[f32], db: f32) -> Vec<f32> {
    let ps = active_power(x);
    let pn = noise.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / noise.len().max(1) as f64;
    let gain = if pn > 0.0 {
        (ps / pn / 10f64.powf(f64::from(db) / 10.0)).sqrt() as f32
    } else {
        0.0
    };
    normalise_peak(x.iter().zip(noise).map(|(s, n)| s + gain * n).collect())
}

fn normalise_peak(mut mix: Vec<f32>) -> Vec<f32> {
    let peak = mix.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > 0.99 {
        mix.iter_mut().for_each(|v| *v *= 0.99 / peak);
    }
    mix
}

/// Reverberation time of the synthetic hall (a community centre's hard-walled room).
pub const REVERB_RT60_S: f32 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    fn espeak_present() -> bool {
        Command::new("espeak-ng")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn read(path: &Path) -> Vec<f32> {
        hound::WavReader::open(path)
            .unwrap()
            .into_samples::<i16>()
            .map(|s| s.unwrap() as f32 / 32767.0)
            .collect()
    }

    /// A voice that says a tone and remembers the rate and pitch it was asked for.
    struct Recording(std::cell::RefCell<Vec<(u32, u8)>>);

    impl SynthVoice for Recording {
        fn render(&self, _: &str, _: &str, rate_wpm: u32, pitch: u8) -> Result<(Vec<f32>, u32)> {
            self.0.borrow_mut().push((rate_wpm, pitch));
            let tone = (0..8000).map(|i| (i as f32 * 0.1).sin() * 0.3).collect();
            Ok((tone, 16000))
        }
        fn describe(&self, _: &str) -> (String, bool) {
            ("a test tone".into(), true)
        }
    }

    #[test]
    fn one_rate_per_utterance_varies_pace_and_pitch_without_multiplying_the_set() {
        let utts: Vec<SynthUtterance> = default_utterances()
            .into_iter()
            .filter(|u| u.dialect == "cmn")
            .take(6)
            .collect();
        assert_eq!(utts.len(), 6);
        let voice = Recording(Default::default());
        let dir = tempfile::tempdir().unwrap();
        let opts = SynthOptions {
            rates_wpm: vec![120, 150, 185],
            pitches: vec![30, 50, 70],
            conditions: vec![Condition::Clean],
            rate_per_utterance: true,
            seed: 7,
        };
        let m = crate::read_manifest(&render(dir.path(), &utts, &opts, &voice).unwrap()).unwrap();
        assert_eq!(m.items.len(), 6, "one clip per sentence");
        let asked = voice.0.borrow().clone();
        assert_eq!(
            asked,
            [
                (120, 30),
                (150, 30),
                (185, 30),
                (120, 50),
                (150, 50),
                (185, 50)
            ]
        );
        // the default still renders every sentence at every rate
        let all = Recording(Default::default());
        render(
            dir.path(),
            &utts,
            &SynthOptions {
                rate_per_utterance: false,
                ..opts
            },
            &all,
        )
        .unwrap();
        assert_eq!(all.0.borrow().len(), 18);
    }

    #[test]
    fn renders_a_labelled_deterministic_set_at_the_asked_snr() {
        if !espeak_present() {
            xiaoan_testkit::skip("renders_a_labelled_deterministic_set_at_the_asked_snr: espeak-ng not installed (run make setup)");
            return;
        }
        let utts: Vec<SynthUtterance> = default_utterances()
            .into_iter()
            .filter(|u| ["cmn-01", "yue-04"].contains(&u.id.as_str()))
            .collect();
        let opts = SynthOptions {
            rates_wpm: vec![175],
            pitches: vec![50],
            conditions: vec![
                Condition::Clean,
                Condition::Noise(10.0),
                Condition::Noise(5.0),
            ],
            rate_per_utterance: false,
            seed: 1,
        };
        let a = tempfile::tempdir().unwrap();
        let voice = EspeakVoice::new(&a.path().join("tmp.wav"));
        let manifest = render(a.path(), &utts, &opts, &voice).unwrap();
        let m = crate::read_manifest(&manifest).unwrap();
        assert_eq!(m.items.len(), 6);
        assert!(m.synthetic, "the manifest marks itself synthetic");
        let ids: Vec<String> = m
            .items
            .iter()
            .map(|i| i.as_ref().unwrap().id.clone())
            .collect();
        assert!(ids.iter().all(|i| i.starts_with("synth-")));
        assert!(
            ids.iter().any(|i| i.contains("white")) && ids.iter().any(|i| i.contains("babble")),
            "{ids:?}"
        );
        assert!(std::fs::read_to_string(a.path().join("README.txt"))
            .unwrap()
            .contains("SYNTHETIC"));
        for item in m.items.iter().map(|i| i.as_ref().unwrap()) {
            assert!(m.audio_path(item).unwrap().is_file());
        }
        // Measured SNR of each noisy file against its clean twin (best-fit scale).
        for item in m
            .items
            .iter()
            .map(|i| i.as_ref().unwrap())
            .filter(|i| !i.id.ends_with("clean"))
        {
            let base = item.id.rsplit_once('-').unwrap().0;
            let clean = read(&a.path().join(format!("wav/{base}-clean.wav")));
            let noisy = read(&m.audio_path(item).unwrap());
            assert_eq!(clean.len(), noisy.len());
            let k = clean
                .iter()
                .zip(&noisy)
                .map(|(c, n)| f64::from(*c) * f64::from(*n))
                .sum::<f64>()
                / clean.iter().map(|c| f64::from(*c).powi(2)).sum::<f64>();
            let resid = clean
                .iter()
                .zip(&noisy)
                .map(|(c, n)| (f64::from(*n) - k * f64::from(*c)).powi(2))
                .sum::<f64>()
                / clean.len() as f64;
            let snr = 10.0 * (k * k * active_power(&clean) / resid).log10();
            let want: f64 = if item.id.ends_with("10") { 10.0 } else { 5.0 };
            assert!(
                (snr - want).abs() < 1.5,
                "{}: measured {snr:.2} dB",
                item.id
            );
        }
        // Same seed, same bytes; another seed, other noise.
        let b = tempfile::tempdir().unwrap();
        render(b.path(), &utts, &opts, &voice).unwrap();
        let f = |d: &Path, id: &str| std::fs::read(d.join(format!("wav/{id}.wav"))).unwrap();
        assert_eq!(f(a.path(), &ids[1]), f(b.path(), &ids[1]));
        let c = tempfile::tempdir().unwrap();
        render(
            c.path(),
            &utts,
            &SynthOptions {
                seed: 2,
                ..opts.clone()
            },
            &voice,
        )
        .unwrap();
        assert_ne!(f(a.path(), &ids[1]), f(c.path(), &ids[1]));
        assert_eq!(f(a.path(), &ids[0]), f(c.path(), &ids[0]));
    }

    #[test]
    fn bad_options_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let voice = EspeakVoice::new(&dir.path().join("tmp.wav"));
        let u = default_utterances();
        assert!(render(
            dir.path(),
            &u,
            &SynthOptions {
                rates_wpm: vec![],
                ..Default::default()
            },
            &voice
        )
        .is_err());
        assert!(render(
            dir.path(),
            &u,
            &SynthOptions {
                rates_wpm: vec![5000],
                ..Default::default()
            },
            &voice
        )
        .is_err());
        let bad = vec![SynthUtterance {
            id: "x".into(),
            text: "你好".into(),
            dialect: "xx".into(),
            intent: None,
            service_id: None,
        }];
        assert!(render(dir.path(), &bad, &SynthOptions::default(), &voice)
            .unwrap_err()
            .to_string()
            .contains("xx"));
    }

    #[test]
    fn default_utterances_are_every_line_of_the_data_file_in_the_contract_vocabularies() {
        let u = default_utterances();
        let lines = UTTERANCES_TSV
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(u.len(), lines, "every utterance line is read");
        assert!(u.iter().all(|x| codes::is_dialect(&x.dialect)));
        assert!(u
            .iter()
            .all(|x| x.intent.as_deref().is_some_and(codes::is_intent)));
        let mut ids: Vec<&str> = u.iter().map(|x| x.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), u.len(), "ids are unique");
        assert_eq!(
            (u[0].id.as_str(), u[0].text.as_str()),
            ("cmn-01", "我想办理社保卡")
        );
        assert_eq!(u[0].service_id.as_deref(), Some("social-security-card"));
        for d in ["cmn", "yue", "hak"] {
            assert!(
                u.iter().any(|x| x.dialect == d),
                "{d} has a voice and lines"
            );
        }
        assert!(
            u.iter().any(|x| x.service_id.is_none()),
            "commands carry no service"
        );
    }

    #[test]
    fn utterance_lines_need_text_dialect_and_intent() {
        assert_eq!(
            tsv_fields("再说一遍\tcmn\tnav.repeat\t"),
            Some(["再说一遍", "cmn", "nav.repeat", ""])
        );
        assert_eq!(
            tsv_fields("低保\tcmn\tservice.query"),
            Some(["低保", "cmn", "service.query", ""])
        );
        assert_eq!(tsv_fields("# text\tdialect\tintent"), None);
        assert_eq!(tsv_fields(""), None);
        assert_eq!(tsv_fields("低保\t\tservice.query"), None);
    }
}
