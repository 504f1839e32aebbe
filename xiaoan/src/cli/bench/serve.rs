//! `xiaoan bench serve`: many terminals on one server, over loopback WebSockets.
//!
//! * **The server** is `xiaoan serve` started here as a child process (its own records
//!   file in a temporary folder, the models of this set-up), or one already running
//!   (`--url`). Bench terminals are registered for the run (one per session: a terminal
//!   may hold only a few sessions at once) and revoked after it.
//! * **The residents** are questions to the service guide spoken by the project's neural
//!   voice, resampled to 16 kHz and cut where their speech ends. Each session is one
//!   hands-free terminal speaking the protocol of `docs/terminal-protocol.md`: it streams
//!   audio in real time in [`FRAME_MS`] frames the whole time (a question, then silence
//!   while the end-pointer waits and the reply comes, then a short pause), and answers each
//!   reply with `played` once its last sentence has arrived, as a text-only client may.
//! * **End of speech → first reply audio**: from the moment the question's last sample is
//!   due in the stream to the arrival of the reply's first spoken sentence (`audio` with
//!   `sentence` ≥ 1; an earcon before it is reported on its own).
//! * **CPU per session**: the server process's CPU time (`/proc/<pid>/stat`, user +
//!   system) over the wall time of the run at that concurrency, divided by the sessions.
//! * **CER**: what the server heard (each question's `final`) against what was asked,
//!   so a session that received another's transcript would show at once.
//!
//! Sessions start staggered over one question's cycle, so their questions overlap the
//! way independent residents' do. Nothing here asserts a time.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant as TokioInstant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use xiaoan_agent::config::Settings;
use xiaoan_audio::SAMPLE_RATE;

use super::procfs::{clock_ticks, cpu_seconds, loadavg, peak_rss_mb, reset_peak, rss_mb};
use super::{pct, sorted};

/// Capture frame sent by a terminal, ms.
const FRAME_MS: u64 = 20;
/// Samples in one frame at 16 kHz.
const FRAME_SAMPLES: usize = (SAMPLE_RATE as u64 * FRAME_MS / 1000) as usize;
/// Questions the residents ask (each session starts at a different one).
const QUESTIONS: [&str; 6] = [
    "社区食堂中午几点开饭",
    "敬老卡怎么办",
    "残疾证在哪里办",
    "开证明要带什么材料",
    "老年人助餐有补贴吗",
    "高龄津贴怎么申请",
];
/// Pause after a reply before the next question, seconds.
const GAP_S: f64 = 1.0;
/// A question with no reply this long after its speech ended counts as missed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the started server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// What `xiaoan bench serve` was asked.
pub struct Args {
    /// Concurrency levels.
    pub sessions: Vec<usize>,
    /// Questions per session at each level.
    pub turns: usize,
    /// A running server's terminal URL (`ws://…/ws/terminal`, `wss://…`, or its base
    /// `http(s)://host:port`); unset: start one.
    pub url: Option<String>,
    /// Device tokens for `--url`, used in turn by the sessions (default: bench terminals
    /// registered in this set-up, one per session).
    pub tokens: Vec<String>,
    /// CA certificate to trust for `wss://`.
    pub ca: Option<PathBuf>,
    /// The running server's process id, for its CPU time.
    pub server_pid: Option<u32>,
}

/// One rendered question: 16 kHz PCM16 up to where the speech ends.
struct Clip {
    text: &'static str,
    pcm: Vec<i16>,
}

/// What one question got.
#[derive(Default)]
struct TurnResult {
    /// end of speech → first spoken reply audio, ms (`None`: no reply in time)
    latency_ms: Option<f64>,
    /// end of speech → an earcon's audio, ms, when one came first
    earcon_ms: Option<f64>,
    partials: usize,
    heard: Option<String>,
    expected: &'static str,
}

/// What one session got.
struct SessionResult {
    turns: Vec<TurnResult>,
    error: Option<String>,
}

/// Where the terminals connect.
struct Target {
    url: String,
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
}

