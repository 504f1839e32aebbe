//! Conversation-level evaluation: story files, a runner trait, and task success per flow
//! and per dialect.
//!
//! # Story file format (TOML, one story per `*.toml` file, folders searched recursively)
//!
//! ```toml
//! name = "birth registration, Shanghainese, with a correction"
//! flow = "declaration.birth-registration"   # free text: how results are grouped
//! dialect = "wuu-sh"                         # optional; one of the seven codes
//!
//! [[turns]]
//! user = "阿拉要办生育登记"
//! expect_intent = "declaration.file"         # optional
//! expect_reply_contains = ["姓名"]           # optional; each must appear in the reply
//!
//! [[turns]]
//! user = "对的"
//! expect_intent = "confirm.yes"
//!
//! [expect_record]                            # optional: what must be filed at the end
//! kind = "declaration"                       # "none" = nothing may be filed
//! fields = { form = "birth-registration" }   # each value must appear in the record's field
//! ```
//!
//! Reply checks compare text after [`cer_normalize`](crate::cer_normalize) (script,
//! width, punctuation and spaces do not matter). A story succeeds when every turn's
//! expectations and the record expectation hold.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::error::{Error, Result};
use crate::metrics::cer_normalize;

/// One user turn and what should come of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryTurn {
    /// What the resident says (or types).
    pub user: String,
    /// The intent the system should find.
    #[serde(default)]
    pub expect_intent: Option<String>,
    /// Texts that must all appear in the reply.
    #[serde(default)]
    pub expect_reply_contains: Vec<String>,
}

/// What must have been filed when the story ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRecord {
    /// Record kind (`declaration`, `mediation`, `emergency`, `handoff`, `appointment`, …),
    /// or `none` when nothing may be filed.
    pub kind: String,
    /// Field name → text that must appear in that field of the record.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A conversation test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Story {
    /// Short description.
    pub name: String,
    /// The flow under test (grouping key of the report).
    pub flow: String,
    /// Dialect of the user's lines (one of the seven codes), if any.
    #[serde(default)]
    pub dialect: Option<String>,
    /// The user's turns, in order.
    pub turns: Vec<StoryTurn>,
    /// What must be filed at the end.
    #[serde(default)]
    pub expect_record: Option<ExpectRecord>,
    /// The file the story came from (set by [`load_dir`]).
    #[serde(skip)]
    pub path: PathBuf,
}

/// What the system did on one turn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnObservation {
    /// The user's line.
    pub user: String,
    /// The intent the system found.
    pub intent: Option<String>,
    /// The system's reply (text).
    pub reply: String,
}

/// A record the system filed during the story.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedRecord {
    /// Record kind.
    pub kind: String,
    /// Field values, as text.
    pub fields: BTreeMap<String, String>,
}

/// The result of running one story.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoryOutcome {
    /// Story name.
    pub name: String,
    /// Story flow.
    pub flow: String,
    /// Story dialect (`unknown` when not given).
    pub dialect: String,
    /// All expectations held.
    pub passed: bool,
    /// What did not hold, one line each.
    pub failures: Vec<String>,
    /// What happened on each turn.
    pub turns: Vec<TurnObservation>,
}

