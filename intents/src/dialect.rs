//! Dialect identification from text: marker words plus a character n-gram model.
//!
//! Markers are words that only (or mostly) one dialect writes: 侬/阿拉/伐 (Shanghainese),
//! 倷/哪亨/哉 (Suzhou), 唔/係/冇/喺/嘅 (Cantonese), 欲/按怎/佗位/阮 (Min Nan), 啥子/咋个/莫得
//! (Sichuanese), 𠊎/仰般/麼个 (Hakka). The n-gram model is a naive Bayes over character 1–2
//! grams of the project's dialect examples (`data/train.tsv`) and lexicon forms, counted when
//! first used. Without any marker the answer is Mandarin.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::DIALECTS;

/// The identified dialect of a text.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DialectGuess {
    /// The most likely code (one of [`DIALECTS`]).
    pub code: &'static str,
    /// All seven codes with their probability, best first; the probabilities sum to 1.
    pub scores: Vec<(&'static str, f32)>,
    /// Whether any dialect marker was seen.
    pub marked: bool,
}

/// Marker words (Simplified, as after folding) and the dialects they point to, with weight.
/// Shared markers (勿 for both Wu dialects, 唔 for Cantonese and Hakka) point to several.
const MARKERS: &[(&str, &[&str], f32)] = &[
    // Shanghainese
    ("侬", &["wuu-sh"], 3.0),
    ("阿拉", &["wuu-sh"], 3.0),
    ("伐", &["wuu-sh"], 2.0),
    ("哪能", &["wuu-sh"], 3.0),
    ("伊拉", &["wuu-sh"], 3.0),
    ("搿", &["wuu-sh"], 3.0),
    ("交关", &["wuu-sh"], 2.0),
    ("迭个", &["wuu-sh"], 2.5),
    ("屋里厢", &["wuu-sh"], 3.0),
    ("老好", &["wuu-sh"], 1.0),
    ("邪气", &["wuu-sh"], 2.0),
    ("侪", &["wuu-sh", "wuu-sz"], 2.0),
    ("辣海", &["wuu-sh"], 2.5),
    ("拨", &["wuu-sh", "wuu-sz"], 1.0),
    ("汏", &["wuu-sh", "wuu-sz"], 2.0),
    ("呒没", &["wuu-sh"], 2.5),
    ("勿", &["wuu-sh", "wuu-sz"], 1.5),
    ("覅", &["wuu-sh", "wuu-sz"], 2.5),
    ("辰光", &["wuu-sh", "wuu-sz"], 2.0),
    ("今朝", &["wuu-sh", "wuu-sz"], 2.0),
    ("明朝", &["wuu-sh", "wuu-sz"], 1.5),
    ("物事", &["wuu-sh", "wuu-sz"], 2.0),
    ("做啥", &["wuu-sh", "wuu-sz"], 1.0),
    ("啥人", &["wuu-sh", "wuu-sz"], 1.0),
    // Suzhou
    ("倷", &["wuu-sz"], 3.0),
    ("哪亨", &["wuu-sz"], 3.0),
    ("哉", &["wuu-sz"], 2.5),
    ("伲", &["wuu-sz"], 2.5),
    ("俚", &["wuu-sz"], 2.5),
    ("唔笃", &["wuu-sz"], 3.0),
    ("啥体", &["wuu-sz"], 3.0),
    ("阿是", &["wuu-sz"], 2.5),
    ("阿要", &["wuu-sz"], 2.0),
    ("弗", &["wuu-sz"], 2.0),
    ("勒浪", &["wuu-sz"], 3.0),
    ("该搭", &["wuu-sz"], 3.0),
    ("呒拨", &["wuu-sz"], 3.0),
    ("笃", &["wuu-sz"], 1.0),
    // Cantonese
    ("唔", &["yue", "hak"], 2.0),
    ("点样", &["yue"], 2.5),
    ("冇", &["yue", "hak"], 2.0),
    ("喺", &["yue"], 3.0),
    ("嘅", &["yue", "hak"], 2.0),
    ("咩", &["yue"], 2.5),
    ("佢", &["yue", "hak"], 2.0),
    ("啲", &["yue"], 3.0),
    ("咗", &["yue"], 3.0),
    ("嘢", &["yue"], 3.0),
    ("乜", &["yue"], 2.5),
    ("边度", &["yue"], 3.0),
    ("睇", &["yue"], 2.5),
    ("揾", &["yue"], 3.0),
    ("搵", &["yue"], 3.0),
    ("咁", &["yue"], 2.5),
    ("嚟", &["yue"], 3.0),
    ("噉", &["yue"], 3.0),
    ("畀", &["yue"], 2.5),
    ("啱", &["yue"], 3.0),
    ("嗰", &["yue"], 3.0),
    ("呢度", &["yue"], 3.0),
    ("点解", &["yue"], 3.0),
    ("几多", &["yue", "hak"], 1.5),
    ("㗎", &["yue"], 3.0),
    ("喎", &["yue"], 3.0),
    ("嘞", &["yue"], 1.0),
    ("哋", &["yue"], 3.0),
    ("而家", &["yue"], 3.0),
    ("屋企", &["yue"], 3.0),
    ("唔该", &["yue"], 3.0),
    ("系咪", &["yue"], 3.0),
    ("边个", &["yue"], 2.5),
    ("琴日", &["yue"], 3.0),
    ("听日", &["yue"], 3.0),
    ("攞", &["yue"], 3.0),
    ("搞掂", &["yue"], 3.0),
    ("得闲", &["yue"], 2.0),
    ("仲", &["yue"], 1.0),
    ("系", &["yue", "hak"], 0.5),
    // Min Nan
    ("欲", &["nan"], 2.5),
    ("按怎", &["nan"], 3.0),
    ("佗位", &["nan"], 3.0),
    ("佗", &["nan"], 2.0),
    ("毋", &["nan", "hak"], 2.0),
    ("阮", &["nan"], 2.5),
    ("恁", &["nan", "hak"], 1.5),
    ("汝", &["nan"], 2.0),
    ("袂", &["nan"], 3.0),
    ("啥物", &["nan"], 3.0),
    ("佮", &["nan"], 3.0),
    ("佇", &["nan"], 3.0),
    ("伫", &["nan"], 3.0),
    ("攏", &["nan"], 3.0),
    ("拢", &["nan"], 2.0),
    ("厝", &["nan"], 2.5),
    ("囝", &["nan"], 2.5),
    ("代志", &["nan"], 3.0),
    ("歹势", &["nan"], 3.0),
    ("这马", &["nan"], 3.0),
    ("即马", &["nan"], 3.0),
    ("真济", &["nan"], 3.0),
    ("偌济", &["nan"], 3.0),
    ("偌久", &["nan"], 3.0),
    ("查某", &["nan"], 2.5),
    ("予", &["nan"], 1.5),
    ("矣", &["nan"], 1.5),
    ("遮", &["nan"], 1.0),
    ("着无", &["nan"], 2.0),
    ("毋着", &["nan"], 3.0),
    ("好势", &["nan"], 2.5),
    ("头家", &["nan"], 2.0),
    ("阿嬷", &["nan"], 2.0),
    // Sichuanese
    ("啥子", &["cmn-sc"], 3.0),
    ("咋个", &["cmn-sc"], 3.0),
    ("莫得", &["cmn-sc"], 3.0),
    ("晓得", &["cmn-sc", "wuu-sh", "wuu-sz"], 0.8),
    ("要得", &["cmn-sc"], 3.0),
    ("巴适", &["cmn-sc"], 3.0),
    ("安逸", &["cmn-sc"], 1.5),
    ("啷个", &["cmn-sc"], 3.0),
    ("噻", &["cmn-sc"], 2.5),
    ("得行", &["cmn-sc"], 3.0),
    ("娃儿", &["cmn-sc"], 2.5),
    ("老汉", &["cmn-sc"], 2.0),
    ("晚黑", &["cmn-sc"], 3.0),
    ("哪哈儿", &["cmn-sc"], 3.0),
    ("那哈儿", &["cmn-sc"], 3.0),
    ("这哈儿", &["cmn-sc"], 3.0),
    ("等哈", &["cmn-sc"], 2.5),
    ("搞快", &["cmn-sc"], 2.5),
    ("硬是", &["cmn-sc"], 2.0),
    ("莫", &["cmn-sc"], 1.0),
    ("咋子", &["cmn-sc"], 3.0),
    ("晓不得", &["cmn-sc"], 3.0),
    ("瓜娃子", &["cmn-sc"], 3.0),
    ("扯拐", &["cmn-sc"], 3.0),
    ("摆龙门阵", &["cmn-sc"], 3.0),
    ("遭", &["cmn-sc"], 1.0),
    ("嘛", &["cmn-sc"], 0.3),
    // Hakka
    ("𠊎", &["hak"], 3.5),
    ("厓", &["hak"], 3.0),
    ("仰般", &["hak"], 3.5),
    ("麽个", &["hak"], 3.5),
    ("么个", &["hak"], 3.0),
    ("麽人", &["hak"], 3.0),
    ("么人", &["hak"], 2.0),
    ("奈位", &["hak"], 3.0),
    ("奈里", &["hak"], 3.0),
    ("吂", &["hak"], 3.0),
    ("摎", &["hak"], 3.0),
    ("做得", &["hak"], 1.0),
    ("今晡日", &["hak"], 3.0),
    ("天光日", &["hak"], 3.0),
    ("细人仔", &["hak"], 3.0),
    ("阿姆", &["hak"], 1.5),
    ("兜", &["hak"], 1.0),
    ("爱", &["hak"], 0.7),
    ("㖠", &["hak"], 3.0),
    ("有闲", &["hak"], 1.5),
];

