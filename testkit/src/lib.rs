//! Test support shared by every crate of the workspace (a dev-dependency, and a
//! dependency of `models`' public test helper `xiaoan_models::testing`).
//!
//! A test that needs something the set-up provides (a model, espeak-ng, sox, the built
//! binary) calls [`skip`] when it is missing. On a developer's machine that prints a
//! `SKIP:` line and the test returns; under `CI=true` it fails the test, because CI runs
//! the set-up first and a missing prerequisite there means the set-up is broken, not
//! that the test has nothing to check.
#![warn(missing_docs)]

pub mod postgres;

/// True when running under CI (`CI=true`), where nothing may be skipped.
pub fn under_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(v: Option<&str>) -> bool {
    matches!(v, Some("true") | Some("1"))
}

/// Report a missing prerequisite: prints `SKIP: {why}` and returns, or panics under CI.
///
/// Use it as the last expression of the branch that gives up:
/// `let Some(m) = model() else { return xiaoan_testkit::skip("…: model not installed (run make setup)") };`
#[track_caller]
pub fn skip(why: &str) {
    skip_in(under_ci(), why)
}

#[track_caller]
fn skip_in(ci: bool, why: &str) {
    if ci {
        panic!("{why} — under CI=true nothing may be skipped: the set-up (`make setup`) must provide it");
    }
    println!("SKIP: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_true_or_one_means_ci() {
        assert!(ci_value_means_ci(Some("true")));
        assert!(ci_value_means_ci(Some("1")));
        assert!(!ci_value_means_ci(Some("false")));
        assert!(!ci_value_means_ci(Some("")));
        assert!(!ci_value_means_ci(None));
    }

    #[test]
    fn skipping_under_ci_fails_the_test_and_elsewhere_returns() {
        let r = std::panic::catch_unwind(|| skip_in(true, "a model"));
        let msg = r.expect_err("under CI a missing prerequisite must fail");
        let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            text.contains("a model") && text.contains("make setup"),
            "{text}"
        );
        skip_in(false, "testkit self-test: printed, not failed");
    }
}
