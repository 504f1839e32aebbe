//! Writing JSON Lines files (manifests and predictions): one compact JSON object a line.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `items` to `path`, one JSON object a line, creating the parent folder if
/// needed.
pub(crate) fn write<T: Serialize>(path: &Path, items: impl IntoIterator<Item = T>) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    for item in items {
        let line = serde_json::to_string(&item).map_err(|e| Error::json(path, 0, e))?;
        writeln!(w, "{line}").map_err(|e| Error::io(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_object_a_line_into_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/out.jsonl");
        write(
            &path,
            [
                serde_json::json!({"id": "a"}),
                serde_json::json!({"id": "b\nc"}),
            ],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\\nc\"}\n"
        );
        let e = write(dir.path(), [1]).unwrap_err().to_string();
        assert!(
            e.starts_with(&dir.path().display().to_string()),
            "a folder is not a file: {e}"
        );
    }
}
