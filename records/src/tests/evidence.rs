//! The evidence chain: verify, staff notes, deletions, the anchor and receipts.

use super::*;

#[test]
fn verify_passes_on_an_untouched_chain() {
    let (_d, store) = temp_store();
    let n = five_filings(&store);
    store.set_status(&n[0], "complete", "材料已补齐").unwrap();
    let r = store.verify().unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.entries, 6);
    assert_eq!(r.records, 5);
}

#[test]
fn verify_names_an_altered_entry() {
    let (_d, store) = temp_store();
    five_filings(&store);
    store
        .conn
        .execute(
            "UPDATE evidence SET detail = 'something else' WHERE seq = 3",
            [],
        )
        .unwrap();
    let r = store.verify().unwrap();
    assert!(!r.ok);
    let p = r.first_problem.unwrap();
    assert_eq!(
        (p.kind, p.seq),
        (ProblemKind::EntryAltered, Some(3)),
        "{}",
        p.message
    );
}

#[test]
fn verify_names_an_entry_rewritten_with_a_fresh_hash() {
    let (_d, store) = temp_store();
    five_filings(&store);
    let mut e = chain::history(
        &store.conn,
        &count_str(&store, "SELECT record_number FROM evidence WHERE seq = 2"),
        true,
    )
    .unwrap()
    .remove(0);
    e.detail = "forged".to_string();
    e.hash = chain::entry_hash(&e);
    store
        .conn
        .execute(
            "UPDATE evidence SET detail = ?1, hash = ?2 WHERE seq = 2",
            params![e.detail, e.hash],
        )
        .unwrap();
    let p = store.verify().unwrap().first_problem.unwrap();
    assert_eq!(
        (p.kind, p.seq),
        (ProblemKind::EntryAltered, Some(2)),
        "{}",
        p.message
    );
}

#[test]
fn verify_names_an_altered_record_row() {
    let (_d, store) = temp_store();
    let n = five_filings(&store);
    store
        .conn
        .execute(
            // personal fields are sealed at rest: the title is what a hand edit can reach
            "UPDATE filings SET form_title = '别的表' WHERE number = ?1",
            params![n[3]],
        )
        .unwrap();
    let p = store.verify().unwrap().first_problem.unwrap();
    assert_eq!(
        (p.kind, p.seq, p.record_number.as_deref()),
        (ProblemKind::RecordAltered, Some(4), Some(n[3].as_str())),
        "{}",
        p.message
    );
}

#[test]
fn verify_names_a_deleted_entry_and_a_deleted_record() {
    let (_d, store) = temp_store();
    five_filings(&store);
    store
        .conn
        .execute("DELETE FROM evidence WHERE seq = 2", [])
        .unwrap();
    let p = store.verify().unwrap().first_problem.unwrap();
    assert_eq!(
        (p.kind, p.seq),
        (ProblemKind::EntryMissing, Some(2)),
        "{}",
        p.message
    );

    let (_d2, store) = temp_store();
    let n2 = five_filings(&store);
    store
        .conn
        .execute("DELETE FROM filings WHERE number = ?1", params![n2[1]])
        .unwrap();
    let p = store.verify().unwrap().first_problem.unwrap();
    assert_eq!(
        (p.kind, p.record_number.as_deref()),
        (ProblemKind::RecordMissing, Some(n2[1].as_str())),
        "{}",
        p.message
    );
}

#[test]
fn verify_notices_entries_cut_off_the_end() {
    let (_d, store) = temp_store();
    five_filings(&store);
    store
        .conn
        .execute("DELETE FROM evidence WHERE seq = 5", [])
        .unwrap();
    let r = store.verify().unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_problem.unwrap().seq, Some(5));
}

