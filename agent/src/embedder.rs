//! The sentence encoder of `models` (multilingual-e5-small) as the understanding and
//! retrieval stages see it: [`xiaoan_intents::embed::Embedder`]. Neither `intents` nor
//! `kb` depends on `models`; the agent joins them here.
//!
//! One encoder is loaded and shared ([`shared`]): the [`Understander`] embeds an
//! utterance for its intent, the [`FusedRetriever`] looks the same text up by meaning,
//! and the [`Cached`] wrapper makes the second call free.
//!
//! ```no_run
//! use xiaoan_agent::embedder;
//! let enc = embedder::shared(&xiaoan_models::embed::default_dir())?;
//! let u = embedder::understander(enc.clone())?;
//! let guide = xiaoan_kb::Guide::builtin()?;
//! let r = embedder::retriever(&guide, std::path::Path::new("/tmp/xiaoan-index"), enc)?;
//! # Ok::<(), xiaoan_agent::Error>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use xiaoan_intents::embed::{Cached, Embedder};
use xiaoan_intents::Understander;
use xiaoan_kb::fused::FusedRetriever;
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};
use xiaoan_models::embed::{SentenceEncoder, ENCODER_FILE, ENCODER_PACKAGE, ENCODER_SHA256};

use crate::error::Result;

/// The encoder's identity as kept with what is computed from its vectors (the meaning
/// model, the guide's dense index): the package and the weights' checksum.
pub fn identity() -> String {
    format!("{ENCODER_PACKAGE}#{}", &ENCODER_SHA256[..16])
}

/// multilingual-e5-small as an [`Embedder`].
pub struct E5Embedder {
    enc: SentenceEncoder,
}

impl E5Embedder {
    /// Loads the encoder from `dir` (`$XIAOAN_HOME/models/e5-small`).
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(E5Embedder {
            enc: SentenceEncoder::load(dir)?,
        })
    }
}

fn encoder_error(e: xiaoan_models::Error) -> xiaoan_intents::Error {
    xiaoan_intents::Error::Embed(e.to_string())
}

impl Embedder for E5Embedder {
    fn embed_query(&self, text: &str) -> xiaoan_intents::Result<Vec<f32>> {
        self.enc.embed_query(text).map_err(encoder_error)
    }
    fn embed_passage(&self, text: &str) -> xiaoan_intents::Result<Vec<f32>> {
        self.enc.embed_passage(text).map_err(encoder_error)
    }
    fn dim(&self) -> usize {
        self.enc.dim()
    }
    fn identity(&self) -> String {
        identity()
    }
}

/// The installed encoder, loaded once and cached for sharing; `None` when its weights are
/// not installed (understanding and retrieval then work without meaning).
pub fn shared(dir: &Path) -> Result<Option<Arc<dyn Embedder>>> {
    if !dir.join(ENCODER_FILE).is_file() {
        return Ok(None);
    }
    let e: Arc<dyn Embedder> = Arc::new(Cached::new(E5Embedder::load(dir)?));
    Ok(Some(e))
}

/// The understanding step: with meaning when an encoder is given, else the n-gram model
/// alone.
pub fn understander(encoder: Option<Arc<dyn Embedder>>) -> Result<Understander> {
    let u = Understander::builtin()?;
    Ok(match encoder {
        Some(e) => u.with_embedder(e)?,
        None => u,
    })
}

/// The guide's retriever with its indexes under `index_dir`: terms, sound and meaning
/// when an encoder is given, else terms and sound.
pub fn retriever(
    guide: &Guide,
    index_dir: &Path,
    encoder: Option<Arc<dyn Embedder>>,
) -> Result<Box<dyn Retriever>> {
    Ok(match encoder {
        Some(e) => Box::new(FusedRetriever::open_or_build(guide, index_dir, e)?),
        None => Box::new(TantivyRetriever::open_or_build(guide, index_dir)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_names_the_weights_the_meaning_model_was_trained_on() {
        // the committed meaning model refuses any other encoder
        let m = xiaoan_intents::meaning::MeaningModel::builtin()
            .expect("committed meaning model decodes")
            .expect("a meaning model is committed");
        assert_eq!(m.identity, identity());
        assert_eq!(m.dim, 384);
    }
}
