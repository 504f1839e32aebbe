//! The centre's store from the command line, against a real PostgreSQL (a throw-away
//! cluster, `xiaoan_testkit::postgres`): terminals at two sites file locally and deliver;
//! staff at the hall list, show and verify the whole centre with a site filter, over the
//! CLI and the staff API; `records verify --centre` catches a terminal whose newest
//! entries were deleted after delivery; `records migrate` moves a SQLite store in, chain
//! and all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use xiaoan_records::centre::{deliver_once, PgCentre};
use xiaoan_records::{
    EventKind, FieldKind, FieldValue, NewEvent, NewFiling, Origin, RecordStore, Store,
};
use xiaoan_testkit::postgres::TempCluster;

use super::stderr;

fn cluster() -> Option<TempCluster> {
    match TempCluster::start() {
        Ok(c) => Some(c),
        Err(e) => {
            xiaoan_testkit::skip(&format!("the centre-store CLI tests need PostgreSQL: {e}"));
            None
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// `xiaoan` run in `home` (its `xiaoan.toml` is read from there).
fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(args)
        .env("XIAOAN_HOME", home)
        .env_remove("RUST_BACKTRACE")
        .current_dir(home)
        .output()
        .expect("xiaoan runs")
}

fn filing(i: usize) -> NewFiling {
    NewFiling {
        form_id: "residence".into(),
        form_title: "居住登记".into(),
        fields: vec![
            FieldValue {
                name: "name".into(),
                label: "姓名".into(),
                kind: FieldKind::PersonName,
                value: "李秀英".into(),
            },
            FieldValue {
                name: "phone".into(),
                label: "手机号".into(),
                kind: FieldKind::Phone,
                value: format!("1380013{:04}", i),
            },
        ],
        materials_owed: vec![],
        commitment: "本人承诺所填属实".into(),
        session_id: format!("cli-centre-{i}"),
    }
}

/// A terminal's home: its config (site, terminal, the centre) and its records file.
struct TerminalHome {
    home: PathBuf,
    db: PathBuf,
    origin: Origin,
    code: u8,
}

impl TerminalHome {
    fn new(root: &Path, site: &str, name: &str, code: u8, url: &str, keys: &Path) -> Self {
        let home = root.join(name);
        std::fs::create_dir_all(home.join("records")).unwrap();
        std::fs::write(
            home.join("xiaoan.toml"),
            format!(
                "[site]\nid = \"{site}\"\nterminal = \"{name}\"\n\n[store]\ncentre_url = \"{url}\"\nterminal_code = {code}\ncentre_key_dir = \"{}\"\n",
                keys.display()
            ),
        )
        .unwrap();
        TerminalHome {
            db: home.join("records").join("xiaoan.db"),
            home,
            origin: Origin::new(site, name),
            code,
        }
    }

    fn store(&self) -> Store {
        let mut s = Store::open(&self.db).unwrap();
        s.set_origin(self.origin.clone()).unwrap();
        s.set_terminal_code(self.code).unwrap();
        s
    }

    /// File `n` declarations (and an emergency when `alert`): the receipts.
    fn file(&self, n: usize, alert: bool) -> Vec<String> {
        let s = self.store();
        let mut numbers: Vec<String> = (0..n)
            .map(|i| s.file_declaration(&filing(i)).unwrap().number)
            .collect();
        if alert {
            let e = s
                .record_event(&NewEvent {
                    kind: EventKind::Emergency,
                    summary: "老人摔倒，3号楼".into(),
                    transcript: vec![],
                    wait_at: None,
                    needs: None,
                    session_id: "cli-centre-alert".into(),
                })
                .unwrap();
            numbers.push(e.number);
        }
        numbers
    }

    fn deliver(&self, url: &str, keys: &Path) {
        let s = self.store();
        let mut c = PgCentre::connect(url, keys).unwrap();
        while deliver_once(&s, &mut c, 4).unwrap().is_some() {}
    }
}

/// Delete the newest `n` entries of a terminal's chain (and their records), resetting its
/// head: the chain left is a valid hash chain on its own.
fn cut_newest(db: &Path, n: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let count: i64 = conn
        .query_row("SELECT MAX(seq) FROM evidence", [], |r| r.get(0))
        .unwrap();
    let keep = count - n;
    conn.execute(
        "DELETE FROM filings WHERE number IN (SELECT record_number FROM evidence WHERE seq > ?1)",
        [keep],
    )
    .unwrap();
    conn.execute("DELETE FROM evidence WHERE seq > ?1", [keep])
        .unwrap();
    conn.execute(
        "UPDATE chain_head SET seq = ?1, hash = (SELECT hash FROM evidence WHERE seq = ?1) WHERE id = 1",
        [keep],
    )
    .unwrap();
}

/// Staff's home at the hall: `[store] url` is the centre.
fn staff_home(root: &Path, url: &str, keys: &Path) -> PathBuf {
    let home = root.join("staff");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("xiaoan.toml"),
        format!(
            "[site]\nid = \"hall\"\nterminal = \"staff-desk\"\n\n[store]\nurl = \"{url}\"\nkey_dir = \"{}\"\n",
            keys.display()
        ),
    )
    .unwrap();
    home
}

fn json_rows(o: &Output) -> Vec<serde_json::Value> {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_str::<serde_json::Value>(&stdout(o))
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", stdout(o)))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn staff_read_the_whole_centre_by_site_and_a_cut_chain_is_caught_by_verify_centre() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("cli_centre").unwrap();
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("centre-keys");
    let kiosk = TerminalHome::new(root.path(), "grid-3", "kiosk-3", 3, &url, &keys);
    let robot = TerminalHome::new(root.path(), "hall", "robot-1", 1, &url, &keys);
    let kiosk_numbers = kiosk.file(5, false);
    let robot_numbers = robot.file(2, true);

    // before delivery the kiosk's outbox holds its five filings
    let o = run(&kiosk.home, &["records", "outbox"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("terminal kiosk-3 at grid-3, code 03: 5 waiting, 0 delivered"),
        "{}",
        stdout(&o)
    );
    kiosk.deliver(&url, &keys);
    robot.deliver(&url, &keys);
    let o = run(&kiosk.home, &["records", "outbox"]);
    let out = stdout(&o);
    assert!(out.contains("0 waiting, 5 delivered"), "{out}");
    // and the centre lists both terminals, nothing behind
    assert!(
        out.lines()
            .any(|l| l.contains("grid-3") && l.contains("kiosk-3") && l.contains(" 5 ")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("hall") && l.contains("robot-1")),
        "{out}"
    );

    // staff at the hall see the whole centre, and one site with --site
    let staff = staff_home(root.path(), &url, &keys);
    let all = json_rows(&run(
        &staff,
        &["records", "list", "--json", "--limit", "50"],
    ));
    assert_eq!(all.len(), 8, "{all:?}");
    let grid3 = json_rows(&run(
        &staff,
        &["records", "list", "--json", "--site", "grid-3"],
    ));
    assert_eq!(grid3.len(), 5, "{grid3:?}");
    assert!(grid3
        .iter()
        .all(|r| r["site"] == "grid-3" && r["terminal"] == "kiosk-3"));
    let mut listed: Vec<String> = grid3
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut filed = kiosk_numbers.clone();
    filed.sort();
    assert_eq!(listed, filed);
    // personal data stays masked at the centre
    assert!(!stdout(&run(&staff, &["records", "list", "--json"])).contains("李秀英"));

    // one record: found at its site, not at another
    let o = run(
        &staff,
        &["records", "show", &robot_numbers[0], "--site", "hall"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("hall/robot-1"), "{}", stdout(&o));
    let o = run(
        &staff,
        &["records", "show", &robot_numbers[0], "--site", "grid-3"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("at site grid-3"), "{}", stderr(&o));

    // every chain at the centre verifies, and one site's alone
    let o = run(&staff, &["records", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("evidence chain intact"),
        "{}",
        stdout(&o)
    );
    let o = run(&staff, &["records", "verify", "--site", "grid-3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("intact: 5 entries"), "{}", stdout(&o));

    // the kiosk's chain matches what the centre anchored...
    let o = run(&kiosk.home, &["records", "verify", "--centre"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("matches what the centre anchored"));
    // ...until its two newest entries are deleted: the shorter chain is still a valid
    // hash chain, but not the one delivered
    cut_newest(&kiosk.db, 2);
    let o = run(&kiosk.home, &["records", "verify", "--centre"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("3 local entries, 5 at the centre"), "{out}");
    assert!(out.contains("entry #4"), "{out}");
    assert!(out.contains("does NOT match the centre"), "{out}");
    // the robot's untouched chain still matches
    let o = run(&robot.home, &["records", "verify", "--centre"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // the staff API over the centre: listings by site, the alert from the robot, what waits
    let token = "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+";
    // the robot files three more and delivers one before the link drops: the centre
    // knows two wait there
    robot.file(3, false);
    {
        let s = robot.store();
        let mut c = PgCentre::connect(&url, &keys).unwrap();
        deliver_once(&s, &mut c, 1).unwrap();
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("XIAOAN_HOME", &staff)
        .env("XIAOAN_STAFF_TOKEN", token)
        .current_dir(&staff)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim()
            .rsplit("http://")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let result = std::panic::catch_unwind(|| {
        let get = |path: &str| -> serde_json::Value {
            let (code, body) = super::records::http(&addr, "GET", path, Some(token), "");
            assert_eq!(code, 200, "{path}: {body}");
            serde_json::from_str(&body).unwrap()
        };
        let v = get("/api/records?site=grid-3&limit=50");
        assert_eq!(v["records"].as_array().unwrap().len(), 5, "{v}");
        let v = get("/api/records?limit=50");
        assert_eq!(v["records"].as_array().unwrap().len(), 9, "{v}");
        let v = get("/api/alerts");
        let alerts = v["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{v}");
        assert_eq!(alerts[0]["summary"]["site"], "hall", "{v}");
        assert_eq!(
            get("/api/alerts?site=grid-3")["alerts"],
            serde_json::json!([])
        );
        // what each terminal had waiting when it last delivered
        let v = get("/api/delivery");
        assert_eq!(v["store"], "postgres", "{v}");
        assert_eq!(v["waiting"], 2, "{v}");
        let terms = v["terminals"].as_array().unwrap();
        assert_eq!(terms.len(), 2, "{v}");
        assert!(
            terms
                .iter()
                .any(|t| t["terminal"] == "kiosk-3" && t["delivered"] == 5 && t["waiting"] == 0),
            "{v}"
        );
        assert!(
            terms
                .iter()
                .any(|t| t["terminal"] == "robot-1" && t["delivered"] == 4 && t["waiting"] == 2),
            "{v}"
        );
        let v = get("/api/delivery?site=hall");
        assert_eq!(v["terminals"].as_array().unwrap().len(), 1, "{v}");
        // verify over the API: grid-3's chain at the centre is intact (the cut was local)
        let v = get("/api/verify?site=grid-3");
        assert_eq!(v["ok"], true, "{v}");
        // staff at the centre act on the robot's alert: their entries go to the centre's
        // own chain (the robot's stays the robot's, so its deliveries go on)
        let alert = &robot_numbers[2];
        let post = |path: &str, body: &str| -> serde_json::Value {
            let (code, out) = super::records::http(&addr, "POST", path, Some(token), body);
            assert_eq!(code, 200, "{path}: {out}");
            serde_json::from_str(&out).unwrap()
        };
        let v = post(
            &format!("/api/records/{alert}/status"),
            r#"{"status": "acknowledged", "note": "已派人"}"#,
        );
        assert_eq!(v["status"], "acknowledged", "{v}");
        assert_eq!(v["terminal"], "robot-1", "{v}");
        let v = post(
            &format!("/api/records/{alert}/note"),
            r#"{"note": "家属电话13800138000已接通"}"#,
        );
        assert_eq!(v["status"], "acknowledged", "{v}");
        // meanwhile the robot closes it locally; its next delivery is stored, and the
        // centre keeps staff's status
        robot.store().set_status(alert, "closed", "").unwrap();
        robot.deliver(&url, &keys);
        let v = get("/api/delivery?site=hall");
        assert_eq!(v["waiting"], 0, "{v}");
        assert_eq!(v["terminals"][0]["delivered"], 7, "{v}");
        let v = get(&format!("/api/records/{alert}"));
        assert_eq!(v["summary"]["status"], "acknowledged", "{v}");
        let history = v["history"].as_array().unwrap();
        assert_eq!(history.len(), 5, "{v}");
        assert!(
            !v.to_string().contains("13800138000"),
            "the note is masked: {v}"
        );
        assert_eq!(get("/api/verify")["ok"], true);

        // a staff screen waiting on the long poll hears an emergency raised on a
        // terminal as soon as the terminal delivers it (LISTEN/NOTIFY at the centre)
        let first = get("/api/alerts/wait");
        assert_eq!(first["alerts"].as_array().unwrap().len(), 1, "{first}");
        let cursor = format!(
            "/api/alerts/wait?since={}&seen={}&timeout=30",
            first["since"].as_str().unwrap(),
            first["seen"].as_str().unwrap()
        );
        let raised = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let t = std::time::Instant::now();
                let v = get(&cursor);
                (v, t.elapsed())
            });
            std::thread::sleep(std::time::Duration::from_millis(500));
            let number = robot.file(0, true).pop().unwrap();
            robot.deliver(&url, &keys);
            let (v, waited) = waiter.join().unwrap();
            println!(
                "long poll answered after {waited:?} (the alert filed and delivered at 0.5 s)"
            );
            (number, v)
        });
        let (number, v) = raised;
        let heard = v["alerts"].as_array().unwrap();
        assert_eq!(heard.len(), 1, "only the new alert: {v}");
        assert_eq!(heard[0]["summary"]["number"], number.as_str(), "{v}");
        assert_eq!(heard[0]["record"]["event_kind"], "emergency", "{v}");
    });
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    // the mediator at the hall follows up from the command line too: the centre's
    // store, the robot's record
    let alert = &robot_numbers[2];
    let o = run(
        &staff,
        &["records", "status", alert, "closed", "--note", "老人已送医"],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("closed") && out.contains("hall/robot-1"),
        "{out}"
    );
    let o = run(&staff, &["records", "note", alert, "家属已到医院"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&staff, &["records", "status", alert, "acknowledged"]);
    assert_eq!(o.status.code(), Some(1), "a closed alert is not reopened");
    let o = run(&staff, &["records", "show", alert, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(shown["summary"]["status"], "closed", "{shown}");
    // the robot's entries and the centre's, by time (the order within one second is
    // the record's own chain first)
    let mut actions: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["created", "delivery", "note", "note", "status", "status", "status"],
        "{shown}"
    );
    // every chain verifies at the centre, and the robot's on the robot
    let o = run(&staff, &["records", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = run(&robot.home, &["records", "verify", "--centre"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("matches what the centre anchored"));
    // a row changed behind both chains' back is caught at the centre
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.execute(
            "UPDATE events SET status = 'open' WHERE number = $1",
            &[alert],
        )
        .unwrap();
    }
    let o = run(&staff, &["records", "verify", "--site", "hall"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains(alert.as_str()) && out.contains("altered"),
        "{out}"
    );

    // staff at the centre: every terminal's delivery
    let o = run(&staff, &["records", "outbox"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("2 terminal(s) deliver here"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("grid-3") && l.contains("kiosk-3") && l.contains("  0  ")),
        "{out}"
    );
}

#[test]
fn migrate_moves_a_terminal_store_into_the_centre_chain_and_all() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_db("cli_migrate").unwrap();
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("centre-keys");
    let desk = TerminalHome::new(root.path(), "grid-5", "desk-5", 5, &url, &keys);
    let numbers = desk.file(4, true);
    {
        let s = desk.store();
        s.set_status(&numbers[4], "acknowledged", "已电话联系")
            .unwrap();
    }
    let entries = {
        let conn = rusqlite::Connection::open(&desk.db).unwrap();
        conn.query_row("SELECT COUNT(*) FROM evidence", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };

    // a URL that is not PostgreSQL is refused plainly
    let o = run(
        &desk.home,
        &["records", "migrate", "--to", "/tmp/elsewhere.db"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("postgres://"), "{}", stderr(&o));

    let o = run(&desk.home, &["records", "migrate", "--to", &url]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains(&format!("this run: {entries} evidence entries")),
        "{out}"
    );
    assert!(out.contains("evidence chain intact"), "{out}");
    // again: nothing copied twice
    let o = run(&desk.home, &["records", "migrate", "--to", &url]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("this run: 0 evidence entries"), "{out}");
    assert!(
        out.contains(&format!("in the centre now: {entries} entries")),
        "{out}"
    );

    // staff at the centre find the records, with their status and history
    let staff = staff_home(root.path(), &url, &keys);
    let rows = json_rows(&run(
        &staff,
        &["records", "list", "--json", "--site", "grid-5"],
    ));
    assert_eq!(rows.len(), 5, "{rows:?}");
    let o = run(&staff, &["records", "show", &numbers[4], "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(shown["summary"]["status"], "acknowledged", "{shown}");
    assert_eq!(shown["history"].as_array().unwrap().len(), 2, "{shown}");
    // the migrated chain verifies at the centre
    let centre = xiaoan_records::PgStore::open(&url, Origin::new("hall", "check"), &keys).unwrap();
    let r = centre.verify_site("grid-5").unwrap();
    assert!(r.ok, "{:?}", r.problems);
    assert_eq!(r.entries, entries as u64);
}