/// Anything a WebSocket can run over (plain TCP or TLS).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

/// The server this bench started; stopped when dropped.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bench terminals registered for the run (id, token); revoked when dropped.
struct BenchTerminals {
    registry: PathBuf,
    ids: Vec<(String, String)>,
}

impl Drop for BenchTerminals {
    fn drop(&mut self) {
        for (id, _) in &self.ids {
            if let Err(e) = xiaoan_server::Registry::revoke(&self.registry, id) {
                eprintln!("xiaoan bench serve: could not revoke the bench terminal {id}: {e}");
            }
        }
    }
}

/// `xiaoan bench serve`.
pub fn run(s: &Settings, args: Args) -> Result<ExitCode> {
    if args.sessions.is_empty() || args.sessions.contains(&0) {
        bail!("--sessions needs concurrency levels of at least 1, e.g. 1,2,4,6");
    }
    if args.turns == 0 {
        bail!("--turns must be at least 1");
    }
    let clips = Arc::new(render_questions(s)?);

    // the terminals: given tokens, or one bench terminal per session registered for this
    // run (a terminal may hold only a few sessions at once)
    let mut registered = BenchTerminals {
        registry: xiaoan_server::registry_path(&s.home),
        ids: Vec::new(),
    };
    let terminals: Vec<(String, String)> = if args.tokens.is_empty() {
        let most = args.sessions.iter().copied().max().unwrap_or(1);
        for i in 1..=most {
            let id = format!("bench-{}-{i}", std::process::id());
            let (_, token) = xiaoan_server::Registry::add(&registered.registry, &id, "kiosk")
                .with_context(|| {
                    format!(
                        "registering a bench terminal in {}",
                        registered.registry.display()
                    )
                })?;
            registered.ids.push((id, token));
        }
        registered.ids.clone()
    } else {
        args.tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("bench-{}", i + 1), t.clone()))
            .collect()
    };
    let terminals = Arc::new(terminals);

    let (server, url, pid) = match &args.url {
        Some(u) => (None, terminal_url(u)?, args.server_pid),
        None => {
            let (server, url) = start_server(s)?;
            let pid = server.child.id();
            (Some(server), url, Some(pid))
        }
    };
    let target = Arc::new(target(&url, args.ca.as_deref())?);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    println!(
        "bench serve: end of speech → first reply audio over loopback WebSockets, questions streamed in real time ({FRAME_MS} ms frames, hands-free)"
    );
    println!(
        "  server: {}{}; {} terminals (kiosk); {} questions in the neural voice, {} per session",
        target.url,
        match (&server, pid) {
            (Some(_), Some(p)) => format!(" (xiaoan serve started here, pid {p})"),
            (None, Some(p)) => format!(" (pid {p})"),
            _ => " (CPU not measured: pass --server-pid)".to_string(),
        },
        terminals.len(),
        clips.len(),
        args.turns
    );
    println!(
        "  machine: {}; load average before: {}",
        crate::cli::eval::machine(),
        loadavg()
    );

    // warm-up: the first session pays for loading the models
    let warm = rt.block_on(level(&target, &terminals, &clips, 1, 1));
    if let Some(e) = warm.iter().find_map(|r| r.error.clone()) {
        bail!("the warm-up session failed: {e}");
    }

    // the server's memory with the models loaded and no session open
    let idle_mb = pid.and_then(rss_mb);
    if let Some(m) = idle_mb {
        println!("  server memory after the warm-up, no session open: {m:.0} MB resident");
    }

    println!(
        "\n  {:>8} {:>6} {:>8} {:>9} {:>9} {:>9} {:>14} {:>6} {:>11} {:>9} {:>7}",
        "sessions",
        "turns",
        "replied",
        "p50",
        "p95",
        "max",
        "partials/turn",
        "CER",
        "CPU/session",
        "peak RSS",
        "errors"
    );
    let tick = clock_ticks();
    let mut failed = false;
    // (sessions, the server's peak resident memory at that level, MB)
    let mut peaks: Vec<(usize, f64)> = Vec::new();
    for &n in &args.sessions {
        // each level's peak counts from what the server holds as it starts
        let peak_reset = pid.is_some_and(reset_peak);
        let cpu0 = pid.and_then(|p| cpu_seconds(&format!("/proc/{p}/stat"), tick));
        let me0 = cpu_seconds("/proc/self/stat", tick);
        let t0 = Instant::now();
        let results = rt.block_on(level(&target, &terminals, &clips, n, args.turns));
        let wall = t0.elapsed().as_secs_f64();
        let cpu1 = pid.and_then(|p| cpu_seconds(&format!("/proc/{p}/stat"), tick));
        let me1 = cpu_seconds("/proc/self/stat", tick);

        let turns: Vec<&TurnResult> = results.iter().flat_map(|r| &r.turns).collect();
        let lat = sorted(turns.iter().filter_map(|t| t.latency_ms).collect());
        let replied = lat.len();
        let partials =
            turns.iter().map(|t| t.partials).sum::<usize>() as f64 / turns.len().max(1) as f64;
        // the recogniser's character error rate over the questions, pooled (a question
        // with no final counts as all deleted)
        let (edits, chars) = turns.iter().fold((0usize, 0usize), |(e, c), t| {
            let r: Vec<char> = xiaoan_eval::cer_normalize(t.expected).chars().collect();
            let h: Vec<char> = xiaoan_eval::cer_normalize(t.heard.as_deref().unwrap_or(""))
                .chars()
                .collect();
            (e + xiaoan_eval::edit_distance(&r, &h), c + r.len())
        });
        let cer = 100.0 * edits as f64 / chars.max(1) as f64;
        let errors: Vec<&str> = results.iter().filter_map(|r| r.error.as_deref()).collect();
        let cpu = match (cpu0, cpu1) {
            (Some(a), Some(b)) => format!("{:.0}%", 100.0 * (b - a) / wall / n as f64),
            _ => "-".to_string(),
        };
        let peak = pid.and_then(peak_rss_mb);
        if let (Some(p), true) = (peak, peak_reset) {
            peaks.push((n, p));
        }
        println!(
            "  {:>8} {:>6} {:>8} {:>7.2} s {:>7.2} s {:>7.2} s {:>14.1} {:>6} {:>11} {:>9} {:>7}",
            n,
            turns.len(),
            replied,
            pct(&lat, 50.0) / 1000.0,
            pct(&lat, 95.0) / 1000.0,
            lat.last().copied().unwrap_or(f64::NAN) / 1000.0,
            partials,
            format!("{cer:.0}%"),
            cpu,
            peak.map_or("-".to_string(), |p| format!("{p:.0} MB")),
            errors.len()
        );
        if let (Some(a), Some(b)) = (me0, me1) {
            let earcons = turns.iter().filter(|t| t.earcon_ms.is_some()).count();
            println!(
                "  {:>8} wall {:.1} s; this client {:.0}% of a core in all{}",
                "",
                wall,
                100.0 * (b - a) / wall,
                if earcons > 0 {
                    format!("; an earcon came before {earcons} replies")
                } else {
                    String::new()
                }
            );
        }
        for e in errors {
            println!("  {:>8} error: {e}", "");
            failed = true;
        }
        let mut misheard: Vec<(&str, &str)> = turns
            .iter()
            .filter_map(|t| {
                t.heard
                    .as_deref()
                    .filter(|h| !same_words(h, t.expected))
                    .map(|h| (t.expected, h))
            })
            .collect();
        misheard.sort_unstable();
        misheard.dedup();
        for (asked, heard) in misheard {
            println!("  {:>8} asked \"{asked}\", heard \"{heard}\"", "");
        }
        for t in turns.iter().filter(|t| t.latency_ms.is_none()) {
            println!(
                "  {:>8} no reply within {} s to \"{}\" (heard: {})",
                "",
                REPLY_TIMEOUT.as_secs(),
                t.expected,
                t.heard.as_deref().unwrap_or("nothing")
            );
        }
    }
    println!(
        "\n  CPU/session: the server's CPU time over the wall time of the level, per session (100% = one core)"
    );
    println!("  peak RSS: the server's highest resident memory during the level (VmHWM, reset as each level starts)");
    if let Some(line) = memory_growth(idle_mb, &peaks) {
        println!("  {line}");
    }
    drop(server);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The memory summary: the peak with one session, and what each session added beyond it
