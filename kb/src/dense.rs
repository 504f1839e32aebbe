//! Retrieval by meaning: every guide item as a set of embedded passages, searched by the
//! cosine similarity of an utterance's embedding ([`xiaoan_intents::embed::Embedder`]).
//!
//! An item's passages are its title, aliases, dialect aliases and spoken summary, and the
//! ways residents describe the need it serves (`kb/data/asks.tsv`: 孩子刚出生, 住高层爬不动
//! 楼, 被裁员了) and the residents' training lines that name the item
//! (`intents/data/train-residents.tsv`, column 7, normalised as queries are), so that a need
//! told without the service's name still finds the item. An
//! item scores the best similarity of any of its passages.
//!
//! The vectors are computed once per guide and encoder and kept beside the search index
//! (`dense.bin`); the file records a fingerprint of the guide, the residents' lines and the
//! encoder's identity, and is rebuilt whenever any of them changes.
//!
//! File layout (little endian): `XADI`, u32 version, 64-byte hex fingerprint, u32 dim,
//! u32 passages, then per passage u32 item index and dim × f32.

use std::path::Path;

use sha2::{Digest, Sha256};
use xiaoan_intents::embed::{dot, Embedder};

use crate::error::{KbError, Result};
use crate::guide::{Guide, Item};

/// Ways residents describe each item's need (`guide_id<TAB>text`).
pub const ASKS_TSV: &str = include_str!("../data/asks.tsv");

/// Name of the vectors file in an index directory.
pub const DENSE_FILE: &str = "dense.bin";

const MAGIC: &[u8; 4] = b"XADI";
/// Bumped when the passages an item gets, or the layout, change.
const VERSION: u32 = 1;

/// The residents' descriptions of item `id` in [`ASKS_TSV`].
pub fn asks(id: &str) -> Vec<&'static str> {
    ASKS_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .filter(|(i, _)| i.trim() == id)
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The residents' training lines that name a guide item (`intents/data/train-residents.tsv`,
/// column 7), as the dialogue searches them: normalised, dialect words mapped to Mandarin
/// when a dialect is marked. `(guide id, text)`.
pub fn residents_asks() -> &'static [(String, String)] {
    static LINES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        xiaoan_intents::data::residents()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                let id = e.service?;
                let t = xiaoan_intents::meaning::normalized(&e.text).text;
                (!t.trim().is_empty()).then_some((id, t))
            })
            .collect()
    })
}

/// The passages of an item, as embedded.
pub fn passages(item: &Item) -> Vec<String> {
    let mut out: Vec<String> = std::iter::once(item.title.clone())
        .chain(item.aliases.iter().cloned())
        .chain(item.dialect_aliases.iter().cloned())
        .chain(std::iter::once(item.summary.clone()))
        .chain(asks(&item.id).into_iter().map(str::to_string))
        .chain(
            residents_asks()
                .iter()
                .filter(|(id, _)| *id == item.id)
                .map(|(_, t)| t.clone()),
        )
        .filter(|t| !t.trim().is_empty())
        .collect();
    out.dedup();
    out
}

/// What the vectors depend on: the guide, the residents' lines, the encoder.
pub fn fingerprint(guide: &Guide, encoder_identity: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("xiaoan-kb-dense-v{VERSION}\n").as_bytes());
    h.update(guide.fingerprint().as_bytes());
    h.update(ASKS_TSV.as_bytes());
    for (id, t) in residents_asks() {
        h.update(format!("{id}\t{t}\n").as_bytes());
    }
    h.update(encoder_identity.as_bytes());
    hex::encode(h.finalize())
}

/// The guide's passages, embedded.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseIndex {
    fingerprint: String,
    dim: usize,
    items: usize,
    /// (item index in guide order, unit vector).
    passages: Vec<(u32, Vec<f32>)>,
}

impl DenseIndex {
    /// Embeds every item's passages (a few seconds for the shipped guide on two cores).
    pub fn build(guide: &Guide, emb: &dyn Embedder) -> Result<Self> {
        Self::build_with(guide, emb, &passages)
    }

