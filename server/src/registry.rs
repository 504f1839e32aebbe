//! Registered terminals: the kiosks, windows and robots allowed to open a resident
//! session on `/ws/terminal`.
//!
//! Each terminal has an id (`gs-3`), a profile (`kiosk`, `window`, `robot`) and a device
//! token: 256 random bits written as 64 hex digits, printed once when the terminal is
//! added. The file keeps only the token's SHA-256, so a copy of the file does not let
//! anyone in. A token is checked by hashing it and comparing the hash with every entry's
//! in constant time.
//!
//! The file (`terminals.json` in the data folder) is owner-only (0600) and replaced
//! atomically (written beside, synced, renamed); additions and revocations hold an
//! advisory lock on `terminals.json.lock`, so two `xiaoan terminals` commands do not lose
//! each other's change. A running server reads it through [`LiveRegistry`], which reloads
//! it whenever it changed, so a revoked token is refused at the next hello.
//!
//! When each terminal was last seen (a valid hello) is kept apart, in
//! `terminals-seen.json` beside it, written by the server only (at most once a minute per
//! terminal), so the server never writes the file the commands change.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The profiles a terminal may have.
pub const PROFILES: [&str; 3] = ["kiosk", "window", "robot"];
/// The file name of the registry in the data folder.
pub const REGISTRY_FILE: &str = "terminals.json";
/// The file name of the last-seen times, beside the registry.
pub const SEEN_FILE: &str = "terminals-seen.json";
/// A terminal's last-seen time is written at most this often.
const SEEN_EVERY: Duration = Duration::from_secs(60);
/// Longest terminal id.
pub const MAX_ID_LEN: usize = 32;
/// The version of the file's format.
const FORMAT: u32 = 1;

/// What can go wrong with the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a registry this version understands.
    #[error("{path} is not a valid terminal registry: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A terminal id that is empty, too long or has other characters than a-z, 0-9, `-`, `_`.
    #[error("terminal id \"{0}\" is not allowed: use 1 to {MAX_ID_LEN} characters of a-z, 0-9, '-' and '_' (e.g. gs-3)")]
    BadId(String),
    /// A profile that is not one of [`PROFILES`].
    #[error("unknown profile \"{0}\": use kiosk, window or robot")]
    BadProfile(String),
    /// The id is already registered.
    #[error("terminal {0} is already registered: revoke it first to give it a new token")]
    Exists(String),
    /// No terminal with this id.
    #[error("no terminal {0} is registered")]
    NotFound(String),
}

type Result<T> = std::result::Result<T, RegistryError>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One registered terminal as the file keeps it (no token, only its hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Terminal {
    /// The terminal's id, e.g. `gs-3`.
    pub id: String,
    /// `kiosk`, `window` or `robot`.
    pub profile: String,
    /// SHA-256 of the device token, 64 hex digits.
    pub token_sha256: String,
    /// When it was added.
    pub created: DateTime<Utc>,
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalInfo {
    /// The terminal's id.
    pub id: String,
    /// Its profile.
    pub profile: String,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    terminals: Vec<Terminal>,
}

/// The registered terminals, as read from their file.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    terminals: Vec<Terminal>,
}

/// SHA-256 of a token, as stored.
fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// Constant-time comparison of two hashes.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new device token: 32 bytes from the system's randomness as 64 hex digits.
fn new_token() -> Result<String> {
    let dev = Path::new("/dev/urandom");
    let mut bytes = [0u8; 32];
    std::fs::File::open(dev)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err(dev))?;
    Ok(hex::encode(bytes))
}

/// Where the registry lives in the data folder `home`.
pub fn registry_path(home: &Path) -> PathBuf {
    home.join(REGISTRY_FILE)
}

/// Check a terminal id: 1 to [`MAX_ID_LEN`] of a-z, 0-9, `-`, `_`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadId(id.to_string()))
    }
}