/// (the slope of peak over sessions, least squares over the levels measured; with one
/// level, against the idle server). `None` when nothing was measured.
fn memory_growth(idle_mb: Option<f64>, peaks: &[(usize, f64)]) -> Option<String> {
    let mut pts: Vec<(f64, f64)> = peaks.iter().map(|&(n, p)| (n as f64, p)).collect();
    if pts.len() < 2 {
        pts.extend(idle_mb.map(|m| (0.0, m)));
    }
    if pts.len() < 2 {
        return None;
    }
    let k = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / k,
        pts.iter().map(|p| p.1).sum::<f64>() / k,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let one = peaks.iter().find(|p| p.0 == 1).map(|p| p.1);
    Some(format!(
        "memory: {}each added session {:+.0} MB (fit over {} levels{})",
        one.map_or(String::new(), |p| format!(
            "one session peaks at {p:.0} MB; "
        )),
        slope,
        pts.len(),
        if peaks.len() < 2 {
            ", idle server included"
        } else {
            ""
        }
    ))
}

/// The same words, punctuation and spaces aside.
fn same_words(a: &str, b: &str) -> bool {
    let keep = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric() && !c.is_whitespace())
            .collect()
    };
    keep(a) == keep(b)
}

/// The questions in the neural voice (espeak-ng when it is not installed), 16 kHz PCM16,
/// each cut where its speech ends.
fn render_questions(s: &Settings) -> Result<Vec<Clip>> {
    use xiaoan_agent::speech::Speech;
    let speech = match Speech::for_engine("neural", &s.home, s.config.asr.threads) {
        Ok(sp) => sp,
        Err(e) => {
            eprintln!("xiaoan bench serve: the neural voice is not available ({e}); the questions are spoken by espeak-ng");
            Speech::for_engine("espeak", &s.home, 1)?
        }
    };
    let voice = xiaoan_models::Voice {
        name: xiaoan_models::voice_for_dialect("cmn").to_string(),
        // the voice's own pace: a resident, not the kiosk's slowed reading
        rate_wpm: 150,
        pitch: 50,
        volume: 1.0,
    };
    let mut clips = Vec::new();
    for text in QUESTIONS {
        let audio = speech
            .sentence(text, &voice)
            .with_context(|| format!("speaking \"{text}\""))?
            .to_16k()?;
        let end = audio.speech_end();
        let pcm = audio.samples[..end]
            .iter()
            .map(|x| (x.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .collect();
        clips.push(Clip { text, pcm });
    }
    Ok(clips)
}

/// `xiaoan serve` as a child process on a free loopback port, with its own records file;
/// returns it and its terminal URL.
fn start_server(s: &Settings) -> Result<(Server, String)> {
    let dir = tempfile::tempdir()?;
    let mut config = s.config.clone();
    config.home = Some(s.home.clone());
    config.store.path = Some(dir.path().join("bench-records.db"));
    let config_path = dir.path().join("xiaoan.toml");
    std::fs::write(&config_path, toml::to_string(&config)?)?;
    let staff_token = {
        let mut b = [0u8; 32];
        use std::io::Read as _;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    let log = dir.path().join("serve.log");
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--config")
        .arg(&config_path)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env(xiaoan_server::TOKEN_ENV, staff_token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting xiaoan serve")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(i) = line.find("listening on ") {
                    let addr = line[i + "listening on ".len()..].trim().to_string();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        }
    });
    let server = Server { child, _dir: dir };
    let base = match rx.recv_timeout(START_TIMEOUT) {
        Ok(a) => a,
        Err(_) => {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "xiaoan serve did not start within {} s:\n{}",
                START_TIMEOUT.as_secs(),
                tail.join("\n")
            );
        }
    };
    Ok((server, terminal_url(&base)?))
}

