//! Crash safety: filings confirmed to a resident survive SIGKILL at any point.

use super::*;

// ---- crash safety ------------------------------------------------------------------------

const CHILD_ENV: &str = "XIAOAN_CRASH_CHILD";

/// Not a test on its own: the body of the child process that
/// `filings_survive_sigkill_at_random_points` starts (ignored in normal runs; the parent
/// runs it with `--ignored` and the environment variable naming the database).
#[test]
#[ignore = "child process of filings_survive_sigkill_at_random_points"]
fn crash_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&db)).unwrap();
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let mut i = 0;
    // Bounded, so an orphaned child cannot run forever.
    while started.elapsed() < StdDuration::from_secs(60) {
        let r = store.file_declaration(&birth_filing(i)).unwrap();
        // Reported only after the commit returned: this is what a resident is told.
        writeln!(out, "RECEIPT {}", r.number).unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

/// A small xorshift generator seeded from the clock (the seed is printed on failure).
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

#[test]
fn filings_survive_sigkill_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("records.db");
    drop(Store::open(&db).unwrap());
    let seed = chrono::Utc::now().timestamp_subsec_nanos() as u64 | 1;
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "tests::crash::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some(n) = line.strip_prefix("RECEIPT ") {
                    if tx.send(n.to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        // Let it file a random number of declarations, then kill it mid-flight after a
        // random extra delay.
        let want = 1 + rng.next(40) as usize;
        let mut got = 0;
        while got < want {
            match rx.recv_timeout(StdDuration::from_secs(60)) {
                Ok(n) => {
                    reported.insert(n);
                    got += 1;
                }
                Err(e) => panic!("seed {seed}, round {round}: child stopped reporting: {e}"),
            }
        }
        std::thread::sleep(StdDuration::from_micros(rng.next(20_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        reported.extend(rx.try_iter());
    }
    let store = Store::open(&db).unwrap();
    for n in &reported {
        assert!(
            store.show(n, false).unwrap().is_some(),
            "seed {seed}: confirmed filing {n} is lost"
        );
    }
    let filings = count(&store, "SELECT COUNT(*) FROM filings");
    let entries = count(
        &store,
        "SELECT COUNT(*) FROM evidence WHERE record_kind = 'filing' AND action = 'created'",
    );
    assert_eq!(filings, entries, "seed {seed}: a half-written filing");
    assert!(filings as usize >= reported.len());
    let unmatched = count(
        &store,
        "SELECT COUNT(*) FROM filings f WHERE NOT EXISTS (SELECT 1 FROM evidence e WHERE e.record_number = f.number)",
    );
    assert_eq!(
        unmatched, 0,
        "seed {seed}: a filing without its evidence entry"
    );
    let r = store.verify().unwrap();
    assert!(r.ok, "seed {seed}: {r:?}");
    println!(
        "crash test: seed {seed}, {} confirmed filings over 6 kills, {filings} in the store",
        reported.len()
    );
}