impl Registry {
    /// The registry in `path`; a missing file is an empty registry (nothing is allowed
    /// in). A file that others may read is refused: it would not leak tokens, but it
    /// shows the file was not made by us.
    pub fn load(path: &Path) -> Result<Registry> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry {
                    path: path.to_path_buf(),
                    terminals: Vec::new(),
                })
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let corrupt = |reason: String| RegistryError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        let file: File = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "format {} (this version reads {FORMAT})",
                file.format
            )));
        }
        for t in &file.terminals {
            check_id(&t.id).map_err(|e| corrupt(e.to_string()))?;
            if hex::decode(&t.token_sha256).map_or(true, |h| h.len() != 32) {
                return Err(corrupt(format!(
                    "terminal {}: the token hash is not 64 hex digits",
                    t.id
                )));
            }
        }
        Ok(Registry {
            path: path.to_path_buf(),
            terminals: file.terminals,
        })
    }

    /// The file this registry lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who `token` belongs to, or `None` for an unknown (or revoked) token. Every entry
    /// is compared, each in constant time.
    pub fn check(&self, token: &str) -> Option<TerminalInfo> {
        let given = hash(token);
        let mut found = None;
        for t in &self.terminals {
            let mut stored = [0u8; 32];
            if hex::decode_to_slice(&t.token_sha256, &mut stored).is_err() {
                continue;
            }
            if same(&given, &stored) && found.is_none() {
                found = Some(TerminalInfo {
                    id: t.id.clone(),
                    profile: t.profile.clone(),
                });
            }
        }
        found
    }

    /// The registered terminals, in the order they were added.
    pub fn list(&self) -> &[Terminal] {
        &self.terminals
    }

    /// Register a terminal and save the file; returns its device token, which is shown
    /// only now (the file keeps its hash).
    pub fn add(path: &Path, id: &str, profile: &str) -> Result<(Terminal, String)> {
        check_id(id)?;
        if !PROFILES.contains(&profile) {
            return Err(RegistryError::BadProfile(profile.to_string()));
        }
        Self::change(path, |reg| {
            if reg.terminals.iter().any(|t| t.id == id) {
                return Err(RegistryError::Exists(id.to_string()));
            }
            let token = new_token()?;
            let t = Terminal {
                id: id.to_string(),
                profile: profile.to_string(),
                token_sha256: hex::encode(hash(&token)),
                created: Utc::now(),
            };
            reg.terminals.push(t.clone());
            Ok((t, token))
        })
    }

    /// Remove a terminal and save the file: its token is refused from now on (a running
    /// server notices the changed file at the next hello).
    pub fn revoke(path: &Path, id: &str) -> Result<Terminal> {
        Self::change(path, |reg| {
            let i = reg
                .terminals
                .iter()
                .position(|t| t.id == id)
                .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
            Ok(reg.terminals.remove(i))
        })
    }

    /// Read, change and write the file under its lock.
    fn change<T>(path: &Path, f: impl FnOnce(&mut Registry) -> Result<T>) -> Result<T> {
        let lock_path = path.with_extension("json.lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        let mut reg = Registry::load(path)?;
        let out = f(&mut reg)?;
        reg.save()?;
        // the lock is released when `lock` is dropped
        drop(lock);
        Ok(out)
    }

    /// Write the file atomically, owner-only.
    fn save(&self) -> Result<()> {
        let file = File {
            format: FORMAT,
            terminals: self.terminals.clone(),
        };
        write_json(&self.path, &file)
    }
}

/// Write `value` as JSON to `path` atomically (beside, synced, renamed), owner-only.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RegistryError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // an existing temporary file keeps its mode: make sure
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path)(e)
    })
}

/// Where the last-seen times of the registry in `registry` are kept.
pub fn seen_path(registry: &Path) -> PathBuf {
    registry.with_file_name(SEEN_FILE)
}

/// When each terminal was last seen by a server using the registry in `registry` (empty
/// when none was, or the file cannot be read: it is a convenience, not a record).
pub fn last_seen(registry: &Path) -> HashMap<String, DateTime<Utc>> {
    std::fs::read_to_string(seen_path(registry))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// What identifies one version of the file: replaced files get a new inode, edited ones
/// a new modification time or size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mtime: i64,
    mtime_ns: i64,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        ino: m.ino(),
        mtime: m.mtime(),
        mtime_ns: m.mtime_nsec(),
        len: m.len(),
    })
}

/// The registry as a running server sees it: checked at each hello, reloaded when the
/// file changed since it was last read. A file that cannot be read lets nobody in until
/// it is fixed (the error is printed once per change).
#[derive(Debug)]
pub struct LiveRegistry {
    path: PathBuf,
    state: Mutex<(Option<Stamp>, Option<Registry>)>,
    /// last-seen times, and when each was last written
    seen: Mutex<(HashMap<String, DateTime<Utc>>, HashMap<String, Instant>)>,
}

impl LiveRegistry {
    /// Watch the registry in `path`; fails when the file exists but is not valid (a
    /// missing file is an empty registry).
    pub fn open(path: &Path) -> Result<LiveRegistry> {
        let st = stamp(path);
        let reg = Registry::load(path)?;
        Ok(LiveRegistry {
            path: path.to_path_buf(),
            state: Mutex::new((st, Some(reg))),
            seen: Mutex::new((last_seen(path), HashMap::new())),
        })
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who `token` belongs to, after reloading the file if it changed. A terminal found
    /// is noted as seen now.
    pub fn check(&self, token: &str) -> Option<TerminalInfo> {
        let found = self.lookup(token)?;
        self.note_seen(&found.id);
        Some(found)
    }

    /// Note `id` as seen now; written to [`SEEN_FILE`] at most once a minute per terminal
    /// (a failed write is reported and otherwise ignored).
    fn note_seen(&self, id: &str) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let (times, written) = &mut *seen;
        times.insert(id.to_string(), Utc::now());
        let now = Instant::now();
        if written
            .get(id)
            .is_some_and(|t| now.duration_since(*t) < SEEN_EVERY)
        {
            return;
        }
        written.insert(id.to_string(), now);
        if let Err(e) = write_json(&seen_path(&self.path), times) {
            eprintln!("xiaoan serve: could not note when terminals were last seen: {e}");
        }
    }