    /// Embeds the passages `passages_of` gives each item (fitting the fusion on part of
    /// the residents' lines while the rest are questions).
    pub fn build_with(
        guide: &Guide,
        emb: &dyn Embedder,
        passages_of: &dyn Fn(&Item) -> Vec<String>,
    ) -> Result<Self> {
        let texts: Vec<(u32, String)> = guide
            .items
            .iter()
            .enumerate()
            .flat_map(|(i, it)| passages_of(it).into_iter().map(move |t| (i as u32, t)))
            .collect();
        let half = texts.len().div_ceil(2);
        let (a, b) = texts.split_at(half);
        let run = |part: &[(u32, String)]| -> Result<Vec<(u32, Vec<f32>)>> {
            part.iter()
                .map(|(i, t)| Ok((*i, emb.embed_passage(t)?)))
                .collect()
        };
        let (ra, rb) = std::thread::scope(|s| {
            let h = s.spawn(|| run(b));
            (run(a), h.join())
        });
        let mut passages = ra?;
        passages
            .extend(rb.map_err(|_| KbError::InvalidGuide("embedding thread panicked".into()))??);
        Ok(DenseIndex {
            fingerprint: fingerprint(guide, &emb.identity()),
            dim: emb.dim(),
            items: guide.items.len(),
            passages,
        })
    }

