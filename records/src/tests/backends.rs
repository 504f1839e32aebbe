//! The same behaviour from both stores: one suite of cases, each a fn over a [`Harness`]
//! (a backend factory), run against SQLite and against a real PostgreSQL (a throw-away
//! cluster, fsync off; SKIP when PostgreSQL's programs are missing, FAIL under CI).
//!
//! Every case starts from an empty store; the PostgreSQL run gives each case its own
//! database in one cluster. A failing case is named in the panic message.

use std::panic::{catch_unwind, AssertUnwindSafe};

use xiaoan_testkit::postgres::TempCluster;

use super::*;
use crate::backend::{Filter, Origin, RecordStore};

/// What a case needs from a backend.
trait Harness {
    /// A store of the case's database writing as `origin` (a second call: another
    /// terminal or desk on the same records).
    fn store(&mut self, origin: Origin) -> Box<dyn RecordStore>;
    /// Run raw SQL on the database behind the stores (tampering, as an intruder would).
    fn exec(&mut self, sql: &str);
    /// The first column of the first row of `sql`, as text.
    fn text(&mut self, sql: &str) -> String;
    /// Which backend (for messages).
    fn name(&self) -> &'static str;
}

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl Harness for SqliteHarness {
    fn store(&mut self, origin: Origin) -> Box<dyn RecordStore> {
        let mut s = Store::open(&self.dir.path().join("records.db")).unwrap();
        s.set_clock(Clock::at_local(now()));
        Store::set_origin(&mut s, origin).unwrap();
        Box::new(s)
    }
    fn exec(&mut self, sql: &str) {
        let c = Connection::open(self.dir.path().join("records.db")).unwrap();
        c.execute_batch(sql).unwrap();
    }
    fn text(&mut self, sql: &str) -> String {
        let c = Connection::open(self.dir.path().join("records.db")).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }
    fn name(&self) -> &'static str {
        "sqlite"
    }
}

struct PgHarness {
    url: String,
    keys: tempfile::TempDir,
}

impl Harness for PgHarness {
    fn store(&mut self, origin: Origin) -> Box<dyn RecordStore> {
        let mut s = PgStore::open(&self.url, origin, self.keys.path()).unwrap();
        s.set_clock(Clock::at_local(now()));
        Box::new(s)
    }
    fn exec(&mut self, sql: &str) {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.batch_execute(sql).unwrap();
    }
    fn text(&mut self, sql: &str) -> String {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.query_one(sql, &[]).unwrap().get(0)
    }
    fn name(&self) -> &'static str {
        "postgres"
    }
}

fn hall() -> Origin {
    Origin::new("hall", "hall-kiosk-1")
}

fn grid3() -> Origin {
    Origin::new("grid-3", "grid3-robot")
}

fn event(kind: EventKind, summary: &str) -> NewEvent {
    NewEvent {
        kind,
        summary: summary.into(),
        transcript: vec![Turn {
            who: "resident".into(),
            text: format!("我电话是{PHONE}"),
        }],
        wait_at: Some("无障碍服务专窗".into()),
        needs: None,
        session_id: "s".into(),
    }
}

fn case(slot: Option<MediatorOffer>) -> NewCase {
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

/// A filing is kept, listed masked, shown with its history, found by the phone number in
/// it, stamped with its site and terminal, and the chain verifies.
fn filing_round_trip(h: &mut dyn Harness) {
    let s = h.store(hall());
    let r = s.file_declaration(&birth_filing(0)).unwrap();
    assert_eq!(r.number.len(), 10, "{}", r.number);
    assert!(r.number.starts_with("261129"), "{}", r.number);
    let listed = s.records(&Filter::default(), false).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].number, r.number);
    assert_eq!(listed[0].title, "生育登记");
    assert_eq!(listed[0].who.as_deref(), Some("王*明"));
    assert_eq!(
        (listed[0].site.as_str(), listed[0].terminal.as_str()),
        ("hall", "hall-kiosk-1")
    );
    let d = s.show(&r.number, false).unwrap().unwrap();
    assert_eq!(d.summary.status, "materials_owed");
    let text = d.record.to_string();
    assert!(!text.contains(PHONE), "masked: {text}");
    assert!(!text.contains(ID), "masked: {text}");
    let shown = s.show(&r.number, true).unwrap().unwrap();
    assert!(shown.record.to_string().contains(PHONE));
    assert_eq!(d.history.len(), 1);
    assert_eq!(d.history[0].action, "created");
    let found = s.find_by_personal_number(PHONE, false).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].number, r.number);
    let v = s.verify().unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!((v.entries, v.records), (1, 1));
}

