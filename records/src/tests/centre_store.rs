//! The centre's store with a real PostgreSQL: a terminal's SQLite file moved into it
//! (chain and all, idempotent), and alerts from another connection heard at once.

use std::time::Duration as StdDuration;

use xiaoan_testkit::postgres::TempCluster;

use super::*;
use crate::backend::{Filter, Origin, RecordStore};

fn cluster() -> Option<TempCluster> {
    match TempCluster::start() {
        Ok(c) => Some(c),
        Err(why) => {
            xiaoan_testkit::skip(&format!("PostgreSQL: {why}"));
            None
        }
    }
}

fn kiosk() -> Origin {
    Origin::new("grid-3", "grid3-kiosk")
}

#[test]
fn a_migrated_store_keeps_its_chain_and_a_second_run_copies_only_what_is_new() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("centre").unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (_d, mut file) = temp_store();
    file.set_origin(kiosk()).unwrap();
    let numbers = five_filings(&file);
    let alert = emergency(&file);
    file.set_status(&alert, "acknowledged", &format!("已回电{PHONE}"))
        .unwrap();
    let centre = PgStore::open(&url, Origin::new("hall", "hall-desk"), keys.path()).unwrap();

    let first = centre.import_sqlite(&file, "grid3-kiosk").unwrap();
    assert!(first.verify.ok, "{:?}", first.verify.problems);
    assert_eq!((first.entries, first.entries_copied), (7, 7));
    assert_eq!(first.rows_written, 6);
    assert_eq!(first.notes_copied, 1);
    assert_eq!(first.records["filing"], 5);
    assert_eq!(first.records["event"], 1);

    // the centre shows what the file shows: same records, same entries, same hashes
    let here = file.show(&alert, true).unwrap().unwrap();
    let there = RecordStore::show(&centre, &alert, true).unwrap().unwrap();
    assert_eq!(there.summary.status, "acknowledged");
    assert_eq!(there.summary.site, "grid-3");
    assert_eq!(there.summary.terminal, "grid3-kiosk");
    assert_eq!(there.history, here.history);
    assert!(there.record.to_string().contains(PHONE) || here.record == there.record);
    let found = RecordStore::find_by_personal_number(&centre, PHONE, false).unwrap();
    assert_eq!(found.len(), 5, "the filings hold the phone number");

    // again: nothing new, nothing written
    let again = centre.import_sqlite(&file, "grid3-kiosk").unwrap();
    assert_eq!(
        (again.entries_copied, again.rows_written, again.notes_copied),
        (0, 0, 0)
    );
    assert!(again.verify.ok);

    // more work on the terminal, then again: only that is copied
    file.set_status(&numbers[0], "complete", "").unwrap();
    let extra = file.file_declaration(&birth_filing(9)).unwrap().number;
    let third = centre.import_sqlite(&file, "grid3-kiosk").unwrap();
    assert_eq!((third.entries_copied, third.rows_written), (2, 2));
    assert!(third.verify.ok, "{:?}", third.verify.problems);
    assert!(RecordStore::show(&centre, &extra, false).unwrap().is_some());

    // the centre's own numbers continue past the migrated ones
    let mut desk = PgStore::open(&url, Origin::new("hall", "hall-desk"), keys.path()).unwrap();
    desk.set_clock(Clock::at_local(now()));
    let own = desk.file_declaration(&birth_filing(10)).unwrap().number;
    assert!(
        !numbers.contains(&own) && own != extra && own != alert,
        "{own}"
    );
    let all = desk.records(&Filter::default(), false).unwrap();
    assert_eq!(all.len(), 8);
    assert!(RecordStore::verify(&desk).unwrap().ok);

    // another file under the same terminal name is refused, and nothing is written
    let (_d2, other) = temp_store();
    emergency(&other);
    let e = centre.import_sqlite(&other, "grid3-kiosk").unwrap_err();
    assert!(
        e.to_string().contains("differs from this file at entry 1"),
        "{e}"
    );
    assert_eq!(
        desk.records(&Filter::default(), false).unwrap().len(),
        8,
        "nothing copied"
    );
}

#[test]
fn an_alert_from_another_terminal_reaches_a_listener_within_two_seconds() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("centre").unwrap();
    let keys = tempfile::tempdir().unwrap();
    let staff = PgStore::open(&url, Origin::new("hall", "staff-screen"), keys.path()).unwrap();
    let mut listener = staff.listen_alerts().unwrap();
    // nothing yet
    assert!(listener
        .wait(StdDuration::from_millis(200))
        .unwrap()
        .is_none());
    let robot = PgStore::open(&url, kiosk(), keys.path()).unwrap();
    let raised = std::thread::spawn(move || {
        robot
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
    })
    .join()
    .unwrap();
    let heard = listener
        .wait(StdDuration::from_secs(2))
        .unwrap()
        .expect("the alert within 2 s");
    assert_eq!(heard.number, raised);
    assert_eq!(
        (
            heard.site.as_str(),
            heard.terminal.as_str(),
            heard.kind.as_str()
        ),
        ("grid-3", "grid3-kiosk", "emergency")
    );
    // a filing is not an alert
    let mut desk = PgStore::open(&url, kiosk(), keys.path()).unwrap();
    desk.set_clock(Clock::at_local(now()));
    desk.file_declaration(&birth_filing(0)).unwrap();
    assert!(listener
        .wait(StdDuration::from_millis(300))
        .unwrap()
        .is_none());
}
