//! What staff read: listings, one record with its evidence history, and the search by
//! a phone or ID number. Personal data is masked unless revealed.

use rusqlite::params;
use serde::Serialize;
use serde_json::Value;

use crate::backend::Filter;
use crate::chain::{self, EvidenceEntry};
use crate::clock::normalise_number;
use crate::error::{Result, StoreError};
use crate::{mask, Contact, FieldKind, FieldValue, RecordKind, Store, CASE_PREFIX};

/// One line of a staff listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// Kind.
    pub kind: RecordKind,
    /// Number (digits).
    pub number: String,
    /// Number as shown (`TJ…` for cases).
    pub display_number: String,
    /// What it is (`生育登记`, `纠纷调解·噪音`, `紧急求助`…).
    pub title: String,
    /// The resident, masked unless revealed.
    pub who: Option<String>,
    /// Status.
    pub status: String,
    /// Created (RFC 3339, UTC).
    pub created_at: String,
    /// Dialogue session.
    pub session_id: String,
    /// The site it was made at.
    pub site: String,
    /// The terminal it was made on.
    pub terminal: String,
}

/// A record with its content and evidence history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordDetail {
    /// The listing line.
    pub summary: RecordSummary,
    /// Every column, JSON columns parsed; personal data masked unless revealed.
    pub record: Value,
    /// Evidence entries about this record, oldest first.
    pub history: Vec<EvidenceEntry>,
}

impl Store {
    /// Records whose personal fields hold this phone or ID number (found by its keyed
    /// hash; the number itself is not stored in clear), newest first, masked unless
    /// `reveal`.
    pub fn find_by_personal_number(
        &self,
        personal: &str,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let Some(sealer) = &self.sealer else {
            return Ok(Vec::new());
        };
        let numbers: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT DISTINCT number FROM lookup WHERE tag = ?1 ORDER BY number DESC",
            )?;
            let rows = stmt.query_map(params![sealer.tag(personal)], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut out = Vec::new();
        for n in numbers {
            if let Some(kind) = self.kind_of(&n)? {
                if let Some(snap) = chain::row_json(&self.conn, Some(sealer), kind, &n)? {
                    out.push(summarise(kind, &snap, reveal));
                }
            }
        }
        Ok(out)
    }

    /// The newest records (of one kind, or all), newest first; personal data masked unless
    /// `reveal`.
    pub fn list(
        &self,
        kind: Option<RecordKind>,
        limit: usize,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let kinds: Vec<RecordKind> = match kind {
            Some(k) => vec![k],
            None => RecordKind::ALL.to_vec(),
        };
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out: Vec<(String, i64, RecordSummary)> = Vec::new();
        for k in kinds {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT number, id FROM {} ORDER BY created_at DESC, id DESC LIMIT ?1",
                k.table()
            ))?;
            let rows = stmt
                .query_map(params![lim], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (number, id) in rows {
                if let Some(snap) = chain::row_json(&self.conn, self.sealer.as_ref(), k, &number)? {
                    let s = summarise(k, &snap, reveal);
                    out.push((s.created_at.clone(), id, s));
                }
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.number.cmp(&a.2.number)));
        out.truncate(limit);
        Ok(out.into_iter().map(|(_, _, s)| s).collect())
    }

    /// Records matching `filter` (kind, status, site), newest first; personal data masked
    /// unless `reveal`. A status needs a kind.
    pub fn records(&self, filter: &Filter, reveal: bool) -> Result<Vec<RecordSummary>> {
        if filter.status.is_some() && filter.kind.is_none() {
            return Err(StoreError::Invalid("a status filter needs a kind".into()));
        }
        let kinds: Vec<RecordKind> = match filter.kind {
            Some(k) => vec![k],
            None => RecordKind::ALL.to_vec(),
        };
        let limit = filter.limit();
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out: Vec<RecordSummary> = Vec::new();
        for k in kinds {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT number FROM {} WHERE (?1 IS NULL OR site = ?1) AND (?2 IS NULL OR status = ?2)
                 ORDER BY created_at DESC, id DESC LIMIT ?3",
                k.table()
            ))?;
            let numbers = stmt
                .query_map(params![filter.site, filter.status, lim], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for number in numbers {
                if let Some(row) = chain::row_json(&self.conn, self.sealer.as_ref(), k, &number)? {
                    out.push(summarise(k, &row, reveal));
                }
            }
        }
        sort_newest_first(&mut out);
        out.truncate(limit);
        Ok(out)
    }

    /// Records of one kind in one status (open events for the staff screen, cases
    /// awaiting a slot…), newest first; personal data masked unless `reveal`.
    pub fn list_with_status(
        &self,
        kind: RecordKind,
        status: &str,
        limit: usize,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT number FROM {} WHERE status = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            kind.table()
        ))?;
        let numbers = stmt
            .query_map(
                params![status, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            if let Some(snap) = chain::row_json(&self.conn, self.sealer.as_ref(), kind, &n)? {
                out.push(summarise(kind, &snap, reveal));
            }
        }
        Ok(out)
    }

    /// One record by its number (`2611290017`, `TJ2611290017`, spaces and dashes allowed),
    /// with its evidence history; personal data masked unless `reveal`.
    pub fn show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>> {
        let number = normalise_number(key);
        let Some(kind) = self.kind_of(&number)? else {
            return Ok(None);
        };
        let Some(snap) = chain::row_json(&self.conn, self.sealer.as_ref(), kind, &number)? else {
            return Ok(None);
        };
        Ok(Some(RecordDetail {
            summary: summarise(kind, &snap, reveal),
            record: shown_record(snap, reveal),
            history: chain::history(&self.conn, &number, reveal)?,
        }))
    }
}

