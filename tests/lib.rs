//! Shared helpers for the end-to-end tests: a throw-away installation and an agent on it.

use std::path::{Path, PathBuf};

use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::dialogue::Agent;

/// Settings for a temporary `XIAOAN_HOME` (models are looked up in the real one).
pub fn settings_in(home: &Path, extra_toml: &str) -> Settings {
    let text = format!("home = {:?}\n{extra_toml}", home.display().to_string());
    Config::parse(&text, "test")
        .expect("test config parses")
        .resolve()
        .expect("test config resolves")
}

/// An agent with a fresh store in `dir`, "today" fixed to 2026-11-30 (a Monday).
pub fn agent_in(dir: &Path, extra_toml: &str) -> Agent {
    let s = settings_in(dir, extra_toml);
    let mut a = xiaoan_agent::app::build_agent(&s, &dir.join("records.db")).expect("agent builds");
    a.today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
    a
}

/// Where the real installation keeps models (the set-up's), if they are there.
pub fn installed_home() -> Option<PathBuf> {
    let home = xiaoan_models::xiaoan_home();
    xiaoan_models::whisper_dir(&home)
        .join("model.safetensors")
        .is_file()
        .then_some(home)
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built `xiaoan` binary (cargo builds it for integration tests of this workspace).
pub fn xiaoan_bin() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                repo().join(t)
            }
        }
        _ => repo().join("target"),
    };
    let p = target.join("release/xiaoan");
    if p.is_file() {
        p
    } else {
        target.join("debug/xiaoan")
    }
}
