//! Fuzzing on stable Rust (proptest): audio decoding, manifests, the chat line reader,
//! the staff API's JSON bodies and query strings, and the store's parsing of its own
//! record columns. Each target asserts no panic, a time limit per input
//! ([`PER_INPUT`]), a bounded output (audio: at most the 10-minute limit at 16 kHz) and
//! a process peak RSS under [`MAX_PEAK_RSS_MB`]; at the end it prints how many inputs
//! ran. (The decoder's own memory bound is measured alone, in a child process, by
//! `xiaoan-audio`'s `large_multichannel_audio_decodes_in_bounded_memory`.)
//!
//! `make test` runs a modest number of cases per target (the defaults below);
//! `make fuzz` runs many more (`PROPTEST_CASES=20000`, fewer for the slow targets,
//! see [`cases`]). A failure prints the shrunk input and proptest's seed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// The most time one input may take (generous: the suite runs tests in parallel on two
/// cores). Anything slower is reported as a hang.
const PER_INPUT: Duration = Duration::from_secs(20);

/// Cases for a target: `PROPTEST_CASES` scaled by `share` (1 for cheap targets, less
/// for those that run a whole conversation or an HTTP round trip), or `default`.
fn cases(default: u32, share: f64) -> u32 {
    match std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        Some(n) => ((f64::from(n) * share).ceil() as u32).max(1),
        None => default,
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // failures are reported with their seed; no regression files in the tree
        failure_persistence: None,
        ..Config::default()
    })
}

/// Run `f` on a worker thread and fail the case if it takes longer than [`PER_INPUT`]
/// (a hang) or panics.
fn within<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(PER_INPUT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(TestCaseError::fail(format!("{what} panicked"))),
        Err(_) => Err(TestCaseError::fail(format!(
            "{what} took more than {:?} (hang?) after {:?}",
            PER_INPUT,
            started.elapsed()
        ))),
    }
}

/// Most resident memory the test process may reach while fuzzing (it runs the other
/// end-to-end tests, with their models, at the same time): a parser that believed a
/// header's 4 GB claim would pass it.
const MAX_PEAK_RSS_MB: f64 = 3_000.0;

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn report(target: &str, n: usize, extra: &str) {
    let rss = peak_rss_mb();
    println!(
        "fuzz {target}: {n} inputs, none panicked or hung{extra}; process peak RSS {}",
        rss.map_or("unknown".to_string(), |r| format!("{r:.0} MB"))
    );
    if let Some(r) = rss {
        assert!(r < MAX_PEAK_RSS_MB, "peak RSS {r:.0} MB");
    }
}

// ---------------------------------------------------------------- audio

/// A small valid WAV in one of several layouts.
fn wav(kind: u8) -> Vec<u8> {
    let (channels, rate, bits, float) = match kind % 5 {
        0 => (1u16, 16_000u32, 16u16, false),
        1 => (2, 44_100, 16, false),
        2 => (1, 8_000, 8, false),
        3 => (2, 22_050, 32, true),
        _ => (3, 48_000, 24, false),
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut cur = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).expect("writer");
        for i in 0..(rate / 20) {
            let v = (i as f32 * 0.05).sin() * 0.5;
            for _ in 0..channels {
                let r = if float {
                    w.write_sample(v)
                } else if bits == 8 {
                    w.write_sample((v * 127.0) as i8)
                } else {
                    w.write_sample((v * ((1i32 << (bits - 1)) - 1) as f32) as i32)
                };
                r.expect("sample");
            }
        }
        w.finalize().expect("finalize");
    }
    cur.into_inner()
}