/// A terminal URL from a base (`http://host:port`) or a full `ws(s)://…` URL.
fn terminal_url(u: &str) -> Result<String> {
    let u = u.trim().trim_end_matches('/');
    let (scheme, rest) = u
        .split_once("://")
        .with_context(|| format!("\"{u}\" is not a URL (e.g. ws://127.0.0.1:8750/ws/terminal)"))?;
    let scheme = match scheme {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => bail!("\"{other}\": use ws://, wss://, http:// or https://"),
    };
    Ok(if rest.contains('/') {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}/ws/terminal")
    })
}

fn target(url: &str, ca: Option<&Path>) -> Result<Target> {
    let (scheme, rest) = url.split_once("://").context("a URL")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h.trim_matches(['[', ']']).to_string(), p.parse::<u16>()?)
        }
        _ => (
            authority.trim_matches(['[', ']']).to_string(),
            if scheme == "wss" { 443 } else { 80 },
        ),
    };
    let tls = if scheme == "wss" {
        let ca = ca.context("a wss:// server needs --ca <the CA certificate that signed it>")?;
        let mut roots = rustls::RootCertStore::empty();
        for c in xiaoan_server::tls::read_certs(ca)? {
            roots.add(c)?;
        }
        let config = rustls::ClientConfig::builder_with_provider(xiaoan_server::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
    } else {
        None
    };
    Ok(Target {
        url: url.to_string(),
        host,
        port,
        tls,
    })
}

