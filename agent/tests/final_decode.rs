//! `[asr.final]`: the final decode of each utterance searches harder (beam search with
//! the domain language model) while partials stay greedy and quick, on the one
//! streaming path residents meet. No model weights: a scripted engine whose greedy
//! reading mishears a character that its beam search hears right.

use std::path::Path;
use std::sync::Arc;

use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::pipeline::{load_audio, Recognizer};
use xiaoan_models::GradedAsr;

const SAID: &str = "老年人优待卡怎么办";
const MISHEARD: &str = "老年人有待卡怎么办";

/// Greedy decodes hear `MISHEARD`, beam decodes `SAID`; every decode's search is kept.
fn graded() -> Arc<GradedAsr> {
    Arc::new(GradedAsr::new(MISHEARD, SAID, 8.0))
}

fn settings(home: &Path, extra: &str) -> Settings {
    let text = format!("home = {:?}\n{extra}", home.display().to_string());
    Config::parse(&text, "test")
        .expect("test config parses")
        .resolve()
        .expect("test config resolves")
}

fn clip() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cmn-youdaika.wav")
}

#[test]
fn the_final_decodes_with_beam_and_language_model_while_partials_stay_greedy() {
    let home = tempfile::tempdir().unwrap();
    let s = settings(home.path(), "[asr.final]\nbeam_size = 5\nlm_weight = 0.3\n");
    let asr = graded();
    let rec = Recognizer::with_model(asr.clone(), &s).expect("a recogniser");
    assert_eq!(rec.final_search(), "beam5+lm0.3");
    let audio = load_audio(&s, &clip()).unwrap();
    let mut partials = Vec::new();
    let out = rec
        .stream(&audio, "cmn", false, &mut |p| partials.push(p.text.clone()))
        .unwrap();
    assert!(!partials.is_empty(), "partials while the resident speaks");
    assert!(
        partials.iter().all(|p| MISHEARD.starts_with(p.as_str())),
        "partials are the greedy reading: {partials:?}"
    );
    let seen = asr.searches();
    let (last, before) = seen.split_last().expect("decodes ran");
    assert_eq!(
        *last,
        (5, true),
        "the final: beam 5 with the language model"
    );
    assert!(
        before.iter().all(|d| *d == (1, false)),
        "every partial greedy, without the language model: {seen:?}"
    );
    assert_eq!(
        out.text, SAID,
        "the final's careful reading is what is heard"
    );
    // a whole-recording transcription is one final decode per utterance
    let n = asr.searches().len();
    assert_eq!(rec.transcribe(&audio, "cmn").unwrap(), SAID);
    assert!(asr.searches()[n..].iter().all(|d| *d == (5, true)));
    // the default second opinion (beam 5, weight 0.3) would only repeat the final
    assert!(rec.second_options_for("cmn").is_none());
}

#[test]
fn by_default_the_final_searches_with_beam_and_language_model() {
    let home = tempfile::tempdir().unwrap();
    let rec = Recognizer::with_model(graded(), &settings(home.path(), "")).expect("a recogniser");
    assert_eq!(rec.final_search(), "beam3+lm0.3");
    assert_eq!(rec.options_for("cmn").beam_size, 1, "partials greedy");
    let shipped = Config::parse(include_str!("../../xiaoan.toml"), "xiaoan.toml")
        .unwrap()
        .resolve()
        .unwrap();
    let rec = Recognizer::with_model(graded(), &shipped).expect("a recogniser");
    assert_eq!(rec.final_search(), "beam3+lm0.3", "the shipped config");
}

#[test]
fn a_greedy_final_decodes_like_the_partials_and_second_opinions_stay() {
    let home = tempfile::tempdir().unwrap();
    let s = settings(home.path(), "[asr.final]\nbeam_size = 1\nlm_weight = 0.0\n");
    let asr = graded();
    let rec = Recognizer::with_model(asr.clone(), &s).expect("a recogniser");
    assert_eq!(rec.final_search(), "greedy");
    let audio = load_audio(&s, &clip()).unwrap();
    let out = rec.stream(&audio, "cmn", false, &mut |_| {}).unwrap();
    assert_eq!(out.text, MISHEARD);
    assert!(asr.searches().iter().all(|d| *d == (1, false)));
    assert!(rec
        .second_options_for("cmn")
        .is_some_and(|o| o.beam_size == 5 && o.lm.is_some()));
}

#[test]
fn a_final_unlike_the_second_opinion_keeps_it_and_bad_final_settings_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let s = settings(home.path(), "[asr.final]\nbeam_size = 3\n");
    let rec = Recognizer::with_model(graded(), &s).expect("a recogniser");
    assert_eq!(
        rec.final_search(),
        "beam3+lm0.3",
        "unset fields keep the defaults"
    );
    assert!(rec.second_options_for("cmn").is_some());
    for (bad, field) in [
        ("beam_size = 9", "asr.final.beam_size"),
        ("lm_weight = -1", "asr.final.lm_weight"),
        ("temperatures = []", "asr.final.temperatures"),
    ] {
        let text = format!(
            "home = {:?}\n[asr.final]\n{bad}\n",
            home.path().display().to_string()
        );
        let err = Config::parse(&text, "test")
            .expect("parses")
            .resolve()
            .expect_err(bad)
            .to_string();
        assert!(err.contains(field), "{bad}: {err}");
    }
}

#[test]
fn the_guide_prompt_names_the_centres_services() {
    let home = tempfile::tempdir().unwrap();
    let s = settings(home.path(), "[asr.final]\nprompt = \"guide\"\n");
    let rec = Recognizer::with_model(graded(), &s).expect("a recogniser");
    let p = rec
        .final_options_for("cmn")
        .prompt
        .expect("the final has a prompt");
    assert!(p.chars().count() <= 60 && p.contains('、'), "{p}");
    let guide = xiaoan_agent::app::load_guide(&s).unwrap();
    assert!(p.starts_with(&guide.items[0].title), "{p}");
    assert_eq!(rec.options_for("cmn").prompt, None, "partials: no prompt");
}
