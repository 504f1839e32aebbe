//! The guide searched by words, by sound and by meaning at once: [`FusedRetriever`].
//!
//! The term views (tantivy BM25 over words, bigrams and pinyin) and the sound match of
//! the items' names ([`TantivyRetriever`]) find an item whose words were said, or heard
//! wrongly; the dense index ([`DenseIndex`]) finds one whose need was told in other
//! words. Their fusion is a learned weight: an item's score is its term-and-sound score
//! plus [`DENSE_WEIGHT`] times how far its best passage's similarity rises above
//! [`DENSE_FLOOR`] (the similarity an unrelated sentence reaches with this encoder).
//! Scores stay on the term views' scale, so [`crate::decide`]'s thresholds keep their
//! meaning: an off-topic question gains little from meaning and is still not answered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use xiaoan_intents::embed::Embedder;

use crate::dense::DenseIndex;
use crate::error::Result;
use crate::guide::Guide;
use crate::retrieve::{Hit, Retriever, TantivyRetriever};

/// Points per unit of similarity above [`DENSE_FLOOR`] (fitted on `kb/data/queries.tsv`
/// with `examples/fusion.rs`).
pub const DENSE_WEIGHT: f32 = 800.0;
/// Similarity below which meaning adds nothing (fitted likewise).
pub const DENSE_FLOOR: f32 = 0.88;

/// The fusion's two numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fusion {
    /// Points per unit of similarity above the floor.
    pub weight: f32,
    /// Similarity from which meaning counts.
    pub floor: f32,
}

impl Default for Fusion {
    /// [`DENSE_WEIGHT`], [`DENSE_FLOOR`].
    fn default() -> Self {
        Fusion {
            weight: DENSE_WEIGHT,
            floor: DENSE_FLOOR,
        }
    }
}

/// Terms, sound and meaning, fused (see the module).
pub struct FusedRetriever {
    lexical: TantivyRetriever,
    dense: DenseIndex,
    embedder: Arc<dyn Embedder>,
    items: Vec<(String, String)>,
    by_id: HashMap<String, usize>,
    fusion: Fusion,
}

impl FusedRetriever {
    /// Builds both indexes in memory (the guide's passages are embedded: seconds).
    pub fn in_ram(guide: &Guide, embedder: Arc<dyn Embedder>) -> Result<Self> {
        let lexical = TantivyRetriever::in_ram(guide)?;
        let dense = DenseIndex::build(guide, embedder.as_ref())?;
        Ok(Self::new(guide, lexical, dense, embedder))
    }

