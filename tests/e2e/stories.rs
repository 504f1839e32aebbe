//! Conversation stories for every flow (tests/stories/*.toml): dialect inputs,
//! corrections, cancel, time-out mid-form, an emergency in the middle of a form.

use xiaoan_eval::stories::{load_dir, report, StoryRunner};
use xiaoan_tests::{repo, settings_in};

#[test]
fn every_story_succeeds() {
    let home = tempfile::tempdir().unwrap();
    let s = settings_in(home.path(), "");
    let stories = load_dir(&repo().join("tests/stories")).expect("stories load");
    assert!(stories.len() >= 12, "a story for every flow");
    let runner = xiaoan::stories::Runner { settings: &s };
    let outcomes: Vec<_> = stories.iter().map(|st| runner.run(st)).collect();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| {
            let turns: Vec<String> = o
                .turns
                .iter()
                .map(|t| {
                    format!(
                        "    {} -> [{}] {}",
                        t.user,
                        t.intent.clone().unwrap_or_default(),
                        t.reply
                    )
                })
                .collect();
            format!(
                "{} ({}):\n  {}\n{}",
                o.name,
                o.dialect,
                o.failures.join("\n  "),
                turns.join("\n")
            )
        })
        .collect();
    println!("{}", report(&outcomes).table());
    assert!(failed.is_empty(), "failed stories:\n{}", failed.join("\n"));
}
