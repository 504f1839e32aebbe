//! The fields of a form: kinds, choices, the spoken question and read-back, and the check
//! of one answer.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::checks::{check_id_number, check_name, check_phone, parse_count, parse_date};
use super::{invalid, FieldKind, Result};

/// A choice as written in a file: either `"男"` or `{ value = "自有住房", also = ["自己的房子"] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ChoiceSpec {
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
pub(crate) struct FieldFile {
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

pub(crate) fn build_fields(origin: &str, files: Vec<FieldFile>) -> Result<Vec<FieldDef>> {
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

    /// Validate one answer; see [`super::Form::validate_on`].
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
            FieldKind::IdNumber => {
                check_id_number(v, today).map_err(|r| self.fail(format!("{label}{r}")))
            }
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