async fn connect(t: &Target) -> Result<Ws> {
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .with_context(|| format!("connecting to {}", t.url))?;
    tcp.set_nodelay(true)?;
    let io: Box<dyn Io> = match &t.tls {
        Some(c) => {
            let name = rustls::pki_types::ServerName::try_from(t.host.clone())?;
            Box::new(c.connect(name, tcp).await.context("TLS handshake")?)
        }
        None => Box::new(tcp),
    };
    let (ws, _) = tokio_tungstenite::client_async(t.url.as_str(), io)
        .await
        .with_context(|| format!("opening the WebSocket {}", t.url))?;
    Ok(ws)
}

/// `n` sessions at once, each asking `turns` questions; started over one cycle.
async fn level(
    target: &Arc<Target>,
    terminals: &Arc<Vec<(String, String)>>,
    clips: &Arc<Vec<Clip>>,
    n: usize,
    turns: usize,
) -> Vec<SessionResult> {
    let mean_clip_s = clips.iter().map(|c| c.pcm.len()).sum::<usize>() as f64
        / clips.len().max(1) as f64
        / SAMPLE_RATE as f64;
    // a question, the end-pointer's wait and a reply's first sentence, the pause
    let cycle_s = mean_clip_s + 1.5 + GAP_S;
    let mut handles = Vec::new();
    for i in 0..n {
        let target = target.clone();
        let clips = clips.clone();
        let (terminal, token) = terminals[i % terminals.len()].clone();
        let delay = Duration::from_secs_f64(cycle_s * i as f64 / n as f64);
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut out = Vec::new();
            let error = session(&target, &token, &terminal, &clips, i, turns, &mut out)
                .await
                .err()
                .map(|e| format!("{e:#}"));
            SessionResult { turns: out, error }
        }));
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap_or_else(|e| SessionResult {
            turns: Vec::new(),
            error: Some(format!("session task failed: {e}")),
        }));
    }
    results
}

/// Where a session is in its script.
enum Phase {
    /// Before the first question: the greeting plays.
    Greeting,
    /// Silence until this instant, then the next question.
    Pause(TokioInstant),
    /// Speaking clip `clip`, `pos` samples sent.
    Speak { clip: usize, pos: usize },
    /// Silence, waiting for the reply to the question whose speech ended then.
    Wait {
        speech_end: TokioInstant,
        /// the highest turn number seen before the question
        before: u64,
    },
    /// The script is done.
    Done,
}

