//! Test support: how a test that needs an installed model finds it, for this crate's
//! tests and for the other crates' (which is why it is public; it is not part of the
//! models' interface).
//!
//! A model-backed test asks [`model_or_skip`] for the file it needs. When the file is
//! there the test runs; when it is not, the test prints a `SKIP` line naming the file and
//! the set-up command and returns, except under CI: the CI set-up always installs the
//! models, so there a missing file is a failure, not a test that passes by doing
//! nothing. What counts as CI, and what a skip prints, is `xiaoan_testkit::skip`'s.

use std::path::{Path, PathBuf};

/// The command that installs every model the tests need.
pub const SETUP_COMMAND: &str = "make setup";

/// `path` when it exists. When it does not: under CI (`CI=true`) a panic naming the file
/// and [`SETUP_COMMAND`]; otherwise a `SKIP` line saying the same, and `None` (the test
/// then returns without checking anything).
///
/// ```no_run
/// let Some(dir) = xiaoan_models::testing::model_or_skip(
///     xiaoan_models::whisper_dir(&xiaoan_models::xiaoan_home()),
/// ) else {
///     return;
/// };
/// ```
#[doc(hidden)]
pub fn model_or_skip(path: impl AsRef<Path>) -> Option<PathBuf> {
    let path = path.as_ref();
    if path.exists() {
        return Some(path.to_path_buf());
    }
    skip(&path.display().to_string());
    None
}

/// The program `name` found on `PATH` (e.g. `espeak-ng`), else as [`model_or_skip`]
/// does for a missing file: `SKIP`, or a panic under `CI=true`.
#[doc(hidden)]
pub fn program_or_skip(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|dirs| {
        std::env::split_paths(&dirs)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip(&format!("the program {name} (on PATH)"));
    }
    found
}

/// Report `missing` for the running test: a `SKIP` line, or a panic under CI.
fn skip(missing: &str) {
    let current = std::thread::current();
    // libtest names each test's thread after the test
    let test = current.name().unwrap_or("a model test");
    xiaoan_testkit::skip(&format!(
        "{test}: {missing} is missing (run `{SETUP_COMMAND}`)"
    ));
}

/// The converted Whisper model for tests: the installed one, else one imported once from
/// the installed CTranslate2 source into a shared temporary folder. `None` (after
/// [`model_or_skip`]) when neither is installed.
#[cfg(test)]
pub(crate) fn whisper_model() -> Option<PathBuf> {
    use std::sync::OnceLock;
    let home = crate::xiaoan_home();
    let installed = crate::whisper_dir(&home);
    if installed.join("model.safetensors").is_file() {
        return Some(installed);
    }
    let src = crate::whisper_ct2_dir(&home);
    model_or_skip(src.join("model.bin"))?;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        // one shared folder (not per process) so repeated test runs reuse it
        let out = std::env::temp_dir().join("xiaoan-models-test-whisper-base");
        let complete = [
            "model.safetensors",
            "config.json",
            "tokenizer.json",
            "mel_filters.safetensors",
        ]
        .iter()
        .all(|f| out.join(f).is_file());
        if !complete {
            crate::import::import_whisper_ct2(&src, &out).expect("import the CTranslate2 model");
        }
        out
    });
    Some(dir.clone())
}

/// One recorded clip of `tests/fixtures`: file name, voice, the sentence spoken, and its
/// 16 kHz samples.
#[cfg(all(test, any(feature = "candle", feature = "whisper")))]
pub(crate) struct Fixture {
    /// The WAV file's name.
    pub(crate) file: String,
    /// The voice that spoke it (`neural`, `yue`, `cmn-latn-pinyin`).
    pub(crate) voice: String,
    /// The sentence.
    pub(crate) text: String,
    /// 16 kHz mono samples.
    pub(crate) samples: Vec<f32>,
}

/// The fixtures of `tests/fixtures/<sub>` (`""`: the main set, Mandarin in the neural
/// voice and one Cantonese clip; `"espeak"`: the espeak-ng Mandarin hard case), as its
/// `fixtures.tsv` lists them (file, voice, text).
#[cfg(all(test, any(feature = "candle", feature = "whisper")))]
pub(crate) fn fixtures_in(sub: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(sub);
    let tsv = std::fs::read_to_string(dir.join("fixtures.tsv")).expect("fixtures.tsv");
    tsv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3).then(|| {
                let bytes = std::fs::read(dir.join(f[0])).expect("fixture wav");
                let a = crate::tts::parse_wav_pcm16(&bytes).expect("16-bit wav");
                assert_eq!(a.sample_rate, 16_000, "{}", f[0]);
                Fixture {
                    file: f[0].to_string(),
                    voice: f[1].to_string(),
                    text: f[2].to_string(),
                    samples: a.samples,
                }
            })
        })
        .collect()
}

/// The main set of fixtures (`tests/fixtures/fixtures.tsv`).
#[cfg(all(test, any(feature = "candle", feature = "whisper")))]
pub(crate) fn fixtures() -> Vec<Fixture> {
    fixtures_in("")
}

/// `n` samples of reproducible white noise, uniform in [-amplitude, amplitude) (a
/// linear congruential generator, seed 12345).
#[cfg(all(test, any(feature = "candle", feature = "whisper")))]
pub(crate) fn noise(n: usize, amplitude: f32) -> Vec<f32> {
    let mut x = 12345u32;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1u32 << 24) as f32 * (2.0 * amplitude) - amplitude
        })
        .collect()
}

/// Share of the reference's characters (punctuation ignored) found in the hypothesis,
/// each hypothesis character used at most once.
#[cfg(test)]
pub(crate) fn char_share(hyp: &str, reference: &str) -> f32 {
    let keep = |c: &char| c.is_alphanumeric();
    let mut pool: Vec<char> = hyp.chars().filter(keep).collect();
    let refs: Vec<char> = reference.chars().filter(keep).collect();
    let mut hit = 0;
    for c in &refs {
        if let Some(i) = pool.iter().position(|p| p == c) {
            pool.swap_remove(i);
            hit += 1;
        }
    }
    hit as f32 / refs.len().max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_share_counts_each_character_once() {
        assert_eq!(char_share("我想办理社保卡", "我想办理社保卡"), 1.0);
        assert_eq!(char_share("", "我想办理社保卡"), 0.0);
        assert!((char_share("卡卡卡卡", "社保卡") - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn a_present_file_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(model_or_skip(dir.path()), Some(dir.path().to_path_buf()));
    }

    #[test]
    fn a_missing_file_skips_or_fails_under_ci_naming_the_file_and_the_set_up() {
        let absent = Path::new("/nonexistent/absent.safetensors");
        let run = std::panic::catch_unwind(|| model_or_skip(absent));
        if xiaoan_testkit::under_ci() {
            let msg = run.expect_err("a missing model fails under CI");
            let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(text.contains("absent.safetensors"), "{text}");
            assert!(text.contains(SETUP_COMMAND), "{text}");
        } else {
            assert_eq!(run.ok(), Some(None), "a missing model skips");
        }
    }

    #[test]
    fn a_program_is_found_on_the_path() {
        // `sh` is on every machine the tests run on
        assert!(program_or_skip("sh").is_some_and(|p| p.is_file()));
    }
}
