//! Form definitions for self-declarations (承诺制 / 容缺受理) and the mediation triage.
//!
//! Forms are data: one TOML file per declaration under `agent/forms/`, embedded in the
//! binary as built-ins, and a centre may load its own from a directory (a file with the
//! same `id` replaces the built-in). Each form names its fields (kind, how to ask, how to
//! read back, validation), the commitment the resident agrees to, and the materials that
//! may be supplied later and by when.
//!
//! ```
//! use xiaoan_agent::forms::Forms;
//! let forms = Forms::builtin().unwrap();
//! let form = forms.get("birth-registration").unwrap();
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
//! assert!(form.validate_on("mother_phone", "138 0013 8000", today).is_ok());
//! ```
//!
//! File format (see `agent/forms/birth-registration.toml` for a full example):
//! top-level `id` (a service-catalogue id), `title`, `scheme`, `intro`, `commitment`,
//! then `[[fields]]` tables (`name`, `label`, `kind`, `required`, `ask`, `read_back`,
//! `choices`, `not_future`, `not_past`, `min`, `max`, `max_len`, `hint`) and `[[deferred]]`
//! tables (`name`, `due_days`). `mediation.toml` holds the dispute kinds, danger words,
//! triage questions and the mediator's slots.
//!
//! Nothing here reads the clock: every check that depends on the date takes "today" from
//! the caller (the dialogue's [`crate::dialogue::Agent::today`]).

mod checks;
mod fields;
mod form;
mod mediation;

use std::path::{Path, PathBuf};

pub use checks::{check_id_number, check_name, check_phone, parse_count, parse_date};
pub use fields::{Choice, FieldDef};
pub use form::{DeferredMaterial, Form};
pub use mediation::{DisputeKind, Mediation, MediatorSlot, MediatorSlots};
/// The field kinds and mediator offers are the records' schema: a filing stores typed
/// values, a case the slot it holds.
pub use xiaoan_records::{FieldKind, MediatorOffer};

/// Errors while loading form definitions. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file or directory.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown/missing fields.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The file parsed but its content is inconsistent.
    #[error("{file}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result type for form loading.
pub type Result<T> = std::result::Result<T, FormError>;

pub(crate) fn invalid(file: &str, reason: impl Into<String>) -> FormError {
    FormError::Invalid {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// Built-in form files, embedded at compile time.
const BUILTIN_FORMS: &[(&str, &str)] = &[
    (
        "birth-registration.toml",
        include_str!("../../forms/birth-registration.toml"),
    ),
    (
        "residence-registration.toml",
        include_str!("../../forms/residence-registration.toml"),
    ),
    (
        "property-transfer.toml",
        include_str!("../../forms/property-transfer.toml"),
    ),
    (
        "certificate-issuance.toml",
        include_str!("../../forms/certificate-issuance.toml"),
    ),
];

/// The built-in mediation triage file.
pub(crate) const BUILTIN_MEDIATION: &str = include_str!("../../forms/mediation.toml");

/// A set of forms, keyed by id.
#[derive(Debug, Clone, Default)]
pub struct Forms {
    forms: Vec<Form>,
}

impl Forms {
    /// The built-in forms.
    pub fn builtin() -> Result<Forms> {
        let mut set = Forms::default();
        for (name, text) in BUILTIN_FORMS {
            set.insert(Form::from_toml_str(text, &format!("built-in:{name}"))?);
        }
        Ok(set)
    }

    /// The built-in forms plus every `*.toml` in `dir` (a centre's own forms; one with the
    /// same id replaces the built-in). `mediation.toml` in the directory is skipped here.
    pub fn with_dir(dir: &Path) -> Result<Forms> {
        let mut set = Forms::builtin()?;
        for form in Forms::load_dir(dir)?.forms {
            set.insert(form);
        }
        Ok(set)
    }

    /// Only the forms in `dir` (sorted by file name).
    pub fn load_dir(dir: &Path) -> Result<Forms> {
        let io = |source| FormError::Io {
            file: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| n != "mediation.toml")
            })
            .collect();
        paths.sort();
        let mut set = Forms::default();
        for p in paths {
            let form = Form::load(&p)?;
            if set.get(&form.id).is_some() {
                return Err(invalid(
                    &form.origin,
                    format!("a second form with id `{}`", form.id),
                ));
            }
            set.insert(form);
        }
        Ok(set)
    }

    fn insert(&mut self, form: Form) {
        match self.forms.iter_mut().find(|f| f.id == form.id) {
            Some(slot) => *slot = form,
            None => self.forms.push(form),
        }
    }

    /// The form with this id.
    pub fn get(&self, id: &str) -> Option<&Form> {
        self.forms.iter().find(|f| f.id == id)
    }

    /// All forms, in load order.
    pub fn iter(&self) -> impl Iterator<Item = &Form> {
        self.forms.iter()
    }

    /// Number of forms.
    pub fn len(&self) -> usize {
        self.forms.len()
    }

    /// True when no form is loaded.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }
}

#[cfg(test)]
mod tests;
