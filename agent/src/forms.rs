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
//! assert!(form.validate("mother_phone", "138 0013 8000").is_ok());
//! ```
//!
//! File format (see `agent/forms/birth-registration.toml` for a full example):
//! top-level `id` (a service-catalogue id), `title`, `scheme`, `intro`, `commitment`,
//! then `[[fields]]` tables (`name`, `label`, `kind`, `required`, `ask`, `read_back`,
//! `choices`, `not_future`, `not_past`, `min`, `max`, `max_len`, `hint`) and `[[deferred]]`
//! tables (`name`, `due_days`). `mediation.toml` holds the dispute kinds, danger words,
//! triage questions and the mediator's slots.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::store::OwedMaterial;

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

/// A choice as written in a file: either `"男"` or `{ value = "自有住房", also = ["自己的房子"] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ChoiceSpec {
    Plain(String),
    Full {
        value: String,
        #[serde(default)]
        also: Vec<String>,
    },
}

/// One allowed answer of a choice field, with other ways residents say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The canonical value stored.
    pub value: String,
    /// Other words that mean the same.
    pub also: Vec<String>,
}

impl From<ChoiceSpec> for Choice {
    fn from(c: ChoiceSpec) -> Self {
        match c {
            ChoiceSpec::Plain(value) => Choice {
                value,
                also: Vec::new(),
            },
            ChoiceSpec::Full { value, also } => Choice { value, also },
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    name: String,
    label: String,
    kind: FieldKind,
    #[serde(default = "default_true")]
    required: bool,
    ask: String,
    #[serde(default)]
    read_back: Option<String>,
    #[serde(default)]
    choices: Vec<ChoiceSpec>,
    #[serde(default)]
    not_future: bool,
    #[serde(default)]
    not_past: bool,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    max_len: Option<usize>,
    #[serde(default)]
    hint: Option<String>,
}

/// One field of a form.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDef {
    /// Machine name, unique in the form (`mother_id`).
    pub name: String,
    /// Chinese label (`母亲身份证号`).
    pub label: String,
    /// Kind of value.
    pub kind: FieldKind,
    /// Whether the form cannot be filed without it.
    pub required: bool,
    /// The spoken question (short, natural Chinese).
    pub ask: String,
    /// Read-back template; `{value}` and `{label}` are replaced.
    pub read_back: String,
    /// Allowed answers for `choice` fields.
    pub choices: Vec<Choice>,
    /// Dates: must not be after today (birth dates).
    pub not_future: bool,
    /// Dates: must not be before today (planned dates).
    pub not_past: bool,
    /// Counts: smallest allowed value.
    pub min: Option<i64>,
    /// Counts: largest allowed value.
    pub max: Option<i64>,
    /// Text and addresses: longest allowed answer in characters (default 200).
    pub max_len: Option<usize>,
    /// A spoken hint added to a validation failure (`最后一位可能是X`).
    pub hint: Option<String>,
}

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

fn invalid(file: &str, reason: impl Into<String>) -> FormError {
    FormError::Invalid {
        file: file.to_string(),
        reason: reason.into(),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn build_fields(origin: &str, files: Vec<FieldFile>) -> Result<Vec<FieldDef>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        if f.name.trim().is_empty()
            || !f
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                origin,
                format!("field name {:?} must be letters, digits or _", f.name),
            ));
        }
        if !seen.insert(f.name.clone()) {
            return Err(invalid(origin, format!("field `{}` appears twice", f.name)));
        }
        if f.label.trim().is_empty() || f.ask.trim().is_empty() {
            return Err(invalid(
                origin,
                format!("field `{}` needs a label and an ask", f.name),
            ));
        }
        let read_back = f
            .read_back
            .unwrap_or_else(|| "{label}：{value}".to_string());
        if !read_back.contains("{value}") {
            return Err(invalid(
                origin,
                format!("field `{}`: read_back must contain {{value}}", f.name),
            ));
        }
        let choices: Vec<Choice> = f.choices.into_iter().map(Choice::from).collect();
        if f.kind == FieldKind::Choice && choices.is_empty() {
            return Err(invalid(
                origin,
                format!("field `{}` is a choice but lists no choices", f.name),
            ));
        }
        if f.kind != FieldKind::Choice && !choices.is_empty() {
            return Err(invalid(
                origin,
                format!("field `{}` lists choices but is not a choice", f.name),
            ));
        }
        if let (Some(lo), Some(hi)) = (f.min, f.max) {
            if lo > hi {
                return Err(invalid(
                    origin,
                    format!("field `{}`: min is above max", f.name),
                ));
            }
        }
        if f.not_future && f.not_past {
            return Err(invalid(
                origin,
                format!(
                    "field `{}`: not_future and not_past together allow only today",
                    f.name
                ),
            ));
        }
        out.push(FieldDef {
            name: f.name,
            label: f.label,
            kind: f.kind,
            required: f.required,
            ask: f.ask,
            read_back,
            choices,
            not_future: f.not_future,
            not_past: f.not_past,
            min: f.min,
            max: f.max,
            max_len: f.max_len,
            hint: f.hint,
        });
    }
    Ok(out)
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

    /// Validate an answer for `field` against today's date (local time).
    ///
    /// `Ok` holds the canonical value to store; `Err` a short spoken reason in Chinese.
    pub fn validate(&self, field: &str, value: &str) -> std::result::Result<String, String> {
        self.validate_on(field, value, chrono::Local::now().date_naive())
    }

    /// [`Form::validate`] with an explicit "today" (for tests and replay).
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
}

