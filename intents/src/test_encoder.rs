//! The installed sentence encoder for the tests of this crate and of `kb` (feature
//! `test-encoder`; the real encoder comes from `models`),
//! loaded once. Tests that need it print a SKIP line naming the set-up when it is absent,
//! except under `CI=true`, where its absence fails them.

use std::sync::{Arc, OnceLock};

use xiaoan_models::embed::{
    default_dir, SentenceEncoder, ENCODER_FILE, ENCODER_PACKAGE, ENCODER_SHA256,
};

use crate::embed::{Cached, Embedder};
use crate::error::{Error, Result};

/// The identity the agent's adapter gives the encoder (`agent/src/embedder.rs`).
pub fn identity() -> String {
    format!("{ENCODER_PACKAGE}#{}", &ENCODER_SHA256[..16])
}

struct E5(SentenceEncoder);

impl Embedder for E5 {
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.0
            .embed_query(text)
            .map_err(|e| Error::Embed(e.to_string()))
    }
    fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        self.0
            .embed_passage(text)
            .map_err(|e| Error::Embed(e.to_string()))
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn identity(&self) -> String {
        identity()
    }
}

/// The encoder, or `None` after printing SKIP for `test`.
pub fn encoder(test: &str) -> Option<Arc<dyn Embedder>> {
    static E: OnceLock<Option<Arc<dyn Embedder>>> = OnceLock::new();
    let e = E.get_or_init(|| {
        let dir = default_dir();
        if !dir.join(ENCODER_FILE).is_file() {
            return None;
        }
        let enc = SentenceEncoder::load(&dir).ok()?;
        let e: Arc<dyn Embedder> = Arc::new(Cached::new(E5(enc)));
        Some(e)
    });
    if e.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: the sentence encoder is missing under CI=true (run scripts/setup.sh)"
        );
        eprintln!(
            "SKIP {test}: {} is missing (run scripts/setup.sh)",
            default_dir().join(ENCODER_FILE).display()
        );
    }
    e.clone()
}

/// The understander with meaning (the committed models and the installed encoder).
pub fn understander(test: &str) -> Option<crate::Understander> {
    let e = encoder(test)?;
    match crate::Understander::builtin().and_then(|u| u.with_embedder(e)) {
        Ok(u) => Some(u),
        Err(err) => panic!("{test}: {err}"),
    }
}
