//! Engine-independent decoding safeguards, shared by every Whisper engine:
//! the token budget, repetition-loop detection, the compression-ratio check of the
//! temperature fallback, contextual biasing, and the edit distance that aligns one
//! hypothesis with another.

/// Whisper's decoder context is 448 positions; openai/whisper caps a sample at half of
/// it (`sample_len = n_text_ctx // 2`).
pub const MAX_TOKENS: usize = 224;
/// Fewest tokens any segment may produce (a short word plus punctuation).
pub const MIN_TOKENS: usize = 8;
/// A unit repeated this many times in a row is a loop.
pub const LOOP_REPEATS: usize = 3;
/// Longest repeated unit looked for, in (non-punctuation) tokens.
pub const MAX_LOOP_UNIT: usize = 24;

/// Most tokens `seconds` of audio can hold: `ceil(per_second × seconds)`, at least
/// [`MIN_TOKENS`], at most [`MAX_TOKENS`].
pub fn token_budget(seconds: f32, per_second: f32) -> usize {
    let n = (seconds.max(0.0) * per_second.max(0.0)).ceil();
    (n as usize).clamp(MIN_TOKENS, MAX_TOKENS)
}

/// Positions of the content tokens (`Some` keys; punctuation and specials are `None`).
pub(crate) fn content_positions<K>(keys: &[Option<K>]) -> Vec<usize> {
    keys.iter()
        .enumerate()
        .filter(|(_, k)| k.is_some())
        .map(|(i, _)| i)
        .collect()
}

/// Find a repetition loop at the end of `keys` (one key per token; equal keys are the
/// same text up to leading spaces; `None` for punctuation tokens, which are skipped so
/// that "证、证、证" and "阿! 阿! 阿!" count as one unit repeated).
///
/// When the last [`LOOP_REPEATS`] units of some length `n` ≤ [`MAX_LOOP_UNIT`] are
/// equal, returns the token index where the second copy starts: truncating there keeps
/// one copy of the repeated unit.
pub fn find_loop<K: PartialEq>(keys: &[Option<K>]) -> Option<usize> {
    let idx = content_positions(keys);
    let m = idx.len();
    let key = |j: usize| keys[idx[j]].as_ref();
    for n in 1..=MAX_LOOP_UNIT.min(m / LOOP_REPEATS) {
        let start = m - LOOP_REPEATS * n;
        let unit_equal =
            (1..LOOP_REPEATS).all(|r| (0..n).all(|i| key(start + i) == key(start + r * n + i)));
        if unit_equal {
            // Keep the first copy and any punctuation that directly follows it.
            let second = idx[start + n];
            let mut cut = idx[start + n - 1] + 1;
            while cut < second && keys[cut].is_none() {
                cut += 1;
            }
            return Some(cut);
        }
    }
    None
}

/// How well `text` compresses: its byte length over an estimate of its DEFLATE size
/// (greedy LZ77 over a 32 KiB window, matches of 3+ bytes; a literal costs one byte,
/// a match three, plus eight bytes of framing). Plays the role of openai/whisper's
/// gzip `compression_ratio`: ordinary sentences score about 1, loops score high.
pub fn compression_ratio(text: &str) -> f32 {
    let b = text.as_bytes();
    if b.is_empty() {
        return 0.0;
    }
    const WINDOW: usize = 32 * 1024;
    const MIN_MATCH: usize = 3;
    let mut cost = 8usize;
    let mut i = 0;
    while i < b.len() {
        let mut best = 0;
        let lo = i.saturating_sub(WINDOW);
        for j in lo..i {
            let mut l = 0;
            while i + l < b.len() && b[j + l] == b[i + l] && l < 258 {
                l += 1;
            }
            best = best.max(l);
        }
        if best >= MIN_MATCH {
            cost += 3;
            i += best;
        } else {
            cost += 1;
            i += 1;
        }
    }
    b.len() as f32 / cost as f32
}

/// Contextual biasing over token sequences: a phrase list, each phrase tokenised.
/// After the decoder has written the first `k ≥ 1` tokens of a phrase, the phrase's
/// token `k` gets the full boost; every phrase's first token gets half of it.
#[derive(Clone, Debug, Default)]
pub struct BiasTrie {
    phrases: Vec<Vec<u32>>,
    boost: f32,
}

impl BiasTrie {
    /// Phrases as token sequences (empty ones are dropped) and the logit boost.
    pub fn new(phrases: Vec<Vec<u32>>, boost: f32) -> Self {
        Self {
            phrases: phrases.into_iter().filter(|p| !p.is_empty()).collect(),
            boost,
        }
    }

