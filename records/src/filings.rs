//! Self-declarations (承诺制 / 容缺受理): a filing is a list of typed field values, the
//! commitment agreed to and the materials still owed. The form that asked the questions
//! is the dialogue's; the store keeps what was answered.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::clock::parse_rfc3339;
use crate::error::{Result, StoreError};
use crate::{RecordKind, Store};

/// The kind of a form field; decides validation, masking and how the value is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A person's name (personal data, masked in logs).
    PersonName,
    /// An 18-character resident ID number, GB 11643 checksum (personal data).
    IdNumber,
    /// A mainland mobile number, 11 digits (personal data).
    Phone,
    /// A calendar date, canonical `YYYY-MM-DD`.
    Date,
    /// A street address (building, room).
    Address,
    /// Free text.
    Text,
    /// One of a fixed list of choices.
    Choice,
    /// A whole number.
    Count,
}

impl FieldKind {
    /// True for kinds that carry personal data (masked by default).
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            FieldKind::PersonName | FieldKind::IdNumber | FieldKind::Phone
        )
    }

    /// The snake_case name used in files and in stored records.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::PersonName => "person_name",
            FieldKind::IdNumber => "id_number",
            FieldKind::Phone => "phone",
            FieldKind::Date => "date",
            FieldKind::Address => "address",
            FieldKind::Text => "text",
            FieldKind::Choice => "choice",
            FieldKind::Count => "count",
        }
    }
}

/// One answered form field, as filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    /// Machine name of the field.
    pub name: String,
    /// Chinese label.
    pub label: String,
    /// Kind (decides masking).
    pub kind: FieldKind,
    /// Canonical value (from `Form::validate`).
    pub value: String,
}

/// A material still owed after a 容缺 filing, with its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedMaterial {
    /// What is owed.
    pub name: String,
    /// The last day to bring it.
    pub due: NaiveDate,
}

/// A declaration to file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewFiling {
    /// Form id (service-catalogue id).
    pub form_id: String,
    /// Form title.
    pub form_title: String,
    /// Answered fields.
    pub fields: Vec<FieldValue>,
    /// Materials still owed, with deadlines.
    pub materials_owed: Vec<OwedMaterial>,
    /// The commitment text the resident agreed to.
    pub commitment: String,
    /// Dialogue session.
    pub session_id: String,
}

/// What the resident is told after filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilingReceipt {
    /// Receipt number (ten digits, read digit by digit).
    pub number: String,
    /// Materials still owed, with deadlines.
    pub materials_owed: Vec<OwedMaterial>,
    /// When it was filed (UTC).
    pub created_at: DateTime<Utc>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

impl Store {
    /// File a declaration: the filing and its evidence entry in one transaction.
    pub fn file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt> {
        if f.form_id.trim().is_empty() || f.fields.is_empty() {
            return Err(StoreError::Invalid(
                "a filing needs a form id and at least one field".into(),
            ));
        }
        let tx = self.write_tx()?;
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        let status = if f.materials_owed.is_empty() {
            "filed"
        } else {
            "materials_owed"
        };
        tx.execute(
            "INSERT INTO filings (number, form_id, form_title, fields, materials_owed, commitment, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            params![
                number,
                f.form_id,
                f.form_title,
                self.sealed(&tx, &number, serde_json::to_string(&f.fields)?)?,
                serde_json::to_string(&f.materials_owed)?,
                f.commitment,
                status,
                now,
                f.session_id
            ],
        )?;
        self.append(&tx, "created", RecordKind::Filing, &number, &f.form_id)?;
        tx.commit()?;
        self.anchor_head();
        Ok(FilingReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            number,
            materials_owed: f.materials_owed.clone(),
            created_at: parse_rfc3339(&now, self.clock.now()),
        })
    }
}