/// Personal fields are sealed at rest: the raw row holds no phone or ID number, and
/// the numbers in it are kept only as keyed hashes.
fn personal_fields_are_sealed(h: &mut dyn Harness) {
    let s = h.store(hall());
    s.file_declaration(&birth_filing(0)).unwrap();
    let raw = h.text("SELECT fields FROM filings");
    assert!(raw.starts_with("enc1:"), "{raw}");
    assert!(!raw.contains(PHONE) && !raw.contains("王小明"), "{raw}");
    let tags = h.text("SELECT CAST(COUNT(*) AS TEXT) FROM lookup");
    assert_eq!(
        tags, "2",
        "the phone and the ID number (both IDs are the same)"
    );
    let opened = s.show(
        &s.records(&Filter::default(), true).unwrap()[0].number,
        true,
    );
    assert!(opened.unwrap().unwrap().record.to_string().contains(PHONE));
}

/// Status moves: an allowed one is kept with its note (masked), a forbidden one is
/// refused and changes nothing, the same status again writes nothing.
fn status_moves(h: &mut dyn Harness) {
    let s = h.store(hall());
    let n = s
        .record_event(&event(EventKind::Emergency, "老人摔倒"))
        .unwrap()
        .number;
    s.set_status(&n, "acknowledged", &format!("已回电{PHONE}"))
        .unwrap();
    s.set_status(&n, "acknowledged", "again").unwrap();
    s.set_status(&n, "closed", "").unwrap();
    let e = s.set_status(&n, "open", "").unwrap_err();
    assert!(matches!(e, StoreError::Transition { .. }), "{e}");
    let bad = s.set_status(&n, "frozen", "").unwrap_err();
    assert!(matches!(bad, StoreError::BadStatus { .. }), "{bad}");
    let d = s.show(&n, false).unwrap().unwrap();
    assert_eq!(d.summary.status, "closed");
    let actions: Vec<&str> = d.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "status", "status"]);
    assert!(d.history[1].detail.starts_with("open -> acknowledged: "));
    assert!(
        !d.history[1].detail.contains(PHONE),
        "{}",
        d.history[1].detail
    );
    let revealed = s.show(&n, true).unwrap().unwrap();
    assert!(revealed.history[1].detail.contains(PHONE));
    s.add_note(&n, "家属已到").unwrap();
    assert!(s.verify().unwrap().ok);
    assert!(matches!(
        s.set_status("2611299999", "closed", ""),
        Err(StoreError::NotFound(_))
    ));
}

/// Altering a record row or an entry behind the store's back is caught by verify.
fn tampering_is_caught(h: &mut dyn Harness) {
    let s = h.store(hall());
    let a = s.file_declaration(&birth_filing(0)).unwrap().number;
    let b = s.file_declaration(&birth_filing(1)).unwrap().number;
    assert!(s.verify().unwrap().ok);
    h.exec(&format!(
        "UPDATE filings SET status = 'complete' WHERE number = '{a}'"
    ));
    let v = s.verify().unwrap();
    assert!(!v.ok);
    let p = v.first_problem.unwrap();
    assert_eq!(p.kind, ProblemKind::RecordAltered, "{}", p.message);
    assert_eq!(p.record_number.as_deref(), Some(a.as_str()));
    h.exec(&format!(
        "UPDATE filings SET status = 'materials_owed' WHERE number = '{a}';
         UPDATE evidence SET detail = 'forged' WHERE record_number = '{b}'"
    ));
    let v = s.verify().unwrap();
    let p = v.first_problem.unwrap();
    assert_eq!(p.kind, ProblemKind::EntryAltered, "{}", p.message);
    assert_eq!(p.seq, Some(2));
}

/// Deleting the newest entries without resetting the head is caught too.
fn cut_entries_are_caught(h: &mut dyn Harness) {
    let s = h.store(hall());
    for i in 0..3 {
        s.file_declaration(&birth_filing(i)).unwrap();
    }
    h.exec("DELETE FROM evidence WHERE seq = 3");
    let v = s.verify().unwrap();
    assert!(!v.ok);
    assert!(
        v.problems
            .iter()
            .any(|p| p.kind == ProblemKind::EntryMissing && p.seq == Some(3)),
        "{:?}",
        v.problems
    );
}

