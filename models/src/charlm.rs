//! A character n-gram language model of the service domain, for shallow fusion in the
//! Whisper decoder's beam search (`DecodeOptions::lm`).
//!
//! Whisper base hears synthetic and dialect-accented Mandarin as near-homophones
//! (办理社保卡 → 参与可抱卡). When the acoustic evidence is this weak, the prior of
//! what residents say at a service centre — built from the project's own texts (the
//! service guide, the intent training lines) — tips the choice between candidate
//! tokens toward in-domain words. The model is small (a few thousand lines give a few
//! hundred kilobytes of counts) and is trained when the recogniser loads.
//!
//! Interpolated Kneser–Ney smoothing (one absolute discount per order; lower orders
//! use continuation counts), backed off to a uniform distribution over
//! [`BASE_VOCAB`] characters, so an unseen character is possible but unlikely.
//! Traditional characters are scored as their Simplified forms; a run of punctuation
//! and spaces is one pause symbol, scored like a character (so that a hypothesis cannot
//! dodge the model by writing pauses: "楼上 。 。 。" pays for every pause).

use std::collections::HashMap;

/// Longest n-gram (context of `ORDER - 1` characters).
pub const ORDER: usize = 4;
/// Characters the uniform floor is spread over (about the common CJK inventory).
pub const BASE_VOCAB: f32 = 8000.0;
/// Absolute discount of every order.
const DISCOUNT: f32 = 0.75;
/// Start of a sentence.
const BOS: char = '\u{2}';
/// End of a sentence.
const EOS: char = '\u{3}';
/// A pause: a run of punctuation or spaces.
const PAUSE: char = '\u{4}';

#[derive(Default, Debug, Clone)]
struct Ctx {
    /// total (continuation) count of the context
    total: f32,
    /// distinct characters seen after it
    followers: f32,
}

/// A character n-gram model (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct CharLm {
    /// per order n (index n-1): n-gram → count (highest order: raw counts; lower:
    /// continuation counts)
    grams: Vec<HashMap<String, f32>>,
    /// per order n: context (n-1 chars) → totals
    ctxs: Vec<HashMap<String, Ctx>>,
    lines: usize,
}

/// Whether a character carries words (scored) rather than layout (punctuation, spaces).
fn is_scored(c: char) -> bool {
    c.is_alphanumeric()
}

/// The Simplified form of one character (itself when it has none).
fn simplify(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let s = crate::to_simplified(&c.to_string());
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// `text` as the model's units: Simplified characters, and one pause per run of
/// punctuation and spaces.
fn units(text: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_scored(c) {
            out.push(simplify(c));
        } else if out.last() != Some(&PAUSE) {
            out.push(PAUSE);
        }
    }
    out
}

impl CharLm {
    /// Train on `lines` (any text; punctuation and spaces are dropped, Traditional
    /// characters folded to Simplified, each line a sentence).
    pub fn train<S: AsRef<str>>(lines: &[S]) -> CharLm {
        let mut raw: Vec<HashMap<String, f32>> = vec![HashMap::new(); ORDER];
        let mut n_lines = 0;
        for line in lines {
            let chars = units(line.as_ref());
            let trimmed: Vec<char> = {
                let start = chars
                    .iter()
                    .position(|c| *c != PAUSE)
                    .unwrap_or(chars.len());
                let end = chars
                    .iter()
                    .rposition(|c| *c != PAUSE)
                    .map_or(start, |e| e + 1);
                chars[start..end].to_vec()
            };
            let chars = trimmed;
            if chars.is_empty() {
                continue;
            }
            n_lines += 1;
            let mut seq = vec![BOS; ORDER - 1];
            seq.extend(chars);
            seq.push(EOS);
            for i in ORDER - 1..seq.len() {
                for n in 1..=ORDER {
                    let g: String = seq[i + 1 - n..=i].iter().collect();
                    *raw[n - 1].entry(g).or_default() += 1.0;
                }
            }
        }
        // lower orders: continuation counts N1+(• w_2..w_n)
        let mut grams: Vec<HashMap<String, f32>> = vec![HashMap::new(); ORDER];
        grams[ORDER - 1] = raw[ORDER - 1].clone();
        for n in 1..ORDER {
            let mut cont: HashMap<String, f32> = HashMap::new();
            for g in raw[n].keys() {
                let suffix: String = g.chars().skip(1).collect();
                *cont.entry(suffix).or_default() += 1.0;
            }
            grams[n - 1] = cont;
        }
        let mut ctxs: Vec<HashMap<String, Ctx>> = vec![HashMap::new(); ORDER];
        for n in 1..=ORDER {
            for (g, c) in &grams[n - 1] {
                let ctx: String = g.chars().take(n - 1).collect();
                let e = ctxs[n - 1].entry(ctx).or_default();
                e.total += c;
                e.followers += 1.0;
            }
        }
        CharLm {
            grams,
            ctxs,
            lines: n_lines,
        }
    }

    /// Sentences it was trained on.
    #[cfg(test)]
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// True when it was trained on nothing (every character equally likely).
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The history a sentence starts with.
    pub fn start() -> Vec<char> {
        vec![BOS; ORDER - 1]
    }