/// Marker evidence from which a text counts as marked (a weak marker alone does not).
const MARKED_AT: f32 = 1.5;
/// Weight of the Mandarin prior when nothing marks a dialect.
const UNMARKED_MANDARIN_BONUS: f32 = 6.0;
/// Weight of the n-gram model relative to the markers (per n-gram, averaged).
const NGRAM_WEIGHT: f32 = 2.5;

struct Model {
    markers: Option<AhoCorasick>,
    /// Log-probability of each n-gram per dialect; index = position in DIALECTS.
    logp: HashMap<String, [f32; 7]>,
    /// Log-probability of an unseen n-gram per dialect.
    unseen: [f32; 7],
}

fn grams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut out = Vec::with_capacity(chars.len() * 2);
    for i in 0..chars.len() {
        out.push(chars[i].to_string());
        if i + 1 < chars.len() {
            out.push(chars[i..i + 2].iter().collect());
        }
    }
    out
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let markers = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(MARKERS.iter().map(|m| m.0))
            .ok();
        let mut counts: HashMap<String, [f32; 7]> = HashMap::new();
        let mut totals = [0f32; 7];
        let mut add = |text: &str, d: usize| {
            for g in grams(&crate::normalize::fold(text)) {
                counts.entry(g).or_insert([0.0; 7])[d] += 1.0;
                totals[d] += 1.0;
            }
        };
        for row in crate::train::examples() {
            if let Some(d) = DIALECTS.iter().position(|c| *c == row.dialect) {
                add(&row.text, d);
            }
        }
        for (d, code) in DIALECTS.iter().enumerate().skip(1) {
            if let Some(lex) = crate::lexicon::lexicon(code) {
                for (k, _) in lex {
                    add(k, d);
                }
            }
        }
        let vocab = counts.len().max(1) as f32;
        let alpha = 0.5f32;
        let mut unseen = [0f32; 7];
        for d in 0..7 {
            unseen[d] = (alpha / (totals[d] + alpha * vocab)).ln();
        }
        let logp = counts
            .into_iter()
            .map(|(g, c)| {
                let mut lp = [0f32; 7];
                for d in 0..7 {
                    lp[d] = ((c[d] + alpha) / (totals[d] + alpha * vocab)).ln();
                }
                (g, lp)
            })
            .collect();
        Model {
            markers,
            logp,
            unseen,
        }
    })
}

