//! Store tests: durability, atomicity, the evidence chain, masking, appointments, cases.
//! Tests that depend on the date run on a store whose clock is fixed at [`now`].

mod appointments;
mod backends;
mod cases;
mod centre_store;
mod crash;
mod evidence;
mod filings;
mod open;
mod status;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection};

use crate::chain;
use crate::clock::parse_rfc3339;
use crate::schema::{migrate_with, MIGRATIONS};
use crate::*;

/// A valid GB 11643 ID (checksum X).
const ID: &str = "11010519491231002X";
const PHONE: &str = "13812345678";

/// The fixed "now" of [`temp_store`]: Sunday 2026-11-29, 10:00 at the centre.
fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 29)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

/// A fresh store whose clock is stopped at [`now`].
fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("records.db")).unwrap();
    store.set_clock(Clock::at_local(now()));
    (dir, store)
}

/// One answered field of the birth registration.
fn field(name: &str, label: &str, kind: FieldKind, value: &str) -> FieldValue {
    FieldValue {
        name: name.into(),
        label: label.into(),
        kind,
        value: value.into(),
    }
}

/// A birth registration as the dialogue files it: the answers, and the two copies owed
/// within 30 days of [`now`]'s date.
fn birth_filing(i: usize) -> NewFiling {
    let due = now().date() + Duration::days(30);
    NewFiling {
        form_id: "birth-registration".into(),
        form_title: "生育登记".into(),
        fields: vec![
            field("mother_name", "母亲姓名", FieldKind::PersonName, "王小明"),
            field("mother_id", "母亲身份证号", FieldKind::IdNumber, ID),
            field("mother_phone", "联系电话", FieldKind::Phone, PHONE),
            field("father_name", "父亲姓名", FieldKind::PersonName, "李大华"),
            field("father_id", "父亲身份证号", FieldKind::IdNumber, ID),
            field(
                "baby_birth_date",
                "孩子出生日期",
                FieldKind::Date,
                "2026-11-01",
            ),
            field("child_order", "这是第几个孩子", FieldKind::Count, "1"),
            field("address", "现住址", FieldKind::Address, "3号楼502室"),
        ],
        materials_owed: ["出生医学证明复印件", "结婚证复印件"]
            .into_iter()
            .map(|name| OwedMaterial {
                name: name.into(),
                due,
            })
            .collect(),
        commitment: "我承诺，刚才说的都是真实的。".into(),
        session_id: format!("session-{i}"),
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn count_str(store: &Store, sql: &str) -> String {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn five_filings(store: &Store) -> Vec<String> {
    (0..5)
        .map(|i| store.file_declaration(&birth_filing(i)).unwrap().number)
        .collect()
}

fn emergency(store: &Store) -> String {
    store
        .record_event(&NewEvent {
            kind: EventKind::Emergency,
            summary: "老人摔倒".into(),
            transcript: Vec::new(),
            wait_at: None,
            needs: None,
            session_id: "s".into(),
        })
        .unwrap()
        .number
}

fn entries(store: &Store) -> i64 {
    count(store, "SELECT COUNT(*) FROM evidence")
}

fn emergency_result(store: &Store) -> Result<EventReceipt> {
    store.record_event(&NewEvent {
        kind: EventKind::Emergency,
        summary: "老人摔倒".into(),
        transcript: Vec::new(),
        wait_at: None,
        needs: None,
        session_id: "s".into(),
    })
}
