//! `xiaoan kb check`: validates a guide directory, reporting `file:line: reason`.
//!
//! Checks: TOML syntax, unknown fields, missing required fields, wrong types, id equal
//! to the file name, kind, empty lists, summary length (at most two short sentences),
//! aliases used by two items, related ids that do not exist, and the centre file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::analyze::simplify;
use crate::guide::{
    line_of, read_toml_files, Centre, Item, CENTRE_FILE, SUMMARY_MAX_CHARS, SUMMARY_MAX_SENTENCES,
};

/// One problem found in a guide file.
#[derive(Clone, Debug, Serialize)]
pub struct CheckIssue {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the problem is not on a line, e.g. an unreadable file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for CheckIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// Item fields: (name, required).
const ITEM_FIELDS: &[(&str, bool)] = &[
    ("id", true),
    ("title", true),
    ("aliases", true),
    ("dialect_aliases", false),
    ("category", true),
    ("kind", true),
    ("eligibility", true),
    ("materials", true),
    ("steps", true),
    ("location", true),
    ("hours", true),
    ("processing_time", true),
    ("fee", true),
    ("commitment", false),
    ("online", true),
    ("cross_province", true),
    ("related", false),
    ("summary", true),
];
const LOCATION_FIELDS: &[(&str, bool)] =
    &[("zone", true), ("window", true), ("grid_station", true)];
const COMMITMENT_FIELDS: &[(&str, bool)] = &[
    ("kind", true),
    ("terms", true),
    ("later", true),
    ("deadline", true),
];
/// Allowed values of `kind`.
const KINDS: &[&str] = &["high-frequency", "comprehensive"];

/// Sentences and characters of a spoken summary.
pub(crate) fn summary_size(s: &str) -> (usize, usize) {
    let sentences = s
        .split(['。', '！', '？', '!', '?', '；'])
        .filter(|p| !p.trim().is_empty())
        .count();
    (sentences, s.chars().filter(|c| !c.is_whitespace()).count())
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    issues: &'a mut Vec<CheckIssue>,
}

impl Ctx<'_> {
    fn at(&mut self, offset: usize, reason: String) {
        self.issues.push(CheckIssue {
            file: self.file.to_path_buf(),
            line: line_of(self.text, offset),
            reason,
        });
    }
}

/// Reports unknown and missing keys of a table; `start` is where the table begins.
fn check_keys(
    ctx: &mut Ctx<'_>,
    table: &DeTable<'_>,
    start: usize,
    allowed: &[(&str, bool)],
    what: &str,
) {
    for (key, _) in table.iter() {
        let k: &str = key.get_ref();
        if !allowed.iter().any(|(a, _)| *a == k) {
            let known: Vec<&str> = allowed.iter().map(|(a, _)| *a).collect();
            ctx.at(
                key.span().start,
                format!(
                    "unknown field `{k}` in {what} (known: {})",
                    known.join(", ")
                ),
            );
        }
    }
    for (name, required) in allowed {
        if *required && !table.iter().any(|(k, _)| k.get_ref().as_ref() == *name) {
            ctx.at(start, format!("missing required field `{name}` in {what}"));
        }
    }
}

fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