    /// Reads `dir/dense.bin` when it was made for this guide and encoder; otherwise
    /// embeds the guide and writes the file.
    pub fn open_or_build(guide: &Guide, emb: &dyn Embedder, dir: &Path) -> Result<Self> {
        let path = dir.join(DENSE_FILE);
        let fp = fingerprint(guide, &emb.identity());
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(d) = DenseIndex::from_bytes(&bytes) {
                if d.fingerprint == fp && d.dim == emb.dim() && d.items == guide.items.len() {
                    return Ok(d);
                }
            }
        }
        let d = DenseIndex::build(guide, emb)?;
        std::fs::create_dir_all(dir).map_err(|e| KbError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        std::fs::write(&path, d.to_bytes()).map_err(|e| KbError::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok(d)
    }

    /// The fingerprint the vectors were made for.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Passages embedded.
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    /// Whether no passage is embedded.
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// Each item's similarity to a query vector (its best passage), in guide order.
    pub fn item_scores(&self, q: &[f32]) -> Vec<f32> {
        let mut best = vec![f32::NEG_INFINITY; self.items];
        if q.len() != self.dim {
            return vec![0.0; self.items];
        }
        for (i, v) in &self.passages {
            let s = dot(q, v);
            if let Some(b) = best.get_mut(*i as usize) {
                *b = b.max(s);
            }
        }
        best.iter()
            .map(|b| if b.is_finite() { *b } else { 0.0 })
            .collect()
    }

    /// Encodes the index (see the module's layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(84 + self.passages.len() * (4 + 4 * self.dim));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let mut fp = [b'0'; 64];
        for (d, s) in fp.iter_mut().zip(self.fingerprint.bytes()) {
            *d = s;
        }
        out.extend_from_slice(&fp);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.items as u32).to_le_bytes());
        out.extend_from_slice(&(self.passages.len() as u32).to_le_bytes());
        for (i, v) in &self.passages {
            out.extend_from_slice(&i.to_le_bytes());
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Decodes [`DenseIndex::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = |m: &str| KbError::InvalidGuide(format!("{DENSE_FILE}: {m}"));
        if b.len() < 84 || &b[..4] != MAGIC {
            return Err(bad("not a dense index"));
        }
        let u = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
        if u(4) != VERSION as usize {
            return Err(bad("another version"));
        }
        let fingerprint = String::from_utf8_lossy(&b[8..72]).to_string();
        let (dim, items, n) = (u(72), u(76), u(80));
        if dim == 0 || dim > 1 << 16 || b.len() != 84 + n * (4 + 4 * dim) {
            return Err(bad("truncated or corrupt"));
        }
        let mut passages = Vec::with_capacity(n);
        let mut o = 84;
        for _ in 0..n {
            let i = u(o) as u32;
            o += 4;
            let v: Vec<f32> = (0..dim)
                .map(|k| {
                    f32::from_le_bytes([
                        b[o + 4 * k],
                        b[o + 4 * k + 1],
                        b[o + 4 * k + 2],
                        b[o + 4 * k + 3],
                    ])
                })
                .collect();
            o += 4 * dim;
            if i as usize >= items || !v.iter().all(|x| x.is_finite()) {
                return Err(bad("corrupt passage"));
            }
            passages.push((i, v));
        }
        Ok(DenseIndex {
            fingerprint,
            dim,
            items,
            passages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use xiaoan_intents::embed::HashedEmbedder;

    /// A plain embedder that counts passages embedded and can claim another identity.
    struct Counting {
        inner: HashedEmbedder,
        name: &'static str,
        passages: AtomicUsize,
    }

    impl Counting {
        fn new(name: &'static str) -> Self {
            Counting {
                inner: HashedEmbedder::new(64),
                name,
                passages: AtomicUsize::new(0),
            }
        }
    }

    impl Embedder for Counting {
        fn embed_query(&self, t: &str) -> xiaoan_intents::Result<Vec<f32>> {
            self.inner.embed_query(t)
        }
        fn embed_passage(&self, t: &str) -> xiaoan_intents::Result<Vec<f32>> {
            self.passages.fetch_add(1, Ordering::SeqCst);
            self.inner.embed_passage(t)
        }
        fn dim(&self) -> usize {
            64
        }
        fn identity(&self) -> String {
            self.name.to_string()
        }
    }

    #[test]
    fn every_item_has_the_residents_descriptions() {
        let g = Guide::builtin().unwrap();
        for it in &g.items {
            assert!(asks(&it.id).len() >= 10, "{}", it.id);
            let p = passages(it);
            assert!(
                p.contains(&it.title) && p.contains(&it.summary),
                "{}",
                it.id
            );
        }
        // every line names an item of the guide
        for l in ASKS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (id, text) = l.split_once('\t').expect("guide_id<TAB>text");
            assert!(g.item(id.trim()).is_some(), "unknown id {id}");
            assert!(!text.trim().is_empty());
        }
    }

    #[test]
    fn the_vectors_are_kept_and_rebuilt_when_the_guide_or_the_encoder_changes() {
        let g = Guide::builtin().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        let a = Counting::new("encoder-a");
        let first = DenseIndex::open_or_build(&g, &a, &dir).unwrap();
        let embedded = a.passages.load(Ordering::SeqCst);
        assert!(embedded >= g.items.len() * 12, "{embedded} passages");
        assert_eq!(first.len(), embedded);
        // reopened: read, not embedded again
        let again = DenseIndex::open_or_build(&g, &a, &dir).unwrap();
        assert_eq!(a.passages.load(Ordering::SeqCst), embedded);
        assert_eq!(again, first);
        // another encoder: rebuilt
        let b = Counting::new("encoder-b");
        let other = DenseIndex::open_or_build(&g, &b, &dir).unwrap();
        assert_eq!(b.passages.load(Ordering::SeqCst), embedded);
        assert_ne!(other.fingerprint(), first.fingerprint());
        // a changed guide: rebuilt
        let mut g2 = g.clone();
        g2.items[0].aliases.push("新的叫法".into());
        DenseIndex::open_or_build(&g2, &b, &dir).unwrap();
        assert!(b.passages.load(Ordering::SeqCst) > embedded);
        // a damaged file: rebuilt, not an error
        std::fs::write(dir.join(DENSE_FILE), b"XADI garbage").unwrap();
        let c = Counting::new("encoder-b");
        DenseIndex::open_or_build(&g2, &c, &dir).unwrap();
        assert!(c.passages.load(Ordering::SeqCst) > 0);
        assert!(DenseIndex::from_bytes(b"XADI").is_err());
    }

    #[test]
    fn an_item_scores_its_best_passage() {
        let g = Guide::builtin().unwrap();
        let e = HashedEmbedder::new(256);
        let d = DenseIndex::build(&g, &e).unwrap();
        let senior = g.items.iter().position(|i| i.id == "senior-card").unwrap();
        let q = e.embed_query("敬老卡").unwrap();
        let s = d.item_scores(&q);
        assert_eq!(s.len(), g.items.len());
        // the title itself is a passage: similarity 1
        assert!((s[senior] - 1.0).abs() < 1e-4, "{}", s[senior]);
        assert_eq!(d.item_scores(&[1.0, 0.0]), vec![0.0; g.items.len()]);
    }
}
