//! Key files beside the database (the device key that signs the chain, the key that
//! seals personal fields): 32 random bytes written as 64 hex digits, owner-only (0600),
//! never overwritten.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::error::{Result, StoreError};

/// An I/O error on `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `N` bytes from the system's randomness.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let dev = Path::new("/dev/urandom");
    let mut out = [0u8; N];
    std::fs::File::open(dev)
        .and_then(|mut f| f.read_exact(&mut out))
        .map_err(io_err(dev))?;
    Ok(out)
}

/// The key in `path`, or `None` when there is no such file; `what` names it in the error
/// for a file that is not 64 hex digits.
pub(crate) fn read(path: &Path, what: &str) -> Result<Option<[u8; 32]>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Some)
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "the {what} {} is not 64 hex digits",
                path.display()
            ))
        })
}

/// A new random key written to `path` (0600; fails when the file exists).
pub(crate) fn create(path: &Path) -> Result<[u8; 32]> {
    let key: [u8; 32] = random()?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err(path))?;
    Ok(key)
}