    /// Opens both indexes in `index_dir`, rebuilding what the guide or the encoder has
    /// changed (see [`TantivyRetriever::open_or_build`], [`DenseIndex::open_or_build`]).
    pub fn open_or_build(
        guide: &Guide,
        index_dir: &Path,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self> {
        let lexical = TantivyRetriever::open_or_build(guide, index_dir)?;
        let dense = DenseIndex::open_or_build(guide, embedder.as_ref(), index_dir)?;
        Ok(Self::new(guide, lexical, dense, embedder))
    }

    /// Joins a term-and-sound retriever and a dense index of the same guide.
    pub fn new(
        guide: &Guide,
        lexical: TantivyRetriever,
        dense: DenseIndex,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        let (items, by_id) = crate::retrieve::item_order(guide);
        FusedRetriever {
            lexical,
            dense,
            embedder,
            items,
            by_id,
            fusion: Fusion::default(),
        }
    }

    /// Uses other fusion numbers (fitting them).
    pub fn with_fusion(mut self, fusion: Fusion) -> Self {
        self.fusion = fusion;
        self
    }

    /// The dense index.
    pub fn dense(&self) -> &DenseIndex {
        &self.dense
    }

    /// Every item's (term-and-sound score, similarity), in guide order.
    pub fn parts(&self, query: &str) -> Result<Vec<(f32, f32)>> {
        let n = self.items.len();
        let mut out = vec![(0.0, 0.0); n];
        if !query.chars().any(char::is_alphanumeric) {
            return Ok(out);
        }
        for h in self.lexical.search(query, n)? {
            if let Some(&i) = self.by_id.get(&h.id) {
                out[i].0 = h.score;
            }
        }
        let q = self.embedder.embed_query(query)?;
        for (o, s) in out.iter_mut().zip(self.dense.item_scores(&q)) {
            o.1 = s;
        }
        Ok(out)
    }
}

impl Retriever for FusedRetriever {
    fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let f = self.fusion;
        let scored: Vec<(usize, f32)> = self
            .parts(query)?
            .into_iter()
            .map(|(lex, sim)| lex + f.weight * (sim - f.floor).max(0.0))
            .enumerate()
            .collect();
        Ok(crate::retrieve::ranked_hits(&self.items, scored, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieve::{decide, Decision};
    use std::sync::OnceLock;

    fn fused() -> Option<&'static FusedRetriever> {
        static R: OnceLock<Option<FusedRetriever>> = OnceLock::new();
        let e = xiaoan_intents::test_encoder::encoder("fused retrieval")?;
        R.get_or_init(|| Some(FusedRetriever::in_ram(&Guide::builtin().unwrap(), e).unwrap()))
            .as_ref()
    }

    fn top3(r: &dyn Retriever, q: &str) -> Vec<String> {
        let n = xiaoan_intents::normalize(q);
        r.search(&n.text, 3)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    }

    #[test]
    fn a_need_told_in_other_words_finds_its_item() {
        let Some(r) = fused() else { return };
        let lexical = TantivyRetriever::in_ram(&Guide::builtin().unwrap()).unwrap();
        // needs without the service's name (made up for this test)
        let cases = [
            (
                "厂里裁员我没活干了，想领点钱先过着",
                "unemployment-registration",
            ),
            (
                "我妈眼睛不好一个人在家，想有人定期上门帮她打扫买菜",
                "silver-butler",
            ),
            (
                "我住七楼，腿脚不行了，楼里大家想一起出钱装个上下的",
                "elevator-installation",
            ),
            (
                "家里突然出了大事，一下子拿不出钱来周转",
                "temporary-assistance",
            ),
            (
                "我爸今年八十了，听说每个月有点钱可以领",
                "elderly-allowance",
            ),
        ];
        let (mut fused_hits, mut lexical_hits) = (0, 0);
        for (q, id) in cases {
            let f = top3(r, q);
            fused_hits += f.iter().any(|x| x == id) as usize;
            lexical_hits += top3(&lexical, q).iter().any(|x| x == id) as usize;
            assert!(f.iter().any(|x| x == id), "{q}: {f:?}");
        }
        println!("fused {fused_hits}/5, terms and sound alone {lexical_hits}/5");
        assert!(fused_hits > lexical_hits, "meaning adds nothing here");
    }

    #[test]
    fn names_and_garbled_names_are_still_found_and_off_topic_is_not_answered() {
        let Some(r) = fused() else { return };
        assert_eq!(top3(r, "敬老卡怎么办")[0], "senior-card");
        assert!(top3(r, "我想办理頒離責抱卡").contains(&"social-security-card".to_string()));
        assert!(r.search("", 3).unwrap().is_empty());
        assert!(r.search("，。！", 3).unwrap().is_empty());
        for q in ["讲个笑话吧", "hello"] {
            let d = decide(&r.search(q, 3).unwrap());
            assert!(!matches!(d, Decision::Answer(_)), "{q}: {d:?}");
        }
    }

    #[test]
    fn frozen_set_retrieval() {
        // issue #19: the right guide item in the top three >= 0.97 on the frozen set and
        // >= 0.9 on speech transcripts. Measured with the committed models:
        // frozen 0.980 (0.977 in session 15; 0.944 before the residents' lines were passages; the
        // term-and-sound retriever alone: 0.869), espeak-ng speech
        // transcripts 0.562 (alone: 0.646; Whisper base on espeak-ng has a CER near
        // 0.75, and the neural-voice transcripts of the target are not in the repo).
        // With the residents' lines as passages (session 15) the speech transcripts
        // find one item fewer (26 of 48): more passages give garbled text more chances
        // to land near a wrong item.
        // Floors, not the targets, where the targets are not met.
        let Some(r) = fused() else { return };
        let Some(u) = xiaoan_intents::test_encoder::understander("frozen_set_retrieval") else {
            return;
        };
        let sets = crate::scoring::score_sets(&u, r).unwrap();
        for (name, s) in &sets {
            println!("== {name}\n{s}\n");
        }
        let frozen = &sets[0].1;
        assert_eq!(frozen.guide_top3.n, 306);
        assert!(frozen.guide_top3.rate() >= 0.97, "{}", frozen.guide_top3);
        let speech = &sets[2].1;
        assert_eq!(speech.guide_top3.n, 48);
        assert!(speech.guide_top3.rate() >= 0.54, "{}", speech.guide_top3);
    }
}