#[test]
fn staff_notes_are_masked_unless_revealed_and_only_their_hash_is_chained() {
    let (_dir, store) = temp_store();
    let n = emergency(&store);
    let note = format!("家属电话{PHONE}，身份证{ID}");
    store.add_note(&n, &note).unwrap();
    store
        .set_status(&n, "acknowledged", &format!("已回电 {PHONE}"))
        .unwrap();
    let masked = store.show(&n, false).unwrap().unwrap();
    let text = serde_json::to_string(&masked.history).unwrap();
    assert!(!text.contains(PHONE) && !text.contains(ID), "{text}");
    assert!(text.contains(&mask::phone(PHONE)), "{text}");
    let details: Vec<&str> = masked.history.iter().map(|h| h.detail.as_str()).collect();
    assert_eq!(
        details[2],
        format!("open -> acknowledged: 已回电 {}", mask::phone(PHONE))
    );
    let revealed = store.show(&n, true).unwrap().unwrap();
    assert_eq!(revealed.history[1].detail, note);
    assert_eq!(
        revealed.history[2].detail,
        format!("open -> acknowledged: 已回电 {PHONE}")
    );
    // the chain itself holds hashes, never the note
    let chained: Vec<String> = {
        let mut stmt = store
            .conn
            .prepare("SELECT detail FROM evidence ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    };
    assert!(
        chained
            .iter()
            .all(|d| !d.contains(PHONE) && !d.contains(ID)),
        "{chained:?}"
    );
    assert_eq!(
        chained[1],
        format!("note sha256:{}", chain::sha256_hex(note.as_bytes()))
    );
    assert!(chained[2].starts_with("open -> acknowledged; note sha256:"));
    assert_eq!(
        revealed.history[1].chained_detail.as_deref(),
        Some(chained[1].as_str())
    );
    assert!(store.verify().unwrap().ok);
    // a note changed afterwards is caught
    store
        .conn
        .execute("UPDATE notes SET note = '没什么' WHERE seq = 2", [])
        .unwrap();
    let r = store.verify().unwrap();
    assert!(!r.ok);
    assert_eq!(r.problems[0].kind, ProblemKind::NoteAltered);
    assert_eq!(r.problems[0].seq, Some(2));
}

// --- evidence that catches deletion: the signed anchor (issue 24) ---

/// Copy a closed store (database, device key, anchor) to a fresh folder.
fn copy_store(from: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("records.db");
    for (a, b) in [
        (from.to_path_buf(), to.clone()),
        (key_path(from), key_path(&to)),
        (anchor_path(from), anchor_path(&to)),
        (field_key_path(from), field_key_path(&to)),
    ] {
        std::fs::copy(a, b).unwrap();
    }
    (dir, to)
}

/// Delete the newest `k` entries and the records they created, and reset `chain_head` to
/// what is left: a chain that is consistent on its own.
fn cut_newest(path: &Path, k: i64) {
    let conn = Connection::open(path).unwrap();
    let total: i64 = conn
        .query_row("SELECT MAX(seq) FROM evidence", [], |r| r.get(0))
        .unwrap();
    let keep = total - k;
    conn.execute(
        "DELETE FROM events WHERE number IN (SELECT record_number FROM evidence WHERE seq > ?1)",
        params![keep],
    )
    .unwrap();
    conn.execute("DELETE FROM evidence WHERE seq > ?1", params![keep])
        .unwrap();
    let hash: String = conn
        .query_row(
            "SELECT COALESCE((SELECT hash FROM evidence WHERE seq = ?1), ?2)",
            params![keep, GENESIS],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![keep, hash],
    )
    .unwrap();
}

/// Rewrite entry 1 and re-hash the whole chain after it, head included.
fn forge_and_rehash(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let mut all = {
        let mut stmt = conn
            .prepare("SELECT seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash FROM evidence ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([], chain::read_entry).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>()
    };
    all[0].detail = "handoff (forged)".into();
    let mut prev = GENESIS.to_string();
    for e in &mut all {
        e.prev_hash = prev.clone();
        e.hash = chain::entry_hash(e);
        prev = e.hash.clone();
        conn.execute(
            "UPDATE evidence SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            params![e.detail, e.prev_hash, e.hash, e.seq],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE chain_head SET hash = ?1 WHERE id = 1",
        params![prev],
    )
    .unwrap();
}

#[test]
fn deleting_the_newest_entries_or_forging_the_chain_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let mut receipts = Vec::new();
    {
        let store = Store::open(&path).unwrap();
        for _ in 0..600 {
            receipts.push(emergency_result(&store).unwrap());
        }
        let r = store.verify().unwrap();
        assert!(r.ok && r.entries == 600, "{:?}", r.problems);
    }
    // the device key is the owner's only, and apart from the database
    let mode = std::fs::metadata(key_path(&path))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "key mode {mode:o}");

    // an untouched copy still verifies intact
    let (_d, p) = copy_store(&path);
    assert!(Store::open(&p).unwrap().verify().unwrap().ok);

    for k in [1, 100, 500, 600] {
        let (_d, p) = copy_store(&path);
        cut_newest(&p, k);
        let store = Store::open(&p).unwrap();
        let r = store.verify().unwrap();
        assert!(
            !r.ok,
            "cutting {k} entries went unnoticed: {:?} {}",
            r,
            std::fs::read_to_string(anchor_path(&p))
                .unwrap_or_default()
                .lines()
                .count()
        );
        let first = r.first_problem.clone().unwrap();
        assert_eq!(
            first.kind,
            ProblemKind::EntryMissing,
            "{k}: {}",
            first.message
        );
        assert_eq!(first.seq, Some(601 - k), "{k}: {}", first.message);
        assert!(first.message.contains("600 entries"), "{}", first.message);
        // the newest receipt's record is gone from the chain: its code cannot be checked
        let last = receipts.last().unwrap();
        assert!(matches!(
            store.check_receipt(&last.number, last.check_code.as_deref().unwrap()),
            Err(StoreError::NotFound(_))
        ));
    }

    let (_d, p) = copy_store(&path);
    forge_and_rehash(&p);
    // the chain alone no longer sees it
    let store = Store::open(&p).unwrap();
    assert!(
        chain::verify(&store.conn, store.sealer.as_ref())
            .unwrap()
            .ok
    );
    drop(store);
    let r = Store::open(&p).unwrap().verify().unwrap();
    assert!(!r.ok);
    let first = r.first_problem.unwrap();
    assert_eq!(
        (first.kind, first.seq),
        (ProblemKind::EntryAltered, Some(1)),
        "{}",
        first.message
    );
}

#[test]
fn a_removed_or_foreign_anchor_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    drop(Store::open(&path).unwrap());
    let (_d, p) = copy_store(&path);
    {
        let store = Store::open(&p).unwrap();
        emergency_result(&store).unwrap();
    }
    // anchors signed by another key (the device key replaced) do not count
    let (_d2, other) = copy_store(&path);
    std::fs::copy(anchor_path(&p), anchor_path(&other)).unwrap();
    std::fs::remove_file(key_path(&other)).unwrap();
    std::fs::remove_file(&other).unwrap();
    // a fresh store with a fresh key, then the old anchor pasted over its own
    let fresh = Store::open(&other).unwrap();
    std::fs::copy(anchor_path(&p), anchor_path(&other)).unwrap();
    let r = fresh.verify().unwrap();
    assert!(
        r.problems
            .iter()
            .any(|x| x.kind == ProblemKind::AnchorBroken),
        "{:?}",
        r.problems
    );
    // the anchor file deleted: reported, and not quietly restarted by the next write
    std::fs::remove_file(anchor_path(&p)).unwrap();
    let store = Store::open(&p).unwrap();
    emergency_result(&store).unwrap();
    let r = store.verify().unwrap();
    assert!(!r.ok);
    assert!(
        r.problems[0].message.contains("anchor file"),
        "{:?}",
        r.problems
    );
}

#[test]
fn receipts_carry_a_check_code_that_staff_can_verify() {
    let (_dir, store) = temp_store();
    let e = emergency_result(&store).unwrap();
    let code = e.check_code.clone().unwrap();
    assert_eq!(code.len(), CHECK_CODE_LEN);
    assert!(code.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(store.check_code(&e.number).unwrap(), Some(code.clone()));
    assert!(store.check_receipt(&e.number, &code).unwrap());
    assert!(store
        .check_receipt(&e.number, &code.to_ascii_uppercase())
        .unwrap());
    let wrong: String = code
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    assert!(!store.check_receipt(&e.number, &wrong).unwrap());
    let f = store.file_declaration(&birth_filing(0)).unwrap();
    assert!(store
        .check_receipt(&f.number, f.check_code.as_deref().unwrap())
        .unwrap());
    // another record's code does not fit
    assert!(!store.check_receipt(&f.number, &code).unwrap() || code == f.check_code.unwrap());
    assert!(matches!(
        store.check_receipt("0000000000", &code),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_write_stopped_before_its_anchor_is_caught_up_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    {
        let store = Store::open(&path).unwrap();
        emergency_result(&store).unwrap();
        emergency_result(&store).unwrap();
    }
    // drop the last anchor line, as a SIGKILL between commit and anchor would
    let text = std::fs::read_to_string(anchor_path(&path)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        anchor_path(&path),
        format!("{}\n", lines[..lines.len() - 1].join("\n")),
    )
    .unwrap();
    let r = Store::open(&path).unwrap().verify().unwrap();
    assert!(r.ok, "{:?}", r.problems);
}