    fn lookup(&self, token: &str) -> Option<TerminalInfo> {
        let Ok(mut state) = self.state.lock() else {
            return None;
        };
        let now = stamp(&self.path);
        if now != state.0 {
            state.0 = now;
            state.1 = match Registry::load(&self.path) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("xiaoan serve: terminals refused until the registry is fixed: {e}");
                    None
                }
            };
        }
        state.1.as_ref().and_then(|r| r.check(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_shown_once_and_only_its_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        let (t, token) = Registry::add(&path, "gs-3", "kiosk").unwrap();
        assert_eq!(token.len(), 64);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the file must not hold the token");
        assert!(text.contains(&t.token_sha256));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let reg = Registry::load(&path).unwrap();
        assert_eq!(
            reg.check(&token),
            Some(TerminalInfo {
                id: "gs-3".into(),
                profile: "kiosk".into()
            })
        );
        assert_eq!(reg.check(&t.token_sha256), None, "the hash is not a token");
        assert_eq!(reg.check(""), None);
        let mut wrong = token.clone().into_bytes();
        wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(reg.check(&String::from_utf8(wrong).unwrap()), None);
    }

    #[test]
    fn each_terminal_gets_its_own_token_and_revoking_one_keeps_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        let (_, a) = Registry::add(&path, "gs-3", "kiosk").unwrap();
        let (_, b) = Registry::add(&path, "hall-robot", "robot").unwrap();
        assert_ne!(a, b);
        assert!(matches!(
            Registry::add(&path, "gs-3", "window"),
            Err(RegistryError::Exists(_))
        ));
        let live = LiveRegistry::open(&path).unwrap();
        assert_eq!(live.check(&a).unwrap().id, "gs-3");
        assert_eq!(live.check(&b).unwrap().profile, "robot");
        Registry::revoke(&path, "gs-3").unwrap();
        assert_eq!(live.check(&a), None, "a revoked token is refused at once");
        assert_eq!(live.check(&b).unwrap().id, "hall-robot");
        assert!(matches!(
            Registry::revoke(&path, "gs-3"),
            Err(RegistryError::NotFound(_))
        ));
        let ids: Vec<_> = Registry::load(&path)
            .unwrap()
            .list()
            .iter()
            .map(|t| t.id.clone())
            .collect();
        assert_eq!(ids, ["hall-robot"]);
    }

    #[test]
    fn bad_ids_profiles_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        for id in ["", "GS-3", "gs 3", "../x", &"a".repeat(33)] {
            assert!(matches!(
                Registry::add(&path, id, "kiosk"),
                Err(RegistryError::BadId(_))
            ));
        }
        assert!(matches!(
            Registry::add(&path, "gs-3", "tv"),
            Err(RegistryError::BadProfile(_))
        ));
        assert!(Registry::load(&path).unwrap().list().is_empty());
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            Registry::load(&path),
            Err(RegistryError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_terminal_is_noted_as_seen_when_its_token_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        let (_, a) = Registry::add(&path, "gs-3", "kiosk").unwrap();
        Registry::add(&path, "gs-4", "kiosk").unwrap();
        assert!(last_seen(&path).is_empty());
        let live = LiveRegistry::open(&path).unwrap();
        let before = Utc::now();
        assert!(live.check(&a).is_some());
        assert!(live.check("wrong").is_none());
        let seen = last_seen(&path);
        assert_eq!(seen.keys().collect::<Vec<_>>(), ["gs-3"]);
        assert!(seen["gs-3"] >= before);
        let mode = std::fs::metadata(seen_path(&path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // the registry itself is untouched by the server
        assert_eq!(Registry::load(&path).unwrap().list().len(), 2);
    }

    #[test]
    fn a_broken_file_lets_nobody_in_until_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        let (_, token) = Registry::add(&path, "gs-1", "window").unwrap();
        let live = LiveRegistry::open(&path).unwrap();
        assert!(live.check(&token).is_some());
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(live.check(&token), None);
        std::fs::write(&path, good).unwrap();
        assert!(live.check(&token).is_some());
    }
}