    /// Natural log-probability of character `c` after `history` (whose last
    /// `ORDER - 1` characters count; shorter histories are read as sentence starts).
    pub fn logprob(&self, history: &[char], c: char) -> f32 {
        let c = if c == EOS || c == PAUSE {
            c
        } else {
            simplify(c)
        };
        let k = history.len().min(ORDER - 1);
        let mut ctx: Vec<char> = vec![BOS; ORDER - 1 - k];
        ctx.extend_from_slice(&history[history.len() - k..]);
        // from the unigram up: p_n = (max(c-D,0) + D·followers·p_{n-1}) / total
        let mut p = 1.0 / BASE_VOCAB;
        for n in 1..=ORDER {
            let h: String = ctx[ORDER - n..].iter().collect();
            let Some(cx) = self.ctxs[n - 1].get(&h) else {
                break;
            };
            if cx.total <= 0.0 {
                break;
            }
            let mut g = h;
            g.push(c);
            let cnt = self.grams[n - 1].get(&g).copied().unwrap_or(0.0);
            p = ((cnt - DISCOUNT).max(0.0) + DISCOUNT * cx.followers * p) / cx.total;
        }
        p.max(1e-12).ln()
    }

    /// Log-probability that the sentence ends after `history`.
    pub fn end_logprob(&self, history: &[char]) -> f32 {
        self.logprob(history, EOS)
    }

    /// Score `text` after `history` (its characters, and each run of punctuation and
    /// spaces as one pause), appending it; returns (log-probability, characters scored,
    /// pauses not counted).
    pub fn extend(&self, history: &mut Vec<char>, text: &str) -> (f32, usize) {
        let mut lp = 0.0;
        let mut n = 0;
        for c in units(text) {
            lp += self.logprob(history, c);
            history.push(c);
            n += usize::from(c != PAUSE);
        }
        (lp, n)
    }

    /// Mean per-character log-probability of a whole sentence (end included).
    #[cfg(test)]
    pub fn sentence_logprob(&self, text: &str) -> f32 {
        let mut h = Self::start();
        let (lp, n) = self.extend(&mut h, text);
        (lp + self.end_logprob(&h)) / (n + 1) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm() -> CharLm {
        CharLm::train(&[
            "我想办理社保卡",
            "社保卡丢了怎么补办",
            "居住证需要带什么材料",
            "老年人优待卡怎么办",
            "我想问一下高龄津贴",
            "醫保怎麼交費",
            "我想办社保卡，需要带身份证吗？",
        ])
    }

    #[test]
    fn probabilities_sum_to_one_over_the_vocabulary() {
        let m = lm();
        // every seen character plus the unseen mass: sum over the seen ones and
        // (BASE_VOCAB - seen) unseen ones must be 1
        let mut seen: Vec<char> =
            "我想办理社保卡丢了怎么补居住证需要带什么材料老年人优待问一下高龄津贴医交费身份吗\u{4}"
                .chars()
                .collect();
        seen.sort_unstable();
        seen.dedup();
        for hist in [
            CharLm::start(),
            "社保".chars().collect(),
            "xyz".chars().collect(),
        ] {
            let mut total: f32 = seen.iter().map(|c| m.logprob(&hist, *c).exp()).sum();
            total += m.end_logprob(&hist).exp();
            // an unseen character's probability, times the unseen inventory
            total += m.logprob(&hist, '鑫').exp() * (BASE_VOCAB - seen.len() as f32 - 1.0);
            assert!((total - 1.0).abs() < 0.02, "{hist:?}: {total}");
        }
    }

    #[test]
    fn in_domain_words_beat_homophones() {
        let m = lm();
        let h: Vec<char> = "我想办理".chars().collect();
        assert!(m.logprob(&h, '社') > m.logprob(&h, '可') + 2.0);
        assert!(m.sentence_logprob("我想办理社保卡") > m.sentence_logprob("我想参与可抱卡") + 1.0);
        // an unseen context backs off to shorter ones: 保 is still followed by 卡
        let h: Vec<char> = "你们保".chars().collect();
        assert!(m.logprob(&h, '卡') > m.logprob(&h, '抱'));
    }

    #[test]
    fn traditional_and_punctuation_are_folded() {
        let m = lm();
        assert!(
            (m.sentence_logprob("醫保怎麼交費") - m.sentence_logprob("医保怎么交费")).abs() < 1e-6
        );
        // a run of punctuation and spaces is one pause, and pauses cost something
        let mut a = CharLm::start();
        let mut b = CharLm::start();
        let (one, n) = m.extend(&mut a, "，。 ");
        let (two, _) = m.extend(&mut b, "，");
        assert_eq!(n, 0);
        assert!((one - two).abs() < 1e-6 && one < 0.0);
        let mut h = CharLm::start();
        let (l1, _) = m.extend(&mut h, "医保");
        let (many, _) = m.extend(&mut h, "。");
        let (more, _) = m.extend(&mut h, " ");
        assert!(l1 < 0.0 && many < 0.0 && more < 0.0);
    }

    #[test]
    fn an_empty_model_is_uniform() {
        let m = CharLm::train::<&str>(&[]);
        assert!(m.is_empty());
        let lp = m.logprob(&CharLm::start(), '社');
        assert!((lp - (1.0 / BASE_VOCAB).ln()).abs() < 1e-5);
    }
}
