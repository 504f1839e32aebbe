//! Status moves: chained, checked against the allowed transitions.

use super::*;

#[test]
fn status_changes_are_chained_and_checked() {
    let (_d, store) = temp_store();
    let n = five_filings(&store);
    store.set_status(&n[0], "complete", "材料已补齐").unwrap();
    let d = store.show(&n[0], false).unwrap().unwrap();
    assert_eq!(d.summary.status, "complete");
    assert_eq!(d.history.len(), 2);
    assert!(
        d.history[1].detail.contains("materials_owed -> complete"),
        "{:?}",
        d.history[1]
    );
    let e = store
        .set_status(&n[0], "approved", "")
        .unwrap_err()
        .to_string();
    assert!(e.contains("approved") && e.contains("withdrawn"), "{e}");
    assert!(matches!(
        store.set_status("0000000000", "complete", ""),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.verify().unwrap().ok);
}

#[test]
fn status_changes_follow_the_allowed_transitions() {
    let (_d, store) = temp_store();
    // a closed emergency cannot be silently reopened (nor acknowledged again)
    let e = emergency(&store);
    store.set_status(&e, "acknowledged", "on the way").unwrap();
    store.set_status(&e, "closed", "").unwrap();
    let before = entries(&store);
    for to in ["open", "acknowledged"] {
        match store.set_status(&e, to, "") {
            Err(StoreError::Transition { from, to: t, .. }) => {
                assert_eq!((from.as_str(), t.as_str()), ("closed", to));
            }
            other => panic!("closed -> {to}: {other:?}"),
        }
    }
    let msg = store.set_status(&e, "open", "").unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("cannot change event {e} from `closed` to `open` (allowed from `closed`: none: it is final)")
    );
    assert_eq!(
        store.show(&e, false).unwrap().unwrap().summary.status,
        "closed"
    );

    // a withdrawn filing cannot become complete
    let n = five_filings(&store);
    store
        .set_status(&n[0], "withdrawn", "resident withdrew")
        .unwrap();
    assert!(matches!(
        store.set_status(&n[0], "complete", ""),
        Err(StoreError::Transition { .. })
    ));
    assert_eq!(
        store.show(&n[0], false).unwrap().unwrap().summary.status,
        "withdrawn"
    );
    assert_eq!(entries(&store), before + 5 + 1, "refusals write no entry");

    // a same-status post is a no-op, not a new entry; a note has its own call
    let before = entries(&store);
    store.set_status(&n[0], "withdrawn", "again").unwrap();
    store.set_status(&e, "closed", "").unwrap();
    assert_eq!(entries(&store), before);
    store.add_note(&e, "位置：3号楼").unwrap();
    let d = store.show(&e, false).unwrap().unwrap();
    let last = d.history.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.detail.as_str()),
        ("note", "位置：3号楼")
    );
    assert_eq!(d.summary.status, "closed");
    assert!(store.verify().unwrap().ok);
}

#[test]
fn every_status_leads_only_to_statuses_of_its_kind() {
    for kind in RecordKind::ALL {
        for from in kind.statuses() {
            for to in kind.next_statuses(from) {
                assert!(kind.statuses().contains(to), "{kind:?}: {from} -> {to}");
                assert_ne!(from, to, "{kind:?}: a move to itself");
            }
        }
        // the status new records start in can go somewhere
        assert!(
            !kind.next_statuses(kind.statuses()[0]).is_empty(),
            "{kind:?}"
        );
    }
}