/// A slot takes its capacity and no more, then offers other slots.
fn appointments_fill_up(h: &mut dyn Harness) {
    let s = h.store(hall());
    let cfg = AppointmentConfig {
        slots: vec![SlotSpec {
            service: "id-card".into(),
            weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            start: "09:00".into(),
            end: "17:00".into(),
            minutes: 60,
            capacity: 2,
        }],
        horizon_days: 14,
        now: Some(now()),
    };
    let at = (now().date() + Duration::days(1))
        .and_hms_opt(9, 0, 0)
        .unwrap();
    let book = |name: &str| {
        s.book_appointment(
            &cfg,
            &NewAppointment {
                service_id: "id-card".into(),
                start: at,
                contact: Contact {
                    name: Some(name.into()),
                    phone: None,
                },
                session_id: "s".into(),
            },
        )
        .unwrap()
    };
    assert!(matches!(book("甲"), Booking::Booked(_)));
    assert!(matches!(book("乙"), Booking::Booked(_)));
    match book("丙") {
        Booking::Refused(r) => {
            assert_eq!(r.reason, RefusalReason::Full);
            assert_eq!(r.alternatives.first(), Some(&(at + Duration::hours(1))));
        }
        other => panic!("booked past capacity: {other:?}"),
    }
    let past = s
        .book_appointment(
            &cfg,
            &NewAppointment {
                service_id: "id-card".into(),
                start: now() - Duration::hours(1),
                contact: Contact::default(),
                session_id: "s".into(),
            },
        )
        .unwrap();
    assert!(matches!(
        past,
        Booking::Refused(Refusal {
            reason: RefusalReason::OutOfRange,
            ..
        })
    ));
    assert!(s.verify().unwrap().ok);
}

/// A mediator's slot is held by one open case; the follow-up call is due 48 hours on.
fn cases_hold_mediator_slots(h: &mut dyn Harness) {
    let s = h.store(hall());
    let slot = MediatorOffer {
        start: (now().date() + Duration::days(2))
            .and_hms_opt(10, 0, 0)
            .unwrap(),
        mediator: "张调解员".into(),
        place: "调解室".into(),
    };
    let c = s.open_case(&case(Some(slot.clone()))).unwrap();
    assert_eq!(c.display_number, format!("TJ{}", c.number));
    let e = s.open_case(&case(Some(slot))).unwrap_err();
    assert!(matches!(e, StoreError::SlotTaken(_)), "{e}");
    let d = s.show(&c.display_number, false).unwrap().unwrap();
    assert_eq!(d.summary.status, "scheduled");
    assert_eq!(d.summary.title, "纠纷调解·噪音");
    let due = s
        .follow_ups_due(Clock::at_local(now()).now() + Duration::hours(49))
        .unwrap();
    assert_eq!(due.len(), 1);
    assert!(s
        .follow_ups_due(Clock::at_local(now()).now() + Duration::hours(47))
        .unwrap()
        .is_empty());
}

/// Queue tickets count up per day; feedback and drafts are kept; a bad rating is refused.
fn queue_feedback_drafts(h: &mut dyn Harness) {
    let s = h.store(hall());
    let t1 = s.take_ticket("id-card", "s").unwrap();
    let t2 = s.take_ticket("id-card", "s").unwrap();
    assert_eq!((t1.ticket, t2.ticket, t2.ahead), (1, 2, 1));
    s.set_status(&t1.number, "serving", "").unwrap();
    let q = s.queue_status(None).unwrap();
    assert_eq!(
        (q.waiting, q.serving.clone(), q.next),
        (1, vec![1], Some(2))
    );
    let fb = |rating| NewFeedback {
        kind: FeedbackKind::Rating,
        text: "很好".into(),
        place: None,
        service_id: Some("id-card".into()),
        rating,
        contact: Contact::default(),
        session_id: "s".into(),
    };
    assert!(s.record_feedback(&fb(Some(6))).is_err());
    let f = s.record_feedback(&fb(Some(5))).unwrap();
    let d = s
        .save_draft(&NewDraft {
            form_id: "birth-registration".into(),
            fields: birth_filing(0).fields,
            reason: "timeout".into(),
            session_id: "s".into(),
        })
        .unwrap();
    let kinds: Vec<RecordKind> = s
        .records(&Filter::default(), false)
        .unwrap()
        .iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds.len(), 4);
    assert!(kinds.contains(&RecordKind::Feedback) && kinds.contains(&RecordKind::Draft));
    assert_eq!(
        s.show(&f, false).unwrap().unwrap().summary.title,
        "服务评价"
    );
    assert_eq!(s.show(&d, false).unwrap().unwrap().summary.status, "open");
    assert!(s.verify().unwrap().ok);
}

