//! The end of a turn judged from the words, through the live loop's [`Hearing`] (the
//! VAD and end-pointer residents meet, partials on a worker thread) with the scripted
//! recogniser: a resident who paused mid-sentence is waited for, one who finished is
//! answered without the whole hang-over.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::pipeline::{load_audio, Heard, Hearing, Recognizer};
use xiaoan_agent::turn_end::{Expect, TurnCall};
use xiaoan_audio::SAMPLE_RATE;
use xiaoan_models::ScriptedAsr;

/// A capture callback's frame, 20 ms.
const FRAME: usize = SAMPLE_RATE as usize / 50;

fn settings(home: &Path) -> Settings {
    let text = format!("home = {:?}\n", home.display().to_string());
    Config::parse(&text, "test")
        .expect("test config parses")
        .resolve()
        .expect("test config resolves")
}

/// A fixture clip cut to its speech, `pause_s` of silence, the clip again, then 2 s of
/// silence: a request said in two parts.
fn two_parts(s: &Settings, pause_s: f64) -> (Vec<f32>, f64) {
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cmn-shebaoka.wav");
    let audio = load_audio(s, &clip).expect("the clip decodes");
    let speech = &audio.samples[..audio.speech_end()];
    let mut feed = speech.to_vec();
    feed.extend(std::iter::repeat_n(
        0.0,
        (pause_s * SAMPLE_RATE as f64) as usize,
    ));
    feed.extend_from_slice(speech);
    let end_s = feed.len() as f64 / SAMPLE_RATE as f64;
    feed.extend(std::iter::repeat_n(0.0, 2 * SAMPLE_RATE as usize));
    (feed, end_s)
}

/// The end-points (audio time) and the judge's calls when `feed` is heard by a
/// recogniser that always hears `words`; `judged: false` is the fixed hang-over.
fn hear(
    s: &Settings,
    feed: &[f32],
    words: &str,
    expect: Expect,
    judged: bool,
) -> Vec<(f64, Option<TurnCall>)> {
    let rec = Recognizer::with_model(Arc::new(ScriptedAsr::fixed(words)), s)
        .expect("a recogniser over the scripted engine");
    let mut hearing = Hearing::new(&rec).expect("the VAD loads");
    if !judged {
        hearing.set_judge(None);
    }
    hearing.expect(expect);
    let mut ends = Vec::new();
    for frame in feed.chunks(FRAME) {
        for h in hearing.push(frame, "cmn").expect("the loop hears") {
            if let Heard::Final { at_s, .. } = h {
                ends.push((at_s, hearing.last_call()));
            }
        }
        // the worker thread decodes while the next frames are captured
        std::thread::sleep(Duration::from_millis(5));
    }
    ends
}

#[test]
fn a_resident_who_paused_mid_sentence_is_not_cut_off() {
    let home = tempfile::tempdir().expect("a temp folder");
    let s = settings(home.path());
    let (feed, end_s) = two_parts(&s, 0.9);
    // the fixed hang-over (600 ms) ends the utterance in the 0.9 s pause
    let fixed = hear(&s, &feed, "我要办那个", Expect::Free, false);
    assert_eq!(fixed.len(), 2, "{fixed:?}");
    assert!(fixed[0].0 < end_s);
    // judged: 我要办那个 is unfinished, so the pause is waited out
    let judged = hear(&s, &feed, "我要办那个", Expect::Free, true);
    assert_eq!(judged.len(), 1, "{judged:?}");
    assert!(
        judged[0].0 > end_s,
        "{judged:?} ends after the speech ({end_s} s)"
    );
}

#[test]
fn an_awaited_id_number_with_digits_missing_is_waited_for() {
    let home = tempfile::tempdir().expect("a temp folder");
    let s = settings(home.path());
    // a pause longer than the unsure hang-over (900 ms), within the cap (1.5 s)
    let (feed, _) = two_parts(&s, 1.2);
    let judged = hear(&s, &feed, "3205 0219", Expect::Digits(18), true);
    assert_eq!(judged.len(), 1, "{judged:?}");
    // the same digits with nothing awaited are no sentence the judge can read
    let free = hear(&s, &feed, "3205 0219", Expect::Free, true);
    assert_eq!(free.len(), 2, "{free:?}");
}

#[test]
fn a_finished_question_is_answered_before_the_hang_over_ends() {
    let home = tempfile::tempdir().expect("a temp folder");
    let s = settings(home.path());
    let (feed, end_s) = two_parts(&s, 0.0);
    let fixed = hear(&s, &feed, "社保卡丢了怎么办", Expect::Free, false);
    let judged = hear(&s, &feed, "社保卡丢了怎么办", Expect::Free, true);
    assert_eq!((fixed.len(), judged.len()), (1, 1), "{fixed:?} {judged:?}");
    assert_eq!(judged[0].1, Some(TurnCall::Complete));
    // ended well inside the 600 ms of silence the fixed hang-over waits for
    assert!(
        judged[0].0 + 0.2 < fixed[0].0,
        "judged {judged:?}, fixed {fixed:?} (speech ends at {end_s} s)"
    );
}