impl StoryOutcome {
    /// Checks what a runner observed against the story's expectations.
    pub fn judge(
        story: &Story,
        turns: Vec<TurnObservation>,
        record: Option<&ObservedRecord>,
    ) -> Self {
        let mut failures = Vec::new();
        if turns.len() != story.turns.len() {
            failures.push(format!(
                "expected {} turns, {} were run",
                story.turns.len(),
                turns.len()
            ));
        }
        for (i, (want, got)) in story.turns.iter().zip(&turns).enumerate() {
            if let Some(intent) = &want.expect_intent {
                if got.intent.as_deref() != Some(intent.as_str()) {
                    failures.push(format!(
                        "turn {} «{}»: intent {} (expected {intent})",
                        i + 1,
                        want.user,
                        got.intent.as_deref().unwrap_or("none")
                    ));
                }
            }
            let reply = cer_normalize(&got.reply);
            for needle in &want.expect_reply_contains {
                if !reply.contains(&cer_normalize(needle)) {
                    failures.push(format!(
                        "turn {} «{}»: reply lacks «{needle}»: «{}»",
                        i + 1,
                        want.user,
                        got.reply
                    ));
                }
            }
        }
        if let Some(exp) = &story.expect_record {
            match (exp.kind.as_str(), record) {
                ("none", None) => {}
                ("none", Some(r)) => {
                    failures.push(format!("a `{}` record was filed, none expected", r.kind))
                }
                (_, None) => failures.push(format!("no record filed (expected `{}`)", exp.kind)),
                (kind, Some(r)) => {
                    if r.kind != kind {
                        failures.push(format!("record kind `{}` (expected `{kind}`)", r.kind));
                    }
                    for (field, value) in &exp.fields {
                        match r.fields.get(field) {
                            Some(v) if v.contains(value.as_str()) => {}
                            Some(v) => failures.push(format!(
                                "record field `{field}` is «{v}» (expected «{value}»)"
                            )),
                            None => failures.push(format!("record field `{field}` missing")),
                        }
                    }
                }
            }
        }
        StoryOutcome {
            name: story.name.clone(),
            flow: story.flow.clone(),
            dialect: story.dialect.clone().unwrap_or_else(|| "unknown".into()),
            passed: failures.is_empty(),
            failures,
            turns,
        }
    }

    /// A story that could not be run at all.
    pub fn failed(story: &Story, reason: impl Into<String>) -> Self {
        StoryOutcome {
            name: story.name.clone(),
            flow: story.flow.clone(),
            dialect: story.dialect.clone().unwrap_or_else(|| "unknown".into()),
            passed: false,
            failures: vec![reason.into()],
            turns: Vec::new(),
        }
    }
}

/// Runs a story against the system (implemented in the agent: a fresh session per story,
/// one turn per user line). Use [`StoryOutcome::judge`] to check what was observed.
pub trait StoryRunner {
    /// Runs one story.
    fn run(&self, story: &Story) -> StoryOutcome;
}

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in entries {
        let path = e.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_toml(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses one story file.
pub fn load_file(path: &Path) -> Result<Story> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Story {
        path: path.to_path_buf(),
        reason,
    };
    let mut story: Story = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    story.path = path.to_path_buf();
    if story.turns.is_empty() {
        return Err(bad("a story needs at least one [[turns]]".into()));
    }
    if let Some(d) = story.dialect.as_deref().filter(|d| !codes::is_dialect(d)) {
        return Err(bad(format!("unknown dialect `{d}`")));
    }
    for (i, t) in story.turns.iter().enumerate() {
        if let Some(l) = t.expect_intent.as_deref().filter(|l| !codes::is_intent(l)) {
            return Err(bad(format!("turn {}: unknown intent `{l}`", i + 1)));
        }
    }
    Ok(story)
}

/// Loads every `*.toml` story under `dir` (recursively), sorted by path.
pub fn load_dir(dir: &Path) -> Result<Vec<Story>> {
    let mut files = Vec::new();
    collect_toml(dir, &mut files)?;
    files.sort();
    files.iter().map(|p| load_file(p)).collect()
}

/// Task success of one group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SuccessStat {
    /// Group key (flow or dialect; `overall`).
    pub group: String,
    /// Stories run.
    pub n: usize,
    /// Stories that succeeded.
    pub passed: usize,
    /// passed / n.
    pub success: f64,
}

/// Task success overall, per flow and per dialect, and what failed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StoriesReport {
    /// All stories.
    pub overall: SuccessStat,
    /// Per flow, sorted by flow.
    pub per_flow: Vec<SuccessStat>,
    /// Per dialect, in `dialects.tsv` order.
    pub per_dialect: Vec<SuccessStat>,
    /// Per flow within each dialect (Mandarin and every dialect a story has): the group
    /// is `flow/dialect`, flows sorted, dialects in `dialects.tsv` order.
    #[serde(default)]
    pub per_flow_dialect: Vec<SuccessStat>,
    /// Failed stories: (name, reasons).
    pub failures: Vec<(String, Vec<String>)>,
}

fn stat(group: &str, outcomes: &[&StoryOutcome]) -> SuccessStat {
    let passed = outcomes.iter().filter(|o| o.passed).count();
    let n = outcomes.len();
    SuccessStat {
        group: group.to_string(),
        n,
        passed,
        success: if n > 0 { passed as f64 / n as f64 } else { 0.0 },
    }
}

