//! Delivery against the in-memory centre: the outbox, idempotence, anchors.

use super::*;
use crate::{FieldKind, FieldValue, NewFiling, Store};
use std::time::Duration;

fn filing(i: usize) -> NewFiling {
    NewFiling {
        form_id: "residence".into(),
        form_title: "居住登记".into(),
        fields: vec![FieldValue {
            name: "phone".into(),
            label: "手机号".into(),
            kind: FieldKind::Phone,
            value: format!("138{:08}", i),
        }],
        materials_owed: vec![],
        commitment: "本人承诺所填属实".into(),
        session_id: format!("s{i}"),
    }
}

fn terminal(dir: &std::path::Path, name: &str, code: u8) -> Store {
    let mut s = Store::open(&dir.join(format!("{name}.db"))).unwrap();
    s.set_origin(crate::Origin::new("grid-3", name)).unwrap();
    s.set_terminal_code(code).unwrap();
    s
}

#[test]
fn a_filing_waits_in_the_outbox_until_the_centre_acknowledges_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-1", 3);
    let mut centre = MemCentre::new();
    centre.set_down(true);
    let r = store.file_declaration(&filing(1)).unwrap();
    // the receipt is given at once, with the terminal's code in it
    assert_eq!(r.number.len(), 11, "{}", r.number);
    assert_eq!(&r.number[6..8], "03");
    assert_eq!(store.outbox_status().unwrap().waiting, 1);
    assert!(deliver_once(&store, &mut centre, 10).is_err());
    let st = store.outbox_status().unwrap();
    assert_eq!((st.waiting, st.attempts), (1, 1));
    assert!(st.last_error.is_some());
    centre.set_down(false);
    let ack = deliver_once(&store, &mut centre, 10).unwrap().unwrap();
    assert_eq!((ack.stored, ack.duplicates, ack.records), (1, 0, 1));
    let st = store.outbox_status().unwrap();
    assert_eq!((st.waiting, st.delivered), (0, 1));
    assert!(st.last_error.is_none());
    // the centre has the row with the phone number opened for it to seal
    let row = centre.row("kiosk-1", &r.number).unwrap();
    assert!(row["fields"].as_str().unwrap().contains("13800000001"));
    assert_eq!(deliver_once(&store, &mut centre, 10).unwrap(), None);
}

#[test]
fn delivering_the_same_outbox_twice_stores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-2", 4);
    let mut centre = MemCentre::new();
    for i in 0..25 {
        store.file_declaration(&filing(i)).unwrap();
    }
    while deliver_once(&store, &mut centre, 10).unwrap().is_some() {}
    assert_eq!((centre.entries(), centre.rows()), (25, 25));
    store.outbox_requeue_all().unwrap();
    let mut dup = 0;
    while let Some(ack) = deliver_once(&store, &mut centre, 10).unwrap() {
        assert_eq!(ack.stored, 0);
        dup += ack.duplicates;
    }
    assert_eq!(dup, 25);
    assert_eq!((centre.entries(), centre.rows()), (25, 25));
}

#[test]
fn a_status_change_after_the_batch_brings_the_row_with_its_own_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-5", 5);
    let mut centre = MemCentre::new();
    let r = store.file_declaration(&filing(1)).unwrap();
    for i in 2..5 {
        store.file_declaration(&filing(i)).unwrap();
    }
    store.set_status(&r.number, "complete", "").unwrap();
    // the first batch holds the creation but not the change: no row yet for it
    let ack = deliver_once(&store, &mut centre, 2).unwrap().unwrap();
    assert_eq!(ack.records, 1);
    assert!(centre.row("kiosk-5", &r.number).is_none());
    while deliver_once(&store, &mut centre, 2).unwrap().is_some() {}
    let row = centre.row("kiosk-5", &r.number).unwrap();
    assert_eq!(row["status"], "complete");
}

