//! The real sentence encoder as an [`Embedder`], for the examples (the binary has its own
//! adapter in the agent), with an on-disk cache of vectors so that retraining after a
//! change of the classifier does not embed every line again.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use xiaoan_intents::embed::Embedder;
use xiaoan_intents::{Error, Result};
use xiaoan_models::embed::{default_dir, SentenceEncoder, ENCODER_PACKAGE, ENCODER_SHA256};

/// The encoder's identity as the agent's adapter names it.
pub fn identity() -> String {
    format!("{ENCODER_PACKAGE}#{}", &ENCODER_SHA256[..16])
}

pub struct E5 {
    enc: SentenceEncoder,
    cache: Mutex<HashMap<(bool, String), Vec<f32>>>,
    path: PathBuf,
    use_cache: bool,
}

impl E5 {
    #[allow(dead_code)]
    pub fn load() -> Result<Self> {
        let enc = SentenceEncoder::load(&default_dir()).map_err(|e| Error::Embed(e.to_string()))?;
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/e5-cache.bin"
        ));
        let mut cache = HashMap::new();
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut b = Vec::new();
            let _ = f.read_to_end(&mut b);
            let mut o = 0;
            let dim = enc.dim();
            while o + 5 <= b.len() {
                let n = u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
                let q = b[o + 4] == 1;
                o += 5;
                if o + n + 4 * dim > b.len() {
                    break;
                }
                let t = String::from_utf8_lossy(&b[o..o + n]).to_string();
                o += n;
                let v: Vec<f32> = (0..dim)
                    .map(|i| {
                        f32::from_le_bytes([
                            b[o + 4 * i],
                            b[o + 4 * i + 1],
                            b[o + 4 * i + 2],
                            b[o + 4 * i + 3],
                        ])
                    })
                    .collect();
                o += 4 * dim;
                cache.insert((q, t), v);
            }
        }
        Ok(E5 {
            enc,
            cache: Mutex::new(cache),
            path,
            use_cache: true,
        })
    }

    /// The encoder without the on-disk cache (timing and memory as in the binary).
    #[allow(dead_code)]
    pub fn load_uncached() -> Result<Self> {
        let enc = SentenceEncoder::load(&default_dir()).map_err(|e| Error::Embed(e.to_string()))?;
        Ok(E5 {
            enc,
            cache: Mutex::new(HashMap::new()),
            path: PathBuf::new(),
            use_cache: false,
        })
    }

    #[allow(dead_code)]
    pub fn save(&self) {
        if !self.use_cache {
            return;
        }
        let Ok(c) = self.cache.lock() else { return };
        let mut out = Vec::new();
        for ((q, t), v) in c.iter() {
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            out.push(*q as u8);
            out.extend_from_slice(t.as_bytes());
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        if let Ok(mut f) = std::fs::File::create(&self.path) {
            let _ = f.write_all(&out);
        }
    }

    fn get(&self, q: bool, text: &str) -> Result<Vec<f32>> {
        if !self.use_cache {
            return if q {
                self.enc.embed_query(text)
            } else {
                self.enc.embed_passage(text)
            }
            .map_err(|e| Error::Embed(e.to_string()));
        }
        if let Some(v) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&(q, text.to_string())).cloned())
        {
            return Ok(v);
        }
        let v = if q {
            self.enc.embed_query(text)
        } else {
            self.enc.embed_passage(text)
        }
        .map_err(|e| Error::Embed(e.to_string()))?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert((q, text.to_string()), v.clone());
        }
        Ok(v)
    }
}

impl Embedder for E5 {
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.get(true, text)
    }
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        self.get(false, text)
    }
    fn dim(&self) -> usize {
        self.enc.dim()
    }
    fn identity(&self) -> String {
        identity()
    }
}
