//! Training data, the homophone noise model, training and evaluation of the intent model.
//!
//! `data/train.tsv` holds hand-written spoken-style examples (`text<TAB>intent<TAB>dialect`);
//! `{svc}` in a line stands for a service-guide item and is expanded with several of
//! `data/services.txt`. Training adds ASR-noisy copies made by [`noisy`]: characters are
//! replaced with other common characters of the same (tone-less, sometimes fuzzy) pinyin,
//! the table built with the `pinyin` crate over `data/common_chars.txt` (GB 2312 level 1).
//! `data/heldout.tsv` is written separately and never trained on. Neither are the recogniser
//! transcripts of synthetic speech: `data/speech_dev.tsv` (the project's synthetic set, used
//! to look at Whisper's errors) and `data/speech_heldout.tsv` (sentences written for that
//! test only); `examples/speech.rs` scores them.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use pinyin::ToPinyin;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::features::{coarse, features, fuzzy, DIM};
use crate::model::{softmax, Model};
use crate::{normalize, Context, Intent, Understander, DIALECTS};

/// The seed of the committed model.
pub const SEED: u64 = 20_251_129;
/// Share of characters the noise model replaces.
pub const NOISE_RATE: f64 = 0.3;
/// Noisy copies per training example.
const NOISY_COPIES: usize = 8;
/// Noise rates of the copies, in turn (Whisper base on espeak-ng Mandarin has a CER
/// around 0.75, so copies go well past the evaluation rate).
const NOISE_RATES: [f64; 4] = [0.2, 0.35, 0.5, 0.65];
/// Share of noisy copies cut short (the recogniser stops early).
const TRUNCATE: f64 = 0.3;
/// Epochs of stochastic gradient descent.
const EPOCHS: usize = 30;
/// Initial learning rate.
const LEARNING_RATE: f32 = 0.8;
/// L2 penalty per update on the active weights.
const L2: f32 = 1e-5;

const TRAIN_TSV: &str = include_str!("../data/train.tsv");
const HELDOUT_TSV: &str = include_str!("../data/heldout.tsv");
const SPEECH_DEV_TSV: &str = include_str!("../data/speech_dev.tsv");
const SPEECH_HELDOUT_TSV: &str = include_str!("../data/speech_heldout.tsv");
const SERVICES: &str = include_str!("../data/services.txt");
const COMMON_CHARS: &str = include_str!("../data/common_chars.txt");

/// One labelled utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The text as a resident would say or a recogniser would write it.
    pub text: String,
    /// The intent.
    pub intent: Intent,
    /// Its dialect code.
    pub dialect: String,
    /// Whether it is recogniser-garbled text (held-out file, column 4 `asr`).
    pub noisy: bool,
    /// The service-guide item meant, where one is (transcript sets, column 7), for
    /// scoring retrieval on recogniser output.
    pub service: Option<String>,
}

fn parse_tsv(name: &str, text: &str) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let err = |reason: String| Error::Data {
            file: name.to_string(),
            line: i + 1,
            reason,
        };
        if cols.len() < 3 {
            return Err(err("expected text<TAB>intent<TAB>dialect".into()));
        }
        let intent =
            Intent::parse(cols[1]).ok_or_else(|| err(format!("unknown intent {:?}", cols[1])))?;
        let dialect = cols[2].trim();
        if !DIALECTS.contains(&dialect) {
            return Err(err(format!("unknown dialect {dialect:?}")));
        }
        out.push(Example {
            text: cols[0].trim().to_string(),
            intent,
            dialect: dialect.to_string(),
            noisy: cols.get(3).is_some_and(|c| c.trim() == "asr"),
            service: cols
                .get(6)
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        });
    }
    Ok(out)
}

/// The service names that `{svc}` expands to.
pub fn services() -> Vec<&'static str> {
    SERVICES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The training examples (`{svc}` lines expanded, three service names each).
