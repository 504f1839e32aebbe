//! Helpers for this crate's tests.

/// What a test does when something it needs (a program, a model, a file) is missing:
/// under `CI=true` (or `CI=1`) the test fails, since CI always has its prerequisites and a skipped
/// test there would hide a broken set-up; elsewhere it prints a SKIP line and the
/// caller returns.
///
/// `test` names the test (or the part of it) that cannot run, `why` says what is
/// missing and how to get it.
pub(crate) fn skip(test: &str, why: &str) {
    match verdict(std::env::var("CI").ok().as_deref(), test, why) {
        Ok(line) => println!("{line}"),
        Err(message) => panic!("{message}"),
    }
}

/// `Ok(SKIP line)`, or `Err(failure message)` when `ci` is `true` (any letter case) or
/// `1`, as CI services set it.
fn verdict(ci: Option<&str>, test: &str, why: &str) -> Result<String, String> {
    if ci.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1") {
        Err(format!(
            "{test} cannot run: {why}. CI=true, so this fails instead of skipping: \
             CI must provide everything the tests need."
        ))
    } else {
        Ok(format!("SKIP: {test}: {why}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_prerequisite_fails_under_ci_and_skips_elsewhere() {
        let why = "espeak-ng not installed (run make setup)";
        let e = verdict(Some("true"), "synth", why).unwrap_err();
        assert!(
            e.contains("synth cannot run: espeak-ng not installed") && e.contains("CI=true"),
            "{e}"
        );
        assert!(verdict(Some("TRUE"), "synth", why).is_err());
        assert!(verdict(Some("1"), "synth", why).is_err());
        assert_eq!(
            verdict(None, "synth", why).unwrap(),
            "SKIP: synth: espeak-ng not installed (run make setup)"
        );
        assert!(verdict(Some("false"), "synth", why).is_ok());
        assert!(verdict(Some(""), "synth", why).is_ok());
    }
}
