//! Running a manifest through a [`Pipeline`], in parallel, in manifest order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::manifest::{DialectMode, Manifest, ManifestItem};
use crate::predictions::Prediction;

/// How a run is carried out.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// How the dialect adapter is chosen (`--dialect`).
    pub mode: DialectMode,
    /// `true`: feed audio in simulated real time (latency figures); `false` (`--fast`):
    /// as fast as possible (throughput).
    pub realtime: bool,
    /// Items processed at once; 0 means one per available core.
    pub jobs: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for RunOptions {
    /// Auto dialect, real time, one job per core, no progress bar.
    fn default() -> Self {
        RunOptions {
            mode: DialectMode::Auto,
            realtime: true,
            jobs: 0,
            progress: false,
        }
    }
}

/// What eval drives: the agent's pipeline (audio → streaming ASR → understanding →
/// retrieval). Implemented in the `xiaoan` crate (`xiaoan::eval_pipeline`).
///
/// One call per manifest item, possibly from several threads at once (hence `Sync`).
/// The runner has already checked that `audio_path` is a regular file; anything that still goes
/// wrong (unreadable audio, a model error) belongs in [`Prediction::error`]. The
/// returned prediction's `id` is overwritten with the item's id.
pub trait Pipeline: Sync {
    /// Processes one item. `audio_path` is the item's audio resolved against the
    /// manifest's folder (`None` for text items).
    fn run_item(
        &self,
        item: &ManifestItem,
        audio_path: Option<&Path>,
        opts: &RunOptions,
    ) -> Prediction;
}

/// Runs every manifest item through `pipeline` and returns one prediction per item, in
/// manifest order.
///
/// Items run in parallel on `opts.jobs` threads. Item errors from the manifest, missing
/// audio files and a panicking pipeline all become [`Prediction::error`]; the run goes on.
pub fn run(manifest: &Manifest, pipeline: &dyn Pipeline, opts: &RunOptions) -> Vec<Prediction> {
    let n = manifest.items.len() as u64;
    let bar = if opts.progress {
        let style = ProgressStyle::with_template(
            "{bar:40} {pos}/{len} items  {elapsed_precise} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(style)
    } else {
        ProgressBar::hidden()
    };
    let one = |entry: &Result<ManifestItem, crate::ItemError>| -> Prediction {
        let p = run_one(manifest, entry, pipeline, opts);
        bar.inc(1);
        p
    };
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.jobs
    };
    let preds = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(|| manifest.items.par_iter().map(one).collect()),
        Err(_) => manifest.items.iter().map(one).collect(),
    };
    bar.finish_and_clear();
    preds
}

/// Why an item's audio path cannot be read as a file, if it cannot: missing, or not a
/// regular file (a directory, a pipe, a device such as `/dev/zero`). Checked without
/// opening the path, so a pipe cannot make the run wait forever.
fn audio_problem(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    let ft = match std::fs::metadata(path) {
        Ok(m) => m.file_type(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("audio file not found: {shown}"))
        }
        Err(e) => return Some(format!("cannot read audio file {shown}: {e}")),
    };
    let what = if ft.is_file() {
        return None;
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a pipe (FIFO)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Some(format!("audio path is {what}, not a regular file: {shown}"))
}

/// Share of a run's items that may fail (manifest errors, unreadable audio, pipeline
/// errors) before the run as a whole counts as failed: past it, `xiaoan eval` still
/// writes its predictions and report but exits non-zero, so a script cannot mistake a
/// run where most items never ran for a measurement.
pub const MAX_FAILED_SHARE: f64 = 0.5;

/// How many items of a run failed, and whether that is too many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// Items whose prediction carries an error.
    pub failed: usize,
    /// Items in the run.
    pub total: usize,
}

impl Failures {
    /// Count the failed predictions of a run.
    pub fn of(preds: &[Prediction]) -> Failures {
        Failures {
            failed: preds.iter().filter(|p| p.error.is_some()).count(),
            total: preds.len(),
        }
    }

    /// True when the run has no items, or more than [`MAX_FAILED_SHARE`] of them failed.
    pub fn too_many(&self) -> bool {
        self.total == 0 || self.failed as f64 > MAX_FAILED_SHARE * self.total as f64
    }

