//! The kiosk page in a real browser: `xiaoan serve` on a free loopback port with a
//! registered kiosk, Debian's Chromium (headless) with its microphone fed from a WAV of
//! the project's own voice, driven by `tests/browser/kiosk.test.mjs` (puppeteer-core,
//! axe-core). The script holds a whole conversation (a spoken question answered with
//! audio; a certificate declaration started by voice, the ID typed on the keypad, the
//! receipt shown and spoken), audits the page with axe-core and takes screenshots.
//!
//! Screenshots go to `<target>/kiosk-screenshots/`, or to `XIAOAN_KIOSK_SHOTS` when set
//! (`XIAOAN_KIOSK_SHOTS=docs/img` refreshes the README's pictures).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xiaoan_models::testing::{model_or_skip, program_or_skip};
use xiaoan_tests::{installed_home, repo, xiaoan_bin};

/// The whole browser script may take this long (speech is recognised on a shared
/// 2-core machine; the conversation itself is about three minutes).
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);
/// The fake microphone's file: 48 kHz, as a sound card gives it.
const WAV_RATE: u32 = 48_000;

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("the command starts");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A data folder for this test whose models are the installed ones (linked), with its
/// own records store, service-guide index and terminal registry.
fn home_linked_to(installed: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for part in ["models", "lib"] {
        let from = installed.join(part);
        if from.exists() {
            std::os::unix::fs::symlink(&from, dir.join(part)).unwrap();
        }
    }
    dir.to_path_buf()
}

/// What the resident says into the kiosk's microphone, in the project's neural voice:
/// a question, a silence long enough for the answer to be played, the request that
/// starts a declaration, then silence.
fn render_speech(bin: &Path, home: &Path, out: &Path) {
    let mut pieces = Vec::new();
    for (i, text) in ["积分超市什么时候开门？", "我想开个居住证明。"]
        .iter()
        .enumerate()
    {
        let wav = home.join(format!("say-{i}.wav"));
        run(Command::new(bin)
            .args(["say", text, "--out"])
            .arg(&wav)
            .env("XIAOAN_HOME", home)
            .current_dir(home));
        let a = xiaoan_audio::load(&wav, &Default::default()).unwrap();
        pieces.push(xiaoan_audio::resample(&a.samples, a.sample_rate, WAV_RATE).unwrap());
    }
    let silence = |s: f64| vec![0.0f32; (s * WAV_RATE as f64) as usize];
    let mut all = silence(1.5);
    all.extend(&pieces[0]);
    all.extend(silence(20.0));
    all.extend(&pieces[1]);
    all.extend(silence(4.0));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: WAV_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(out, spec).unwrap();
    for s in all {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn the_kiosk_page_holds_a_conversation_in_chromium() {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let Some(chromium) = model_or_skip(&chromium) else {
        return; // SKIP printed: Debian's chromium (make setup installs it)
    };
    let Some(node) = program_or_skip("node") else {
        return;
    };
    let browser_dir = repo().join("tests/browser");
    for module in ["puppeteer-core/package.json", "axe-core/axe.min.js"] {
        if !browser_dir.join("node_modules").join(module).is_file() {
            return xiaoan_testkit::skip(&format!(
                "kiosk browser test: tests/browser/node_modules/{module} missing (make setup runs npm ci there)"
            ));
        }
    }
    let Some(installed) = installed_home() else {
        return xiaoan_testkit::skip("kiosk browser test: models not installed (run make setup)");
    };
    if model_or_skip(xiaoan_models::voice_dir(&installed)).is_none() {
        return;
    }
    let bin = xiaoan_bin();
    if !bin.is_file() {
        return xiaoan_testkit::skip(&format!(
            "kiosk browser test: {} not built (cargo build --release --bin xiaoan)",
            bin.display()
        ));
    }

    let tmp = tempfile::tempdir().unwrap();
    let home = home_linked_to(&installed, &tmp.path().join("home"));
    let wav = tmp.path().join("resident.wav");
    render_speech(&bin, &home, &wav);

    // a registered kiosk and its device token
    let added = run(Command::new(&bin)
        .args(["terminals", "add", "kiosk-test", "--profile", "kiosk"])
        .env("XIAOAN_HOME", &home)
        .current_dir(&home));
    let token = added
        .lines()
        .map(str::trim)
        .find(|l| l.len() >= 32 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no device token in: {added}"))
        .to_string();

    let server_log = tmp.path().join("serve.log");
    let mut server = Running(
        Command::new(&bin)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("XIAOAN_HOME", &home)
            .env("XIAOAN_STAFF_TOKEN", "kQ7v2Lx9Rz4Wp1Nb8Tc3Yh6Md0Fg5Js+")
            .current_dir(&home)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&server_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let addr = {
        let out = BufReader::new(server.0.stdout.take().unwrap());
        let mut found = None;
        for line in out.lines() {
            let line = line.unwrap();
            if let Some((_, a)) = line.split_once("listening on http://") {
                found = Some(a.trim().to_string());
                break;
            }
        }
        found.unwrap_or_else(|| {
            panic!(
                "xiaoan serve did not start: {}",
                std::fs::read_to_string(&server_log).unwrap_or_default()
            )
        })
    };

    let shots = std::env::var_os("XIAOAN_KIOSK_SHOTS")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { repo().join(p) })
        .unwrap_or_else(|| {
            xiaoan_bin()
                .parent()
                .and_then(Path::parent)
                .unwrap_or(tmp.path())
                .join("kiosk-screenshots")
        });
    let script_log = tmp.path().join("browser.log");
    let mut script = Running(
        Command::new(&node)
            .arg(browser_dir.join("kiosk.test.mjs"))
            .env("KIOSK_URL", format!("http://{addr}/kiosk/"))
            .env("KIOSK_TOKEN", &token)
            .env("KIOSK_TERMINAL", "kiosk-test")
            .env("KIOSK_WAV", &wav)
            .env("KIOSK_SHOTS", &shots)
            .env("CHROMIUM", &chromium)
            .current_dir(&browser_dir)
            .stdout(std::fs::File::create(&script_log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = script.0.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > SCRIPT_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let log = std::fs::read_to_string(&script_log).unwrap_or_default();
    println!("{log}");
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        let server_says = std::fs::read_to_string(&server_log).unwrap_or_default();
        let tail: Vec<&str> = server_says.lines().rev().take(40).collect();
        println!("xiaoan serve (last lines):");
        for l in tail.iter().rev() {
            println!("  {l}");
        }
    }
    assert!(
        status.is_some(),
        "the browser script ran over {} s",
        SCRIPT_LIMIT.as_secs()
    );
    assert!(ok, "the kiosk browser test failed (its log is above)");
    assert!(
        log.contains(" passed, 0 failed"),
        "the script did not report its checks"
    );
}
