//! Manifests (JSON Lines, one utterance per line) as the evaluation contract defines them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::error::{Error, Result};

/// One utterance of a manifest, as the contract defines it.
///
/// Unknown extra fields on a manifest line are ignored (the contract may grow with
/// optional fields). Absent optional fields are not written when serialising.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct ManifestItem {
    /// Unique within the manifest.
    pub id: String,
    /// Audio file, relative to the manifest's folder (or absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// Typed input: skips speech recognition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// True dialect code; absent = unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// Reference transcript, for CER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Reference intent label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Reference service-guide item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
}

/// A manifest line that cannot be run: malformed JSON, a missing required field, an
/// unknown dialect or intent value, a duplicate id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    /// 1-based line number in the manifest.
    pub line: usize,
    /// The item's id, when the line had one.
    pub id: Option<String>,
    /// The item's dialect, when the line named a known one (so errors count per dialect).
    pub dialect: Option<String>,
    /// Why the item cannot be run.
    pub reason: String,
}

impl ItemError {
    /// The id used for this item in predictions: its own id, or `line-N` when it had none.
    pub fn prediction_id(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("line-{}", self.line),
        }
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "line {} (id {}): {}", self.line, id, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A manifest read from disk: every non-blank line becomes one item or one item error.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// The folder audio paths are relative to (the manifest's folder).
    pub base_dir: PathBuf,
    /// One entry per non-blank line, in file order.
    pub items: Vec<std::result::Result<ManifestItem, ItemError>>,
    /// True when the manifest marks itself synthetic (every item line carries
    /// `"synthetic": true`, as [`synth::render`](crate::synth::render) writes).
    pub synthetic: bool,
}

impl Manifest {
    /// Where an item's audio file is: its `audio` path joined to [`Manifest::base_dir`]
    /// (absolute paths stay as they are). `None` for text items.
    pub fn audio_path(&self, item: &ManifestItem) -> Option<PathBuf> {
        item.audio.as_ref().map(|a| self.base_dir.join(a))
    }

    /// Number of lines that could not be turned into items.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|i| i.is_err()).count()
    }

    /// The item with this id, if any line has it and is valid.
    pub fn get(&self, id: &str) -> Option<&ManifestItem> {
        self.items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .find(|i| i.id == id)
    }
}

/// Reads a manifest. Fails only when the file itself cannot be read; every bad line
/// becomes an [`ItemError`] and the rest is still read.
///
/// Blank lines are skipped; a UTF-8 byte-order mark and Windows line ends are accepted.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut synthetic_lines = 0usize;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                items.push(Err(ItemError {
                    line: line_no,
                    id: None,
                    dialect: None,
                    reason: format!("line is not valid UTF-8 ({e})"),
                }));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let parsed = parse_line(text, line_no, &mut seen);
        if let Ok((_, true)) = parsed {
            synthetic_lines += 1;
        }
        items.push(parsed.map(|(item, _)| item));
    }
    let synthetic = !items.is_empty() && synthetic_lines == items.len();
    Ok(Manifest {
        path: path.to_path_buf(),
        base_dir,
        items,
        synthetic,
    })
}

/// Parses and validates one line; returns the item and whether it is marked synthetic.
fn parse_line(
    text: &str,
    line: usize,
    seen: &mut HashMap<String, usize>,
) -> std::result::Result<(ManifestItem, bool), ItemError> {
    let err = |id: Option<String>, dialect: Option<String>, reason: String| ItemError {
        line,
        id,
        dialect,
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(None, None, format!("not valid JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| {
        err(
            None,
            None,
            "a manifest line must be a JSON object".to_string(),
        )
    })?;
    let id = obj.get("id").and_then(|v| v.as_str()).map(str::to_string);
    let dialect = obj
        .get("dialect")
        .and_then(|v| v.as_str())
        .filter(|d| codes::is_dialect(d))
        .map(str::to_string);
    let synthetic = obj
        .get("synthetic")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let item: ManifestItem = serde_json::from_value(value.clone())
        .map_err(|e| err(id.clone(), dialect.clone(), format!("bad field: {e}")))?;
    let fail = |reason: String| Err(err(Some(item.id.clone()), dialect.clone(), reason));
    if item.id.trim().is_empty() {
        return fail("`id` is empty".to_string());
    }
    if let Some(first) = seen.get(&item.id) {
        return fail(format!("duplicate id (first used on line {first})"));
    }
    seen.insert(item.id.clone(), line);
    match (&item.audio, &item.text) {
        (None, None) => return fail("neither `audio` nor `text` is given".to_string()),
        (Some(a), _) if a.trim().is_empty() => return fail("`audio` is empty".to_string()),
        (Some(a), _) if a.trim_end().ends_with('|') => {
            return fail(format!(
                "`audio` is a command pipeline (`{a}`), not a file: extract it to a WAV file first"
            ))
        }
        (None, Some(t)) if t.trim().is_empty() => return fail("`text` is empty".to_string()),
        _ => {}
    }
    if let Some(d) = &item.dialect {
        if !codes::is_dialect(d) {
            return fail(format!(
                "unknown dialect `{d}` (expected one of: {})",
                codes::DIALECT_CODES.join(", ")
            ));
        }
    }
    if let Some(l) = &item.intent {
        if !codes::is_intent(l) {
            return fail(format!(
                "unknown intent `{l}` (not in the 18-label taxonomy)"
            ));
        }
    }
    if let Some(s) = &item.service_id {
        if s.trim().is_empty() {
            return fail("`service_id` is empty".to_string());
        }
    }
    Ok((item, synthetic))
}

/// How the dialect adapter is chosen during a run (`--dialect auto|given|CODE`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DialectMode {
    /// The system detects the dialect (the default).
    #[default]
    Auto,
    /// The manifest's `dialect` field is used as the user's chosen dialect.
    Given,
    /// One adapter for every item.
    Forced(String),
}