/// Listings filter by kind, status and site; a status without a kind is refused.
fn listings_filter(h: &mut dyn Harness) {
    let s = h.store(hall());
    s.file_declaration(&birth_filing(0)).unwrap();
    let e = s
        .record_event(&event(EventKind::Handoff, "要人工"))
        .unwrap()
        .number;
    let mut s = s;
    s.set_origin(grid3());
    s.record_event(&event(EventKind::Emergency, "有人晕倒"))
        .unwrap();
    let by_site = |site: &str| {
        s.records(
            &Filter {
                site: Some(site.into()),
                ..Filter::default()
            },
            false,
        )
        .unwrap()
    };
    assert_eq!(by_site("hall").len(), 2);
    let g = by_site("grid-3");
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0].title.as_str(), g[0].terminal.as_str()),
        ("紧急求助", "grid3-robot")
    );
    let open_events = s
        .records(
            &Filter {
                kind: Some(RecordKind::Event),
                status: Some("open".into()),
                ..Filter::default()
            },
            false,
        )
        .unwrap();
    assert_eq!(open_events.len(), 2);
    s.set_status(&e, "closed", "").unwrap();
    let still_open = s
        .records(
            &Filter {
                kind: Some(RecordKind::Event),
                status: Some("open".into()),
                ..Filter::default()
            },
            false,
        )
        .unwrap();
    assert_eq!(still_open.len(), 1);
    assert!(s
        .records(
            &Filter {
                status: Some("open".into()),
                ..Filter::default()
            },
            false
        )
        .is_err());
    assert!(s.verify().unwrap().ok);
}

/// The same writes at the same instant give the same evidence chain in both stores:
/// entry for entry, the hashes a PostgreSQL run reaches are a SQLite file's.
fn chain_hashes_are_backend_neutral(h: &mut dyn Harness) {
    let run = |s: &dyn RecordStore| {
        let n = s.file_declaration(&birth_filing(0)).unwrap().number;
        s.set_status(&n, "complete", "材料已交齐").unwrap();
        let e = s
            .record_event(&event(EventKind::Emergency, "老人摔倒"))
            .unwrap()
            .number;
        [n, e]
            .iter()
            .flat_map(|k| s.show(k, false).unwrap().unwrap().history)
            .map(|e| (e.seq, e.hash))
            .collect::<Vec<_>>()
    };
    let mine = run(&*h.store(hall()));
    let mut reference = SqliteHarness {
        dir: tempfile::tempdir().unwrap(),
    };
    let theirs = run(&*reference.store(hall()));
    assert_eq!(mine.len(), 3);
    assert_eq!(
        mine,
        theirs,
        "{}: the chain differs from SQLite's",
        h.name()
    );
}

/// One behaviour case run on a store.
type Case = fn(&mut dyn Harness);

const CASES: &[(&str, Case)] = &[
    ("filing_round_trip", filing_round_trip),
    ("personal_fields_are_sealed", personal_fields_are_sealed),
    ("status_moves", status_moves),
    ("tampering_is_caught", tampering_is_caught),
    ("cut_entries_are_caught", cut_entries_are_caught),
    ("appointments_fill_up", appointments_fill_up),
    ("cases_hold_mediator_slots", cases_hold_mediator_slots),
    ("queue_feedback_drafts", queue_feedback_drafts),
    ("listings_filter", listings_filter),
    (
        "chain_hashes_are_backend_neutral",
        chain_hashes_are_backend_neutral,
    ),
];

/// Run every case with a fresh harness from `make`; panic naming the failed ones.
fn run_suite(backend: &str, mut make: impl FnMut(usize) -> Box<dyn Harness>) {
    let mut failed = Vec::new();
    for (i, (name, case)) in CASES.iter().enumerate() {
        let mut h = make(i);
        if catch_unwind(AssertUnwindSafe(|| case(&mut *h))).is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "{backend}: failed cases: {failed:?}");
}

#[test]
fn the_suite_passes_on_sqlite() {
    run_suite("sqlite", |_| {
        Box::new(SqliteHarness {
            dir: tempfile::tempdir().unwrap(),
        })
    });
}

#[test]
fn the_suite_passes_on_postgres() {
    let cluster = match TempCluster::start() {
        Ok(c) => c,
        Err(why) => return xiaoan_testkit::skip(&format!("PostgreSQL: {why}")),
    };
    run_suite("postgres", |i| {
        Box::new(PgHarness {
            url: cluster.create_db(&format!("suite{i}")).unwrap(),
            keys: tempfile::tempdir().unwrap(),
        })
    });
}