/// Task success per flow and per dialect.
pub fn report(outcomes: &[StoryOutcome]) -> StoriesReport {
    let all: Vec<&StoryOutcome> = outcomes.iter().collect();
    let mut flows: BTreeMap<&str, Vec<&StoryOutcome>> = BTreeMap::new();
    let mut dialects: BTreeMap<(usize, &str), Vec<&StoryOutcome>> = BTreeMap::new();
    let mut cells: BTreeMap<(&str, usize, &str), Vec<&StoryOutcome>> = BTreeMap::new();
    for o in outcomes {
        cells
            .entry((
                o.flow.as_str(),
                codes::dialect_rank(&o.dialect),
                o.dialect.as_str(),
            ))
            .or_default()
            .push(o);
        flows.entry(o.flow.as_str()).or_default().push(o);
        dialects
            .entry((codes::dialect_rank(&o.dialect), o.dialect.as_str()))
            .or_default()
            .push(o);
    }
    StoriesReport {
        overall: stat("overall", &all),
        per_flow: flows.iter().map(|(f, v)| stat(f, v)).collect(),
        per_dialect: dialects.iter().map(|((_, d), v)| stat(d, v)).collect(),
        per_flow_dialect: cells
            .iter()
            .map(|((f, _, d), v)| stat(&format!("{f}/{d}"), v))
            .collect(),
        failures: outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| (o.name.clone(), o.failures.clone()))
            .collect(),
    }
}