    /// True when there is nothing to boost.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() || self.boost == 0.0
    }

    /// The boosts for the next token after `generated`: `(token, added logit)`, one
    /// entry per token (the largest boost when several phrases propose it).
    pub fn boosts(&self, generated: &[u32]) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut add = |tok: u32, b: f32| match out.iter_mut().find(|(t, _)| *t == tok) {
            Some(e) => e.1 = e.1.max(b),
            None => out.push((tok, b)),
        };
        if self.is_empty() {
            return out;
        }
        for p in &self.phrases {
            add(p[0], self.boost * 0.5);
            // longest k < len with generated ending in p[..k]
            for k in (1..p.len()).rev() {
                if generated.len() >= k && generated[generated.len() - k..] == p[..k] {
                    add(p[k], self.boost);
                    break;
                }
            }
        }
        out
    }

    /// Add the boosts for the next token to `logits` (tokens out of range are ignored).
    pub fn apply(&self, generated: &[u32], logits: &mut [f32]) {
        for (t, b) in self.boosts(generated) {
            if let Some(l) = logits.get_mut(t as usize) {
                if l.is_finite() {
                    *l += b;
                }
            }
        }
    }
}

/// The edit (Levenshtein) distance between `a` and every prefix of `b`: entry `j` is
/// the distance between `a` and `b[..j]`, so the last entry is that between `a` and `b`.
pub(crate) fn prefix_edit_distances<T: PartialEq>(a: &[T], b: &[T]) -> Vec<usize> {
    // prev[j] = distance between a[..i] and b[..j]
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<Option<char>> {
        s.chars()
            .map(|c| {
                if "、,!！。 ".contains(c) {
                    None
                } else {
                    Some(c)
                }
            })
            .collect()
    }

    #[test]
    fn edit_distances_count_substitutions_insertions_and_deletions() {
        let d = |a: &str, b: &str| {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            prefix_edit_distances(&a, &b)
        };
        assert_eq!(d("社保卡", "社保卡"), vec![3, 2, 1, 0]);
        assert_eq!(d("社保卡", "社会保障卡").last(), Some(&2));
        assert_eq!(d("", "甲乙"), vec![0, 1, 2]);
        assert_eq!(d("甲乙", "").last(), Some(&2));
    }

    #[test]
    fn budget_grows_with_audio_and_is_capped() {
        assert_eq!(token_budget(0.0, 10.0), MIN_TOKENS);
        assert_eq!(token_budget(3.0, 10.0), 30);
        assert!(token_budget(5.0, 10.0) > token_budget(2.0, 10.0));
        assert_eq!(token_budget(30.0, 10.0), MAX_TOKENS);
    }

    #[test]
    fn loops_are_found_and_cut_after_one_copy() {
        let s = "我想办理证、证、证";
        let cut = find_loop(&keys(s)).expect("loop");
        let kept: String = s.chars().take(cut).collect();
        assert_eq!(kept, "我想办理证、");
        let s = "阿! 阿! 阿!";
        let cut = find_loop(&keys(s)).expect("loop");
        assert_eq!(s.chars().take(cut).collect::<String>(), "阿! ");
        let s = "请问社保卡请问社保卡请问社保卡";
        let cut = find_loop(&keys(s)).expect("loop");
        assert_eq!(s.chars().take(cut).collect::<String>(), "请问社保卡");
    }

    #[test]
    fn ordinary_sentences_are_not_loops() {
        for s in [
            "我想办理社保卡",
            "谢谢你",
            "老年人优待卡怎么办",
            "好好学习",
            "一二三一二三",
        ] {
            assert_eq!(find_loop(&keys(s)), None, "{s}");
        }
    }

    #[test]
    fn compression_ratio_flags_loops() {
        let normal = compression_ratio("我想办理社保卡，需要带身份证和户口本吗？");
        let looped = compression_ratio(&"证、".repeat(40));
        assert!(normal < 1.5, "{normal}");
        assert!(looped > 2.4, "{looped}");
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn bias_boosts_the_next_token_of_a_started_phrase() {
        // phrase "社保卡" tokenised as [10, 11, 12]; "居住证" as [20, 21]
        let trie = BiasTrie::new(vec![vec![10, 11, 12], vec![20, 21], vec![]], 3.0);
        let b = trie.boosts(&[5, 10, 11]);
        assert!(b.contains(&(12, 3.0)), "{b:?}");
        assert!(!b.iter().any(|(t, _)| *t == 11 || *t == 21));
        // nothing begun: only phrase starts, at half strength
        let b = trie.boosts(&[5]);
        assert!(b.contains(&(10, 1.5)) && b.contains(&(20, 1.5)));
        assert!(!b.iter().any(|(t, _)| *t == 12 || *t == 21));
        let mut logits = vec![0.0f32; 30];
        trie.apply(&[1, 20], &mut logits);
        assert_eq!(logits[21], 3.0);
        assert_eq!(logits[12], 0.0);
        assert!(BiasTrie::new(vec![vec![1]], 0.0).boosts(&[]).is_empty());
    }
}