pub fn examples() -> &'static [Example] {
    static E: OnceLock<Vec<Example>> = OnceLock::new();
    E.get_or_init(|| {
        let base = parse_tsv("data/train.tsv", TRAIN_TSV).unwrap_or_default();
        let svc = services();
        let mut out = Vec::with_capacity(base.len() * 2);
        for (i, e) in base.into_iter().enumerate() {
            if e.text.contains("{svc}") && !svc.is_empty() {
                for k in 0..3 {
                    let s = svc[(i * 7 + k * 13) % svc.len()];
                    out.push(Example {
                        text: e.text.replace("{svc}", s),
                        ..e.clone()
                    });
                }
            } else {
                out.push(e);
            }
        }
        out
    })
}

/// Checks the embedded data files (line-numbered errors).
pub fn check_data() -> Result<()> {
    parse_tsv("data/train.tsv", TRAIN_TSV)?;
    parse_tsv("data/heldout.tsv", HELDOUT_TSV)?;
    parse_tsv("data/speech_dev.tsv", SPEECH_DEV_TSV)?;
    parse_tsv("data/speech_heldout.tsv", SPEECH_HELDOUT_TSV)?;
    Ok(())
}

/// The held-out test set (`data/heldout.tsv`), never used in training.
pub fn heldout() -> Vec<Example> {
    parse_tsv("data/heldout.tsv", HELDOUT_TSV).unwrap_or_default()
}

/// Recogniser transcripts of the project's SYNTHETIC set (`data/speech_dev.tsv`): never
/// trained on, but looked at while developing the noise model, so a development set.
pub fn speech_dev() -> Vec<Example> {
    parse_tsv("data/speech_dev.tsv", SPEECH_DEV_TSV).unwrap_or_default()
}

/// Recogniser transcripts of espeak-ng renderings of sentences written for this test only
/// (`data/speech_heldout.tsv`): never trained on and not looked at while developing.
pub fn speech_heldout() -> Vec<Example> {
    parse_tsv("data/speech_heldout.tsv", SPEECH_HELDOUT_TSV).unwrap_or_default()
}

/// Homophone table: plain pinyin → common characters, fuzzy pinyin → characters, and
/// coarse sound class ([`coarse`]) → characters.
struct Homophones {
    plain: HashMap<String, Vec<char>>,
    fuzzy: HashMap<String, Vec<char>>,
    coarse: HashMap<String, Vec<char>>,
    all: Vec<char>,
}

fn homophones() -> &'static Homophones {
    static H: OnceLock<Homophones> = OnceLock::new();
    H.get_or_init(|| {
        let mut plain: HashMap<String, Vec<char>> = HashMap::new();
        let mut fz: HashMap<String, Vec<char>> = HashMap::new();
        let mut co: HashMap<String, Vec<char>> = HashMap::new();
        let mut all = Vec::new();
        let chars = COMMON_CHARS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::chars);
        for c in chars.filter(|c| !c.is_whitespace()) {
            if let Some(p) = c.to_pinyin() {
                plain.entry(p.plain().to_string()).or_default().push(c);
                fz.entry(fuzzy(p.plain())).or_default().push(c);
                co.entry(coarse(p.plain())).or_default().push(c);
                all.push(c);
            }
        }
        Homophones {
            plain,
            fuzzy: fz,
            coarse: co,
            all,
        }
    })
}