impl StoriesReport {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut section = |title: &str, rows: &[SuccessStat]| {
            let w = rows
                .iter()
                .map(|r| r.group.chars().count())
                .max()
                .unwrap_or(0)
                .max(title.len());
            let _ = writeln!(out, "{title:<w$}  passed/n  success");
            for r in rows {
                let pad = w - r.group.chars().count();
                let _ = writeln!(
                    out,
                    "{}{}  {:>8}  {:>7.3}",
                    r.group,
                    " ".repeat(pad),
                    format!("{}/{}", r.passed, r.n),
                    r.success
                );
            }
            out.push('\n');
        };
        section("overall", std::slice::from_ref(&self.overall));
        section("flow", &self.per_flow);
        section("dialect", &self.per_dialect);
        // flow × dialect: passed/n in each cell, "-" where no story covers it
        let dialects: Vec<&str> = self.per_dialect.iter().map(|d| d.group.as_str()).collect();
        let flows: Vec<&str> = self.per_flow.iter().map(|f| f.group.as_str()).collect();
        if !dialects.is_empty() && !flows.is_empty() {
            let w = flows
                .iter()
                .map(|f| f.chars().count())
                .max()
                .unwrap_or(0)
                .max("flow \\ dialect".len());
            let cw = dialects.iter().map(|d| d.len()).max().unwrap_or(0).max(5);
            let mut head = format!("{:<w$}", "flow \\ dialect");
            for d in &dialects {
                let _ = write!(head, "  {d:>cw$}");
            }
            let _ = writeln!(out, "{head}");
            for f in &flows {
                let pad = w - f.chars().count();
                let mut row = format!("{f}{}", " ".repeat(pad));
                for d in &dialects {
                    let key = format!("{f}/{d}");
                    let cell = self
                        .per_flow_dialect
                        .iter()
                        .find(|c| c.group == key)
                        .map(|c| format!("{}/{}", c.passed, c.n))
                        .unwrap_or_else(|| "-".into());
                    let _ = write!(row, "  {cell:>cw$}");
                }
                let _ = writeln!(out, "{row}");
            }
            out.push('\n');
        }
        for (name, reasons) in &self.failures {
            let _ = writeln!(out, "FAILED {name}");
            for r in reasons {
                let _ = writeln!(out, "  - {r}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = r#"
name = "生育登记 沪语"
flow = "declaration.birth-registration"
dialect = "wuu-sh"

[[turns]]
user = "阿拉要办生育登记"
expect_intent = "declaration.file"
expect_reply_contains = ["姓名"]

[[turns]]
user = "对的"
expect_intent = "confirm.yes"
expect_reply_contains = ["回执号"]

[expect_record]
kind = "declaration"
fields = { form = "birth-registration" }
"#;

    /// A scripted runner: answers from a fixed table, files a record on "对的".
    struct Scripted {
        file: bool,
    }

    impl StoryRunner for Scripted {
        fn run(&self, story: &Story) -> StoryOutcome {
            let mut turns = Vec::new();
            let mut record = None;
            for t in &story.turns {
                let (intent, reply) = match t.user.as_str() {
                    "对的" => {
                        if self.file {
                            record = Some(ObservedRecord {
                                kind: "declaration".into(),
                                fields: [("form".to_string(), "birth-registration".to_string())]
                                    .into(),
                            });
                        }
                        ("confirm.yes", "已经提交，回執號：1 2 3。")
                    }
                    _ => ("declaration.file", "好的，请说一下孩子的姓名。"),
                };
                turns.push(TurnObservation {
                    user: t.user.clone(),
                    intent: Some(intent.into()),
                    reply: reply.into(),
                });
            }
            StoryOutcome::judge(story, turns, record.as_ref())
        }
    }

    #[test]
    fn stories_load_run_and_report_per_flow_and_dialect() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.toml"), STORY).unwrap();
        let other = STORY
            .replace("wuu-sh", "yue")
            .replace("生育登记 沪语", "生育登记 粤语");
        std::fs::write(dir.path().join("sub/b.toml"), other).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a story").unwrap();
        let stories = load_dir(dir.path()).unwrap();
        assert_eq!(stories.len(), 2);
        assert_eq!(stories[0].turns[0].expect_reply_contains, ["姓名"]);

        let good = Scripted { file: true }.run(&stories[0]);
        assert!(good.passed, "{:?}", good.failures);
        let bad = Scripted { file: false }.run(&stories[1]);
        assert!(!bad.passed);
        assert!(
            bad.failures[0].contains("no record filed"),
            "{:?}",
            bad.failures
        );

        let r = report(&[good, bad]);
        assert_eq!((r.overall.n, r.overall.passed), (2, 1));
        assert_eq!(
            r.per_dialect
                .iter()
                .map(|s| s.group.as_str())
                .collect::<Vec<_>>(),
            ["wuu-sh", "yue"]
        );
        assert_eq!(r.per_flow.len(), 1);
        assert_eq!(r.per_flow[0].success, 0.5);
        assert_eq!(
            r.per_flow_dialect
                .iter()
                .map(|s| (s.group.as_str(), s.passed, s.n))
                .collect::<Vec<_>>(),
            [
                ("declaration.birth-registration/wuu-sh", 1, 1),
                ("declaration.birth-registration/yue", 0, 1)
            ]
        );
        let table = r.table();
        assert!(
            table.contains("flow \\ dialect") && table.contains("1/1") && table.contains("0/1"),
            "{table}"
        );
        assert!(
            table.contains("declaration.birth-registration")
                && table.contains("1/2")
                && table.contains("FAILED 生育登记 粤语"),
            "{table}"
        );
    }

    #[test]
    fn wrong_intent_and_missing_reply_text_fail_the_story() {
        let mut story: Story = toml::from_str(STORY).unwrap();
        story.expect_record = Some(ExpectRecord {
            kind: "none".into(),
            fields: BTreeMap::new(),
        });
        let turns = vec![
            TurnObservation {
                user: "阿拉要办生育登记".into(),
                intent: Some("service.query".into()),
                reply: "生育登记要带身份证".into(),
            },
            TurnObservation {
                user: "对的".into(),
                intent: Some("confirm.yes".into()),
                reply: "好".into(),
            },
        ];
        let o = StoryOutcome::judge(&story, turns, None);
        assert_eq!(o.failures.len(), 3, "{:?}", o.failures);
    }

    #[test]
    fn malformed_story_files_name_the_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, STORY.replace("confirm.yes", "confirm.maybe")).unwrap();
        let e = load_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("confirm.maybe"), "{e}");
        std::fs::write(&p, "name = \"x\"\nflow = \"y\"\nturns = []\n").unwrap();
        assert!(load_dir(dir.path())
            .unwrap_err()
            .to_string()
            .contains("at least one"));
        std::fs::write(&p, STORY.replace("flow =", "flw =")).unwrap();
        assert!(load_dir(dir.path()).is_err());
    }
}
