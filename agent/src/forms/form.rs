//! A declaration form: its file format, loading and checks, the answers it still needs,
//! and the filing it becomes.

use std::path::Path;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use xiaoan_records::{FieldValue, NewFiling, OwedMaterial};

use super::fields::{build_fields, FieldDef, FieldFile};
use super::{invalid, FormError, Result};

/// A material that may be supplied later (容缺).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeferredMaterial {
    /// What is owed (`出生医学证明`).
    pub name: String,
    /// Days after filing by which it is due.
    pub due_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormFile {
    id: String,
    title: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    intro: String,
    commitment: String,
    fields: Vec<FieldFile>,
    #[serde(default)]
    deferred: Vec<DeferredMaterial>,
}

/// A declaration form.
#[derive(Debug, Clone, Serialize)]
pub struct Form {
    /// Service-catalogue id (`birth-registration`).
    pub id: String,
    /// Chinese title (`生育登记`).
    pub title: String,
    /// Scheme: `承诺制`, `容缺受理` or `告知承诺制`.
    pub scheme: String,
    /// Spoken opening when the flow starts.
    pub intro: String,
    /// The commitment (承诺) read to the resident before the final yes.
    pub commitment: String,
    /// Fields in asking order.
    pub fields: Vec<FieldDef>,
    /// Materials that may be supplied later.
    pub deferred: Vec<DeferredMaterial>,
    /// Where the form came from (`built-in:birth-registration.toml` or a path).
    pub origin: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

impl Form {
    /// Parse and check one form file's text; `origin` names the file in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Form> {
        let file: FormFile = toml::from_str(text).map_err(|e| FormError::Parse {
            file: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if !valid_id(&file.id) {
            return Err(invalid(
                origin,
                format!("id {:?} must be lowercase letters, digits and -", file.id),
            ));
        }
        if file.title.trim().is_empty() {
            return Err(invalid(origin, "title is empty"));
        }
        if file.commitment.trim().is_empty() {
            return Err(invalid(origin, "commitment is empty"));
        }
        if file.fields.is_empty() {
            return Err(invalid(origin, "a form needs at least one field"));
        }
        for d in &file.deferred {
            if d.name.trim().is_empty() || d.due_days == 0 {
                return Err(invalid(
                    origin,
                    "each deferred material needs a name and due_days above 0",
                ));
            }
        }
        let fields = build_fields(origin, file.fields)?;
        Ok(Form {
            id: file.id,
            title: file.title,
            scheme: file.scheme,
            intro: file.intro,
            commitment: file.commitment,
            fields,
            deferred: file.deferred,
            origin: origin.to_string(),
        })
    }

    /// Load one form file from disk.
    pub fn load(path: &Path) -> Result<Form> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FormError::Io {
            file: origin.clone(),
            source,
        })?;
        Form::from_toml_str(&text, &origin)
    }

    /// The field with this machine name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Validate an answer for `field` against `today` (dates not in the future, ID
    /// numbers born by today…).
    ///
    /// `Ok` holds the canonical value to store; `Err` a short spoken reason in Chinese.
    pub fn validate_on(
        &self,
        field: &str,
        value: &str,
        today: NaiveDate,
    ) -> std::result::Result<String, String> {
        match self.field(field) {
            Some(def) => def.validate_on(value, today),
            None => Err("这一项表里没有，请再说一遍。".to_string()),
        }
    }

    /// Names of required fields missing from `filled`.
    pub fn missing<'a>(&'a self, filled: &[&str]) -> Vec<&'a FieldDef> {
        self.fields
            .iter()
            .filter(|f| f.required && !filled.contains(&f.name.as_str()))
            .collect()
    }

    /// Materials owed if the form is filed on `filed_on`, with their due dates.
    pub fn materials_owed(&self, filed_on: NaiveDate) -> Vec<OwedMaterial> {
        self.deferred
            .iter()
            .map(|d| OwedMaterial {
                name: d.name.clone(),
                due: filed_on
                    .checked_add_days(Days::new(u64::from(d.due_days)))
                    .unwrap_or(filed_on),
            })
            .collect()
    }

    /// The filing of this form with the validated answers `(field name, value)`: the
    /// answers in the form's field order (answers to unknown fields are dropped), the
    /// form's deferred materials owed from `filed_on`.
    pub fn filing(
        &self,
        answers: &[(String, String)],
        session_id: &str,
        filed_on: NaiveDate,
    ) -> NewFiling {
        let fields = self
            .fields
            .iter()
            .filter_map(|f| {
                answers
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == f.name)
                    .map(|(_, v)| FieldValue {
                        name: f.name.clone(),
                        label: f.label.clone(),
                        kind: f.kind,
                        value: v.clone(),
                    })
            })
            .collect();
        NewFiling {
            form_id: self.id.clone(),
            form_title: self.title.clone(),
            fields,
            materials_owed: self.materials_owed(filed_on),
            commitment: self.commitment.clone(),
            session_id: session_id.to_string(),
        }
    }
}
