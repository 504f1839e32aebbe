//! Delivery from terminals to the centre's PostgreSQL, with a real server and real faults:
//! the centre down during filing, the delivering process SIGKILLed mid-batch and right
//! after the centre's commit, PostgreSQL restarted mid-batch, the same outbox delivered
//! twice; then six terminals filing 1,000 declarations through all of these.
//!
//! Each test prints its counts (`cargo test -- --nocapture` shows them). A server that
//! cannot start is a SKIP (a FAIL under CI=true).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use xiaoan_records::centre::{
    deliver_once, verify_against_centre, Centre, DeliveryOptions, PgCentre, Worker,
};
use xiaoan_records::{FieldKind, FieldValue, NewFiling, Origin, RecordStore, Store};
use xiaoan_testkit::postgres::TempCluster;

fn cluster() -> Option<TempCluster> {
    match TempCluster::start() {
        Ok(c) => Some(c),
        Err(e) => {
            xiaoan_testkit::skip(&format!("delivery tests need PostgreSQL: {e}"));
            None
        }
    }
}

fn filing(terminal: &str, i: usize) -> NewFiling {
    NewFiling {
        form_id: "residence".into(),
        form_title: "居住登记".into(),
        fields: vec![
            FieldValue {
                name: "name".into(),
                label: "姓名".into(),
                kind: FieldKind::PersonName,
                value: "张三".into(),
            },
            FieldValue {
                name: "phone".into(),
                label: "手机号".into(),
                kind: FieldKind::Phone,
                value: format!("139{:08}", i),
            },
        ],
        materials_owed: vec![],
        commitment: "本人承诺所填属实".into(),
        session_id: format!("{terminal}-{i}"),
    }
}

struct Terminal {
    name: String,
    path: PathBuf,
    store: Store,
    receipts: Vec<String>,
}

fn terminal(dir: &Path, name: &str, code: u8) -> Terminal {
    let path = dir.join(format!("{name}.db"));
    let mut store = Store::open(&path).expect("terminal store");
    store
        .set_origin(Origin::new(&format!("grid-{code}"), name))
        .expect("origin");
    store.set_terminal_code(code).expect("code");
    Terminal {
        name: name.to_string(),
        path,
        store,
        receipts: Vec::new(),
    }
}

impl Terminal {
    fn file(&mut self, n: usize) {
        for _ in 0..n {
            let i = self.receipts.len();
            let r = self
                .store
                .file_declaration(&filing(&self.name, i))
                .expect("filing is local: it never waits for the centre");
            self.receipts.push(r.number);
        }
    }
    fn origin(&self) -> Origin {
        self.store.origin().clone()
    }
}

fn fast() -> DeliveryOptions {
    DeliveryOptions {
        batch: 25,
        poll: Duration::from_millis(50),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(800),
    }
}

fn connect(url: &str, keys: &Path) -> xiaoan_records::centre::Connect {
    let url = url.to_string();
    let keys = keys.to_path_buf();
    Box::new(move || Ok(Box::new(PgCentre::new(&url, &keys)) as Box<dyn Centre>))
}

fn psql_count(url: &str, sql: &str) -> i64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.query_one(sql, &[]).expect("query").get(0)
}