impl DialectMode {
    /// The dialect the pipeline should use for `item`: `None` means "detect it".
    pub fn dialect_for<'a>(&'a self, item: &'a ManifestItem) -> Option<&'a str> {
        match self {
            DialectMode::Auto => None,
            DialectMode::Given => item.dialect.as_deref(),
            DialectMode::Forced(code) => Some(code),
        }
    }
}

impl FromStr for DialectMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(DialectMode::Auto),
            "given" => Ok(DialectMode::Given),
            other if codes::is_dialect(other) => Ok(DialectMode::Forced(other.to_string())),
            other => Err(Error::BadDialectMode(other.to_string())),
        }
    }
}

impl fmt::Display for DialectMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialectMode::Auto => f.write_str("auto"),
            DialectMode::Given => f.write_str("given"),
            DialectMode::Forced(c) => f.write_str(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_from(text: &str) -> Manifest {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(&p, text).unwrap();
        read_manifest(&p).unwrap()
    }

    #[test]
    fn contract_example_lines_parse() {
        let m = manifest_from(concat!(
            "\u{feff}{\"id\": \"sh-017\", \"audio\": \"wav/sh-017.wav\", \"dialect\": \"wuu-sh\", \"transcript\": \"阿拉姆妈要办敬老卡\", \"intent\": \"service.query\", \"service_id\": \"senior-card\"}\r\n",
            "\n",
            "{\"id\": \"t-003\", \"text\": \"楼上天天半夜吵\", \"intent\": \"dispute.mediate\", \"future_field\": [1,2]}\n",
        ));
        assert_eq!(m.items.len(), 2);
        let a = m.items[0].as_ref().unwrap();
        assert_eq!(a.dialect.as_deref(), Some("wuu-sh"));
        assert_eq!(m.audio_path(a).unwrap(), m.base_dir.join("wav/sh-017.wav"));
        let b = m.items[1].as_ref().unwrap();
        assert_eq!(b.text.as_deref(), Some("楼上天天半夜吵"));
        assert!(!m.synthetic);
    }

    #[test]
    fn bad_lines_become_item_errors_and_reading_goes_on() {
        let m = manifest_from(concat!(
            "{\"id\": \"a\", \"text\": \"你好\"}\n",
            "{not json\n",
            "{\"id\": \"b\", \"text\": \"你好\", \"dialect\": \"xx\"}\n",
            "{\"id\": \"c\", \"text\": \"你好\", \"intent\": \"pay.bill\"}\n",
            "{\"id\": \"a\", \"text\": \"again\"}\n",
            "{\"id\": \"d\"}\n",
            "[1, 2]\n",
            "{\"id\": 5, \"text\": \"x\"}\n",
            "{\"id\": \"e\", \"audio\": \"sox a.wav -t wav - |\", \"dialect\": \"yue\"}\n",
            "{\"id\": \"f\", \"audio\": \"f.wav\"}\n",
        ));
        assert_eq!(m.items.len(), 10);
        let errs: Vec<&ItemError> = m.items.iter().filter_map(|i| i.as_ref().err()).collect();
        assert_eq!(errs.len(), 8);
        assert_eq!(errs[0].line, 2);
        assert!(errs[0].reason.contains("JSON"));
        assert!(
            errs[1].reason.contains("unknown dialect `xx`"),
            "{}",
            errs[1]
        );
        assert!(errs[2].reason.contains("unknown intent `pay.bill`"));
        assert!(errs[3].reason.contains("duplicate id"));
        assert!(errs[4].reason.contains("neither"));
        assert_eq!(errs[6].prediction_id(), "line-8");
        assert!(errs[7].reason.contains("pipeline"));
        assert_eq!(
            errs[7].dialect.as_deref(),
            Some("yue"),
            "errors keep their dialect for per-dialect counts"
        );
        assert!(m.items[9].is_ok());
    }

    #[test]
    fn missing_manifest_is_an_error_naming_the_file() {
        let e = read_manifest(Path::new("/nonexistent/m.jsonl")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/m.jsonl"));
    }

    #[test]
    fn dialect_mode_parses_and_rejects_unknown_codes() {
        assert_eq!("auto".parse::<DialectMode>().unwrap(), DialectMode::Auto);
        assert_eq!("given".parse::<DialectMode>().unwrap(), DialectMode::Given);
        assert_eq!(
            "yue".parse::<DialectMode>().unwrap(),
            DialectMode::Forced("yue".into())
        );
        let e = "cantonese".parse::<DialectMode>().unwrap_err().to_string();
        assert!(e.contains("cantonese") && e.contains("wuu-sh"), "{e}");
        let item = ManifestItem {
            id: "x".into(),
            dialect: Some("hak".into()),
            ..Default::default()
        };
        assert_eq!(DialectMode::Given.dialect_for(&item), Some("hak"));
        assert_eq!(DialectMode::Auto.dialect_for(&item), None);
    }
}
