//! The dispute-mediation triage: dispute kinds and their trigger words, danger words, the
//! questions, and the mediator's weekly slots.

use std::path::Path;

use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use super::fields::{build_fields, FieldDef, FieldFile};
use super::{invalid, FormError, MediatorOffer, Result, BUILTIN_MEDIATION};

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
