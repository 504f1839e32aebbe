//! Assembling the stages into a running agent (the evaluation pipeline that drives the
//! same stages is the `xiaoan` binary's glue: `xiaoan::eval_pipeline`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use xiaoan_intents::embed::Embedder;
use xiaoan_kb::{Guide, Retriever};

use crate::config::Settings;
use crate::dialogue::Agent;
use crate::error::{Error, Result};
use crate::forms::{Forms, Mediation};
use xiaoan_records::{AppointmentConfig, Store};

/// The service guide: the configured folder, else the one shipped in the program.
pub fn load_guide(settings: &Settings) -> Result<Guide> {
    Ok(match &settings.config.kb.guide_dir {
        Some(dir) => Guide::load_dir(dir)?,
        None => Guide::builtin()?,
    })
}

/// The sentence encoder under `XIAOAN_HOME/models/e5-small`, shared by understanding and
/// retrieval; `None` (with a warning) when the set-up has not installed it, and the agent
/// then understands by its n-gram model and finds guide items by words and sound only.
pub fn load_encoder(settings: &Settings) -> Result<Option<Arc<dyn Embedder>>> {
    let dir = xiaoan_models::embed::encoder_dir(&settings.home);
    let enc = crate::embedder::shared(&dir)?;
    if enc.is_none() {
        eprintln!(
            "xiaoan: the sentence encoder is not installed in {} (run make setup): understanding without meaning",
            dir.display()
        );
    }
    Ok(enc)
}

/// The retriever over the guide, its indexes under `XIAOAN_HOME/index` (rebuilt when the
/// guide, or the encoder, changed or an index is damaged).
pub fn load_retriever(
    settings: &Settings,
    guide: &Guide,
    encoder: Option<Arc<dyn Embedder>>,
) -> Result<Box<dyn Retriever>> {
    crate::embedder::retriever(guide, &settings.index_dir, encoder)
}

/// Longest a conversation's write waits for a busy database before it fails and is
/// queued for retry: the resident hears the reply (or the plain failure) without a
/// noticeable pause.
pub const CONVERSATION_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The agent for `settings`, filing into the store at `store_path`.
pub fn build_agent(settings: &Settings, store_path: &Path) -> Result<Agent> {
    let guide = load_guide(settings)?;
    let encoder = load_encoder(settings)?;
    let retriever = load_retriever(settings, &guide, encoder.clone())?;
    let forms = Forms::builtin().map_err(|e| Error::Config {
        file: "forms".into(),
        reason: e.to_string(),
    })?;
    let mediation = Mediation::builtin().map_err(|e| Error::Config {
        file: "mediation".into(),
        reason: e.to_string(),
    })?;
    let mut store = Store::open(store_path)?;
    // every record says where it was made (`[site]`): the centre shows it per site.
    // Stamping older unstamped rows can fail on a busy or read-only file: new records
    // are stamped all the same, and the terminal still starts.
    if let Err(e) = store.set_origin(settings.origin.clone()) {
        eprintln!(
            "xiaoan: WARNING for staff: older records could not be given this terminal's site: {e}"
        );
    }
    // a resident's emergency is spoken at once: a write that cannot get the database
    // within this wait fails, is said plainly and retried (never a silent pause)
    store.set_busy_timeout(CONVERSATION_WRITE_WAIT)?;
    if let Err(reason) = store.health() {
        // the terminal tells staff at once: filings and alerts cannot be recorded
        eprintln!("xiaoan: WARNING for staff: the records store is not healthy: {reason}");
    }
    let default_dialect = match settings.config.dialect.default.as_str() {
        "auto" => None,
        code => Some(code.to_string()),
    };
    Ok(Agent {
        understander: std::sync::Arc::new(crate::embedder::understander(encoder)?),
        guide,
        retriever,
        forms,
        mediation,
        store: Mutex::new(store),
        settings: settings.dialogue.clone(),
        default_dialect,
        today: None,
        appointments: AppointmentConfig::default(),
    })
}

pub use crate::route::needs_guide;