/// String elements of an array value with their offsets.
fn strings(v: Option<&Spanned<DeValue<'_>>>) -> Vec<(String, usize)> {
    v.and_then(|v| v.get_ref().as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    e.get_ref()
                        .as_str()
                        .map(|s| (s.to_string(), e.span().start))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What one item file contributes to the cross-file checks.
struct Seen {
    file: PathBuf,
    text: String,
    id: String,
    id_offset: usize,
    names: Vec<(String, usize)>,
    related: Vec<(String, usize)>,
}

/// Validates every `*.toml` of `dir`; an empty list means the guide is good.
pub fn check_dir(dir: &Path) -> Vec<CheckIssue> {
    let mut issues = Vec::new();
    let files = match read_toml_files(dir) {
        Ok(f) => f,
        Err(e) => {
            issues.push(CheckIssue {
                file: dir.to_path_buf(),
                line: 0,
                reason: e.to_string(),
            });
            return issues;
        }
    };
    let mut seen = Vec::new();
    let mut has_centre = false;
    for (path, text) in &files {
        let mut ctx = Ctx {
            file: path,
            text,
            issues: &mut issues,
        };
        if path.file_name().and_then(|n| n.to_str()) == Some(CENTRE_FILE) {
            has_centre = true;
            if let Err(e) = toml::from_str::<Centre>(text) {
                let off = e.span().map(|s| s.start).unwrap_or(0);
                ctx.at(off, e.message().trim().to_string());
            }
            continue;
        }
        if let Some(s) = check_item_file(&mut ctx) {
            seen.push(s);
        }
    }
    if !has_centre {
        issues.push(CheckIssue {
            file: dir.join(CENTRE_FILE),
            line: 0,
            reason: "missing centre file (sites, hours, accessible window, emergency contacts)"
                .into(),
        });
    }
    if files.is_empty() {
        issues.push(CheckIssue {
            file: dir.to_path_buf(),
            line: 0,
            reason: "no guide files (*.toml) in this directory".into(),
        });
    }
    cross_checks(&seen, &mut issues);
    issues
}

fn check_item_file(ctx: &mut Ctx<'_>) -> Option<Seen> {
    let table = match DeTable::parse(ctx.text) {
        Ok(t) => t,
        Err(e) => {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            ctx.at(off, format!("not valid TOML: {}", e.message().trim()));
            return None;
        }
    };
    let before = ctx.issues.len();
    let root = table.get_ref();
    check_keys(ctx, root, 0, ITEM_FIELDS, "item");
    for (name, fields) in [
        ("location", LOCATION_FIELDS),
        ("commitment", COMMITMENT_FIELDS),
    ] {
        if let Some(v) = get(root, name) {
            match v.get_ref().as_table() {
                Some(t) => check_keys(ctx, t, v.span().start, fields, name),
                None => ctx.at(v.span().start, format!("`{name}` must be a table")),
            }
        }
    }
    if ctx.issues.len() == before {
        // Types and the rest of the structure, as the loader sees them.
        if let Err(e) = toml::from_str::<Item>(ctx.text) {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            ctx.at(off, e.message().trim().to_string());
        }
    }
    let stem = ctx
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    let (id, id_offset) = match get(root, "id") {
        Some(v) => (
            v.get_ref().as_str().unwrap_or("").to_string(),
            v.span().start,
        ),
        None => (stem.clone(), 0),
    };
    if get(root, "id").is_some() && id != stem {
        ctx.at(
            id_offset,
            format!("id `{id}` differs from the file name `{stem}.toml`"),
        );
    }
    if let Some(v) = get(root, "kind") {
        if let Some(k) = v.get_ref().as_str() {
            if !KINDS.contains(&k) {
                ctx.at(
                    v.span().start,
                    format!("kind `{k}` must be one of {}", KINDS.join(", ")),
                );
            }
        }
    }
    for name in ["materials", "steps", "aliases"] {
        if let Some(v) = get(root, name) {
            if v.get_ref().as_array().is_some_and(|a| a.is_empty()) {
                ctx.at(v.span().start, format!("`{name}` is empty"));
            }
        }
    }
    if let Some(v) = get(root, "summary") {
        if let Some(s) = v.get_ref().as_str() {
            let (sentences, chars) = summary_size(s);
            if sentences > SUMMARY_MAX_SENTENCES || chars > SUMMARY_MAX_CHARS {
                ctx.at(
                    v.span().start,
                    format!(
                        "summary too long: {sentences} sentences, {chars} characters \
                         (at most {SUMMARY_MAX_SENTENCES} sentences, {SUMMARY_MAX_CHARS} characters)"
                    ),
                );
            }
        }
    }
    let mut names = Vec::new();
    if let Some(v) = get(root, "title") {
        if let Some(s) = v.get_ref().as_str() {
            names.push((s.to_string(), v.span().start));
        }
    }
    names.extend(strings(get(root, "aliases")));
    names.extend(strings(get(root, "dialect_aliases")));
    Some(Seen {
        file: ctx.file.to_path_buf(),
        text: ctx.text.to_string(),
        id,
        id_offset,
        names,
        related: strings(get(root, "related")),
    })
}

fn cross_checks(seen: &[Seen], issues: &mut Vec<CheckIssue>) {
    let mut ids: HashMap<&str, &Seen> = HashMap::new();
    for s in seen {
        if let Some(first) = ids.get(s.id.as_str()) {
            issues.push(CheckIssue {
                file: s.file.clone(),
                line: line_of(&s.text, s.id_offset),
                reason: format!("duplicate id `{}`, also in {}", s.id, first.file.display()),
            });
        } else {
            ids.insert(&s.id, s);
        }
    }
    // Names compared the way the index sees them (Simplified, lower case, no spaces).
    let mut owners: BTreeMap<String, (&Seen, usize)> = BTreeMap::new();
    for s in seen {
        for (name, off) in &s.names {
            let key: String = simplify(name)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            match owners.get(&key) {
                Some((other, other_off)) => {
                    let same = std::ptr::eq(*other, s);
                    issues.push(CheckIssue {
                        file: s.file.clone(),
                        line: line_of(&s.text, *off),
                        reason: if same {
                            format!("alias `{name}` appears twice in this item")
                        } else {
                            format!(
                                "duplicate alias `{name}`: also used by `{}` ({}:{})",
                                other.id,
                                other.file.display(),
                                line_of(&other.text, *other_off)
                            )
                        },
                    });
                }
                None => {
                    owners.insert(key, (s, *off));
                }
            }
        }
    }
    for s in seen {
        for (rel, off) in &s.related {
            let reason = if rel == &s.id {
                Some(format!("related id `{rel}` is the item itself"))
            } else if !ids.contains_key(rel.as_str()) {
                Some(format!("related id `{rel}` does not exist in this guide"))
            } else {
                None
            };
            if let Some(reason) = reason {
                issues.push(CheckIssue {
                    file: s.file.clone(),
                    line: line_of(&s.text, *off),
                    reason,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("guide")
    }

    /// Copies the shipped guide into a temp dir, then lets the test break a file.
    fn copy_guide() -> tempfile::TempDir {
        let tmp = match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => panic!("tempdir: {e}"),
        };
        for (p, text) in read_toml_files(&builtin_dir()).unwrap_or_default() {
            let name = p.file_name().map(PathBuf::from).unwrap_or_default();
            if let Err(e) = std::fs::write(tmp.path().join(name), text) {
                panic!("write: {e}");
            }
        }
        tmp
    }

    fn edit(dir: &Path, file: &str, from: &str, to: &str) {
        let p = dir.join(file);
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(text.contains(from), "{file} lacks {from:?}");
        if let Err(e) = std::fs::write(&p, text.replacen(from, to, 1)) {
            panic!("write: {e}");
        }
    }

    fn line_containing(dir: &Path, file: &str, needle: &str) -> usize {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or(0)
    }

    #[test]
    fn shipped_guide_is_clean() {
        let issues = check_dir(&builtin_dir());
        for i in &issues {
            println!("{i}");
        }
        assert!(issues.is_empty(), "{} issues", issues.len());
    }

    #[test]
    fn unknown_field_is_reported_on_its_line() {
        let tmp = copy_guide();
        edit(
            tmp.path(),
            "dog-registration.toml",
            "fee = ",
            "fees_extra = \"x\"\nfee = ",
        );
        let issues = check_dir(tmp.path());
        let want = line_containing(tmp.path(), "dog-registration.toml", "fees_extra");
        assert!(
            issues
                .iter()
                .any(|i| i.file.ends_with("dog-registration.toml")
                    && i.line == want
                    && i.reason.contains("unknown field `fees_extra`")),
            "{issues:?}"
        );
        let shown = issues[0].to_string();
        assert!(
            shown.contains(&format!("dog-registration.toml:{want}: ")),
            "{shown}"
        );
    }

    #[test]
    fn missing_required_field_is_reported() {
        let tmp = copy_guide();
        edit(tmp.path(), "legal-aid.toml", "fee = \"免费\"\n", "");
        let issues = check_dir(tmp.path());
        assert!(
            issues.iter().any(|i| i.file.ends_with("legal-aid.toml")
                && i.reason.contains("missing required field `fee`")),
            "{issues:?}"
        );
        let tmp = copy_guide();
        edit(
            tmp.path(),
            "legal-aid.toml",
            "zone = \"E区·综合服务\"\n",
            "",
        );
        let issues = check_dir(tmp.path());
        assert!(
            issues
                .iter()
                .any(|i| i.reason.contains("`zone` in location")),
            "{issues:?}"
        );
    }

    #[test]
    fn duplicate_alias_across_items_names_both() {
        let tmp = copy_guide();
        edit(
            tmp.path(),
            "community-canteen.toml",
            "\"老年食堂\"",
            "\"老人卡\"",
        );
        let issues = check_dir(tmp.path());
        let dup: Vec<_> = issues
            .iter()
            .filter(|i| i.reason.contains("duplicate alias `老人卡`"))
            .collect();
        assert_eq!(dup.len(), 1, "{issues:?}");
        let line = line_containing(tmp.path(), "senior-card.toml", "\"老人卡\"");
        let other = line_containing(tmp.path(), "community-canteen.toml", "\"老人卡\"");
        assert!(
            dup[0].reason.contains("community-canteen") || dup[0].reason.contains("senior-card")
        );
        assert!(dup[0].line == line || dup[0].line == other);
    }

    #[test]
    fn broken_related_id_is_reported_on_its_line() {
        let tmp = copy_guide();
        edit(
            tmp.path(),
            "senior-card.toml",
            "\"community-canteen\"]",
            "\"community-cantene\"]",
        );
        let issues = check_dir(tmp.path());
        let want = line_containing(tmp.path(), "senior-card.toml", "community-cantene");
        assert!(
            issues
                .iter()
                .any(|i| i.line == want && i.reason.contains("`community-cantene` does not exist")),
            "{issues:?}"
        );
    }

    #[test]
    fn long_summary_and_bad_toml_are_reported() {
        let tmp = copy_guide();
        edit(
            tmp.path(),
            "time-bank.toml",
            "summary = \"",
            "summary = \"第一句话很短。第二句也短。第三句就多了。",
        );
        edit(
            tmp.path(),
            "youth-home.toml",
            "fee = \"免费\"",
            "fee = \"免费",
        );
        let issues = check_dir(tmp.path());
        let want = line_containing(tmp.path(), "time-bank.toml", "summary = ");
        assert!(
            issues.iter().any(|i| i.file.ends_with("time-bank.toml")
                && i.line == want
                && i.reason.contains("summary too long")),
            "{issues:?}"
        );
        let bad = line_containing(tmp.path(), "youth-home.toml", "fee = ");
        assert!(
            issues.iter().any(|i| i.file.ends_with("youth-home.toml")
                && i.line == bad
                && i.reason.contains("not valid TOML")),
            "{issues:?}"
        );
    }

    #[test]
    fn missing_centre_and_empty_dir_are_reported() {
        let tmp = copy_guide();
        if let Err(e) = std::fs::remove_file(tmp.path().join(CENTRE_FILE)) {
            panic!("{e}");
        }
        assert!(check_dir(tmp.path())
            .iter()
            .any(|i| i.reason.contains("missing centre file")));
        let empty = match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert!(check_dir(empty.path())
            .iter()
            .any(|i| i.reason.contains("no guide files")));
        let missing = empty.path().join("nope");
        assert!(!check_dir(&missing).is_empty());
    }
}
