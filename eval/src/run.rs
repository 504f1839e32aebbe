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
/// retrieval). Implemented in `xiaoan-agent`.
///
/// One call per manifest item, possibly from several threads at once (hence `Sync`).
/// The runner has already checked that `audio_path` exists; anything that still goes
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
        if !path.is_file() {
            return Prediction::failed(
                &item.id,
                format!("audio file not found: {}", path.display()),
            );
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A fake pipeline: echoes the text (or the audio file's content) and records how
    /// many items were in flight at once.
    struct Fake {
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        calls: AtomicUsize,
    }

    impl Pipeline for Fake {
        fn run_item(
            &self,
            item: &ManifestItem,
            audio: Option<&Path>,
            opts: &RunOptions,
        ) -> Prediction {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Later items finish sooner, so out-of-order completion is guaranteed.
            let k: u64 = item.id.trim_start_matches('u').parse().unwrap_or(0);
            std::thread::sleep(Duration::from_millis(40u64.saturating_sub(k * 3)));
            if item.id == "u5" {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                panic!("boom on u5");
            }
            let transcript = match audio {
                Some(p) => std::fs::read_to_string(p).ok(),
                None => item.text.clone(),
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Prediction {
                id: "wrong-id".into(),
                transcript,
                dialect: opts.mode.dialect_for(item).map(str::to_string),
                ..Default::default()
            }
        }
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
        let fake = Fake {
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        };
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
            ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "line-8", "u8", "u9", "u10", "u11"]
        );
        assert!(
            fake.max_in_flight.load(Ordering::SeqCst) > 1,
            "items should run in parallel"
        );
        assert_eq!(
            fake.calls.load(Ordering::SeqCst),
            10,
            "missing audio and a broken line never reach the pipeline"
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