/// One hands-free terminal: hello, the greeting, `turns` questions, end.
async fn session(
    target: &Target,
    token: &str,
    terminal: &str,
    clips: &[Clip],
    first: usize,
    turns: usize,
    out: &mut Vec<TurnResult>,
) -> Result<()> {
    let ws = connect(target).await?;
    let (mut tx, mut rx) = ws.split();
    let hello = json!({"type": "hello", "token": token, "terminal": terminal, "profile": "kiosk", "dialect": "cmn", "protocol": 1});
    tx.send(Message::text(hello.to_string())).await?;

    // until `ready`
    let deadline = TokioInstant::now() + Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, rx.next())
            .await
            .context("no ready within 30 s")?;
        let ev = match msg {
            Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t)?,
            Some(Ok(Message::Close(c))) => bail!("closed before ready: {c:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("before ready: {e}"),
            None => bail!("closed before ready"),
        };
        match ev["type"].as_str() {
            Some("ready") => break,
            Some("error") => bail!("refused: {} ({})", ev["code"], ev["message"]),
            _ => {}
        }
    }

    let base = TokioInstant::now();
    let frame_len = Duration::from_millis(FRAME_MS);
    let mut frame_no: u32 = 0;
    let mut phase = Phase::Greeting;
    let mut max_turn: u64 = 0;
    let mut asked = 0;
    // the reply being received: its turn and whether its last sentence has come
    let mut reply_turn: Option<u64> = None;
    let mut last_sentence_seen = false;
    let mut cur = TurnResult::default();
    loop {
        let due = base + frame_len * (frame_no + 1);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {
                // the frame that covers [due - 20 ms, due)
                let mut frame = vec![0i16; FRAME_SAMPLES];
                let now = TokioInstant::now();
                match &mut phase {
                    Phase::Pause(until) if now >= *until => {
                        if asked == turns {
                            phase = Phase::Done;
                        } else {
                            let clip = (first + asked) % clips.len();
                            cur = TurnResult { expected: clips[clip].text, ..TurnResult::default() };
                            phase = Phase::Speak { clip, pos: 0 };
                            asked += 1;
                        }
                    }
                    _ => {}
                }
                if let Phase::Speak { clip, pos } = &mut phase {
                    let pcm = &clips[*clip].pcm;
                    let take = (pcm.len() - *pos).min(FRAME_SAMPLES);
                    frame[..take].copy_from_slice(&pcm[*pos..*pos + take]);
                    *pos += take;
                    if *pos >= pcm.len() {
                        // the last sample is due this far into the frame
                        let frame_start = due - frame_len;
                        let speech_end = frame_start
                            + Duration::from_secs_f64(take as f64 / SAMPLE_RATE as f64);
                        phase = Phase::Wait { speech_end, before: max_turn };
                        reply_turn = None;
                        last_sentence_seen = false;
                    }
                }
                if matches!(phase, Phase::Done) {
                    break;
                }
                let bytes: Vec<u8> = frame.iter().flat_map(|x| x.to_le_bytes()).collect();
                tx.send(Message::binary(bytes)).await?;
                frame_no += 1;
                if let Phase::Wait { speech_end, .. } = phase {
                    if TokioInstant::now() > speech_end + REPLY_TIMEOUT {
                        out.push(std::mem::take(&mut cur));
                        phase = Phase::Pause(TokioInstant::now() + Duration::from_secs_f64(GAP_S));
                    }
                }
            }
            msg = rx.next() => {
                let ev = match msg {
                    Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t)?,
                    Some(Ok(Message::Binary(_))) => continue,
                    Some(Ok(Message::Close(c))) => bail!("the server closed the session: {c:?}"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => bail!("{e}"),
                    None => bail!("the server closed the session"),
                };
                let now = TokioInstant::now();
                let turn = ev["turn"].as_u64();
                if let Some(t) = turn {
                    max_turn = max_turn.max(t);
                }
                match ev["type"].as_str().unwrap_or("") {
                    "error" => bail!("error {}: {}", ev["code"], ev["message"]),
                    "bye" => bail!("the server ended the session (bye)"),
                    "idle_warning" => {
                        tx.send(Message::text(json!({"type": "more_time"}).to_string())).await?;
                    }
                    "listening" => {
                        if matches!(phase, Phase::Greeting) {
                            if max_turn > 0 {
                                tx.send(Message::text(json!({"type": "played", "turn": max_turn}).to_string())).await?;
                            }
                            phase = Phase::Pause(now + Duration::from_secs_f64(GAP_S));
                        }
                    }
                    "partial" => {
                        if matches!(phase, Phase::Speak { .. } | Phase::Wait { .. }) {
                            cur.partials += 1;
                        }
                    }
                    "final" => {
                        if matches!(phase, Phase::Speak { .. } | Phase::Wait { .. }) {
                            cur.heard = ev["text"].as_str().map(str::to_string);
                        }
                    }
                    "reply" => {
                        if let Phase::Wait { before, .. } = phase {
                            if turn.is_some_and(|t| t > before) && ev["last"].as_bool() == Some(true) {
                                last_sentence_seen = true;
                            }
                        }
                    }
                    "audio" => {
                        if let Phase::Wait { speech_end, before } = phase {
                            let t = turn.unwrap_or(0);
                            if t > before {
                                let ms = now.saturating_duration_since(speech_end).as_secs_f64() * 1000.0;
                                if ev["sentence"].as_u64().unwrap_or(0) == 0 {
                                    cur.earcon_ms.get_or_insert(ms);
                                } else {
                                    cur.latency_ms.get_or_insert(ms);
                                    reply_turn = Some(t);
                                }
                                if last_sentence_seen && reply_turn == Some(t) {
                                    // all of the reply has come: played, then the pause
                                    tx.send(Message::text(json!({"type": "played", "turn": t}).to_string())).await?;
                                    out.push(std::mem::take(&mut cur));
                                    phase = Phase::Pause(now + Duration::from_secs_f64(GAP_S));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    tx.send(Message::text(json!({"type": "end"}).to_string()))
        .await?;
    // the bye and the close, briefly
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(m)) = rx.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_urls_from_a_base_or_a_full_url() {
        assert_eq!(
            terminal_url("http://127.0.0.1:8750").unwrap(),
            "ws://127.0.0.1:8750/ws/terminal"
        );
        assert_eq!(
            terminal_url("https://gs-server:8750/").unwrap(),
            "wss://gs-server:8750/ws/terminal"
        );
        assert_eq!(
            terminal_url("ws://[::1]:9000/ws/terminal").unwrap(),
            "ws://[::1]:9000/ws/terminal"
        );
        assert!(terminal_url("ftp://x").is_err());
        let t = target("ws://[::1]:9000/ws/terminal", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        let t = target("ws://127.0.0.1:8750/ws/terminal", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8750));
        assert!(target("wss://localhost:8750/ws/terminal", None).is_err());
    }

    #[test]
    fn memory_growth_is_the_slope_of_the_peaks() {
        // 400 MB with one session, +30 MB for each more
        let peaks = [(1, 400.0), (2, 430.0), (4, 490.0), (6, 550.0)];
        let line = memory_growth(Some(350.0), &peaks).unwrap();
        assert!(line.contains("one session peaks at 400 MB"), "{line}");
        assert!(line.contains("each added session +30 MB"), "{line}");
        // one level: against the idle server
        let line = memory_growth(Some(350.0), &[(1, 420.0)]).unwrap();
        assert!(line.contains("+70 MB") && line.contains("idle"), "{line}");
        assert_eq!(memory_growth(None, &[(2, 420.0)]), None);
        assert_eq!(memory_growth(None, &[]), None);
    }

    #[test]
    fn the_same_words_ignore_punctuation_and_spaces() {
        assert!(same_words("敬老卡怎么办？", "敬老卡 怎么办"));
        assert!(!same_words("敬老卡怎么办", "残疾证怎么办"));
    }
}
