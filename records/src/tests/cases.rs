//! Mediation cases: the follow-up call, the mediator slot a case holds.

use super::*;

fn sample_case(slot: Option<MediatorOffer>) -> NewCase {
    NewCase {
        dispute_kind: "noise".into(),
        dispute_name: "噪音".into(),
        resident: Contact {
            name: Some("王小明".into()),
            phone: Some(PHONE.into()),
        },
        other_party: "楼上邻居".into(),
        place: "3号楼".into(),
        what_happened: "楼上天天半夜吵".into(),
        wanted_outcome: "晚上十点以后安静".into(),
        danger: false,
        slot,
        session_id: "s".into(),
    }
}

#[test]
fn a_case_schedules_its_follow_up_48_hours_later() {
    let (_d, store) = temp_store();
    let before = store.clock().now();
    let c = store.open_case(&sample_case(None)).unwrap();
    assert_eq!(c.display_number, format!("TJ{}", c.number));
    let d = store
        .show(&c.display_number, false)
        .unwrap()
        .expect("found by TJ number");
    let created = parse_rfc3339(&d.summary.created_at, before);
    assert_eq!(c.follow_up_due - created, Duration::hours(48));
    assert!(c.follow_up_due >= before + Duration::hours(47));
    assert_eq!(d.summary.title, "纠纷调解·噪音");
    assert!(store.follow_ups_due(before).unwrap().is_empty());
    let due = store.follow_ups_due(before + Duration::hours(49)).unwrap();
    assert_eq!(due.len(), 1);
    store
        .set_status(&c.number, "followed_up", "已回访")
        .unwrap();
    assert!(store
        .follow_ups_due(before + Duration::hours(49))
        .unwrap()
        .is_empty());
}

#[test]
fn a_mediator_slot_holds_one_case() {
    let (_d, store) = temp_store();
    // the default mediator's first session after now(): Tuesday 14:00
    let offer = MediatorOffer {
        start: (now().date() + Duration::days(2))
            .and_hms_opt(14, 0, 0)
            .unwrap(),
        mediator: "社区调解员".into(),
        place: "二楼调解室".into(),
    };
    assert!(store.mediator_slots_taken(now()).unwrap().is_empty());
    let c = store.open_case(&sample_case(Some(offer.clone()))).unwrap();
    assert_eq!(
        store
            .show(&c.number, false)
            .unwrap()
            .unwrap()
            .summary
            .status,
        "scheduled"
    );
    assert!(matches!(
        store.open_case(&sample_case(Some(offer.clone()))),
        Err(StoreError::SlotTaken(_))
    ));
    assert_eq!(
        store.mediator_slots_taken(now()).unwrap(),
        vec![(offer.mediator.clone(), offer.start)]
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM cases"), 1);
    // a closed case gives its slot back
    store.set_status(&c.number, "closed", "").unwrap();
    assert!(store.mediator_slots_taken(now()).unwrap().is_empty());
}
