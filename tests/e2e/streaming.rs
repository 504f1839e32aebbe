//! Streaming recognition on the real model: partials grow, the final matches the speech.

use xiaoan_agent::pipeline::Recognizer;
use xiaoan_tests::{installed_home, repo, settings_in};

#[test]
fn streaming_partials_only_grow_and_the_final_transcript_is_close() {
    stream_and_compare(false);
}

/// As the live loop runs: audio released in real time, partials decoded on a worker
/// thread, the final decode started during the hang-over (cancelling a partial that no
/// longer covers the speech). Nothing heard may be lost on the way.
#[test]
fn live_streaming_with_background_decodes_loses_no_words() {
    stream_and_compare(true);
}

fn stream_and_compare(realtime: bool) {
    let Some(home) = installed_home() else {
        return xiaoan_testkit::skip("streaming: models not installed (run make setup)");
    };
    let s = settings_in(&home, "");
    let rec = Recognizer::load(&s).expect("recogniser loads");
    let clip = repo().join("tests/fixtures/cmn-youdaika.wav");
    let audio = xiaoan_agent::pipeline::load_audio(&s, &clip).unwrap();
    let mut partials: Vec<String> = Vec::new();
    let out = rec
        .stream(&audio, "cmn", realtime, &mut |p| {
            partials.push(p.text.clone())
        })
        .unwrap();
    for w in partials.windows(2) {
        assert!(
            w[1].starts_with(&w[0]),
            "partials never flicker: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    // the final transcript decodes the whole utterance, as an offline pass does: streaming
    // must not lose words (Whisper base's own accuracy on espeak-ng audio is the ASR
    // benchmark's business, not this test's)
    let offline = rec.transcribe(&audio, "cmn").unwrap();
    let a: Vec<char> = offline
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !"，。".contains(*c))
        .collect();
    let b: Vec<char> = out
        .text
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !"，。".contains(*c))
        .collect();
    assert!(!b.is_empty(), "the final transcript is not empty");
    // (the final decodes with its own, more careful search, `[asr.final]`: its reading
    // may correct what the greedy partials showed, so it need not start with them)
    if realtime {
        // The final is timed from where the speech stops, not from the end of the clip's
        // padding (about 0.39 s here): in real time the final decode cannot start before
        // the end-pointer has heard silence, so it cannot be ready within 100 ms of the
        // speech's end (timed from the file's end, this clip read 2–16 ms).
        let after = out.after_speech_ms.expect("the final is timed");
        assert!(
            after >= xiaoan_agent::pipeline::EARLY_FINAL_MS as f64 / 2.0,
            "final {after:.0} ms after the end of speech: timed from the padding's end?"
        );
        // In real time the decodes fall at other audio lengths than offline, and Whisper
        // base's guesses on this clip move with the length of the window; words lost on
        // the way would show as a shorter transcript.
        assert!(
            b.len() * 4 >= a.len() * 3,
            "live final {:?} is much shorter than offline {:?}",
            out.text,
            offline
        );
    } else {
        let d = xiaoan_eval::edit_distance(&a, &b);
        assert!(
            d * 4 <= a.len().max(1),
            "streaming final {:?} vs offline {:?}: distance {d}",
            out.text,
            offline
        );
    }
    // (on a clip this short, local agreement may commit nothing before the end: the first
    // partial's latency is measured in the ASR benchmark)
}

/// Words the understanding doubts are decoded again (beam search with the domain
/// language model) and read together with what was heard first; words it does not doubt
/// cost no second decode.
#[test]
fn a_doubted_utterance_gets_a_second_opinion() {
    let Some(home) = installed_home() else {
        return xiaoan_testkit::skip("second opinion: models not installed (run make setup)");
    };
    // a greedy final (a final that searches as the second opinion does, beam 5 with the
    // language model, makes it only repeat the final: it is skipped)
    let s = settings_in(&home, "[asr.final]\nbeam_size = 1\nlm_weight = 0.0\n");
    let rec = Recognizer::load(&s).expect("recogniser loads");
    assert!(
        rec.second_options_for("cmn")
            .is_some_and(|o| o.beam_size > 1 && o.lm.is_some()),
        "second opinions are on by default, by beam search with the language model"
    );
    assert!(
        Recognizer::load(&settings_in(
            &home,
            "[asr.final]\nbeam_size = 5\nlm_weight = 0.3\n"
        ))
        .expect("recogniser loads")
        .second_options_for("cmn")
        .is_none(),
        "the final already searches that way"
    );
    let clip = repo().join("tests/fixtures/cmn-youdaika.wav");
    let audio = xiaoan_agent::pipeline::load_audio(&s, &clip).unwrap();
    let plain = rec
        .stream_judged(&audio, "cmn", false, &mut |_| {}, &|_| false)
        .unwrap();
    assert!(plain.second_opinions.is_empty());
    assert_eq!(plain.read_text, plain.text);
    let judged = std::cell::RefCell::new(Vec::new());
    let doubted = rec
        .stream_judged(&audio, "cmn", false, &mut |_| {}, &|t| {
            judged.borrow_mut().push(t.to_string());
            true
        })
        .unwrap();
    // (partials are paced by how long decodes take, so two runs over the same clip may
    // commit different words: each run is checked against itself)
    assert_eq!(
        judged.into_inner(),
        vec![doubted.text.clone()],
        "the final text is judged once, and the transcript is what was heard first"
    );
    assert_eq!(doubted.second_opinions.len(), 1);
    assert_eq!(
        doubted.read_text,
        xiaoan_agent::route::join_hypotheses(&doubted.text, &doubted.second_opinions[0]),
        "understanding reads both hypotheses"
    );
}
