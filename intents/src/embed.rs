//! Sentence embeddings as understanding and retrieval see them: the [`Embedder`] trait.
//!
//! Understanding by meaning needs a sentence encoder (multilingual-e5-small in the
//! `models` crate), but neither this crate nor the guide's retriever depends on `models`:
//! the binary adapts its encoder to [`Embedder`] and hands the same `Arc<dyn Embedder>`
//! to the [`crate::Understander`] and to the retriever. [`Cached`] remembers the last few
//! texts, so the utterance embedded for its intent is not embedded again for the search.
//!
//! [`HashedEmbedder`] is the plain, always-compiled implementation: hashed character
//! n-grams, no model. It exercises everything built on the trait (tests, an index that
//! must be rebuilt when the encoder changes) but knows nothing of meaning; the shipped
//! meaning classifier is trained for the real encoder and refuses any other
//! ([`Embedder::identity`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::error::Result;

/// A sentence encoder: text in, a unit-length vector out (cosine similarity is the dot
/// product). Synchronous and object-safe, shared behind an `Arc`.
pub trait Embedder: Send + Sync {
    /// The embedding of what a resident says (a question, a request, a situation).
    fn embed_query(&self, text: &str) -> Result<Vec<f32>>;
    /// The embedding of a text to be found (a guide item's question, summary, alias).
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>>;
    /// The vectors' length.
    fn dim(&self) -> usize;
    /// A name that changes whenever the vectors would (model, weights, version); kept with
    /// everything computed from them (a trained classifier, a stored index).
    fn identity(&self) -> String;
}

impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        (**self).embed_query(text)
    }
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        (**self).embed_passage(text)
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn identity(&self) -> String {
        (**self).identity()
    }
}

/// The dot product (cosine similarity of unit vectors); 0 when the lengths differ.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Texts remembered by [`Cached`] (an utterance is embedded for its intent, then looked up
/// by the retriever; a second decode of the same audio may follow).
const CACHE_ENTRIES: usize = 8;

/// An [`Embedder`] that remembers the vectors of the last few texts.
pub struct Cached<E> {
    inner: E,
    /// (is a query, text, vector), most recent last.
    recent: Mutex<VecDeque<(bool, String, Vec<f32>)>>,
}

impl<E: Embedder> Cached<E> {
    /// Wraps `inner`.
    pub fn new(inner: E) -> Self {
        Cached {
            inner,
            recent: Mutex::new(VecDeque::with_capacity(CACHE_ENTRIES)),
        }
    }

    fn get(&self, query: bool, text: &str) -> Result<Vec<f32>> {
        if let Ok(recent) = self.recent.lock() {
            if let Some((_, _, v)) = recent.iter().find(|(q, t, _)| *q == query && t == text) {
                return Ok(v.clone());
            }
        }
        let v = if query {
            self.inner.embed_query(text)?
        } else {
            self.inner.embed_passage(text)?
        };
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == CACHE_ENTRIES {
                recent.pop_front();
            }
            recent.push_back((query, text.to_string(), v.clone()));
        }
        Ok(v)
    }
}

impl<E: Embedder> Embedder for Cached<E> {
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.get(true, text)
    }
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        self.get(false, text)
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn identity(&self) -> String {
        self.inner.identity()
    }
}

/// Hashed character 1–2-grams, signed, L2-normalised: no model, no meaning. For tests and
/// as the always-available implementation of [`Embedder`].
#[derive(Clone, Debug)]
pub struct HashedEmbedder {
    dim: usize,
}

impl HashedEmbedder {
    /// Vectors of length `dim` (at least 8).
    pub fn new(dim: usize) -> Self {
        HashedEmbedder { dim: dim.max(8) }
    }

    fn vector(&self, text: &str) -> Vec<f32> {
        let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).collect();
        let mut v = vec![0f32; self.dim];
        let mut add = |s: &[char]| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in s {
                for b in (*c as u32).to_le_bytes() {
                    h ^= b as u64;
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            }
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[(h % self.dim as u64) as usize] += sign;
        };
        for i in 0..chars.len() {
            add(&chars[i..i + 1]);
            if i + 1 < chars.len() {
                add(&chars[i..i + 2]);
            }
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        v
    }
}

impl Embedder for HashedEmbedder {
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.vector(text))
    }
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.vector(text))
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn identity(&self) -> String {
        format!("hashed-chars-1-2/{}", self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        inner: HashedEmbedder,
        calls: AtomicUsize,
    }

    impl Embedder for Counting {
        fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.embed_query(text)
        }
        fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.embed_passage(text)
        }
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn identity(&self) -> String {
            self.inner.identity()
        }
    }

    #[test]
    fn an_utterance_is_embedded_once_for_intent_and_search() {
        let c = Arc::new(Cached::new(Counting {
            inner: HashedEmbedder::new(64),
            calls: AtomicUsize::new(0),
        }));
        let a = c.embed_query("我想办社保卡").unwrap();
        let b = c.embed_query("我想办社保卡").unwrap();
        assert_eq!(a, b);
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 1);
        // a passage of the same text is another vector for a real encoder: not shared
        c.embed_passage("我想办社保卡").unwrap();
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 2);
        // older texts fall out
        for i in 0..CACHE_ENTRIES {
            c.embed_query(&format!("第{i}句")).unwrap();
        }
        c.embed_query("我想办社保卡").unwrap();
        assert_eq!(
            c.inner.calls.load(Ordering::SeqCst),
            3 + CACHE_ENTRIES,
            "evicted text embedded again"
        );
    }

    #[test]
    fn hashed_vectors_are_unit_length_and_alike_for_alike_texts() {
        let e = HashedEmbedder::new(256);
        let a = e.embed_query("社保卡丢了怎么补办").unwrap();
        let b = e.embed_query("社保卡丢了去哪补").unwrap();
        let c = e.embed_query("今天天气怎么样").unwrap();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &b) > dot(&a, &c));
        assert_eq!(e.embed_query("，。").unwrap(), vec![0.0; 256]);
        assert_eq!(dot(&a, &[1.0]), 0.0);
    }
}
