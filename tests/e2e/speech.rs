//! Speech output as a resident hears it.

use xiaoan_agent::dialogue::{digits_for_ear, Reply};
use xiaoan_agent::speech::Speech;
use xiaoan_models::Voice;

fn espeak() -> Option<Speech> {
    Speech::from_config("espeak").ok()
}

fn voice(rate: u32) -> Voice {
    Voice {
        name: "cmn-latn-pinyin".into(),
        rate_wpm: rate,
        pitch: 50,
        volume: 1.0,
    }
}

#[test]
fn slower_speech_is_longer_and_the_first_sentence_comes_first() {
    let Some(sp) = espeak() else {
        println!("SKIP: speech: espeak-ng not installed (run make setup)");
        return;
    };
    let r = Reply::say("您好。敬老卡可以在一楼三号窗口办理，要带身份证。");
    let fast = sp.render_all(&r, &voice(170), false).unwrap();
    let slow = sp.render_all(&r, &voice(110), false).unwrap();
    assert!(
        slow.duration_s() > fast.duration_s() * 1.2,
        "{} vs {}",
        slow.duration_s(),
        fast.duration_s()
    );
    let mut pieces = Vec::new();
    sp.render(&r, &voice(150), false, &mut |a| pieces.push(a.duration_s()))
        .unwrap();
    assert_eq!(
        pieces.len(),
        2,
        "one piece per sentence, the first ready on its own"
    );
    assert!(pieces[0] < pieces[1]);
}

#[test]
fn louder_sessions_are_louder() {
    let Some(sp) = espeak() else {
        println!("SKIP: speech: espeak-ng not installed (run make setup)");
        return;
    };
    let r = Reply::say("好的。");
    let mut v = voice(150);
    let a = sp.render_all(&r, &v, false).unwrap();
    v.volume = 1.5;
    let b = sp.render_all(&r, &v, false).unwrap();
    let rms = |x: &[f32]| (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt();
    assert!(rms(&b.samples) > rms(&a.samples) * 1.3);
}

#[test]
fn receipt_numbers_are_read_digit_by_digit_in_groups() {
    assert_eq!(digits_for_ear("2026112900", 4), "二零二六，幺幺二九，零零");
}