    /// One line for the terminal when [`Failures::too_many`] holds.
    pub fn message(&self) -> String {
        if self.total == 0 {
            return "the manifest has no items: nothing was evaluated".to_string();
        }
        format!(
            "{} of {} items failed ({:.0}%), more than the {:.0}% a run may lose: see the predictions' errors",
            self.failed,
            self.total,
            100.0 * self.failed as f64 / self.total as f64,
            100.0 * MAX_FAILED_SHARE
        )
    }
}

fn run_one(
    manifest: &Manifest,
    entry: &Result<ManifestItem, crate::ItemError>,
    pipeline: &dyn Pipeline,
    opts: &RunOptions,
) -> Prediction {
    let item = match entry {
        Ok(item) => item,
        Err(e) => return Prediction::failed(e.prediction_id(), format!("manifest {e}")),
    };
    let audio = manifest.audio_path(item);
    if let Some(path) = &audio {
        if let Some(problem) = audio_problem(path) {
            return Prediction::failed(&item.id, problem);
        }
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        pipeline.run_item(item, audio.as_deref(), opts)
    }));
    match result {
        Ok(mut p) => {
            p.id = item.id.clone();
            p
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Prediction::failed(&item.id, format!("pipeline panicked: {msg}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// What the fake pipeline saw, in the order it happened.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Event {
        Start(usize),
        End(usize),
    }

    #[derive(Default)]
    struct Log {
        events: Vec<Event>,
        /// The first two items to enter the pipeline, in the order they entered.
        pair: Vec<usize>,
    }

    impl Log {
        fn ended(&self, k: usize) -> bool {
            self.events.contains(&Event::End(k))
        }
    }

    /// A fake pipeline: echoes the text (or the audio file's content) and logs when each
    /// item starts and ends. No clock: the first two items to arrive wait for each other
    /// (so two items are in the pipeline at once only if the runner runs them in
    /// parallel), and the lower-numbered of the two then waits until the other has
    /// ended, so items end out of manifest order.
    #[derive(Default)]
    struct Fake {
        log: Mutex<Log>,
        changed: Condvar,
    }

    /// How long a gate waits before giving up, so that a runner that does not run
    /// items in parallel fails the test instead of hanging it. Never reached otherwise.
    const GIVE_UP: Duration = Duration::from_secs(30);

    impl Fake {
        fn enter(&self, k: usize) {
            let mut log = self.log.lock().unwrap();
            log.events.push(Event::Start(k));
            if log.pair.len() < 2 {
                log.pair.push(k);
                self.changed.notify_all();
            }
            log = self.wait(log, |l| l.pair.len() < 2 && l.pair[0] == k);
            if log.pair.len() == 2 && k == log.pair[0].min(log.pair[1]) {
                let later = log.pair[0].max(log.pair[1]);
                let _ended = self.wait(log, |l| !l.ended(later));
            }
        }

        fn leave(&self, k: usize) {
            self.log.lock().unwrap().events.push(Event::End(k));
            self.changed.notify_all();
        }

        fn wait<'a>(
            &self,
            log: std::sync::MutexGuard<'a, Log>,
            blocked: impl FnMut(&mut Log) -> bool,
        ) -> std::sync::MutexGuard<'a, Log> {
            self.changed
                .wait_timeout_while(log, GIVE_UP, blocked)
                .unwrap()
                .0
        }
    }

    impl Pipeline for Fake {
        fn run_item(
            &self,
            item: &ManifestItem,
            audio: Option<&Path>,
            opts: &RunOptions,
        ) -> Prediction {
            let k: usize = item.id.trim_start_matches('u').parse().unwrap();
            self.enter(k);
            let transcript = match audio {
                Some(p) => std::fs::read_to_string(p).ok(),
                None => item.text.clone(),
            };
            self.leave(k);
            if item.id == "u5" {
                panic!("boom on u5");
            }
            Prediction {
                id: "wrong-id".into(),
                transcript,
                dialect: opts.mode.dialect_for(item).map(str::to_string),
                ..Default::default()
            }
        }
    }

    #[test]
    fn audio_paths_that_are_not_files_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            audio_problem(Path::new("/dev/zero")).unwrap(),
            "audio path is a character device, not a regular file: /dev/zero"
        );
        let e = audio_problem(dir.path()).unwrap();
        assert!(
            e.starts_with("audio path is a directory, not a regular file"),
            "{e}"
        );
        let e = audio_problem(&dir.path().join("nope.wav")).unwrap();
        assert!(e.starts_with("audio file not found: "), "{e}");
        let fifo = dir.path().join("pipe.wav");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if made {
            // never opened, so this returns at once although no one writes to it
            let e = audio_problem(&fifo).unwrap();
            assert!(
                e.starts_with("audio path is a pipe (FIFO), not a regular file"),
                "{e}"
            );
        } else {
            xiaoan_testkit::skip("audio_paths_that_are_not_files_say_what_they_are (the FIFO case): the mkfifo program is not available (install coreutils)");
        }
        std::fs::write(dir.path().join("ok.wav"), b"x").unwrap();
        assert_eq!(audio_problem(&dir.path().join("ok.wav")), None);
    }

    #[test]
    fn a_run_fails_past_half_its_items_failing() {
        let p = |err: bool| Prediction {
            error: err.then(|| "boom".to_string()),
            ..Default::default()
        };
        let all_failed = Failures::of(&[p(true), p(true), p(true)]);
        assert!(all_failed.too_many());
        assert_eq!(
            all_failed.message(),
            "3 of 3 items failed (100%), more than the 50% a run may lose: see the predictions' errors"
        );
        assert!(
            !Failures::of(&[p(true), p(false)]).too_many(),
            "half is allowed"
        );
        assert!(Failures::of(&[p(true), p(true), p(false)]).too_many());
        assert!(!Failures::of(&[p(false)]).too_many());
        assert!(
            Failures::of(&[]).too_many(),
            "an empty run measured nothing"
        );
    }

    #[test]
    fn run_keeps_manifest_order_runs_in_parallel_and_survives_bad_items() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for k in 0..12 {
            if k == 3 {
                lines.push_str("{\"id\": \"u3\", \"audio\": \"missing.wav\"}\n");
            } else if k == 7 {
                lines.push_str("{broken\n");
            } else if k % 2 == 0 {
                std::fs::write(dir.path().join(format!("u{k}.wav")), format!("audio {k}")).unwrap();
                lines.push_str(&format!(
                    "{{\"id\": \"u{k}\", \"audio\": \"u{k}.wav\", \"dialect\": \"yue\"}}\n"
                ));
            } else {
                lines.push_str(&format!("{{\"id\": \"u{k}\", \"text\": \"text {k}\"}}\n"));
            }
        }
        let path = dir.path().join("m.jsonl");
        std::fs::write(&path, lines).unwrap();
        let manifest = crate::read_manifest(&path).unwrap();
        let fake = Fake::default();
        let opts = RunOptions {
            mode: DialectMode::Given,
            realtime: false,
            jobs: 4,
            progress: false,
        };
        let preds = run(&manifest, &fake, &opts);

        assert_eq!(preds.len(), 12);
        let ids: Vec<&str> = preds.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "line-8", "u8", "u9", "u10", "u11"],
            "predictions come back in manifest order"
        );
        let log = fake.log.into_inner().unwrap();
        let at = |e: Event| log.events.iter().position(|x| *x == e).unwrap();
        let starts = log
            .events
            .iter()
            .filter(|e| matches!(e, Event::Start(_)))
            .count();
        assert_eq!(
            starts, 10,
            "missing audio and a broken line never reach the pipeline"
        );
        let [first, second] = log.pair[..] else {
            panic!("two items reached the pipeline: {:?}", log.events)
        };
        assert!(
            at(Event::Start(second)) < at(Event::End(first)),
            "items should run in parallel: {:?}",
            log.events
        );
        let (lower, higher) = (first.min(second), first.max(second));
        assert!(
            at(Event::End(higher)) < at(Event::End(lower)),
            "u{higher} ended before u{lower}, so completion was out of order: {:?}",
            log.events
        );
        assert_eq!(preds[0].transcript.as_deref(), Some("audio 0"));
        assert_eq!(preds[0].dialect.as_deref(), Some("yue"));
        assert_eq!(preds[1].transcript.as_deref(), Some("text 1"));
        assert_eq!(preds[10].transcript.as_deref(), Some("audio 10"));
        assert!(preds[3]
            .error
            .as_deref()
            .unwrap()
            .contains("audio file not found"));
        assert!(preds[3].error.as_deref().unwrap().contains("missing.wav"));
        assert!(preds[5].error.as_deref().unwrap().contains("boom on u5"));
        assert!(preds[7].error.as_deref().unwrap().contains("line 8"));
        let ok = preds.iter().filter(|p| p.error.is_none()).count();
        assert_eq!(ok, 9);
    }
}
