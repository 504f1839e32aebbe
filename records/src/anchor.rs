//! Anchoring the evidence chain outside the database, so that deleting its newest entries
//! (and resetting `chain_head`), wiping it, or forging and re-hashing it is noticed.
//!
//! A hash chain alone cannot catch a cut at its end: what is left is still a valid chain.
//! So after every write the store signs the chain's head (entry count and hash) with an
//! ed25519 *device key* and appends `count head-hash signature` as one line to the *anchor
//! file*. Both files sit beside the database, not in it: `<db>.key` (the 32-byte secret in
//! hex, mode 0600, created on first use) and `<db>.anchor` (append-only). Verify checks
//! every anchor line's signature and that the chain still holds the signed entry with the
//! signed hash: fewer entries than signed is a deletion, another hash a rewrite.
//!
//! Receipts carry a *check code*: the first six hex digits of the device key's signature
//! over the record number and the hash of its `created` entry. Staff check a receipt the
//! resident holds with `xiaoan records verify --receipt NUMBER CODE`; a record deleted and
//! re-created, or a chain forged without the key, cannot give the same code.
//!
//! What this does not stop: someone who can read the key file can sign a forged chain.
//! Keep the key where the database's users cannot reach it (the centre may put the key
//! file elsewhere and make the anchor file append-only with `chattr +a`).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::chain::{Problem, ProblemKind};
use super::error::Result;
use super::keyfile::{self, io_err};

/// How much of the anchor file's end is read at start-up to find its last line.
const TAIL_BYTES: u64 = 4096;

/// Digits of a receipt check code (hex): 24 bits, enough that a guess is caught.
pub const CHECK_CODE_LEN: usize = 6;

/// The device key file of the database at `db`.
pub fn key_path(db: &Path) -> PathBuf {
    with_suffix(db, ".key")
}

/// The anchor file of the database at `db`.
pub fn anchor_path(db: &Path) -> PathBuf {
    with_suffix(db, ".anchor")
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

fn anchor_message(count: i64, head: &str) -> String {
    format!("xiaoan-anchor v1 {count} {head}")
}

fn receipt_message(number: &str, entry_hash: &str) -> String {
    format!("xiaoan-receipt v1 {number} {entry_hash}")
}

/// The device key and where its anchors go.
pub(crate) struct Anchor {
    key: SigningKey,
    anchor: PathBuf,
}

/// One line of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnchorLine {
    pub count: i64,
    pub head: String,
    signature: String,
}

impl Anchor {
    /// Load the device key of `db`, if its file exists and reads.
    pub(crate) fn load(db: &Path) -> Result<Option<Anchor>> {
        let Some(bytes) = keyfile::read(&key_path(db), "device key")? else {
            return Ok(None);
        };
        Ok(Some(Anchor {
            key: SigningKey::from_bytes(&bytes),
            anchor: anchor_path(db),
        }))
    }

    /// Create the device key of `db` (0600, never overwriting one) from the system's
    /// randomness, and anchor the chain as it is now: `count` entries ending in `head`
    /// (a store from before anchoring is trusted as found, once).
    pub(crate) fn create(db: &Path, count: i64, head: &str) -> Result<Anchor> {
        let seed = keyfile::create(&key_path(db))?;
        let a = Anchor {
            key: SigningKey::from_bytes(&seed),
            anchor: anchor_path(db),
        };
        a.append_line(count, head, true)?;
        Ok(a)
    }

    /// Append a signed line for the chain head: `count` entries ending in `head`. The
    /// file is made only with the key: one that went missing stays missing (and verify
    /// says so) rather than restarting quietly.
    pub(crate) fn publish(&self, count: i64, head: &str) -> Result<()> {
        self.append_line(count, head, false)
    }

