//! Appointments: capacity, refusals, moving and cancelling, the default slots.

use super::*;

/// Slots every day 09:00–17:00, hourly, `capacity` residents each, for `id-card`.
fn every_day(capacity: u32) -> AppointmentConfig {
    AppointmentConfig {
        slots: vec![SlotSpec {
            service: "id-card".into(),
            weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            start: "09:00".into(),
            end: "17:00".into(),
            minutes: 60,
            capacity,
        }],
        horizon_days: 14,
        now: None,
    }
}

/// `h:m` on the day after the test store's fixed [`now`].
fn tomorrow_at(h: u32, m: u32) -> NaiveDateTime {
    (now().date() + Duration::days(1))
        .and_hms_opt(h, m, 0)
        .unwrap()
}

fn booking(start: NaiveDateTime, name: &str) -> NewAppointment {
    NewAppointment {
        service_id: "id-card".into(),
        start,
        contact: Contact {
            name: Some(name.into()),
            phone: Some(PHONE.into()),
        },
        session_id: "s".into(),
    }
}

#[test]
fn booking_beyond_capacity_is_refused_with_a_reason_and_alternatives() {
    let (_d, store) = temp_store();
    let cfg = every_day(2);
    cfg.check().unwrap();
    let ten = tomorrow_at(10, 0);
    assert!(matches!(
        store
            .book_appointment(&cfg, &booking(ten, "王小明"))
            .unwrap(),
        Booking::Booked(_)
    ));
    assert!(matches!(
        store.book_appointment(&cfg, &booking(ten, "李四")).unwrap(),
        Booking::Booked(_)
    ));
    let Booking::Refused(r) = store.book_appointment(&cfg, &booking(ten, "赵五")).unwrap() else {
        panic!("third booking accepted")
    };
    assert_eq!(r.reason, RefusalReason::Full);
    assert!(!r.alternatives.is_empty() && !r.alternatives.contains(&ten));
    assert_eq!(count(&store, "SELECT COUNT(*) FROM appointments"), 2);

    let Booking::Refused(r) = store
        .book_appointment(&cfg, &booking(tomorrow_at(10, 30), "赵五"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::NotOffered);
    let past = now() - Duration::days(1);
    let Booking::Refused(r) = store
        .book_appointment(&cfg, &booking(past, "赵五"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::OutOfRange);
    // The free slots skip the full one.
    let free = store
        .free_slots(&cfg, "id-card", tomorrow_at(9, 30), 2)
        .unwrap();
    assert_eq!(free, vec![tomorrow_at(11, 0), tomorrow_at(12, 0)]);
}

#[test]
fn appointments_move_and_cancel_free_their_slot() {
    let (_d, store) = temp_store();
    let cfg = every_day(1);
    let Booking::Booked(a) = store
        .book_appointment(&cfg, &booking(tomorrow_at(10, 0), "王小明"))
        .unwrap()
    else {
        panic!()
    };
    let Booking::Booked(b) = store
        .book_appointment(&cfg, &booking(tomorrow_at(11, 0), "李四"))
        .unwrap()
    else {
        panic!()
    };
    // Onto a full slot: refused, nothing changes.
    let Booking::Refused(r) = store
        .move_appointment(&cfg, &a.number, tomorrow_at(11, 0))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::Full);
    let Booking::Booked(moved) = store
        .move_appointment(&cfg, &a.number, tomorrow_at(12, 0))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (moved.number.as_str(), moved.start),
        (a.number.as_str(), tomorrow_at(12, 0))
    );
    // 10:00 is free again.
    assert!(matches!(
        store
            .book_appointment(&cfg, &booking(tomorrow_at(10, 0), "赵五"))
            .unwrap(),
        Booking::Booked(_)
    ));
    assert!(store.cancel_appointment(&b.number).unwrap());
    assert!(
        !store.cancel_appointment(&b.number).unwrap(),
        "cancelling twice"
    );
    assert!(matches!(
        store
            .book_appointment(&cfg, &booking(tomorrow_at(11, 0), "钱六"))
            .unwrap(),
        Booking::Booked(_)
    ));
    let Booking::Refused(r) = store
        .move_appointment(&cfg, &b.number, tomorrow_at(13, 0))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::NotFound);
    let h = store.show(&a.number, false).unwrap().unwrap().history;
    assert_eq!(
        h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["created", "moved"]
    );
    assert!(store.verify().unwrap().ok);
}

#[test]
fn the_default_appointment_config_is_weekdays_only() {
    let cfg = AppointmentConfig::default();
    cfg.check().unwrap();
    // 2026-11-30 is a Monday, 2026-12-05 a Saturday.
    let mon = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    assert_eq!(
        cfg.capacity("senior-card", mon.and_hms_opt(9, 30, 0).unwrap()),
        Some(4)
    );
    assert_eq!(
        cfg.capacity("senior-card", mon.and_hms_opt(12, 0, 0).unwrap()),
        None
    );
    let sat = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    assert_eq!(
        cfg.capacity("senior-card", sat.and_hms_opt(9, 30, 0).unwrap()),
        None
    );
    let bad = AppointmentConfig {
        slots: vec![SlotSpec {
            capacity: 0,
            ..cfg.slots[0].clone()
        }],
        horizon_days: 14,
        now: None,
    };
    assert!(bad.check().is_err());
}
