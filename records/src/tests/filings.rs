//! Filings, drafts, events, feedback and the queue: numbers, atomicity, masking,
//! sealing at rest and the search by a personal number.

use super::*;

#[test]
fn receipt_numbers_are_ten_unique_digits_starting_with_the_date() {
    let (_d, store) = temp_store();
    let day = now().format("%y%m%d").to_string();
    let mut seen = BTreeSet::new();
    for i in 0..5 {
        let r = store.file_declaration(&birth_filing(i)).unwrap();
        assert_eq!(r.number.len(), 10, "{}", r.number);
        assert!(r.number.bytes().all(|b| b.is_ascii_digit()));
        assert!(r.number.starts_with(&day));
        assert!(seen.insert(r.number));
    }
    // Other kinds draw from the same space: a number names one record store-wide.
    let n = store.take_ticket("id-card", "s").unwrap().number;
    assert!(!seen.contains(&n));
}

#[test]
fn a_failed_evidence_write_leaves_no_filing_behind() {
    let (_d, store) = temp_store();
    // Fault injection: the evidence insert fails after the filing row was written.
    store
        .conn
        .execute_batch("CREATE TRIGGER fail_evidence BEFORE INSERT ON evidence BEGIN SELECT RAISE(ABORT, 'injected fault'); END;")
        .unwrap();
    let e = store.file_declaration(&birth_filing(0)).unwrap_err();
    assert!(e.to_string().contains("injected fault"), "{e}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM filings"), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM evidence"), 0);
    // The number was not used up either: the counter rolled back with the filing.
    store
        .conn
        .execute_batch("DROP TRIGGER fail_evidence")
        .unwrap();
    let r = store.file_declaration(&birth_filing(1)).unwrap();
    assert!(r.number.ends_with("0001"), "{}", r.number);
    assert!(store.verify().unwrap().ok);
}

#[test]
fn staff_views_mask_personal_data_unless_revealed() {
    let (_d, store) = temp_store();
    let n = store.file_declaration(&birth_filing(0)).unwrap().number;
    let list = store.list(Some(RecordKind::Filing), 10, false).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].who.as_deref(), Some("王*明"));
    assert_eq!(list[0].title, "生育登记");

    let masked = serde_json::to_string(&store.show(&n, false).unwrap().unwrap()).unwrap();
    for secret in ["王小明", ID, PHONE, "李大华"] {
        assert!(!masked.contains(secret), "{secret} leaked: {masked}");
    }
    assert!(
        masked.contains("110***********002X") && masked.contains("138****5678"),
        "{masked}"
    );
    assert!(
        masked.contains("3号楼502室"),
        "addresses stay readable: {masked}"
    );

    let revealed = serde_json::to_string(&store.show(&n, true).unwrap().unwrap()).unwrap();
    for secret in ["王小明", ID, PHONE] {
        assert!(revealed.contains(secret), "{secret} missing when revealed");
    }
    assert_eq!(
        store.list(None, 10, true).unwrap()[0].who.as_deref(),
        Some("王小明")
    );
    assert!(store.show("9999999999", false).unwrap().is_none());
}

#[test]
fn filings_owe_the_forms_deferred_materials_with_deadlines() {
    let (_d, store) = temp_store();
    let r = store.file_declaration(&birth_filing(0)).unwrap();
    let today = now().date();
    assert_eq!(r.materials_owed.len(), 2);
    assert!(r
        .materials_owed
        .iter()
        .all(|m| (m.due - today).num_days() == 30));
    assert_eq!(
        store
            .show(&r.number, false)
            .unwrap()
            .unwrap()
            .summary
            .status,
        "materials_owed"
    );
}