/// Values that break parsers: zeros, ones, maxima, sign bits.
const EDGES: [u32; 10] = [
    0,
    1,
    2,
    3,
    0x7F,
    0xFF,
    0xFFFF,
    0x8000_0000,
    0xFFFF_FFF0,
    0xFFFF_FFFF,
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Set one byte (biased to the header: the first 64 bytes).
    Byte(usize, u8),
    /// Write an edge value, as 2 or 4 little-endian bytes, at a header offset.
    Field(usize, u32, bool),
    /// Cut the file.
    Truncate(usize),
    /// Insert a chunk (id, claimed size) after the RIFF header.
    Chunk([u8; 4], u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..64, any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (0usize..4096, any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (
            0usize..48,
            prop::sample::select(EDGES.to_vec()),
            any::<bool>()
        )
            .prop_map(|(i, v, wide)| Mutation::Field(i, v, wide)),
        (0usize..5000).prop_map(Mutation::Truncate),
        (
            prop::sample::select(vec![*b"LIST", *b"fmt ", *b"data", *b"fact", *b"JUNK"]),
            prop::sample::select(EDGES.to_vec())
        )
            .prop_map(|(id, n)| Mutation::Chunk(id, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        match m {
            Mutation::Byte(i, b) => {
                if let Some(x) = bytes.get_mut(*i) {
                    *x = *b;
                }
            }
            Mutation::Field(i, v, wide) => {
                let le = v.to_le_bytes();
                let n = if *wide { 4 } else { 2 };
                for (k, b) in le.iter().take(n).enumerate() {
                    if let Some(x) = bytes.get_mut(i + k) {
                        *x = *b;
                    }
                }
            }
            Mutation::Truncate(n) => bytes.truncate(*n),
            Mutation::Chunk(id, size) => {
                let at = 12.min(bytes.len());
                let mut c = id.to_vec();
                c.extend_from_slice(&size.to_le_bytes());
                c.extend_from_slice(b"INFOINAM\x04\x00\x00\x00abcd");
                bytes.splice(at..at, c);
            }
        }
    }
    bytes
}

#[derive(Debug, Clone)]
enum AudioInput {
    Random(Vec<u8>, Option<&'static str>),
    Mutated(u8, Vec<Mutation>),
    /// A valid FLAC, MP3 or OGG/Vorbis file (by index) with bytes set and a cut.
    Compressed(usize, Vec<(usize, u8)>, usize),
}

/// The extensions of [`compressed_files`], in order.
const COMPRESSED: [&str; 3] = ["flac", "mp3", "ogg"];

/// Short valid FLAC, MP3 and OGG/Vorbis files made with sox; empty without sox.
fn compressed_files() -> Vec<Vec<u8>> {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    for ext in COMPRESSED {
        let p = dir.path().join(format!("tone.{ext}"));
        let ok = std::process::Command::new("sox")
            .args(["-n", "-r", "22050", "-c", "2"])
            .arg(&p)
            .args(["synth", "0.3", "sine", "440"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        match std::fs::read(&p) {
            Ok(b) if ok => out.push(b),
            _ => return Vec::new(),
        }
    }
    out
}

fn audio_input() -> impl Strategy<Value = AudioInput> {
    let ext = prop::sample::select(vec![
        None,
        Some("wav"),
        Some("mp3"),
        Some("ogg"),
        Some("flac"),
    ]);
    prop_oneof![
        1 => (prop::collection::vec(any::<u8>(), 0..2048), ext.clone())
            .prop_map(|(b, e)| AudioInput::Random(b, e)),
        1 => (prop::collection::vec(any::<u8>(), 0..512), ext).prop_map(|(b, e)| {
            // random bytes behind a plausible magic number
            let magic: &[u8] = match e {
                Some("mp3") => b"ID3\x04\x00\x00\x00\x00\x00\x00",
                Some("ogg") => b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00",
                Some("flac") => b"fLaC\x00\x00\x00\x22",
                _ => b"RIFF\x24\x00\x00\x00WAVE",
            };
            let mut v = magic.to_vec();
            v.extend(b);
            AudioInput::Random(v, e)
        }),
        4 => (any::<u8>(), prop::collection::vec(mutation(), 1..6))
            .prop_map(|(k, m)| AudioInput::Mutated(k, m)),
        2 => (
            0..COMPRESSED.len(),
            prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            any::<usize>()
        )
            .prop_map(|(i, m, cut)| AudioInput::Compressed(i, m, cut)),
    ]
}

/// Decoding random and mutated audio: never a panic (a decoder panic caught per
/// file counts as a clean error, and is counted), never longer than [`PER_INPUT`],
/// never more output than the 10-minute limit allows.
#[test]
fn fuzz_audio_decoding() {
    let n = AtomicUsize::new(0);
    let decoded = AtomicUsize::new(0);
    let caught = AtomicUsize::new(0);
    let max_out = 600 * 16_000;
    let dir = tempfile::tempdir().unwrap();
    let compressed = compressed_files();
    if compressed.is_empty() {
        xiaoan_testkit::skip("mutated FLAC/MP3/OGG inputs: sox is not installed (run make setup)");
    }
    runner(cases(2_000, 1.0))
        .run(&audio_input(), |input| {
            n.fetch_add(1, Ordering::Relaxed);
            let (bytes, ext) = match input {
                AudioInput::Random(b, e) => (b, e),
                AudioInput::Mutated(k, m) => (mutate(wav(k), &m), Some("wav")),
                AudioInput::Compressed(i, m, cut) => {
                    let Some(valid) = compressed.get(i) else {
                        return Ok(());
                    };
                    let mut b = valid.clone();
                    for (at, v) in m {
                        let len = b.len().max(1);
                        if let Some(x) = b.get_mut(at % len) {
                            *x = v;
                        }
                    }
                    // keep the whole file half the time, else cut it anywhere
                    if cut % 2 == 1 {
                        b.truncate(cut / 2 % (valid.len() + 1));
                    }
                    (b, Some(COMPRESSED[i]))
                }
            };
            // every fourth input also goes through a file, as `transcribe` and `eval` read it
            let file = (n.load(Ordering::Relaxed) % 4 == 0).then(|| {
                let p = dir.path().join(format!("in.{}", ext.unwrap_or("bin")));
                std::fs::write(&p, &bytes).expect("write input");
                p
            });
            let r = within("load_bytes", move || {
                let opts = xiaoan_audio::DecodeOptions::default();
                let from_bytes = xiaoan_audio::load_bytes(&bytes, ext, &opts);
                if let Some(p) = file {
                    let from_file = xiaoan_audio::load(&p, &opts);
                    // the same bytes decode the same way from a file
                    assert_eq!(
                        from_file.as_ref().map(|b| b.samples.len()).ok(),
                        from_bytes.as_ref().map(|b| b.samples.len()).ok()
                    );
                }
                from_bytes
            })?;
            match r {
                Ok(buf) => {
                    decoded.fetch_add(1, Ordering::Relaxed);
                    prop_assert_eq!(buf.sample_rate, 16_000);
                    prop_assert!(buf.samples.len() <= max_out);
                    prop_assert!(buf.samples.iter().all(|s| s.is_finite()));
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains('\n'), "one line: {}", msg);
                    if msg.contains("the decoder failed") {
                        caught.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    report(
        "audio",
        n.into_inner(),
        &format!(
            " ({} decoded, {} decoder panics caught and reported as corrupt)",
            decoded.into_inner(),
            caught.into_inner()
        ),
    );
}

// ---------------------------------------------------------------- manifests

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)),
        ".{0,40}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "cmn",
            "yue",
            "wuu-sh",
            "service.query",
            "",
            "..",
            "/dev/zero",
            "/",
            "a.wav",
            "x |",
            "\u{feff}",
            "line\nbreak",
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "audio",
                    "text",
                    "dialect",
                    "transcript",
                    "intent",
                    "service_id",
                    "synthetic",
                    "other",
                ])
                .prop_map(str::to_string),
                inner,
                0..7
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn manifest_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..80),
        1 => ".{0,80}".prop_map(String::into_bytes),
        1 => Just(b"\xEF\xBB\xBF{\"id\": \"a\", \"text\": \"x\"}\r".to_vec()),
    ]
}

/// A pipeline that only looks at the item, so the fuzz covers the runner's checks.
struct Touch;
impl xiaoan_eval::Pipeline for Touch {
    fn run_item(
        &self,
        item: &xiaoan_eval::ManifestItem,
        _audio: Option<&Path>,
        _o: &xiaoan_eval::RunOptions,
    ) -> xiaoan_eval::Prediction {
        xiaoan_eval::Prediction {
            id: item.id.clone(),
            transcript: item.text.clone(),
            ..Default::default()
        }
    }
}

/// Reading manifests of random lines, running them through the runner, and summarising:
/// every non-blank line is one item or one item error, and nothing panics.
#[test]
fn fuzz_manifests() {
    let n = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    runner(cases(400, 0.25))
        .run(&prop::collection::vec(manifest_line(), 0..12), |lines| {
            n.fetch_add(1, Ordering::Relaxed);
            let bytes = lines.join(&b'\n');
            std::fs::write(&path, &bytes).expect("write manifest");
            let p = path.clone();
            within("manifest", move || {
                let m = xiaoan_eval::read_manifest(&p).expect("a readable file reads");
                let opts = xiaoan_eval::RunOptions {
                    jobs: 1,
                    ..Default::default()
                };
                let preds = xiaoan_eval::run(&m, &Touch, &opts);
                assert_eq!(preds.len(), m.items.len());
                let s = xiaoan_eval::summarize(&m, &preds, xiaoan_eval::ReportMeta::default());
                let _ = xiaoan_eval::headline_markdown(&s);
                let _ = xiaoan_eval::Failures::of(&preds).message();
            })?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    report("manifests", n.into_inner(), "");
}

// ---------------------------------------------------------------- chat lines

fn chat_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[0-9xX -]{0,30}",
        prop::collection::vec(
            prop::sample::select(vec![
                "我",
                "要",
                "办",
                "社保卡",
                "取消",
                "对",
                "不",
                "救命",
                "摔倒",
                "预约",
                "下周三",
                "十点",
                "王小明",
                "320503198506123049",
                "13812345678",
                "，",
                "。",
                "再说一遍",
                "调解",
                "楼上",
                "吵",
                "投诉",
                "居住证明",
                "同意",
                "\u{0}",
                "\u{202e}",
                " ",
            ]),
            0..40
        )
        .prop_map(|v| v.concat()),
        // past the cap
        (501usize..3000).prop_map(|n| "吵".repeat(n)),
    ]
}

/// The chat loop's path for a typed line: the length cap, then a turn of the agent,
/// over whole random conversations. Never a panic, each turn within [`PER_INPUT`].
#[test]
fn fuzz_chat_lines() {
    let n = AtomicUsize::new(0);
    let turns = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    let agent = std::sync::Arc::new(xiaoan_tests::agent_in(dir.path(), ""));
    runner(cases(24, 0.01))
        .run(&prop::collection::vec(chat_line(), 1..12), |lines| {
            n.fetch_add(1, Ordering::Relaxed);
            let a = agent.clone();
            let t = within("a conversation", move || {
                let mut s = a.new_session();
                a.greet(&mut s);
                let mut turns = 0;
                for line in &lines {
                    let Ok(text) = xiaoan_agent::input::check_utterance(line.trim()) else {
                        continue;
                    };
                    if text.is_empty() {
                        continue;
                    }
                    let started = Instant::now();
                    let t = a.handle(&mut s, text);
                    assert!(started.elapsed() < PER_INPUT, "one turn took too long");
                    assert!(!t.reply.text.is_empty() || t.reply.end_session);
                    turns += 1;
                    if t.reply.end_session {
                        s = a.new_session();
                    }
                }
                turns
            })?;
            turns.fetch_add(t, Ordering::Relaxed);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    report(
        "chat lines",
        n.into_inner(),
        &format!(" ({} turns)", turns.into_inner()),
    );
}

/// `xiaoan chat --jsonl` reading random bytes (invalid UTF-8, NULs, no final newline)
/// from stdin: it exits 0 or 1 with a message, never with a panic (101).
#[test]
fn fuzz_chat_stdin_bytes() {
    let bin = xiaoan_tests::xiaoan_bin();
    if !bin.is_file() {
        return xiaoan_testkit::skip(
            "fuzz_chat_stdin_bytes: build the xiaoan binary first (cargo build --release)",
        );
    }
    let n = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    runner(cases(6, 0.002))
        .run(&prop::collection::vec(any::<u8>(), 0..600), |bytes| {
            n.fetch_add(1, Ordering::Relaxed);
            let (bin, home) = (bin.clone(), home.clone());
            let (code, err) = within("xiaoan chat", move || {
                let mut child = std::process::Command::new(&bin)
                    .args(["chat", "--jsonl"])
                    .env("XIAOAN_HOME", &home)
                    .current_dir(&home)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("xiaoan runs");
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(&bytes);
                }
                let out = child.wait_with_output().expect("xiaoan exits");
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).to_string(),
                )
            })?;
            prop_assert!(
                matches!(code, Some(0) | Some(1)),
                "exit {:?}: {}",
                code,
                err
            );
            prop_assert!(!err.contains("panicked"), "{}", err);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    report("chat stdin bytes", n.into_inner(), "");
}

// ---------------------------------------------------------------- staff API

const TOKEN: &str = "fuzz-token-0123456789abcdef";

/// A staff API on a fresh store with one record of several kinds, served on a thread;
/// returns its address and the records' numbers.
fn start_api(dir: &Path) -> (String, Vec<String>) {
    use xiaoan_records::*;
    let store = Store::open(&dir.join("records.db")).expect("store");
    let mut numbers = Vec::new();
    let e = store
        .record_event(&NewEvent {
            kind: EventKind::Emergency,
            summary: "老人摔倒".into(),
            transcript: vec![Turn {
                who: "resident".into(),
                text: "我电话13812345678".into(),
            }],
            wait_at: None,
            needs: None,
            session_id: "s".into(),
        })
        .expect("event");
    numbers.push(e.number);
    numbers.push(
        store
            .record_feedback(&NewFeedback {
                kind: FeedbackKind::Complaint,
                text: "灯坏了".into(),
                place: None,
                service_id: None,
                rating: None,
                contact: Contact::default(),
                session_id: "s".into(),
            })
            .expect("feedback"),
    );
    numbers.push(store.take_ticket("id-card", "s").expect("ticket").number);
    let router = xiaoan_server::router(store, TOKEN.to_string());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let _ = tx.send(l.local_addr().expect("addr").to_string());
            let _ = axum::serve(l, router).await;
        });
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("API starts");
    (addr, numbers)
}

/// One raw HTTP/1.1 request: the status code (0 when no response came).
fn raw_http(addr: &str, request: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    if s.write_all(request).is_err() {
        return 0;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,12}",
        "[0-9]{0,25}",
        prop::sample::select(vec![
            "true",
            "false",
            "1",
            "-1",
            "99999999999999999999",
            "%FF%FE",
            "%00",
            "event",
            "open",
            "filing",
            "",
        ])
        .prop_map(str::to_string),
    ]
}

#[derive(Debug, Clone)]
enum ApiCase {
    Status(usize, Vec<u8>, bool),
    List(Vec<(String, String)>, bool),
    Show(String, bool),
}

fn api_case() -> impl Strategy<Value = ApiCase> {
    let body = prop_oneof![
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
        2 => (
            prop::sample::select(vec![
                "open", "acknowledged", "closed", "answered", "serving", "done", "skipped",
                "waiting", "sleeping", "", " closed ",
            ]),
            ".{0,600}"
        )
            .prop_map(|(st, note)| serde_json::json!({"status": st, "note": note})
                .to_string()
                .into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ];
    let key = prop::sample::select(vec!["kind", "status", "limit", "reveal", "x", ""]);
    prop_oneof![
        3 => (0usize..4, body, any::<bool>()).prop_map(|(i, b, t)| ApiCase::Status(i, b, t)),
        2 => (
            prop::collection::vec((key.prop_map(str::to_string), query_value()), 0..4),
            any::<bool>()
        )
            .prop_map(|(q, t)| ApiCase::List(q, t)),
        1 => ("[0-9A-Za-z%.-]{0,24}", any::<bool>()).prop_map(|(n, r)| ApiCase::Show(n, r)),
    ]
}

/// Random status bodies, listing queries and record paths against the staff API: every
/// request gets an answer, and never a 500 (no handler panicked or hit an unexpected
/// error).
#[test]
fn fuzz_staff_api_json() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, numbers) = start_api(dir.path());
    let n = AtomicUsize::new(0);
    runner(cases(300, 0.1))
        .run(&api_case(), |case| {
            n.fetch_add(1, Ordering::Relaxed);
            let auth = |ok: bool| {
                if ok {
                    format!("Authorization: Bearer {TOKEN}\r\n")
                } else {
                    String::new()
                }
            };
            let req = match &case {
                ApiCase::Status(i, body, tok) => {
                    let number = numbers.get(*i).map_or("0000000000", String::as_str);
                    let mut r = format!(
                        "POST /api/records/{number}/status HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        auth(*tok),
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                ApiCase::List(q, tok) => {
                    let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!(
                        "GET /api/records?{} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
                        qs.join("&"),
                        auth(*tok)
                    )
                    .into_bytes()
                }
                ApiCase::Show(num, reveal) => format!(
                    "GET /api/records/{num}?reveal={reveal} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
                    auth(true)
                )
                .into_bytes(),
            };
            let a = addr.clone();
            let code = within("an API request", move || raw_http(&a, &req))?;
            prop_assert!(code != 0, "no answer to {:?}", case);
            prop_assert!(code != 500, "500 for {:?}", case);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // the API is still up and its chain intact after all of that
    let code = raw_http(
        &addr,
        format!("GET /api/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(code, 200);
    report("staff API", n.into_inner(), "");
}

// ---------------------------------------------------------------- store records

/// The JSON columns the store parses when it shows or lists records, with the tables
/// that hold them.
const COLUMNS: [(&str, &str); 6] = [
    ("filings", "fields"),
    ("filings", "materials_owed"),
    ("cases", "resident"),
    ("events", "transcript"),
    ("feedback", "contact"),
    ("drafts", "fields"),
];

fn column_text() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        ".{0,60}",
        Just(r#"[{"name":"x","label":"y","kind":"person_name","value":"王小明"}]"#.to_string()),
        Just(r#"{"name":"王小明","phone":"13812345678"}"#.to_string()),
    ]
}

/// Record rows whose JSON columns were rewritten with random text (a damaged or edited
/// file): showing, listing and verifying never panic; verify reports the change.
#[test]
fn fuzz_store_record_parsing() {
    use xiaoan_records::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let store = Store::open(&path).expect("store");
    let forms = xiaoan_agent::forms::Forms::builtin().expect("forms");
    let form = forms.get("birth-registration").expect("form");
    let answers = vec![("mother_name".to_string(), "王小明".to_string())];
    let today = chrono::Local::now().date_naive();
    let filing = store
        .file_declaration(&form.filing(&answers, "s", today))
        .expect("filing")
        .number;
    let draft = store
        .save_draft(&NewDraft {
            form_id: form.id.clone(),
            fields: Vec::new(),
            reason: "timeout".into(),
            session_id: "s".into(),
        })
        .expect("draft");
    let event = store
        .record_event(&NewEvent {
            kind: EventKind::Handoff,
            summary: "x".into(),
            transcript: Vec::new(),
            wait_at: None,
            needs: None,
            session_id: "s".into(),
        })
        .expect("event")
        .number;
    let feedback = store
        .record_feedback(&NewFeedback {
            kind: FeedbackKind::Praise,
            text: "好".into(),
            place: None,
            service_id: None,
            rating: None,
            contact: Contact::default(),
            session_id: "s".into(),
        })
        .expect("feedback");
    let numbers = [filing, draft, event, feedback];
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.busy_timeout(Duration::from_secs(10)).expect("timeout");
    let n = AtomicUsize::new(0);
    runner(cases(500, 0.25))
        .run(
            &(0usize..COLUMNS.len(), column_text(), any::<bool>()),
            |(c, text, reveal)| {
                n.fetch_add(1, Ordering::Relaxed);
                let (table, column) = COLUMNS[c];
                conn.execute(&format!("UPDATE {table} SET {column} = ?1"), [&text])
                    .expect("update");
                for number in &numbers {
                    let _ = store.show(number, reveal);
                }
                let _ = store.list(None, 50, reveal);
                let _ = store.list_with_status(RecordKind::Filing, "filed", 50, reveal);
                let v = store.verify();
                prop_assert!(v.is_ok(), "verify errs: {:?}", v.err());
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    // a file that is not a database at all is a clear error, not a panic
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"SQLite format 3\0 but not really a database, just text",
    )
    .unwrap();
    let e = Store::open(&junk).expect_err("junk is refused");
    assert!(!e.to_string().is_empty());
    report("store records", n.into_inner(), "");
}