impl FieldDef {
    /// Fill the read-back template with a (canonical) value.
    pub fn read_back(&self, value: &str) -> String {
        self.read_back
            .replace("{label}", &self.label)
            .replace("{value}", value)
    }

    fn fail(&self, reason: String) -> String {
        match &self.hint {
            Some(h) => format!("{reason}{h}"),
            None => reason,
        }
    }

    /// Validate one answer; see [`Form::validate`].
    pub fn validate_on(
        &self,
        value: &str,
        today: NaiveDate,
    ) -> std::result::Result<String, String> {
        let v = value
            .trim()
            .trim_matches(|c: char| "。，,.！!？?、".contains(c))
            .trim();
        let label = &self.label;
        if v.is_empty() {
            return Err(format!("{label}还没听到，请再说一遍。"));
        }
        match self.kind {
            FieldKind::IdNumber => check_id_number(v).map_err(|r| self.fail(format!("{label}{r}"))),
            FieldKind::Phone => check_phone(v)
                .ok_or_else(|| self.fail(format!("{label}应该是1开头的11位数字，请再说一遍。"))),
            FieldKind::PersonName => {
                check_name(v).ok_or_else(|| self.fail(format!("{label}请说两到六个汉字。")))
            }
            FieldKind::Date => {
                let d = parse_date(v)
                    .ok_or_else(|| self.fail(format!("{label}没听清，请说几几年几月几号。")))?;
                if self.not_future && d > today {
                    return Err(self.fail(format!("{label}不能晚于今天，请再说一遍。")));
                }
                if self.not_past && d < today {
                    return Err(self.fail(format!("{label}不能早于今天，请再说一遍。")));
                }
                Ok(d.format("%Y-%m-%d").to_string())
            }
            FieldKind::Count => {
                let n =
                    parse_count(v).ok_or_else(|| self.fail(format!("{label}请说一个数字。")))?;
                let lo = self.min.unwrap_or(0);
                let hi = self.max.unwrap_or(i64::MAX);
                if n < lo || n > hi {
                    return Err(self.fail(match self.max {
                        Some(hi) => format!("{label}应该在{lo}到{hi}之间，请再说一遍。"),
                        None => format!("{label}至少是{lo}，请再说一遍。"),
                    }));
                }
                Ok(n.to_string())
            }
            FieldKind::Choice => self.match_choice(v).ok_or_else(|| {
                let names: Vec<&str> = self.choices.iter().map(|c| c.value.as_str()).collect();
                self.fail(format!("{label}请从这几项里选：{}。", names.join("、")))
            }),
            FieldKind::Address => {
                let n = v.chars().count();
                if n < 4 {
                    return Err(self.fail(format!("{label}太短了，请说到几号楼几室。")));
                }
                if n > self.max_len.unwrap_or(100) {
                    return Err(self.fail(format!("{label}太长了，请简短一点。")));
                }
                Ok(v.to_string())
            }
            FieldKind::Text => {
                if v.chars().count() > self.max_len.unwrap_or(200) {
                    return Err(self.fail(format!("{label}说得太长了，请简短一点。")));
                }
                Ok(v.to_string())
            }
        }
    }

