//! The `xiaoan` binary as a user meets it: bad input gets one clear line naming the file
//! and the reason, a non-zero exit, and no panic.

mod centre;
mod records;

use std::path::Path;
use std::process::{Command, Output};

use xiaoan_agent::route;

fn xiaoan(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(args)
        .env("XIAOAN_HOME", home)
        .env_remove("RUST_BACKTRACE")
        .current_dir(home)
        .output()
        .expect("xiaoan runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn assert_clear_failure(o: &Output, file: &str, reason: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code 1 for {file}: {e}");
    assert!(!e.contains("panicked"), "no panic: {e}");
    let line = e
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("a line names {file}: {e}"));
    assert!(line.contains(reason), "\"{reason}\" in: {line}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    name.to_string()
}

fn wav_header(rate: u32, channels: u16, bits: u16, data_len: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&(if bits == 32 { 3u16 } else { 1u16 }).to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * channels as u32 * bits as u32 / 8).to_le_bytes());
    v.extend_from_slice(&(channels * bits / 8).to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v
}

#[test]
fn bad_audio_files_get_a_clear_message_and_exit_code() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let cases: Vec<(String, &str)> = vec![
        ("missing.wav".into(), "not found"),
        (write(p, "empty.wav", b""), "empty"),
        (
            write(
                p,
                "text.wav",
                "这不是音频文件，只是文字。\n".repeat(20).as_bytes(),
            ),
            "not an audio file",
        ),
        (
            write(p, "truncated.wav", &wav_header(16000, 1, 16, 32000)[..30]),
            "corrupt",
        ),
        (
            write(p, "zero.wav", &wav_header(16000, 1, 16, 0)),
            "no audio",
        ),
        (
            {
                let mut v = wav_header(16000, 1, 32, 4 * 1600);
                for i in 0..1600 {
                    let x: f32 = if i == 800 { f32::NAN } else { 0.1 };
                    v.extend_from_slice(&x.to_le_bytes());
                }
                write(p, "nan.wav", &v)
            },
            "NaN",
        ),
        (
            {
                let mut v = wav_header(3, 1, 16, 2 * 300);
                v.extend(std::iter::repeat_n(0u8, 600));
                write(p, "rate.wav", &v)
            },
            "sample rate",
        ),
        (
            {
                // symphonia panicked on this one (exit 101)
                let mut v = wav_header(0, 1, 16, 3200);
                v.extend(std::iter::repeat_n(0u8, 3200));
                write(p, "rate0.wav", &v)
            },
            "sample rate 0 Hz",
        ),
        (
            write(p, "channels0.wav", &wav_header(16000, 0, 16, 0)),
            "0 channels",
        ),
        (
            "/dev/zero".into(),
            "is a character device, not a regular file",
        ),
        (".".into(), "is a directory, not a regular file"),
    ];
    for (file, reason) in &cases {
        let o = xiaoan(p, &["transcribe", file]);
        assert_clear_failure(&o, file, reason);
    }
}

#[test]
fn audio_longer_than_the_limit_is_refused_before_decoding_it_all() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // 11 minutes of silence at 8 kHz, 16-bit: the header says so
    let n = 8000u32 * 60 * 11;
    let mut v = wav_header(8000, 1, 16, n * 2);
    v.resize(v.len() + (n * 2) as usize, 0);
    std::fs::write(p.join("long.wav"), v).unwrap();
    let o = xiaoan(p, &["transcribe", "long.wav"]);
    assert_clear_failure(&o, "long.wav", "10-minute");
}

#[test]
fn a_config_with_a_typo_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("xiaoan.toml"), "[asr]\nengin = \"candle\"\n").unwrap();
    let o = xiaoan(d.path(), &["understand", "你好"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("xiaoan.toml") && e.contains("engin"), "{e}");
}