#[test]
fn events_feedback_queue_and_drafts_are_recorded_and_masked() {
    let (_d, store) = temp_store();
    let e = store
        .record_event(&NewEvent {
            kind: EventKind::Handoff,
            summary: "要找工作人员".into(),
            transcript: vec![
                Turn {
                    who: "resident".into(),
                    text: format!("我电话是{PHONE}"),
                },
                Turn {
                    who: "xiaoan".into(),
                    text: "好的，请到无障碍服务专窗等候。".into(),
                },
            ],
            wait_at: Some("无障碍服务专窗".into()),
            needs: Some("视障".into()),
            session_id: "s".into(),
        })
        .unwrap();
    let shown = serde_json::to_string(&store.show(&e.number, false).unwrap().unwrap()).unwrap();
    assert!(
        !shown.contains(PHONE) && shown.contains("无障碍服务专窗"),
        "{shown}"
    );
    assert_eq!(
        store.list(Some(RecordKind::Event), 5, false).unwrap()[0].title,
        "转人工"
    );
    assert_eq!(
        store
            .list_with_status(RecordKind::Event, "open", 5, false)
            .unwrap()
            .len(),
        1
    );
    store
        .set_status(&e.number, "acknowledged", "工作人员已到")
        .unwrap();
    assert!(store
        .list_with_status(RecordKind::Event, "open", 5, false)
        .unwrap()
        .is_empty());

    let f = store
        .record_feedback(&NewFeedback {
            kind: FeedbackKind::Snapshot,
            text: "楼道的灯坏了".into(),
            place: Some("5号楼二单元".into()),
            service_id: None,
            rating: None,
            contact: Contact::default(),
            session_id: "s".into(),
        })
        .unwrap();
    assert_eq!(
        store.show(&f, false).unwrap().unwrap().summary.title,
        "随手拍"
    );
    let bad = NewFeedback {
        kind: FeedbackKind::Rating,
        text: String::new(),
        place: None,
        service_id: None,
        rating: Some(6),
        contact: Contact::default(),
        session_id: "s".into(),
    };
    assert!(store.record_feedback(&bad).is_err());

    let t1 = store.take_ticket("id-card", "a").unwrap();
    let t2 = store.take_ticket("id-card", "b").unwrap();
    assert_eq!((t2.ticket, t2.ahead), (t1.ticket + 1, 1));
    store.set_status(&t1.number, "serving", "").unwrap();
    let q = store.queue_status(Some("id-card")).unwrap();
    assert_eq!(
        (q.waiting, q.serving.clone(), q.next),
        (1, vec![t1.ticket], Some(t2.ticket))
    );

    let d = store
        .save_draft(&NewDraft {
            form_id: "birth-registration".into(),
            fields: birth_filing(0).fields[..2].to_vec(),
            reason: "timeout".into(),
            session_id: "s".into(),
        })
        .unwrap();
    let list = store.list(Some(RecordKind::Draft), 5, false).unwrap();
    assert_eq!(
        (list[0].number.as_str(), list[0].who.as_deref()),
        (d.as_str(), Some("王*明"))
    );
    assert_eq!(store.list(None, 100, false).unwrap().len(), 5);
    assert!(store.verify().unwrap().ok);
}

// --- personal fields encrypted at rest (issue 24) ---

#[test]
fn personal_fields_are_encrypted_at_rest_and_shown_as_before() {
    let (dir, store) = temp_store();
    let f = store.file_declaration(&birth_filing(0)).unwrap();
    let raw = count_str(
        &store,
        &format!("SELECT fields FROM filings WHERE number = '{}'", f.number),
    );
    assert!(raw.starts_with("enc1:"), "{raw}");
    assert!(!raw.contains("王小明") && !raw.contains(ID) && !raw.contains(PHONE));
    // nothing personal is readable anywhere in the database file
    drop(store);
    let bytes = std::fs::read(dir.path().join("records.db")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(ID) && !text.contains("王小明"));
    // the key is apart from the database, the owner's only
    let key = field_key_path(&dir.path().join("records.db"));
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    // staff views are as before
    let store = Store::open(&dir.path().join("records.db")).unwrap();
    let shown = serde_json::to_string(&store.show(&f.number, true).unwrap().unwrap()).unwrap();
    assert!(shown.contains(ID) && shown.contains("王小明"), "{shown}");
    let masked = serde_json::to_string(&store.show(&f.number, false).unwrap().unwrap()).unwrap();
    assert!(!masked.contains(ID), "{masked}");
    assert!(store.verify().unwrap().ok);
}

#[test]
fn an_older_plaintext_store_is_sealed_in_place_and_its_chain_still_verifies() {
    let (dir, store) = temp_store();
    let path = dir.path().join("records.db");
    let f = store.file_declaration(&birth_filing(0)).unwrap();
    let e = emergency_result(&store).unwrap();
    // turn it into a store from before sealing: plain columns, no field key
    let snap = chain::snapshot(
        &store.conn,
        store.sealer.as_ref(),
        RecordKind::Filing,
        &f.number,
    )
    .unwrap()
    .unwrap();
    let plain = snap["fields"].as_str().unwrap().to_string();
    store
        .conn
        .execute(
            "UPDATE filings SET fields = ?1 WHERE number = ?2",
            params![plain, f.number],
        )
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE events SET transcript = '[]' WHERE number = ?1",
            params![e.number],
        )
        .unwrap();
    drop(store);
    std::fs::remove_file(field_key_path(&path)).unwrap();
    let store = Store::open(&path).unwrap();
    let raw = count_str(
        &store,
        &format!("SELECT fields FROM filings WHERE number = '{}'", f.number),
    );
    assert!(raw.starts_with("enc1:") && !raw.contains(ID), "{raw}");
    let r = store.verify().unwrap();
    assert!(r.ok, "{:?}", r.problems);
    assert!(serde_json::to_string(&store.show(&f.number, true).unwrap())
        .unwrap()
        .contains(ID));
}

#[test]
fn records_are_found_by_a_phone_or_id_number_through_its_keyed_hash() {
    let (_dir, store) = temp_store();
    let f = store.file_declaration(&birth_filing(0)).unwrap();
    let _other = store.file_declaration(&birth_filing(1)).unwrap();
    let found = store.find_by_personal_number(ID, false).unwrap();
    assert!(found.iter().any(|r| r.number == f.number), "{found:?}");
    assert!(store
        .find_by_personal_number("13900000000", false)
        .unwrap()
        .is_empty());
    // the lookup holds keyed hashes, never the number
    let tags = count_str(&store, "SELECT group_concat(tag) FROM lookup");
    assert!(!tags.is_empty() && !tags.contains(ID) && !tags.contains(PHONE));
    assert!(!tags.contains(&chain::sha256_hex(ID.as_bytes())));
}