    fn match_choice(&self, v: &str) -> Option<String> {
        // Exact match first, then the single choice whose words occur in the answer.
        for c in &self.choices {
            if c.value == v || c.also.iter().any(|a| a == v) {
                return Some(c.value.clone());
            }
        }
        let hits: Vec<&Choice> = self
            .choices
            .iter()
            .filter(|c| {
                v.contains(c.value.as_str()) || c.also.iter().any(|a| v.contains(a.as_str()))
            })
            .collect();
        match hits.as_slice() {
            [one] => Some(one.value.clone()),
            _ => None,
        }
    }
}

/// GB 11643 weights for the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643 check characters indexed by (weighted sum mod 11).
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Check an 18-character resident ID (GB 11643). `Ok` is the canonical form (upper-case X);
/// `Err` the reason to say after the field label.
pub fn check_id_number(raw: &str) -> std::result::Result<String, &'static str> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| {
            if c == 'x' || c == 'Ｘ' || c == 'ｘ' {
                'X'
            } else {
                c
            }
        })
        .collect();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err("应该是18位，请再说一遍。");
    }
    if !chars[..17].iter().all(|c| c.is_ascii_digit())
        || !(chars[17].is_ascii_digit() || chars[17] == 'X')
    {
        return Err("只能是数字，最后一位可以是X，请再说一遍。");
    }
    let sum: u32 = chars[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    if ID_CHECK[(sum % 11) as usize] as char != chars[17] {
        return Err("校验不对，请再说一遍。");
    }
    let birth: String = chars[6..14].iter().collect();
    let ok_date = NaiveDate::parse_from_str(&birth, "%Y%m%d")
        .map(|d| d.year() >= 1900 && d <= chrono::Local::now().date_naive())
        .unwrap_or(false);
    if !ok_date {
        return Err("里的出生日期不对，请再说一遍。");
    }
    Ok(s)
}

/// Check a mainland mobile number `1[3-9]\d{9}` (spaces, dashes and a +86 prefix allowed).
pub fn check_phone(raw: &str) -> Option<String> {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if let Some(rest) = s.strip_prefix("+86") {
        s = rest.to_string();
    }
    let b = s.as_bytes();
    let ok = b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit);
    ok.then_some(s)
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0x20000..=0x2EBEF)
}

/// Check a person's name: 2–6 Han characters, or longer names with a middle dot (minority names).
pub fn check_name(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '.' || c == '•' { '·' } else { c })
        .collect();
    let n = s.chars().count();
    let all_ok = s.chars().all(|c| is_han(c) || c == '·');
    let dotted = s.contains('·');
    let ok = all_ok
        && !s.starts_with('·')
        && !s.ends_with('·')
        && if dotted {
            (3..=20).contains(&n)
        } else {
            (2..=6).contains(&n)
        };
    ok.then_some(s)
}

/// Parse a date: `2026-11-29`, `2026/11/29`, `2026.11.29`, `20261129`, `2026年11月29日`/`号`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&s, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日', '号'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return None;
    }
    let y: i32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let d: u32 = parts[2].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Parse a whole number: Arabic digits or simple Chinese numerals up to 九十九 (两 = 2).
pub fn parse_count(raw: &str) -> Option<i64> {
    let s = raw
        .trim()
        .trim_end_matches(['个', '人', '位', '次', '名', '口']);
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let digit = |c: char| {
        "零一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|p| p as i64)
            .or((c == '两').then_some(2))
    };
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', u] => Some(digit(*t)? * 10 + digit(*u)?),
        _ => None,
    }
}