#[test]
fn understand_prints_intent_dialect_and_entities() {
    let d = tempfile::tempdir().unwrap();
    let o = xiaoan(
        d.path(),
        &[
            "understand",
            "--json",
            "侬好，阿拉姆妈要办敬老卡，电话13812345678",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["intent"]["intent"], "service.query", "{v}");
    assert_eq!(v["dialect"]["code"], "wuu-sh", "{v}");
    let ents = v["entities"].as_array().unwrap();
    assert!(ents.iter().any(|e| e["value"] == "13812345678"), "{v}");
}

#[test]
fn kb_search_finds_garbled_words_and_check_validates_the_shipped_guide() {
    let d = tempfile::tempdir().unwrap();
    let o = xiaoan(d.path(), &["kb", "search", "--json", "敬老咖怎么办"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "senior-card", "{v}");
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kb/guide");
    let o = xiaoan(d.path(), &["kb", "check", guide.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

/// One `chat --jsonl` session: the lines in, one JSON object per turn out.
fn chat_jsonl(home: &Path, lines: &[&str]) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(["chat", "--jsonl"])
        .env("XIAOAN_HOME", home)
        .current_dir(home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chat exits cleanly");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `chat --jsonl` reports the reading the agent acted on (a weak guess decided by the
/// guide is a guide question), and the classifier's own reading beside it.
#[test]
fn chat_jsonl_reports_the_reading_acted_on() {
    let d = tempfile::tempdir().unwrap();
    let lines = chat_jsonl(d.path(), &["闷禁", "社保卡怎么办"]);
    assert_eq!(lines.len(), 2);
    let guess = &lines[0];
    assert_eq!(guess["intent"], "service.query", "{guess}");
    assert_eq!(guess["guessed_from_guide"], true, "{guess}");
    // the classifier's own reading beside it: not a guide question, and weak enough for
    // the guide to decide (unsure, or an "out of scope" below what the guide may override;
    // the retrained models of session 16 read 闷禁 as out of scope at 0.56, no longer unsure)
    let c = &guess["classifier"];
    assert_ne!(c["intent"], "service.query", "{guess}");
    let conf = c["confidence"].as_f64().unwrap() as f32;
    let weak = c["unsure"] == true
        || conf < route::GUESS_BELOW
        || (c["intent"] == "out_of_scope" && conf < route::GUESS_OUT_OF_SCOPE_BELOW);
    assert!(weak, "{guess}");
    assert_eq!(guess["flow"], "clarify", "asked before answering: {guess}");
    let clear = &lines[1];
    assert_eq!(clear["intent"], "service.query", "{clear}");
    assert_eq!(clear["guessed_from_guide"], false, "{clear}");
    assert_eq!(clear["classifier"]["intent"], "service.query", "{clear}");
}

#[test]
fn chat_jsonl_files_a_feedback_and_records_mask_personal_data_for_staff() {
    let d = tempfile::tempdir().unwrap();
    let lines = chat_jsonl(
        d.path(),
        &[
            "我要办居住登记",
            "我叫王小明",
            "320503198506123049",
            "取消",
            "楼道的灯坏了好几天没人修",
        ],
    );
    assert_eq!(lines.len(), 5);
    for l in &lines {
        for k in [
            "user",
            "dialect",
            "intent",
            "confidence",
            "reply",
            "flow",
            "awaiting",
            "receipt",
        ] {
            assert!(l.get(k).is_some(), "key {k} in {l}");
        }
    }
    assert_eq!(lines[0]["flow"], "declaration");
    assert!(
        lines[4]["receipt"].is_string(),
        "feedback recorded: {}",
        lines[4]
    );
    // staff listing: nothing personal is shown unmasked by default
    let o = xiaoan(d.path(), &["records", "list", "--kind", "draft"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("王小明"), "{text}");
    let o = xiaoan(d.path(), &["records", "verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // the database is readable by its owner only
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path().join("records/xiaoan.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn appointments_are_moved_and_cancelled_by_voice_in_a_later_session() {
    let d = tempfile::tempdir().unwrap();
    let run = |lines: &[&str]| chat_jsonl(d.path(), lines);
    // a named weekday, not "tomorrow": tomorrow may be a day the centre is closed
    let booked = run(&["帮我约个下周三上午十点办社保卡"]);
    let number = booked[0]["receipt"].as_str().expect("booked").to_string();
    // another day, another session: the resident reads the number out in groups
    let spoken: String = number
        .chars()
        .map(|c| {
            "零幺二三四五六七八九"
                .chars()
                .nth(c.to_digit(10).unwrap() as usize)
                .unwrap()
        })
        .collect();
    let grouped = format!("{}，{}，{}", &spoken[..12], &spoken[12..24], &spoken[24..]);
    let moved = run(&["我想改一下预约", &grouped, "下周四下午三点"]);
    assert!(
        moved[0]["reply"].as_str().unwrap().contains("预约号"),
        "{:?}",
        moved[0]
    );
    assert!(
        moved[1]["reply"].as_str().unwrap().contains("改到哪天"),
        "{:?}",
        moved[1]
    );
    let reply = moved[2]["reply"].as_str().unwrap();
    assert!(
        reply.contains("改好了") && reply.contains("下午3点"),
        "{reply}"
    );
    let cancelled = run(&[&format!("预约号{grouped}，我要取消预约"), "对"]);
    assert!(
        cancelled[1]["reply"].as_str().unwrap().contains("取消了"),
        "{:?}",
        cancelled[1]
    );
    let o = xiaoan(d.path(), &["records", "show", &number, "--json"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"cancelled\""), "{text}");
    assert!(
        text.contains("moved"),
        "the move is in the evidence history: {text}"
    );
}

/// A manifest of text items for `xiaoan eval` (no recogniser needed).
fn eval_manifest(dir: &Path, lines: &[String]) -> Output {
    std::fs::write(dir.join("m.jsonl"), lines.join("\n")).unwrap();
    xiaoan(dir, &["eval", "m.jsonl", "--predictions", "p.jsonl"])
}

#[test]
fn eval_fails_when_most_items_fail_and_caps_text_length() {
    let d = tempfile::tempdir().unwrap();
    // every item fails: exit 1, said clearly, predictions still written
    let broken = vec![
        "{not json".to_string(),
        r#"{"id": "x"}"#.to_string(),
        format!(r#"{{"id": "long", "text": "{}"}}"#, "吵".repeat(5_000_000)),
    ];
    let started = std::time::Instant::now();
    let o = eval_manifest(d.path(), &broken);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "a 5,000,000-character item is refused, not understood"
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("eval FAILED: 3 of 3 items failed (100%)"),
        "{}",
        stderr(&o)
    );
    let preds = std::fs::read_to_string(d.path().join("p.jsonl")).unwrap();
    let long: serde_json::Value = preds
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|p| p["id"] == "long")
        .unwrap();
    assert_eq!(
        long["error"],
        "the text is 5000000 characters long; at most 500 are understood in one turn"
    );
    // one failure in three is within the allowed share
    let mostly_fine = vec![
        r#"{"id": "a", "text": "社保卡怎么办"}"#.to_string(),
        r#"{"id": "b", "text": "敬老卡怎么办"}"#.to_string(),
        "{not json".to_string(),
    ];
    let o = eval_manifest(d.path(), &mostly_fine);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_chat_line_past_the_cap_is_named_and_skipped() {
    let d = tempfile::tempdir().unwrap();
    let long = "楼上天天半夜吵".repeat(100);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(["chat", "--jsonl"])
        .env("XIAOAN_HOME", d.path())
        .current_dir(d.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{long}").unwrap();
        writeln!(stdin, "社保卡怎么办").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the text is 700 characters long; at most 500 are understood"),
        "{}",
        stderr(&out)
    );
    let turns: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(turns.len(), 1, "only the short line is a turn: {turns:?}");
    assert_eq!(turns[0]["user"], "社保卡怎么办");
}