fn wait_empty(terminals: &[&Terminal], limit: Duration) {
    let t = Instant::now();
    loop {
        let waiting: u64 = terminals
            .iter()
            .map(|t| t.store.outbox_status().expect("status").waiting)
            .sum();
        if waiting == 0 {
            return;
        }
        assert!(
            t.elapsed() < limit,
            "{waiting} entries still waiting after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything filed is at the centre once: rows, entries, receipts unique, chains match.
fn check_centre(url: &str, keys: &Path, terminals: &[&Terminal]) -> (i64, i64) {
    let filed: usize = terminals.iter().map(|t| t.receipts.len()).sum();
    let rows = psql_count(url, "SELECT COUNT(*) FROM filings");
    let distinct = psql_count(url, "SELECT COUNT(DISTINCT number) FROM filings");
    let entries = psql_count(url, "SELECT COUNT(*) FROM evidence");
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let mut lost = 0;
    for t in terminals {
        let held: HashSet<String> = c
            .query("SELECT number FROM filings WHERE terminal = $1", &[&t.name])
            .expect("numbers")
            .iter()
            .map(|r| r.get(0))
            .collect();
        lost += t.receipts.iter().filter(|n| !held.contains(*n)).count();
        let local = t.store.chain_hashes().expect("hashes").len() as i64;
        let at_centre = psql_count(
            url,
            &format!(
                "SELECT COUNT(*) FROM evidence WHERE terminal = '{}'",
                t.name
            ),
        );
        assert_eq!(local, at_centre, "terminal {}: entries", t.name);
        assert!(
            t.store.verify().expect("verify").ok,
            "{}'s own chain",
            t.name
        );
        let mut centre = PgCentre::new(url, keys);
        let check = verify_against_centre(&t.store, &mut centre).expect("verify --centre");
        assert!(check.ok, "{}: {:?}", t.name, check.problems);
    }
    let all: HashSet<&String> = terminals.iter().flat_map(|t| &t.receipts).collect();
    println!(
        "  centre: {rows} filings for {filed} filed, {distinct} distinct receipt numbers, {entries} entries; lost {lost}, duplicated {}",
        rows - distinct
    );
    assert_eq!(lost, 0, "filings lost");
    assert_eq!(rows as usize, filed, "a filing stored twice or lost");
    assert_eq!(distinct, rows, "receipt numbers repeat across the centre");
    assert_eq!(all.len(), filed, "a terminal gave one receipt number twice");
    (rows, entries)
}

#[test]
fn centre_down_during_filing_then_back() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("down").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut t = terminal(dir.path(), "kiosk-a", 11);
    // the schema exists before the outage
    drop(PgCentre::connect(&url, &keys).expect("centre"));
    let w =
        Worker::spawn(t.path.clone(), t.origin(), connect(&url, &keys), fast()).expect("worker");
    pg.stop().expect("stop");
    let start = Instant::now();
    t.file(60);
    let filing_time = start.elapsed();
    std::thread::sleep(Duration::from_millis(600));
    let st = t.store.outbox_status().expect("status");
    assert_eq!(
        st.waiting, 60,
        "nothing can be delivered while the centre is down"
    );
    assert!(st.attempts > 0 && st.last_error.is_some(), "{st:?}");
    let failures_down = w.stats().failures;
    pg.restart().expect("restart");
    wait_empty(&[&t], Duration::from_secs(30));
    let stats = w.stop();
    println!(
        "centre down: 60 filed in {:.0} ms with the centre down (receipts given at once), {} failed attempts while down ({} in all), then {} stored in {} batches, {} duplicates",
        filing_time.as_secs_f64() * 1e3,
        failures_down,
        stats.failures,
        stats.stored,
        stats.batches,
        stats.duplicates
    );
    check_centre(&url, &keys, &[&t]);
}

/// The child process of the SIGKILL test: delivers the outbox of `XIAOAN_CHILD_STORE`
/// (terminal `XIAOAN_CHILD_TERMINAL`) to `XIAOAN_CHILD_URL`; with `XIAOAN_CHILD_HOLD` =
/// `before-commit` or `after-commit` it announces the second batch at that point on stdout
/// (`HOLDING n`) and waits there to be killed.
#[test]
#[ignore = "child process of the SIGKILL tests"]
fn child_delivery_worker() {
    let Ok(path) = std::env::var("XIAOAN_CHILD_STORE") else {
        return;
    };
    let url = std::env::var("XIAOAN_CHILD_URL").expect("url");
    let keys = PathBuf::from(std::env::var("XIAOAN_CHILD_KEYS").expect("keys"));
    let name = std::env::var("XIAOAN_CHILD_TERMINAL").expect("terminal");
    let hold = std::env::var("XIAOAN_CHILD_HOLD").unwrap_or_default();
    let site = std::env::var("XIAOAN_CHILD_SITE").expect("site");
    let mut store = Store::open(Path::new(&path)).expect("store");
    store.set_origin(Origin::new(&site, &name)).expect("origin");
    let mut centre = PgCentre::new(&url, &keys);
    let batches = Arc::new(AtomicUsize::new(0));
    if hold == "before-commit" {
        let b = Arc::clone(&batches);
        centre.hold_before_commit(
            Box::new(move |batch| {
                if b.fetch_add(1, Ordering::SeqCst) == 1 {
                    println!("HOLDING {}", batch.entries.len());
                    std::thread::sleep(Duration::from_secs(60));
                }
            }),
            Duration::ZERO,
        );
    }
    // with XIAOAN_CHILD_STOP: keep polling until that file exists and nothing waits
    let stop = std::env::var_os("XIAOAN_CHILD_STOP").map(PathBuf::from);
    let mut n = 0;
    loop {
        let Some(b) = store.outbox_batch(20).expect("batch") else {
            match &stop {
                Some(f) if !f.exists() => {
                    std::thread::sleep(Duration::from_millis(30));
                    continue;
                }
                _ => break,
            }
        };
        let ack = match centre.deliver(&b) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("child: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        n += 1;
        if hold == "after-commit" && n == 2 {
            println!("HOLDING {}", ack.stored);
            std::thread::sleep(Duration::from_secs(60));
        }
        store.outbox_delivered(&b.seqs()).expect("mark");
    }
    println!("DONE");
}

fn spawn_child(t: &Terminal, url: &str, keys: &Path, hold: &str) -> Child {
    spawn_child_with(t, url, keys, hold, None)
}

fn spawn_child_with(
    t: &Terminal,
    url: &str,
    keys: &Path,
    hold: &str,
    stop: Option<&Path>,
) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    if let Some(f) = stop {
        cmd.env("XIAOAN_CHILD_STOP", f);
    }
    cmd.args([
        "--exact",
        "child_delivery_worker",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("XIAOAN_CHILD_STORE", &t.path)
    .env("XIAOAN_CHILD_URL", url)
    .env("XIAOAN_CHILD_KEYS", keys)
    .env("XIAOAN_CHILD_TERMINAL", &t.name)
    .env("XIAOAN_CHILD_SITE", &t.origin().site)
    .env("XIAOAN_CHILD_HOLD", hold)
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("child")
}

/// Wait for the child's line starting with `what`; returns it.
fn read_until(child: &mut Child, what: &str) -> String {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let what = what.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            // libtest may print "test child_delivery_worker ... " on the same line
            if let Some(at) = line.find(&what) {
                let _ = tx.send(line[at..].to_string());
                return;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the child did not reach its point")
}

fn sigkill_at(point: &str, db: &str) {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db(db).expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut t = terminal(dir.path(), "kiosk-k", 21);
    t.file(100);
    let mut child = spawn_child(&t, &url, &keys, point);
    let line = read_until(&mut child, "HOLDING");
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    let _ = child.wait();
    let at_centre = psql_count(&url, "SELECT COUNT(*) FROM filings");
    let st = t.store.outbox_status().expect("status");
    println!(
        "SIGKILL {point}: killed at `{line}`; centre then held {at_centre} filings, outbox {} delivered / {} waiting",
        st.delivered, st.waiting
    );
    match point {
        // the held transaction died with the process: only the first batch is there
        "before-commit" => assert_eq!((at_centre, st.delivered, st.waiting), (20, 20, 80)),
        // committed but not marked: the centre has 40, the terminal thinks 20
        _ => assert_eq!((at_centre, st.delivered, st.waiting), (40, 20, 80)),
    }
    let mut again = spawn_child(&t, &url, &keys, "");
    read_until(&mut again, "DONE");
    let _ = again.wait();
    let st = t.store.outbox_status().expect("status");
    assert_eq!(st.waiting, 0);
    check_centre(&url, &keys, &[&t]);
}

#[test]
fn terminal_sigkilled_mid_batch_then_restarted() {
    sigkill_at("before-commit", "kill_before");
}

#[test]
fn terminal_sigkilled_after_the_centre_commit_then_restarted() {
    sigkill_at("after-commit", "kill_after");
}

#[test]
fn postgres_restarted_mid_batch() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("restart").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut t = terminal(dir.path(), "kiosk-r", 31);
    t.file(80);
    let (tx, rx) = mpsc::channel();
    let held = Arc::new(AtomicBool::new(false));
    let (u, k) = (url.clone(), keys.clone());
    let connect: xiaoan_records::centre::Connect = Box::new(move || {
        let mut c = PgCentre::new(&u, &k);
        if !held.swap(true, Ordering::SeqCst) {
            let tx = tx.clone();
            c.hold_before_commit(
                Box::new(move |b| {
                    let _ = tx.send(b.entries.len());
                }),
                Duration::from_secs(3),
            );
        }
        Ok(Box::new(c) as Box<dyn Centre>)
    });
    let w = Worker::spawn(t.path.clone(), t.origin(), connect, fast()).expect("worker");
    let in_batch = rx.recv_timeout(Duration::from_secs(30)).expect("a batch");
    pg.kill().expect("kill the server");
    pg.restart().expect("restart");
    wait_empty(&[&t], Duration::from_secs(40));
    let stats = w.stop();
    println!(
        "PostgreSQL restarted mid-batch: a batch of {in_batch} held open while the server was killed and restarted; {} failed attempts, {} stored in {} batches, {} duplicates",
        stats.failures, stats.stored, stats.batches, stats.duplicates
    );
    assert!(stats.failures >= 1, "the held batch must have failed");
    assert_eq!(stats.stored, 80);
    check_centre(&url, &keys, &[&t]);
}

#[test]
fn the_same_outbox_delivered_twice_is_stored_once() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("twice").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut t = terminal(dir.path(), "kiosk-d", 41);
    t.file(50);
    t.store
        .set_status(&t.receipts[3].clone(), "complete", "材料已补齐")
        .expect("status");
    let mut centre = PgCentre::connect(&url, &keys).expect("centre");
    let mut first = (0, 0);
    while let Some(a) = deliver_once(&t.store, &mut centre, 20).expect("deliver") {
        first = (first.0 + a.stored, first.1 + a.duplicates);
    }
    let rows = psql_count(&url, "SELECT COUNT(*) FROM filings");
    t.store.outbox_requeue_all().expect("requeue");
    let mut second = (0, 0);
    while let Some(a) = deliver_once(&t.store, &mut centre, 20).expect("deliver") {
        second = (second.0 + a.stored, second.1 + a.duplicates);
    }
    println!(
        "delivered twice: first pass stored {} (dup {}), second pass stored {} (dup {}); centre rows {} then {}",
        first.0,
        first.1,
        second.0,
        second.1,
        rows,
        psql_count(&url, "SELECT COUNT(*) FROM filings")
    );
    assert_eq!(first, (51, 0));
    assert_eq!(second, (0, 51));
    let status: String = postgres::Client::connect(&url, postgres::NoTls)
        .expect("connect")
        .query_one(
            "SELECT status FROM filings WHERE number = $1",
            &[&t.receipts[3]],
        )
        .expect("row")
        .get(0);
    assert_eq!(status, "complete");
    check_centre(&url, &keys, &[&t]);
    // the centre's own check of the delivered chain and rows
    let centre_store = xiaoan_records::PgStore::open(&url, Origin::local(), &keys).expect("open");
    let report = RecordStore::verify(&centre_store).expect("centre verify");
    assert!(report.ok, "{:?}", report.problems);
}

/// Six terminals, 1,000 declarations, through every fault above.
#[test]
fn six_terminals_file_1000_declarations_through_the_faults() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("sim").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    drop(PgCentre::connect(&url, &keys).expect("centre"));
    let mut terms: Vec<Terminal> = (1..=6)
        .map(|i| terminal(dir.path(), &format!("t{i}"), 50 + i as u8))
        .collect();
    // terminals 1-5 deliver with a worker thread; terminal 6 from a child process
    let mut workers: BTreeMap<usize, Worker> = BTreeMap::new();
    for (i, t) in terms.iter().enumerate().take(5) {
        workers.insert(
            i,
            Worker::spawn(t.path.clone(), t.origin(), connect(&url, &keys), fast())
                .expect("worker"),
        );
    }
    let stop = dir.path().join("t6.stop");
    let mut child = Some(spawn_child_with(
        &terms[5],
        &url,
        &keys,
        "before-commit",
        Some(&stop),
    ));
    let mut faults = Vec::new();
    let mut replaced = None;
    let total = 1000;
    let started = Instant::now();
    for round in 0..100 {
        // ten declarations a round, spread over the six terminals
        for k in 0..10 {
            let n = round * 10 + k;
            terms[n % 6].file(1);
        }
        let filed = (round + 1) * 10;
        match filed {
            150 => {
                pg.stop().expect("stop");
                faults.push("centre down for 100 filings".to_string());
            }
            250 => pg.restart().expect("restart"),
            400 => {
                // terminal 6's delivering process: held mid-batch, SIGKILLed, restarted
                if let Some(mut c) = child.take() {
                    let line = read_until(&mut c, "HOLDING");
                    c.kill().expect("SIGKILL");
                    let _ = c.wait();
                    faults.push(format!("terminal t6's delivery SIGKILLed at `{line}`"));
                }
                child = Some(spawn_child_with(&terms[5], &url, &keys, "", Some(&stop)));
            }
            550 => {
                pg.kill().expect("kill");
                pg.restart().expect("restart");
                faults.push("PostgreSQL killed and restarted mid-delivery".to_string());
            }
            700 => {
                // terminal 2's acknowledgements lost: its whole outbox goes again
                terms[1].store.outbox_requeue_all().expect("requeue");
                faults.push("terminal t2's outbox delivered twice".to_string());
            }
            800 => {
                // terminal 3's worker stops abruptly and a new one takes over
                if let Some(w) = workers.remove(&2) {
                    replaced = Some(w.stop());
                }
                let t = &terms[2];
                workers.insert(
                    2,
                    Worker::spawn(t.path.clone(), t.origin(), connect(&url, &keys), fast())
                        .expect("worker"),
                );
                faults.push("terminal t3's worker replaced".to_string());
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let filing_done = started.elapsed();
    // terminal 6's child exits once told to and its outbox is empty
    std::fs::write(&stop, b"").expect("stop file");
    if let Some(mut c) = child.take() {
        let _ = c.wait();
    }
    if terms[5].store.outbox_status().expect("status").waiting > 0 {
        let mut c = spawn_child(&terms[5], &url, &keys, "");
        let _ = c.wait();
    }
    let refs: Vec<&Terminal> = terms.iter().collect();
    wait_empty(&refs, Duration::from_secs(60));
    let mut stats = Vec::new();
    for (i, w) in std::mem::take(&mut workers) {
        let mut st = w.stop();
        if let (2, Some(r)) = (i, &replaced) {
            // terminal t3: the replaced worker's work and its successor's
            st.batches += r.batches;
            st.stored += r.stored;
            st.duplicates += r.duplicates;
            st.failures += r.failures;
        }
        stats.push((i + 1, st));
    }
    println!(
        "simulation: 6 terminals, {total} declarations filed in {:.1} s; faults:",
        filing_done.as_secs_f64()
    );
    for f in &faults {
        println!("  - {f}");
    }
    for (i, s) in &stats {
        println!(
            "  t{i} (worker): {} batches, {} stored, {} duplicates absorbed, {} failed attempts",
            s.batches, s.stored, s.duplicates, s.failures
        );
    }
    let per: Vec<String> = terms
        .iter()
        .map(|t| format!("{}={}", t.name, t.receipts.len()))
        .collect();
    println!("  filed per terminal: {}", per.join(" "));
    let (rows, entries) = check_centre(&url, &keys, &refs);
    assert_eq!(rows, total as i64);
    let centre_store = xiaoan_records::PgStore::open(&url, Origin::local(), &keys).expect("open");
    let report = RecordStore::verify(&centre_store).expect("centre verify");
    println!(
        "  result: 0 lost, 0 duplicated, {rows} receipts unique, {entries} entries; every terminal chain verifies locally and against the centre; the centre's own verify: {} ({} entries)",
        if report.ok { "ok" } else { "FAILED" },
        report.entries
    );
    assert!(report.ok, "{:?}", report.problems);
}

/// Cut the newest `n` entries (and their records) off a terminal's chain, as someone
/// hiding filings would: what is left is a valid chain.
fn cut_newest(path: &Path, n: i64) {
    let conn = rusqlite::Connection::open(path).expect("open");
    let count: i64 = conn
        .query_row("SELECT MAX(seq) FROM evidence", [], |r| r.get(0))
        .expect("count");
    let keep = count - n;
    conn.execute(
        "DELETE FROM filings WHERE number IN (SELECT record_number FROM evidence WHERE seq > ?1)",
        [keep],
    )
    .expect("records");
    conn.execute("DELETE FROM evidence WHERE seq > ?1", [keep])
        .expect("entries");
    conn.execute(
        "UPDATE chain_head SET seq = ?1, hash = (SELECT hash FROM evidence WHERE seq = ?1) WHERE id = 1",
        [keep],
    )
    .expect("head");
}

#[test]
fn a_chain_cut_short_or_rewritten_after_delivery_is_caught_by_the_centre() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("anchors").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut centre = PgCentre::connect(&url, &keys).expect("centre");
    // truncation: the newest three entries deleted after delivery
    let mut a = terminal(dir.path(), "kiosk-cut", 61);
    a.file(10);
    while deliver_once(&a.store, &mut centre, 4)
        .expect("deliver")
        .is_some()
    {}
    assert!(
        verify_against_centre(&a.store, &mut centre)
            .expect("check")
            .ok
    );
    cut_newest(&a.path, 3);
    let cut = verify_against_centre(&a.store, &mut centre).expect("check");
    let missing = cut
        .problems
        .iter()
        .find(|p| p.kind == xiaoan_records::ProblemKind::EntryMissing && p.seq == Some(8));
    assert!(missing.is_some(), "{:?}", cut.problems);
    // and what the cut chain files next is refused by the centre
    a.file(1);
    let refused = deliver_once(&a.store, &mut centre, 10).expect_err("refused");
    assert!(
        matches!(refused, xiaoan_records::StoreError::Diverged { .. }),
        "{refused}"
    );
    // rewriting: one delivered entry's detail changed and the chain re-hashed after it
    let mut b = terminal(dir.path(), "kiosk-forged", 62);
    b.file(6);
    while deliver_once(&b.store, &mut centre, 100)
        .expect("deliver")
        .is_some()
    {}
    {
        let conn = rusqlite::Connection::open(&b.path).expect("open");
        conn.execute(
            // (a different first digit whatever the hash was: 'f' over an 'f' changed nothing
            // one run in sixteen)
            "UPDATE evidence SET hash = (CASE WHEN substr(hash, 1, 1) = 'f' THEN '0' ELSE 'f' END) || substr(hash, 2) WHERE seq = 4",
            [],
        )
        .expect("forge");
    }
    let forged = verify_against_centre(&b.store, &mut centre).expect("check");
    assert!(
        forged
            .problems
            .iter()
            .any(|p| p.seq == Some(4) && p.message.contains("delivered to the centre")),
        "{:?}",
        forged.problems
    );
    println!(
        "anchors: a chain cut from 10 to 7 entries after delivery: {} problem(s), first at entry {:?}; the next delivery refused ({refused}); a rewritten entry 4: {} problem(s)",
        cut.problems.len(),
        cut.problems.first().and_then(|p| p.seq),
        forged.problems.len()
    );
}

fn dispute(i: usize) -> xiaoan_records::NewCase {
    xiaoan_records::NewCase {
        dispute_kind: "noise".into(),
        dispute_name: "噪音".into(),
        resident: xiaoan_records::Contact {
            name: Some("王小明".into()),
            phone: Some(format!("138{:08}", i)),
        },
        other_party: "楼上邻居".into(),
        place: "3号楼".into(),
        what_happened: "楼上天天半夜吵".into(),
        wanted_outcome: "晚上十点以后安静".into(),
        danger: false,
        slot: None,
        session_id: format!("case-{i}"),
    }
}

fn deliver_all(t: &Terminal, centre: &mut PgCentre) -> (u64, u64) {
    let mut n = (0, 0);
    while let Some(a) = deliver_once(&t.store, centre, 20).expect("deliver") {
        n = (n.0 + a.stored, n.1 + a.duplicates);
    }
    n
}

/// A mediation case the robot opened at a grid station is followed up by the mediator at
/// the hall: staff move it and note it at the centre (entries in the centre's own chain),
/// the terminal keeps filing, delivering and changing things locally, and every chain
/// still verifies on both sides; a row changed behind both chains' back is still caught.
#[test]
fn staff_at_the_centre_follow_up_a_case_a_terminal_owns() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("follow_up").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut centre = PgCentre::connect(&url, &keys).expect("centre");
    let mut t = terminal(dir.path(), "robot-3", 33);
    t.file(3);
    let case = t.store.open_case(&dispute(1)).expect("case").number;
    deliver_all(&t, &mut centre);
    // the mediator at the hall, through the store the staff API serves
    let hall = xiaoan_records::PgStore::open(&url, Origin::new("hall", "hall-desk"), &keys)
        .expect("centre store");
    hall.set_status(&case, "scheduled", "已约双方周三下午来调解")
        .expect("staff move a terminal's case at the centre");
    hall.add_note(&case, "对方电话13912345678，已联系")
        .expect("staff note it");
    hall.note_access(&case, "revealed by mediator")
        .expect("the reveal is logged");
    let seen = hall.show(&case, false).expect("show").expect("found");
    assert_eq!(seen.summary.status, "scheduled");
    assert_eq!(seen.summary.terminal, "robot-3");
    // meanwhile at the terminal (a minute later by its clock): it closes the same case,
    // completes a filing, files more
    t.store.set_clock(xiaoan_records::Clock::Fixed(
        chrono::Utc::now() + chrono::Duration::minutes(1),
    ));
    t.store
        .set_status(&case, "closed", "居民说不用了")
        .expect("local move");
    t.store
        .set_status(&t.receipts[0].clone(), "complete", "")
        .expect("local move");
    t.file(4);
    let (stored, dup) = deliver_all(&t, &mut centre);
    assert_eq!((stored, dup), (6, 0), "what the terminal did since");
    // the mediator goes on from their own status: the centre's stays
    let seen = hall.show(&case, false).expect("show").expect("found");
    assert_eq!(
        seen.summary.status, "scheduled",
        "the terminal's later move does not undo staff's at the centre"
    );
    hall.set_status(&case, "followed_up", "双方达成协议")
        .expect("the next move from the centre's status");
    // the same outbox delivered again changes nothing and logs nothing more
    let centre_entries = |hall: &xiaoan_records::PgStore| {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let _ = hall;
        c.query(
            "SELECT action, detail FROM evidence WHERE terminal = 'hall-desk' ORDER BY seq",
            &[],
        )
        .expect("query")
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
    };
    let before = centre_entries(&hall);
    t.store.outbox_requeue_all().expect("requeue");
    let again = deliver_all(&t, &mut centre);
    assert_eq!(again.0, 0, "nothing stored twice");
    assert_eq!(centre_entries(&hall), before, "nothing logged twice");
    println!("the centre's chain: {before:?}");
    let actions: Vec<&str> = before.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["status", "note", "access", "delivery", "status"],
        "staff's entries, and the terminal's change logged where it met staff's"
    );
    assert!(
        before[3].1.contains("robot-3") && before[3].1.contains("closed there, scheduled kept"),
        "{before:?}"
    );

    // what the centre shows: staff's status, the filing the terminal completed, the
    // whole history of the case from both chains, notes in place of their hashes
    let shown = hall.show(&case, true).expect("show").expect("found");
    assert_eq!(shown.summary.status, "followed_up");
    let history: Vec<(&str, &str)> = shown
        .history
        .iter()
        .map(|e| (e.action.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(history.len(), 7, "{history:?}");
    assert!(
        history.contains(&("note", "对方电话13912345678，已联系")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|(a, d)| *a == "status" && d.starts_with("open -> closed")),
        "the terminal's own move is kept as evidence: {history:?}"
    );
    let masked = hall.show(&case, false).expect("show").expect("found");
    assert!(
        !format!("{:?}", masked.history).contains("13912345678"),
        "a note is masked unless revealed"
    );
    let filing = hall
        .show(&t.receipts[0], false)
        .expect("show")
        .expect("found");
    assert_eq!(filing.summary.status, "complete");
    // nothing lost or duplicated
    assert_eq!(
        psql_count(
            &url,
            "SELECT COUNT(*) FROM filings WHERE terminal = 'robot-3'"
        ),
        7
    );
    assert_eq!(
        psql_count(&url, "SELECT COUNT(DISTINCT number) FROM filings"),
        7
    );
    assert_eq!(psql_count(&url, "SELECT COUNT(*) FROM cases"), 1);
    let local_entries = t.store.chain_hashes().expect("hashes");
    assert_eq!(
        psql_count(
            &url,
            "SELECT COUNT(*) FROM evidence WHERE terminal = 'robot-3'"
        ),
        i64::try_from(local_entries.len()).unwrap()
    );
    // every chain verifies at the centre, and the terminal's against the centre
    let report = RecordStore::verify(&hall).expect("centre verify");
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(
        report.entries,
        u64::try_from(local_entries.len() + 5).unwrap(),
        "both chains read"
    );
    let local = RecordStore::verify(&t.store).expect("local verify");
    assert!(local.ok, "{:?}", local.problems);
    let against = verify_against_centre(&t.store, &mut centre).expect("check");
    assert!(against.ok, "{:?}", against.problems);
    // the terminal still delivers after all this
    t.file(1);
    assert_eq!(deliver_all(&t, &mut centre).0, 1);

    // a row changed directly in SQL, behind both chains' back, is still caught: the
    // case staff acted on, and a filing only the terminal's chain covers
    let mut sql = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    sql.execute(
        "UPDATE cases SET status = 'closed' WHERE number = $1",
        &[&case],
    )
    .expect("tamper");
    sql.execute(
        "UPDATE filings SET status = 'withdrawn' WHERE number = $1",
        &[&t.receipts[1]],
    )
    .expect("tamper");
    let report = RecordStore::verify(&hall).expect("centre verify");
    let altered: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.kind == xiaoan_records::ProblemKind::RecordAltered)
        .filter_map(|p| p.record_number.as_deref())
        .collect();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(
        altered.contains(&case.as_str()) && altered.contains(&t.receipts[1].as_str()),
        "{:?}",
        report.problems
    );
    println!(
        "follow-up at the centre: {} entries in robot-3's chain, 5 in the centre's; tampered rows caught: {}",
        local_entries.len(),
        report
            .problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

/// Staff acting at the centre while the terminal keeps filing, moving its own records and
/// delivering: the two never deadlock or interleave (both lock the terminal's row
/// first), staff's statuses stand, and every chain verifies.
#[test]
fn staff_actions_and_deliveries_side_by_side() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("side_by_side").expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("centre-keys");
    let mut centre = PgCentre::connect(&url, &keys).expect("centre");
    let mut t = terminal(dir.path(), "kiosk-s", 44);
    t.file(5);
    deliver_all(&t, &mut centre);
    let stop = Arc::new(AtomicBool::new(false));
    let staff = {
        let (url, keys, stop) = (url.clone(), keys.clone(), stop.clone());
        std::thread::spawn(move || {
            let hall = xiaoan_records::PgStore::open(&url, Origin::new("hall", "hall-desk"), &keys)
                .expect("centre store");
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            let mut moved = BTreeMap::new();
            while !stop.load(Ordering::SeqCst) {
                let numbers: Vec<String> = c
                    .query(
                        "SELECT number FROM filings WHERE status = 'filed' ORDER BY number",
                        &[],
                    )
                    .expect("list")
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for n in numbers {
                    hall.set_status(&n, "complete", "材料已核")
                        .expect("staff move");
                    hall.add_note(&n, "已通知居民").expect("staff note");
                    moved.insert(n, ());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            moved.into_keys().collect::<Vec<String>>()
        })
    };
    for round in 0..15 {
        t.file(2);
        // the terminal moves one of its older records itself now and then
        if round % 3 == 0 {
            let n = t.receipts[round].clone();
            let _ = t.store.set_status(&n, "materials_owed", "缺照片");
        }
        deliver_once(&t.store, &mut centre, 3).expect("deliver");
    }
    deliver_all(&t, &mut centre);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let moved = staff.join().expect("staff thread");
    assert!(moved.len() >= 5, "staff acted on {} records", moved.len());
    let hall = xiaoan_records::PgStore::open(&url, Origin::new("hall", "check"), &keys)
        .expect("centre store");
    for n in &moved {
        let s = hall.show(n, false).expect("show").expect("found");
        assert_eq!(s.summary.status, "complete", "{n}: staff's status stands");
    }
    let report = RecordStore::verify(&hall).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
    assert!(
        verify_against_centre(&t.store, &mut centre)
            .expect("check")
            .ok
    );
    assert_eq!(
        psql_count(&url, "SELECT COUNT(*) FROM filings"),
        i64::try_from(t.receipts.len()).unwrap()
    );
    println!(
        "side by side: {} filed and delivered, staff moved and noted {} at the centre meanwhile; {} entries verified",
        t.receipts.len(),
        moved.len(),
        report.entries
    );
}
