//! The dialogue's record calls on a real store, with a fixed today and now.

use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime};
use xiaoan_records::{AppointmentConfig, RefusalReason, Store};

use super::*;
use crate::forms::{Forms, Mediation};

/// Sunday 2026-11-29, 10:00.
fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 29)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

#[test]
fn slot_times_and_refusals_are_said_the_way_residents_hear_them() {
    // 2026-11-30 is a Monday
    let t = NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(14, 30, 0)
        .unwrap();
    assert_eq!(spoken_time(t), "11月30日下午2点半");
    let full = refusal_words(RefusalReason::Full, t, 14);
    assert!(
        full.starts_with("11月30日下午2点半") && full.contains("约满"),
        "{full}"
    );
    let none = refusal_words(RefusalReason::NotOffered, t, 14);
    assert!(none.contains("没有号"), "{none}");
    let far = refusal_words(RefusalReason::OutOfRange, t, 14);
    assert!(far.contains("14天"), "{far}");
}

#[test]
fn the_next_mediator_offer_skips_the_slot_a_case_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Mutex::new(Store::open(&dir.path().join("records.db")).unwrap());
    let forms = Forms::builtin().unwrap();
    let mediation = Mediation::builtin().unwrap();
    let appointments = AppointmentConfig::default();
    let desk = Desk {
        store: &store,
        forms: &forms,
        mediation: &mediation,
        appointments: &appointments,
        today: now().date(),
        now: now(),
    };
    let first = mediator_offer(desk).expect("the built-in mediator has slots");
    assert!(first.start > now());
    let session = crate::dialogue::Session::new(150, 1.0, None);
    let values: std::collections::BTreeMap<String, String> =
        [("name", "王小明"), ("phone", "13812345678")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    mediation_case(desk, &session, "noise", &values, Some(first.clone())).unwrap();
    let next = mediator_offer(desk).unwrap();
    assert!(next.start > first.start, "{next:?} after {first:?}");
    assert_eq!(mediator_offer_after(desk, first.start), Some(next));
}
