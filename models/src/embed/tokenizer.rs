//! The XLM-RoBERTa SentencePiece (unigram) tokenizer, from the vocabulary and the
//! per-character normaliser stored in the encoder file.
//!
//! Steps, as the encoder was fed when its reference outputs were made:
//! 1. every character with an entry in the normaliser is replaced by its replacement
//!    (full-width forms, compatibility characters; control characters are dropped);
//! 2. runs of spaces collapse to one space;
//! 3. a leading space is added unless the text starts with one, then every space
//!    becomes the metaspace `▁` (U+2581);
//! 4. the segmentation with the highest total piece score wins (Viterbi over character
//!    boundaries); a character no piece covers becomes `<unk>` with a score 10 below the
//!    lowest piece's.

use super::file::Vocab;

/// The SentencePiece metaspace that stands for a space.
const METASPACE: char = '\u{2581}';
/// Penalty of an unknown character below the lowest piece score (SentencePiece's).
const UNK_PENALTY: f32 = 10.0;

/// A loaded tokenizer.
pub(super) struct Tokenizer {
    vocab: Vocab,
    /// Open-addressing table of piece index + 1 (0 = empty), keyed by the piece's bytes.
    slots: Vec<u32>,
    unk_score: f32,
    max_piece_bytes: usize,
}

/// FNV-1a over bytes.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Tokenizer {
    pub fn new(vocab: Vocab) -> Self {
        let n = vocab.scores.len();
        let size = (2 * n).next_power_of_two().max(2);
        let mask = size - 1;
        let mut slots = vec![0u32; size];
        let mut max_piece_bytes = 1;
        for i in 0..n {
            let piece = piece(&vocab, i);
            max_piece_bytes = max_piece_bytes.max(piece.len());
            if piece.is_empty() {
                continue;
            }
            let mut s = hash(piece) as usize & mask;
            // a duplicate piece keeps its first (lowest) id
            while slots[s] != 0 {
                if self::piece(&vocab, slots[s] as usize - 1) == piece {
                    break;
                }
                s = (s + 1) & mask;
            }
            if slots[s] == 0 {
                slots[s] = i as u32 + 1;
            }
        }
        let min_score = vocab.scores.iter().copied().fold(f32::INFINITY, f32::min);
        Self {
            vocab,
            slots,
            unk_score: min_score - UNK_PENALTY,
            max_piece_bytes,
        }
    }

    pub fn bos(&self) -> u32 {
        self.vocab.bos
    }

    pub fn eos(&self) -> u32 {
        self.vocab.eos
    }

    /// The id of the piece spelled `bytes`.
    fn lookup(&self, bytes: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut s = hash(bytes) as usize & mask;
        loop {
            let v = self.slots[s];
            if v == 0 {
                return None;
            }
            if piece(&self.vocab, v as usize - 1) == bytes {
                return Some(v - 1);
            }
            s = (s + 1) & mask;
        }
    }

    /// What the normaliser makes of `c` (itself when it has no entry).
    fn normalise_into(&self, c: char, out: &mut Vec<char>) {
        let v = &self.vocab;
        match v.norm_from.binary_search(&(c as u32)) {
            Ok(i) => out
                .extend_from_slice(&v.norm_out[v.norm_off[i] as usize..v.norm_off[i + 1] as usize]),
            Err(_) => out.push(c),
        }
    }

    /// The piece ids of `text`, without `<s>` and `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        // 1–2: normalise, collapse runs of spaces
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        let mut tmp = Vec::with_capacity(4);
        for c in text.chars() {
            tmp.clear();
            self.normalise_into(c, &mut tmp);
            for &n in &tmp {
                if n == ' ' && chars.last() == Some(&' ') {
                    continue;
                }
                chars.push(n);
            }
        }
        // 3: metaspace, with the byte offset where each character starts
        let mut buf = String::with_capacity(3 * chars.len() + 3);
        let mut starts = Vec::with_capacity(chars.len() + 2);
        if chars.first() != Some(&' ') {
            starts.push(0);
            buf.push(METASPACE);
        }
        for &c in &chars {
            starts.push(buf.len());
            buf.push(if c == ' ' { METASPACE } else { c });
        }
        starts.push(buf.len());
        let bytes = buf.as_bytes();
        let n = starts.len() - 1;

        // 4: best segmentation; ties keep the first path found
        const UNREACHED: f32 = -1e30;
        let mut best = vec![UNREACHED; n + 1];
        let mut back: Vec<(u32, u32)> = vec![(0, 0); n + 1]; // (piece id or u32::MAX for <unk>, from)
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= UNREACHED {
                continue;
            }
            let from = starts[i];
            for e in i + 1..=n {
                let len = starts[e] - from;
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(id) = self.lookup(&bytes[from..starts[e]]) {
                    if id == self.vocab.unk {
                        continue;
                    }
                    let score = best[i] + self.vocab.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        back[e] = (id, i as u32);
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                back[i + 1] = (u32::MAX, i as u32);
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            let (id, from) = back[i];
            ids.push(if id == u32::MAX { self.vocab.unk } else { id });
            i = from as usize;
        }
        ids.reverse();
        ids
    }
}

fn piece(v: &Vocab, i: usize) -> &[u8] {
    &v.text[v.offsets[i] as usize..v.offsets[i + 1] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: `<s> <pad> </s> <unk>` then the given pieces and scores;
    /// `norm` sorted by character.
    fn toy(pieces: &[(&str, f32)], norm: &[(char, &str)]) -> Tokenizer {
        let mut all = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
        all.extend_from_slice(pieces);
        let mut offsets = vec![0u32];
        let mut text = Vec::new();
        for (p, _) in &all {
            text.extend_from_slice(p.as_bytes());
            offsets.push(text.len() as u32);
        }
        let mut norm_from = Vec::new();
        let mut norm_off = vec![];
        let mut norm_out = Vec::new();
        for (c, r) in norm {
            norm_from.push(*c as u32);
            norm_off.push(norm_out.len() as u32);
            norm_out.extend(r.chars());
        }
        norm_off.push(norm_out.len() as u32);
        Tokenizer::new(Vocab {
            bos: 0,
            eos: 2,
            unk: 3,
            offsets,
            text,
            scores: all.iter().map(|p| p.1).collect(),
            norm_from,
            norm_off,
            norm_out,
        })
    }

    #[test]
    fn best_total_score_wins_over_longest_piece() {
        let t = toy(
            &[
                ("▁", -1.0),
                ("▁高龄", -3.0),
                ("津贴", -3.0),
                ("▁高", -1.0),
                ("龄津贴", -1.5),
            ],
            &[],
        );
        // ▁高 + 龄津贴 = -2.5 beats ▁高龄 + 津贴 = -6
        assert_eq!(t.encode("高龄津贴"), [7, 8]);
    }

    #[test]
    fn unknown_characters_become_unk_and_spaces_collapse() {
        let t = toy(
            &[("▁", -1.0), ("a", -1.0), ("b", -1.0)],
            &[('\u{1}', ""), ('Ａ', "a")],
        );
        // full-width Ａ normalises to a; the control character is dropped; 犬 is unknown
        assert_eq!(t.encode("Ａ\u{1}  犬b"), [4, 5, 4, 3, 6]);
        // a leading space is the metaspace itself, not an extra one
        assert_eq!(t.encode(" a"), [4, 5]);
    }
}
