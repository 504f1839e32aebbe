//! Assembling the stages into a running agent (the evaluation pipeline that drives the
//! same stages is the `xiaoan` binary's glue: `xiaoan::eval_pipeline`).

use std::path::Path;
use std::sync::Mutex;

use xiaoan_intents::Understander;
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

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

/// The retriever over the guide, its index under `XIAOAN_HOME/index` (rebuilt when the
/// guide changed or the index is damaged).
pub fn load_retriever(settings: &Settings, guide: &Guide) -> Result<Box<dyn Retriever>> {
    Ok(Box::new(TantivyRetriever::open_or_build(
        guide,
        &settings.index_dir,
    )?))
}

/// Longest a conversation's write waits for a busy database before it fails and is
/// queued for retry: the resident hears the reply (or the plain failure) without a
/// noticeable pause.
pub const CONVERSATION_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The agent for `settings`, filing into the store at `store_path`.
pub fn build_agent(settings: &Settings, store_path: &Path) -> Result<Agent> {
    let guide = load_guide(settings)?;
    let retriever = load_retriever(settings, &guide)?;
    let forms = Forms::builtin().map_err(|e| Error::Config {
        file: "forms".into(),
        reason: e.to_string(),
    })?;
    let mediation = Mediation::builtin().map_err(|e| Error::Config {
        file: "mediation".into(),
        reason: e.to_string(),
    })?;
    let mut store = Store::open(store_path)?;
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
        understander: Understander::builtin()?,
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