/// An ASR-noisy copy of `text`. Each Han character is, with probability `rate`, changed the
/// way Whisper mishears synthetic and accented Mandarin: most often another common
/// character of the same tone-less pinyin; else one of the same fuzzy pinyin (zh/z, ch/c,
/// sh/s, -ng/-n, l/n) or of the same coarse sound class (b/p/f/h, d/t, g/k, j/q/x/z/c/s,
/// an/ang, en/eng/in/ing; see [`crate::features`]); sometimes dropped, sometimes followed
/// by a stray character. One time in three the result is written in Traditional script.
pub fn noisy(text: &str, rate: f64, rng: &mut impl Rng) -> String {
    let h = homophones();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let Some(p) = c.to_pinyin() else {
            out.push(c);
            continue;
        };
        if !rng.random_bool(rate.clamp(0.0, 1.0)) {
            out.push(c);
            continue;
        }
        let roll: f64 = rng.random();
        let table = if roll < 0.45 {
            h.plain.get(p.plain())
        } else if roll < 0.6 {
            h.fuzzy.get(&fuzzy(p.plain()))
        } else if roll < 0.88 {
            h.coarse.get(&coarse(p.plain()))
        } else if roll < 0.95 {
            // dropped
            continue;
        } else {
            out.push(c);
            if !h.all.is_empty() {
                out.push(h.all[rng.random_range(0..h.all.len())]);
            }
            continue;
        };
        match table.filter(|v| v.len() > 1) {
            Some(v) => {
                let pick = v[rng.random_range(0..v.len())];
                out.push(pick);
            }
            None => out.push(c),
        }
    }
    if rng.random_bool(1.0 / 3.0) {
        zhconv::zhconv(&out, zhconv::Variant::ZhHant)
    } else {
        out
    }
}

/// The first part of `text` (at least two characters and 40 % of it), as when the
/// recogniser stops early.
fn truncated(text: &str, rng: &mut impl Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let min = (chars.len() * 2).div_ceil(5).max(2);
    if chars.len() <= min {
        return text.to_string();
    }
    let keep = rng.random_range(min..chars.len());
    chars[..keep].iter().collect()
}

/// Feature rows (features, class) of `examples` plus their noisy copies.
fn rows(examples: &[&Example], rng: &mut ChaCha8Rng) -> Vec<(Vec<(u32, f32)>, usize)> {
    let mut out = Vec::with_capacity(examples.len() * (1 + NOISY_COPIES));
    for e in examples {
        out.push((features(&normalize(&e.text)), e.intent.index()));
        for k in 0..NOISY_COPIES {
            let rate = NOISE_RATES[k % NOISE_RATES.len()];
            let mut t = noisy(&e.text, rate, rng);
            if rng.random_bool(TRUNCATE) {
                t = truncated(&t, rng);
            }
            out.push((features(&normalize(&t)), e.intent.index()));
        }
    }
    out
}

/// Stochastic gradient descent on the softmax cross-entropy.
#[allow(clippy::needless_range_loop)]
fn fit(rows: &mut [(Vec<(u32, f32)>, usize)], rng: &mut ChaCha8Rng) -> Model {
    let mut m = Model::zeros();
    let k = m.bias.len();
    for epoch in 0..EPOCHS {
        rows.shuffle(rng);
        let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
        for (x, y) in rows.iter() {
            let p = softmax(&m.logits(x), 1.0);
            for c in 0..k {
                let g = p[c] - if c == *y { 1.0 } else { 0.0 };
                m.bias[c] -= lr * g * 0.1;
                let row = &mut m.weights[c * DIM..(c + 1) * DIM];
                for &(i, v) in x {
                    let w = &mut row[i as usize];
                    *w -= lr * (g * v + L2 * *w);
                }
            }
        }
    }
    m
}

/// The temperature that minimises the negative log-likelihood on `rows`.
fn fit_temperature(m: &Model, rows: &[(Vec<(u32, f32)>, usize)]) -> f32 {
    let logits: Vec<(Vec<f32>, usize)> = rows.iter().map(|(x, y)| (m.logits(x), *y)).collect();
    let mut best = (f32::INFINITY, 1.0);
    for step in 0..60 {
        let t = 0.3 + step as f32 * 0.05;
        let nll: f32 = logits
            .iter()
            .map(|(z, y)| -softmax(z, t)[*y].max(1e-9).ln())
            .sum();
        if nll < best.0 {
            best = (nll, t);
        }
    }
    best.1
}