/// Built-in form files, embedded at compile time.
const BUILTIN_FORMS: &[(&str, &str)] = &[
    (
        "birth-registration.toml",
        include_str!("../forms/birth-registration.toml"),
    ),
    (
        "residence-registration.toml",
        include_str!("../forms/residence-registration.toml"),
    ),
    (
        "property-transfer.toml",
        include_str!("../forms/property-transfer.toml"),
    ),
    (
        "certificate-issuance.toml",
        include_str!("../forms/certificate-issuance.toml"),
    ),
];

/// The built-in mediation triage file.
const BUILTIN_MEDIATION: &str = include_str!("../forms/mediation.toml");

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

/// One kind of dispute, with the words that point to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeKind {
    /// Machine id (`noise`, `leaks`, `parking`, `property`, `elevator`, `family`, `wages`, `other`).
    pub id: String,
    /// Chinese name (`噪音`).
    pub name: String,
    /// Words in a resident's account that suggest this kind.
    #[serde(default)]
    pub triggers: Vec<String>,
}

/// A weekly window in which the community mediator receives parties.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediatorSlot {
    /// Who mediates (`调解员老陈`).
    pub mediator: String,
    /// Where (`二楼调解室`).
    pub place: String,
    /// Days of the week, 1 = Monday … 7 = Sunday.
    pub weekdays: Vec<u8>,
    /// Window start, `HH:MM`.
    pub start: String,
    /// Window end, `HH:MM` (exclusive).
    pub end: String,
    /// Length of one session in minutes.
    pub minutes: u32,
}

/// A concrete mediation session on offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediatorOffer {
    /// Start (local time of the centre).
    pub start: NaiveDateTime,
    /// Who mediates.
    pub mediator: String,
    /// Where.
    pub place: String,
}

/// The mediator's slots (a `[[slots]]` list in `mediation.toml` or in `xiaoan.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediatorSlots {
    /// Weekly windows.
    pub slots: Vec<MediatorSlot>,
}

impl Default for MediatorSlots {
    /// Default: one mediator, Tuesday and Thursday afternoons 14:00–17:00, one-hour sessions.
    fn default() -> Self {
        MediatorSlots {
            slots: vec![MediatorSlot {
                mediator: "社区调解员".to_string(),
                place: "二楼调解室".to_string(),
                weekdays: vec![2, 4],
                start: "14:00".to_string(),
                end: "17:00".to_string(),
                minutes: 60,
            }],
        }
    }
}

fn parse_hm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn weekday_number(w: Weekday) -> u8 {
    w.number_from_monday() as u8
}

impl MediatorSlots {
    /// Check the windows (times parse, weekdays 1–7, minutes above 0).
    pub fn check(&self) -> std::result::Result<(), String> {
        for s in &self.slots {
            let (Some(a), Some(b)) = (parse_hm(&s.start), parse_hm(&s.end)) else {
                return Err(format!(
                    "mediator slot {}: start/end must be HH:MM",
                    s.mediator
                ));
            };
            if a >= b
                || s.minutes == 0
                || s.weekdays.is_empty()
                || s.weekdays.iter().any(|d| !(1..=7).contains(d))
            {
                return Err(format!(
                    "mediator slot {}: needs start < end, minutes > 0, weekdays 1-7",
                    s.mediator
                ));
            }
        }
        Ok(())
    }