fn delete_newest(store: &Store, n: i64) {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let (count,): (i64,) = conn
        .query_row("SELECT MAX(seq) FROM evidence", [], |r| Ok((r.get(0)?,)))
        .unwrap();
    let keep = count - n;
    let numbers: Vec<String> = {
        let mut st = conn
            .prepare("SELECT record_number FROM evidence WHERE seq > ?1")
            .unwrap();
        let rows = st.query_map([keep], |r| r.get(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    };
    for n in numbers {
        conn.execute("DELETE FROM filings WHERE number = ?1", [&n])
            .unwrap();
    }
    conn.execute("DELETE FROM evidence WHERE seq > ?1", [keep])
        .unwrap();
    conn.execute("DELETE FROM outbox WHERE seq > ?1", [keep])
        .unwrap();
    let hash: String = conn
        .query_row("SELECT hash FROM evidence WHERE seq = ?1", [keep], |r| {
            r.get(0)
        })
        .unwrap();
    conn.execute(
        "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1",
        rusqlite::params![keep, hash],
    )
    .unwrap();
}

#[test]
fn deleting_the_newest_entries_after_delivery_is_caught_by_the_centre_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-6", 6);
    let mut centre = MemCentre::new();
    for i in 0..8 {
        store.file_declaration(&filing(i)).unwrap();
    }
    while deliver_once(&store, &mut centre, 100).unwrap().is_some() {}
    assert!(verify_against_centre(&store, &mut centre).unwrap().ok);
    delete_newest(&store, 3);
    // the chain that is left is a valid chain: only the anchors can tell
    let own = store.verify().unwrap();
    let chain_only: Vec<_> = own
        .problems
        .iter()
        .filter(|p| p.kind != crate::ProblemKind::EntryMissing)
        .collect();
    assert!(chain_only.is_empty(), "{chain_only:?}");
    let check = verify_against_centre(&store, &mut centre).unwrap();
    assert!(!check.ok);
    let p = check
        .problems
        .iter()
        .find(|p| p.message.contains("anchored 8 entries"))
        .unwrap_or_else(|| panic!("{:?}", check.problems));
    assert_eq!(p.seq, Some(6));
    // and the centre refuses what the cut chain delivers next
    store.file_declaration(&filing(99)).unwrap();
    let e = deliver_once(&store, &mut centre, 100).unwrap_err();
    assert!(matches!(e, crate::StoreError::Diverged { .. }), "{e}");
}

#[test]
fn rewriting_an_entry_after_delivery_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-7", 7);
    let mut centre = MemCentre::new();
    for i in 0..5 {
        store.file_declaration(&filing(i)).unwrap();
    }
    while deliver_once(&store, &mut centre, 100).unwrap().is_some() {}
    // rewrite entry 2 and re-link everything after it, as a forger with the code would
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mut entries: Vec<crate::EvidenceEntry> = {
        let mut st = conn
            .prepare("SELECT seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash FROM evidence ORDER BY seq")
            .unwrap();
        let rows = st.query_map([], crate::chain::read_entry).unwrap();
        rows.map(|r| r.unwrap()).collect()
    };
    entries[1].detail = "forged".into();
    for i in 1..entries.len() {
        entries[i].prev_hash = entries[i - 1].hash.clone();
        entries[i].hash = crate::chain::entry_hash(&entries[i]);
        conn.execute(
            "UPDATE evidence SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                entries[i].detail,
                entries[i].prev_hash,
                entries[i].hash,
                entries[i].seq
            ],
        )
        .unwrap();
    }
    let last = entries.last().unwrap();
    conn.execute(
        "UPDATE chain_head SET hash = ?1 WHERE id = 1",
        rusqlite::params![last.hash],
    )
    .unwrap();
    let check = verify_against_centre(&store, &mut centre).unwrap();
    assert!(!check.ok);
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.seq == Some(2) && p.message.contains("delivered to the centre")),
        "{:?}",
        check.problems
    );
}

#[test]
fn the_worker_delivers_in_the_background_and_retries_after_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let store = terminal(dir.path(), "kiosk-8", 8);
    let centre = MemCentre::new();
    centre.set_down(true);
    let c2 = centre.clone();
    let opts = DeliveryOptions {
        batch: 5,
        poll: Duration::from_millis(20),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(40),
    };
    let w = Worker::spawn(
        store.path().to_path_buf(),
        crate::Origin::new("grid-3", "kiosk-8"),
        Box::new(move || Ok(Box::new(c2.clone()) as Box<dyn Centre>)),
        opts,
    )
    .unwrap();
    for i in 0..12 {
        store.file_declaration(&filing(i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(centre.entries(), 0);
    assert!(w.stats().failures > 0);
    centre.set_down(false);
    let t = std::time::Instant::now();
    while store.outbox_status().unwrap().waiting > 0 && t.elapsed() < Duration::from_secs(10) {
        w.wake();
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = w.stop();
    assert_eq!(store.outbox_status().unwrap().waiting, 0);
    assert_eq!(centre.entries(), 12);
    assert_eq!(stats.stored, 12);
}

#[test]
fn backoff_grows_to_its_ceiling_with_jitter() {
    let mut b = Backoff::seeded(Duration::from_millis(100), Duration::from_secs(2), 7);
    let d: Vec<Duration> = (0..8).map(|_| b.fail()).collect();
    assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
    assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
    assert!(d[7] >= Duration::from_secs(1) && d[7] <= Duration::from_secs(2));
    b.reset();
    assert!(b.fail() <= Duration::from_millis(100));
}

#[test]
fn a_terminal_code_is_kept_and_cannot_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let before = store.file_declaration(&filing(1)).unwrap();
    assert_eq!(before.number.len(), 10);
    store.set_terminal_code(12).unwrap();
    assert!(store.set_terminal_code(13).is_err());
    assert!(store.set_terminal_code(0).is_err());
    let after = store.file_declaration(&filing(2)).unwrap();
    assert_eq!(&after.number[6..8], "12");
    assert!(!after.number.starts_with('1'));
}