/// A record row as staff see it: JSON columns parsed, the row id dropped, personal data
/// masked unless `reveal`.
pub(crate) fn shown_record(row: Value, reveal: bool) -> Value {
    let mut record = row;
    {
        if let Value::Object(map) = &mut record {
            for col in [
                "fields",
                "materials_owed",
                "resident",
                "transcript",
                "contact",
            ] {
                if let Some(Value::String(s)) = map.get(col) {
                    if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                        map.insert(col.to_string(), parsed);
                    }
                }
            }
            map.remove("id");
        }
        if !reveal {
            mask::json(&mut record);
        }
    }
    record
}

/// Newest first; ties by number, then terminal (descending).
pub(crate) fn sort_newest_first(out: &mut [RecordSummary]) {
    out.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.number.cmp(&a.number))
            .then(b.terminal.cmp(&a.terminal))
    });
}

fn str_of<'a>(snap: &'a Value, key: &str) -> &'a str {
    snap.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The resident's name in a record, if any (first person-name field, or the contact).
fn who_of(kind: RecordKind, snap: &Value) -> Option<String> {
    match kind {
        RecordKind::Filing | RecordKind::Draft => {
            let fields: Vec<FieldValue> = serde_json::from_str(str_of(snap, "fields")).ok()?;
            fields
                .into_iter()
                .find(|f| f.kind == FieldKind::PersonName)
                .map(|f| f.value)
        }
        RecordKind::Case => {
            serde_json::from_str::<Contact>(str_of(snap, "resident"))
                .ok()?
                .name
        }
        RecordKind::Appointment | RecordKind::Feedback => {
            serde_json::from_str::<Contact>(str_of(snap, "contact"))
                .ok()?
                .name
        }
        RecordKind::Event | RecordKind::Queue => None,
    }
}

pub(crate) fn summarise(kind: RecordKind, snap: &Value, reveal: bool) -> RecordSummary {
    let number = str_of(snap, "number").to_string();
    let title = match kind {
        RecordKind::Filing => str_of(snap, "form_title").to_string(),
        RecordKind::Case => format!("纠纷调解·{}", str_of(snap, "dispute_name")),
        RecordKind::Event => match str_of(snap, "event_kind") {
            "emergency" => "紧急求助".to_string(),
            _ => "转人工".to_string(),
        },
        RecordKind::Appointment => format!(
            "预约 {} {}",
            str_of(snap, "service_id"),
            str_of(snap, "slot_start")
        ),
        RecordKind::Queue => format!(
            "排队 {}号 {}",
            snap.get("ticket").and_then(Value::as_i64).unwrap_or(0),
            str_of(snap, "service_id")
        ),
        RecordKind::Feedback => match str_of(snap, "feedback_kind") {
            "praise" => "表扬".to_string(),
            "snapshot" => "随手拍".to_string(),
            "rating" => "服务评价".to_string(),
            _ => "投诉建议".to_string(),
        },
        RecordKind::Draft => format!("未完成表单 {}", str_of(snap, "form_id")),
    };
    let who = who_of(kind, snap).map(|n| if reveal { n } else { mask::name(&n) });
    RecordSummary {
        kind,
        display_number: if kind == RecordKind::Case {
            format!("{CASE_PREFIX}{number}")
        } else {
            number.clone()
        },
        number,
        title,
        who,
        status: str_of(snap, "status").to_string(),
        created_at: str_of(snap, "created_at").to_string(),
        session_id: str_of(snap, "session_id").to_string(),
        site: str_of(snap, "site").to_string(),
        terminal: str_of(snap, "terminal").to_string(),
    }
}