    /// The next `n` sessions starting after `after`, skipping those in `taken`
    /// (mediator, start), looking at most 60 days ahead.
    pub fn offers(
        &self,
        after: NaiveDateTime,
        taken: &[(String, NaiveDateTime)],
        n: usize,
    ) -> Vec<MediatorOffer> {
        let mut out = Vec::new();
        let mut day = after.date();
        for _ in 0..60 {
            let mut today: Vec<MediatorOffer> = Vec::new();
            for s in &self.slots {
                if !s.weekdays.contains(&weekday_number(day.weekday())) || s.minutes == 0 {
                    continue;
                }
                let (Some(a), Some(b)) = (parse_hm(&s.start), parse_hm(&s.end)) else {
                    continue;
                };
                let mut t = a;
                while t < b {
                    let start = day.and_time(t);
                    if start > after
                        && !taken.iter().any(|(m, st)| *m == s.mediator && *st == start)
                    {
                        today.push(MediatorOffer {
                            start,
                            mediator: s.mediator.clone(),
                            place: s.place.clone(),
                        });
                    }
                    let next_min = t.hour() * 60 + t.minute() + s.minutes;
                    match NaiveTime::from_hms_opt(next_min / 60, next_min % 60, 0) {
                        Some(nt) if next_min < 24 * 60 => t = nt,
                        _ => break,
                    }
                }
            }
            today.sort_by_key(|x| x.start);
            for o in today {
                if out.len() == n {
                    return out;
                }
                out.push(o);
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        out
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediationFile {
    intro: String,
    danger_question: String,
    danger_words: Vec<String>,
    kinds: Vec<DisputeKind>,
    fields: Vec<FieldFile>,
    #[serde(default)]
    slots: Vec<MediatorSlot>,
}

/// The dispute-mediation triage: kinds, danger words, questions, mediator slots.
#[derive(Debug, Clone, Serialize)]
pub struct Mediation {
    /// Spoken opening of the triage.
    pub intro: String,
    /// The yes/no question about danger (asked early).
    pub danger_question: String,
    /// Words meaning threats, violence or self-harm: any of them sends the resident to the
    /// emergency path at once.
    pub danger_words: Vec<String>,
    /// Dispute kinds; the last one (`other`) is the fallback.
    pub kinds: Vec<DisputeKind>,
    /// Triage questions (other party, place, what happened, wanted outcome…).
    pub fields: Vec<FieldDef>,
    /// The mediator's weekly windows.
    pub slots: MediatorSlots,
}

impl Mediation {
    /// The built-in triage definition.
    pub fn builtin() -> Result<Mediation> {
        Mediation::from_toml_str(BUILTIN_MEDIATION, "built-in:mediation.toml")
    }

    /// Load a centre's own `mediation.toml`.
    pub fn load(path: &Path) -> Result<Mediation> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FormError::Io {
            file: origin.clone(),
            source,
        })?;
        Mediation::from_toml_str(&text, &origin)
    }

    /// Parse and check a mediation file's text.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Mediation> {
        let f: MediationFile = toml::from_str(text).map_err(|e| FormError::Parse {
            file: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if !f.kinds.iter().any(|k| k.id == "other") {
            return Err(invalid(
                origin,
                "kinds must include `other` as the fallback",
            ));
        }
        if f.danger_words.is_empty() {
            return Err(invalid(origin, "danger_words is empty"));
        }
        let slots = if f.slots.is_empty() {
            MediatorSlots::default()
        } else {
            MediatorSlots { slots: f.slots }
        };
        slots.check().map_err(|r| invalid(origin, r))?;
        Ok(Mediation {
            intro: f.intro,
            danger_question: f.danger_question,
            danger_words: f.danger_words,
            kinds: f.kinds,
            fields: build_fields(origin, f.fields)?,
            slots,
        })
    }

    /// The dispute kind whose trigger words occur most often in `text` (longer words count
    /// more); `other` when none does.
    pub fn classify(&self, text: &str) -> &DisputeKind {
        let mut best: Option<(&DisputeKind, usize)> = None;
        for k in &self.kinds {
            let score: usize = k
                .triggers
                .iter()
                .filter(|t| !t.is_empty() && text.contains(t.as_str()))
                .map(|t| t.chars().count())
                .sum();
            if score > 0 && best.is_none_or(|(_, s)| score > s) {
                best = Some((k, score));
            }
        }
        match best {
            Some((k, _)) => k,
            None => self
                .kind("other")
                .unwrap_or(&self.kinds[self.kinds.len() - 1]),
        }
    }

    /// The kind with this id.
    pub fn kind(&self, id: &str) -> Option<&DisputeKind> {
        self.kinds.iter().find(|k| k.id == id)
    }

    /// True when `text` mentions threats, violence or self-harm.
    pub fn is_danger(&self, text: &str) -> bool {
        self.danger_words
            .iter()
            .any(|w| !w.is_empty() && text.contains(w.as_str()))
    }

    /// The triage question with this name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    /// Make a valid ID from a 17-digit body by computing its check character.
    fn with_check(body: &str) -> String {
        let sum: u32 = body
            .chars()
            .zip(ID_WEIGHTS)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        format!("{body}{}", ID_CHECK[(sum % 11) as usize] as char)
    }

    #[test]
    fn every_builtin_form_loads_with_its_catalogue_id() {
        let forms = Forms::builtin().unwrap();
        for id in [
            "birth-registration",
            "residence-registration",
            "property-transfer",
            "certificate-issuance",
        ] {
            let f = forms.get(id).unwrap_or_else(|| panic!("missing {id}"));
            assert!(!f.fields.is_empty() && !f.commitment.is_empty());
            assert!(
                f.fields
                    .iter()
                    .all(|d| d.ask.ends_with('？') || d.ask.ends_with('。')),
                "{id}: asks are spoken sentences"
            );
        }
        // 容缺 forms say what may come later.
        assert!(!forms.get("property-transfer").unwrap().deferred.is_empty());
        assert!(!forms.get("birth-registration").unwrap().deferred.is_empty());
    }

    #[test]
    fn mediation_definition_loads_and_triages() {
        let m = Mediation::builtin().unwrap();
        for id in [
            "noise", "leaks", "parking", "property", "elevator", "family", "wages", "other",
        ] {
            assert!(m.kind(id).is_some(), "missing kind {id}");
        }
        assert_eq!(m.classify("楼上天天半夜吵，还在家里跺脚").id, "noise");
        assert_eq!(m.classify("楼上卫生间漏水，我家天花板都湿了").id, "leaks");
        assert_eq!(m.classify("老板三个月没发工资").id, "wages");
        assert_eq!(m.classify("我想说说这个事情").id, "other");
        assert!(m.is_danger("他说要打死我"));
        assert!(!m.is_danger("楼上太吵了"));
    }

    #[test]
    fn mediator_offers_skip_taken_and_past() {
        let m = MediatorSlots::default(); // Tue/Thu 14-17, hourly
                                          // 2026-11-29 is a Sunday; next Tuesday is 12-01.
        let after = today().and_hms_opt(10, 0, 0).unwrap();
        let first = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(14, 0, 0)
            .unwrap();
        let offers = m.offers(after, &[], 4);
        assert_eq!(offers.len(), 4);
        assert_eq!(offers[0].start, first);
        let taken = vec![(offers[0].mediator.clone(), first)];
        let offers2 = m.offers(after, &taken, 1);
        assert_eq!(offers2[0].start, first + chrono::Duration::hours(1));
    }

    #[test]
    fn a_broken_form_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("my-form.toml");
        std::fs::write(&p, "id = \"my-form\"\ntitle = \"测试\"\ncommitment = \"我承诺。\"\n[[fields]]\nname = \"a\"\nlable = \"x\"\n").unwrap();
        let e = Forms::with_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("my-form.toml"), "{e}");
        assert!(e.contains("lable"), "{e}");

        std::fs::write(&p, "id = \"my-form\"\ntitle = \"测试\"\ncommitment = \"我承诺。\"\n[[fields]]\nname = \"a\"\nlabel = \"性别\"\nkind = \"choice\"\nask = \"性别？\"\n").unwrap();
        let e = Forms::with_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("my-form.toml") && e.contains("no choices"),
            "{e}"
        );
    }