/// Marker evidence per dialect and whether any marker was seen.
pub(crate) fn marker_scores(folded: &str) -> ([f32; 7], bool) {
    let m = model();
    let mut s = [0f32; 7];
    let mut any = false;
    let Some(ac) = &m.markers else {
        return (s, false);
    };
    for hit in ac.find_iter(folded) {
        let (_, ds, w) = MARKERS[hit.pattern().as_usize()];
        any = true;
        for d in ds {
            if let Some(i) = DIALECTS.iter().position(|c| c == d) {
                s[i] += w;
            }
        }
    }
    (s, any)
}

/// Identifies the dialect of `text` (raw or normalised input).
pub fn identify_dialect(text: &str) -> DialectGuess {
    let m = model();
    // 係 is a strong Cantonese/Hakka marker before conversion (系 afterwards is ambiguous).
    let raw_bonus = if text.contains('係') { 2.0 } else { 0.0 };
    let folded = crate::normalize::fold(text);
    let (marks, marked) = marker_scores(&folded);
    let marked = marked && marks.iter().skip(1).any(|&s| s >= MARKED_AT) || raw_bonus > 0.0;
    let gs = grams(&folded);
    let mut nb = [0f32; 7];
    for g in &gs {
        let lp = m.logp.get(g).unwrap_or(&m.unseen);
        for d in 0..7 {
            nb[d] += lp[d];
        }
    }
    let n = gs.len().max(1) as f32;
    let mut logits = [0f32; 7];
    for d in 0..7 {
        logits[d] = marks[d] + NGRAM_WEIGHT * nb[d] / n.sqrt();
    }
    if raw_bonus > 0.0 {
        logits[3] += raw_bonus;
        logits[6] += raw_bonus * 0.5;
    }
    if !marked {
        logits[0] += UNMARKED_MANDARIN_BONUS;
    }
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    let mut scores: Vec<(&'static str, f32)> = DIALECTS
        .iter()
        .zip(exps)
        .map(|(c, e)| (*c, e / sum))
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    DialectGuess {
        code: scores[0].0,
        scores,
        marked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_decide_and_mandarin_is_the_default() {
        for (t, d) in [
            ("侬晓得社保卡哪能办伐", "wuu-sh"),
            ("倷晓得哪亨办哉", "wuu-sz"),
            ("點樣辦社保卡", "yue"),
            ("我係想問下", "yue"),
            ("我欲辦社保卡，按怎辦", "nan"),
            ("社保卡咋个办嘛", "cmn-sc"),
            ("𠊎愛辦社保卡", "hak"),
            ("我想办社保卡", "cmn"),
            ("", "cmn"),
        ] {
            let g = identify_dialect(t);
            assert_eq!(g.code, d, "{t}: {:?}", g.scores);
            assert_eq!(g.scores.len(), 7);
            let sum: f32 = g.scores.iter().map(|s| s.1).sum();
            assert!((sum - 1.0).abs() < 1e-3);
            assert!(g.scores.windows(2).all(|w| w[0].1 >= w[1].1));
            assert_eq!(g.marked, d != "cmn", "{t}");
        }
    }
}