/// Trains the intent model on all training examples (and their noisy copies), with the
/// temperature fitted on a held-out fifth first. Reproducible for a given seed.
pub fn train(seed: u64) -> Result<Model> {
    let all: Vec<&Example> = examples().iter().collect();
    if all.is_empty() {
        return Err(Error::Model("no training examples".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut rng);
    let cut = all.len() / 5;
    let cal: Vec<&Example> = order[..cut].iter().map(|&i| all[i]).collect();
    let fit_part: Vec<&Example> = order[cut..].iter().map(|&i| all[i]).collect();
    let mut fit_rows = rows(&fit_part, &mut rng);
    let cal_rows = rows(&cal, &mut rng);
    let probe = fit(&mut fit_rows, &mut rng);
    let t = fit_temperature(&probe, &cal_rows);
    let mut all_rows = rows(&all, &mut rng);
    let mut m = fit(&mut all_rows, &mut rng);
    m.temperature = t;
    Ok(m)
}

/// Trains with `seed` and writes the model file (`model/intent-model.bin` is the one
/// embedded in the crate).
pub fn write_model(path: &std::path::Path, seed: u64) -> Result<Model> {
    let m = train(seed)?;
    std::fs::write(path, m.to_bytes()).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(m)
}

/// Scores: accuracy, macro-F1, confusion matrix, per-dialect accuracy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Items scored.
    pub n: usize,
    /// Share of items whose top intent is right.
    pub accuracy: f32,
    /// Mean F1 over the intents present (gold or predicted).
    pub macro_f1: f32,
    /// `confusion[gold][predicted]`, indices of [`Intent::ALL`].
    pub confusion: Vec<Vec<u32>>,
    /// (group, items, accuracy) per dialect code, plus `asr` for garbled items.
    pub per_dialect: Vec<(String, usize, f32)>,
    /// Dialect identification accuracy on items whose text carries a dialect marker.
    pub dialect_id_accuracy: f32,
    /// Items in that measure.
    pub dialect_id_n: usize,
}

impl Report {
    /// Builds a report from (gold, predicted, dialect, noisy, dialect guessed, marked).
    #[allow(clippy::needless_range_loop)]
    pub fn from_predictions(items: &[(Intent, Intent, String, bool, String, bool)]) -> Report {
        let k = Intent::ALL.len();
        let mut confusion = vec![vec![0u32; k]; k];
        let mut groups: HashMap<String, (usize, usize)> = HashMap::new();
        let (mut did_ok, mut did_n) = (0usize, 0usize);
        for (g, p, d, noisy, guess, marked) in items {
            confusion[g.index()][p.index()] += 1;
            let ok = (g == p) as usize;
            let e = groups.entry(d.clone()).or_default();
            e.0 += 1;
            e.1 += ok;
            if *noisy {
                let e = groups.entry("asr".into()).or_default();
                e.0 += 1;
                e.1 += ok;
            }
            if d != "cmn" && *marked {
                did_n += 1;
                did_ok += (guess == d) as usize;
            }
        }
        let n = items.len();
        let correct: u32 = (0..k).map(|i| confusion[i][i]).sum();
        let mut f1s = Vec::new();
        for i in 0..k {
            let tp = confusion[i][i] as f32;
            let gold: u32 = confusion[i].iter().sum();
            let pred: u32 = (0..k).map(|r| confusion[r][i]).sum();
            if gold == 0 && pred == 0 {
                continue;
            }
            let prec = if pred > 0 { tp / pred as f32 } else { 0.0 };
            let rec = if gold > 0 { tp / gold as f32 } else { 0.0 };
            f1s.push(if prec + rec > 0.0 {
                2.0 * prec * rec / (prec + rec)
            } else {
                0.0
            });
        }
        let mut per_dialect: Vec<(String, usize, f32)> = groups
            .into_iter()
            .map(|(d, (n, ok))| (d, n, if n > 0 { ok as f32 / n as f32 } else { 0.0 }))
            .collect();
        let order = |d: &str| {
            DIALECTS
                .iter()
                .position(|c| *c == d)
                .unwrap_or(DIALECTS.len())
        };
        per_dialect.sort_by_key(|x| order(&x.0));
        Report {
            n,
            accuracy: if n > 0 {
                correct as f32 / n as f32
            } else {
                0.0
            },
            macro_f1: if f1s.is_empty() {
                0.0
            } else {
                f1s.iter().sum::<f32>() / f1s.len() as f32
            },
            confusion,
            per_dialect,
            dialect_id_accuracy: if did_n > 0 {
                did_ok as f32 / did_n as f32
            } else {
                0.0
            },
            dialect_id_n: did_n,
        }
    }

    /// Accuracy of one group (a dialect code or `asr`).
    pub fn group_accuracy(&self, group: &str) -> Option<f32> {
        self.per_dialect.iter().find(|x| x.0 == group).map(|x| x.2)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "items {}  accuracy {:.3}  macro-F1 {:.3}",
            self.n, self.accuracy, self.macro_f1
        )?;
        writeln!(
            f,
            "dialect identification on marked text: {:.3} ({} items)",
            self.dialect_id_accuracy, self.dialect_id_n
        )?;
        for (d, n, a) in &self.per_dialect {
            writeln!(f, "  {d:<8} {n:>5} items  accuracy {a:.3}")?;
        }
        writeln!(
            f,
            "confusion (rows gold, columns predicted; order of intents.tsv):"
        )?;
        write!(f, "{:>19}", "")?;
        for i in 0..Intent::ALL.len() {
            write!(f, "{:>4}", i + 1)?;
        }
        writeln!(f)?;
        for (i, row) in self.confusion.iter().enumerate() {
            write!(f, "{:>2} {:<16}", i + 1, Intent::ALL[i].as_str())?;
            for c in row {
                if *c == 0 {
                    write!(f, "{:>4}", ".")?;
                } else {
                    write!(f, "{c:>4}")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Scores `u` on `items` (context: nothing awaited, dialect unknown).
pub fn evaluate(u: &Understander, items: &[Example]) -> Report {
    let ctx = Context::default();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let preds: Vec<_> = items
        .iter()
        .map(|e| {
            let r = u.understand_on(&e.text, &ctx, today);
            (
                e.intent,
                r.intent.intent,
                e.dialect.clone(),
                e.noisy,
                r.dialect.code.to_string(),
                r.dialect.marked,
            )
        })
        .collect();
    Report::from_predictions(&preds)
}

/// K-fold cross-validation over the training examples: each fold is scored on its clean
/// examples and on one noisy copy of each, by a model trained on the other folds.
pub fn cross_validate(folds: usize, seed: u64) -> Report {
    let all: Vec<&Example> = examples().iter().collect();
    let folds = folds.clamp(2, all.len().max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut rng);
    let mut items = Vec::new();
    for f in 0..folds {
        let test: Vec<&Example> = order
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == f)
            .map(|(_, &j)| all[j])
            .collect();
        let train: Vec<&Example> = order
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != f)
            .map(|(_, &j)| all[j])
            .collect();
        let mut r = rows(&train, &mut rng);
        let m = fit(&mut r, &mut rng);
        let u = Understander::from_model(m);
        let mut scored: Vec<Example> = test.iter().map(|e| (*e).clone()).collect();
        for e in &test {
            scored.push(Example {
                text: noisy(&e.text, NOISE_RATE, &mut rng),
                noisy: true,
                ..(*e).clone()
            });
        }
        let ctx = Context::default();
        let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
        for e in &scored {
            let res = u.understand_on(&e.text, &ctx, today);
            items.push((
                e.intent,
                res.intent.intent,
                e.dialect.clone(),
                e.noisy,
                res.dialect.code.to_string(),
                res.dialect.marked,
            ));
        }
    }
    Report::from_predictions(&items)
}