    fn append_line(&self, count: i64, head: &str, first: bool) -> Result<()> {
        let sig = self.key.sign(anchor_message(count, head).as_bytes());
        let line = format!("{count} {head} {}\n", hex::encode(sig.to_bytes()));
        let mut f = OpenOptions::new()
            .append(true)
            .create(first)
            .mode(0o600)
            .open(&self.anchor)
            .map_err(io_err(&self.anchor))?;
        // one write: appends from the agent and the staff API do not interleave
        f.write_all(line.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(io_err(&self.anchor))?;
        Ok(())
    }

    /// The check code of a receipt: from the record number and its `created` entry hash.
    pub(crate) fn check_code(&self, number: &str, entry_hash: &str) -> String {
        let sig = self
            .key
            .sign(receipt_message(number, entry_hash).as_bytes());
        hex::encode(sig.to_bytes())[..CHECK_CODE_LEN].to_string()
    }

    fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The anchor file's lines with a valid signature, and problems with the others. A
    /// missing file is a problem: the key's creation wrote the first line.
    pub(crate) fn read(&self) -> (Vec<AnchorLine>, Vec<Problem>) {
        let mut lines = Vec::new();
        let mut problems = Vec::new();
        let text = match std::fs::read(&self.anchor) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                problems.push(broken(format!(
                    "the anchor file {} cannot be read ({e}): the chain cannot be checked for deleted entries",
                    self.anchor.display()
                )));
                return (lines, problems);
            }
        };
        let complete = text.ends_with('\n');
        let all: Vec<&str> = text.lines().collect();
        for (i, raw) in all.iter().enumerate() {
            if i + 1 == all.len() && !complete {
                // a line cut short by a crash mid-append: ignored, the next write re-signs
                continue;
            }
            let parsed = parse_line(raw).filter(|l| self.signed(l));
            match parsed {
                Some(l) => lines.push(l),
                None => problems.push(broken(format!(
                    "line {} of the anchor file is not signed by this device's key",
                    i + 1
                ))),
            }
        }
        if lines.is_empty() && problems.is_empty() {
            problems.push(broken(format!(
                "the anchor file {} is empty: the chain cannot be checked for deleted entries",
                self.anchor.display()
            )));
        }
        (lines, problems)
    }

    /// The last complete line of the anchor file, if it is signed by this key (no other
    /// line is read: this runs at every start).
    pub(crate) fn last_line(&self) -> Option<AnchorLine> {
        use std::io::{Read, Seek, SeekFrom};
        // a line is about 200 bytes: the last 4 KiB hold the last complete ones
        let mut f = std::fs::File::open(&self.anchor).ok()?;
        let len = f.metadata().ok()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
            .ok()?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).ok()?;
        let text = String::from_utf8_lossy(&tail);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let last = if text.ends_with('\n') {
            body.rsplit('\n').next()?
        } else {
            // the last line was cut short: the one before it
            body.rsplit('\n').nth(1)?
        };
        let l = parse_line(last)?;
        self.signed(&l).then_some(l)
    }

    fn signed(&self, l: &AnchorLine) -> bool {
        hex::decode(&l.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b))
            .is_some_and(|s| {
                self.public()
                    .verify(anchor_message(l.count, &l.head).as_bytes(), &s)
                    .is_ok()
            })
    }

    /// Whether `code` is the check code of a receipt for `number` whose `created` entry
    /// has `entry_hash` (case and spaces ignored).
    pub(crate) fn check_receipt(&self, number: &str, entry_hash: &str, code: &str) -> bool {
        let code: String = code
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        code.len() == CHECK_CODE_LEN && code == self.check_code(number, entry_hash)
    }
}

fn parse_line(raw: &str) -> Option<AnchorLine> {
    let mut parts = raw.split_whitespace();
    let count = parts.next()?.parse().ok()?;
    let head = parts.next()?.to_string();
    let signature = parts.next()?.to_string();
    if parts.next().is_some() {
        return None;
    }
    Some(AnchorLine {
        count,
        head,
        signature,
    })
}

fn broken(message: String) -> Problem {
    Problem {
        kind: ProblemKind::AnchorBroken,
        seq: None,
        record_number: None,
        message,
    }
}

/// Check the chain (`count` entries; `hash_at(n)` the hash of entry n) against the signed
/// anchor lines: every signed count must still be there with its signed hash. Reports the
/// lowest rewritten entry, the deletion (the most entries ever signed against what is
/// left), and a tail written after the last anchor.
pub(crate) fn check(
    lines: &[AnchorLine],
    count: i64,
    hash_at: &mut dyn FnMut(i64) -> Result<Option<String>>,
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let mut sorted: Vec<&AnchorLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.count);
    sorted.dedup_by(|a, b| a.count == b.count && a.head == b.head);
    let signed = sorted.last().map_or(0, |l| l.count);
    if signed > count {
        problems.push(Problem {
            kind: ProblemKind::EntryMissing,
            seq: Some(count + 1),
            record_number: None,
            message: format!(
                "the device key signed {signed} entries but the chain has {count}: entries {} to {signed} were deleted",
                count + 1
            ),
        });
    }
    for l in sorted.iter().filter(|l| l.count > 0 && l.count <= count) {
        let found = hash_at(l.count)?;
        if found.as_deref() != Some(l.head.as_str()) {
            problems.push(Problem {
                kind: ProblemKind::EntryAltered,
                seq: Some(l.count),
                record_number: None,
                message: format!(
                    "entry {} is not the one the device key signed: the chain was rewritten up to there",
                    l.count
                ),
            });
            break;
        }
    }
    if count > signed && !sorted.is_empty() {
        problems.push(Problem {
            kind: ProblemKind::Unanchored,
            seq: Some(signed + 1),
            record_number: None,
            message: format!(
                "entries {} to {count} are not signed by the device key: written without it",
                signed + 1
            ),
        });
    }
    Ok(problems)
}

/// Make sure an existing key file is the owner's only.
pub(crate) fn tighten(db: &Path) {
    let path = key_path(db);
    if let Ok(meta) = std::fs::metadata(&path) {
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
    }
}