    #[test]
    fn a_centre_form_replaces_the_builtin_with_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../forms/certificate-issuance.toml")
            .replace("title = \"证明事项告知承诺\"", "title = \"本社区证明\"");
        std::fs::write(dir.path().join("cert.toml"), text).unwrap();
        let forms = Forms::with_dir(dir.path()).unwrap();
        assert_eq!(forms.len(), 4);
        assert_eq!(
            forms.get("certificate-issuance").unwrap().title,
            "本社区证明"
        );
    }

    #[test]
    fn id_numbers_are_checked_by_gb11643() {
        let f = Forms::builtin().unwrap();
        let form = f.get("birth-registration").unwrap();
        let good = with_check("11010519491231002");
        assert_eq!(good, "11010519491231002X");
        assert_eq!(
            form.validate_on("mother_id", "11010519491231002x", today())
                .unwrap(),
            good
        );
        assert_eq!(
            form.validate_on("mother_id", "110105 19491231 002X", today())
                .unwrap(),
            good
        );
        let bad = form
            .validate_on("mother_id", "110105194912310021", today())
            .unwrap_err();
        assert!(bad.contains("校验不对"), "{bad}");
        assert!(form
            .validate_on("mother_id", "11010519491231", today())
            .unwrap_err()
            .contains("18位"));
        // A valid checksum with an impossible birth date is still refused.
        let bad_date = with_check("11010519491331002");
        assert!(form
            .validate_on("mother_id", &bad_date, today())
            .unwrap_err()
            .contains("出生日期"));
    }

    #[test]
    fn phones_dates_names_counts_choices() {
        let forms = Forms::builtin().unwrap();
        let b = forms.get("birth-registration").unwrap();
        assert_eq!(
            b.validate_on("mother_phone", "+86 138-0013-8000", today())
                .unwrap(),
            "13800138000"
        );
        assert!(b
            .validate_on("mother_phone", "12800138000", today())
            .unwrap_err()
            .contains("11位"));
        assert!(b
            .validate_on("mother_phone", "1380013800", today())
            .is_err());
        assert_eq!(
            b.validate_on("baby_birth_date", "2026年11月3日", today())
                .unwrap(),
            "2026-11-03"
        );
        let fut = b
            .validate_on("baby_birth_date", "2026-12-01", today())
            .unwrap_err();
        assert!(fut.contains("不能晚于今天"), "{fut}");
        assert!(b
            .validate_on("baby_birth_date", "2026-02-30", today())
            .is_err());
        assert_eq!(
            b.validate_on("mother_name", "王 小明", today()).unwrap(),
            "王小明"
        );
        assert!(b.validate_on("mother_name", "王1明", today()).is_err());
        assert_eq!(
            b.validate_on("mother_name", "阿依古丽·买买提", today())
                .unwrap(),
            "阿依古丽·买买提"
        );
        assert_eq!(b.validate_on("child_order", "两", today()).unwrap(), "2");
        assert_eq!(
            b.validate_on("child_order", "第二个".trim_start_matches('第'), today())
                .unwrap(),
            "2"
        );
        assert!(b
            .validate_on("child_order", "十二", today())
            .unwrap_err()
            .contains("之间"));
        let r = forms.get("residence-registration").unwrap();
        assert_eq!(
            r.validate_on("housing", "租的房子", today()).unwrap(),
            "租房"
        );
        assert!(r
            .validate_on("housing", "不知道", today())
            .unwrap_err()
            .contains("租房"));
        assert!(b.validate_on("no_such_field", "x", today()).is_err());
        assert!(b
            .validate_on("mother_name", "  ", today())
            .unwrap_err()
            .contains("没听到"));
    }

    #[test]
    fn read_back_and_materials_owed() {
        let forms = Forms::builtin().unwrap();
        let b = forms.get("birth-registration").unwrap();
        assert_eq!(
            b.field("mother_name").unwrap().read_back("王小明"),
            "母亲姓名：王小明"
        );
        let owed = b.materials_owed(today());
        let d = &b.deferred[0];
        assert_eq!(owed[0].name, d.name);
        assert_eq!((owed[0].due - today()).num_days(), i64::from(d.due_days));
        assert_eq!(
            b.missing(&["mother_name"]).len(),
            b.fields.iter().filter(|f| f.required).count() - 1
        );
    }

    #[test]
    fn chinese_counts_parse() {
        assert_eq!(parse_count("十"), Some(10));
        assert_eq!(parse_count("三十五"), Some(35));
        assert_eq!(parse_count("十二"), Some(12));
        assert_eq!(parse_count("3个"), Some(3));
        assert_eq!(parse_count("很多"), None);
    }
}
