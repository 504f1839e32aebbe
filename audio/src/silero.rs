//! Silero VAD (v5/v6 ONNX model) through ONNX Runtime, loaded at run time.
//!
//! The model takes `input` `[1, 64 + 512]` (the last 64 samples of the previous
//! window as context, then 512 new samples at 16 kHz), `state` `[2, 1, 128]`
//! and `sr` (int64, 16000); it returns `output` `[1, 1]` (speech probability)
//! and the next state. Names and the state size are read from the model at load,
//! so a model of another shape is refused with a clear message.

use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;

use crate::vad::{fit_frame, Vad};
use crate::{Error, Result, SAMPLE_RATE};

/// Silero v5/v6 window at 16 kHz: 512 samples (32 ms) (silero-vad `utils_vad.py`).
const WINDOW: usize = 512;
/// Context carried over from the previous window at 16 kHz: 64 samples (same source).
const CONTEXT: usize = 64;

static ENV: Mutex<Option<Environment>> = Mutex::new(None);

/// The process-wide ONNX Runtime environment, loading the library at `lib` on the
/// first call. ONNX Runtime allows one environment per process: every crate that
/// needs `ort` should get it from here. A missing or broken library is an error,
/// never a panic.
pub fn ort_environment(lib: &Path) -> Result<Environment> {
    let mut guard = ENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    if !lib.is_file() {
        return Err(Error::Backend(format!(
            "ONNX Runtime library not found at \"{}\" (run make setup)",
            lib.display()
        )));
    }
    let builder = ort::init_from(lib).map_err(|e| {
        Error::Backend(format!(
            "cannot load ONNX Runtime from \"{}\": {e}",
            lib.display()
        ))
    })?;
    let env = builder
        .with_name("xiaoan")
        .build()
        .map_err(|e| Error::Backend(format!("cannot start ONNX Runtime: {e}")))?;
    *guard = Some(env.clone());
    Ok(env)
}

/// Silero VAD, a small neural detector; more robust than earshot in noise, needs
/// the `onnx` feature, the model file and the ONNX Runtime library.
pub struct SileroVad {
    session: Session,
    input_name: String,
    state_name: String,
    sr_name: String,
    sr_scalar: bool,
    out_prob: String,
    out_state: String,
    state_dims: [usize; 3],
    state: Vec<f32>,
    context: Vec<f32>,
    scratch: Vec<f32>,
}

fn backend(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Backend(format!("Silero VAD: {what}: {e}"))
}

impl SileroVad {
    /// Load `model` (silero_vad.onnx, v5 or v6) with ONNX Runtime from `onnxruntime_lib`.
    pub fn load(model: &Path, onnxruntime_lib: &Path) -> Result<Self> {
        if !model.is_file() {
            return Err(Error::Backend(format!(
                "Silero VAD model not found at \"{}\" (run make setup)",
                model.display()
            )));
        }
        let env = ort_environment(onnxruntime_lib)?;
        let builder = Session::builder(&env).map_err(|e| backend("session", e))?;
        let builder = builder
            .with_intra_threads(1)
            .map_err(|e| backend("session", e))?;
        let mut builder = builder
            .with_inter_threads(1)
            .map_err(|e| backend("session", e))?;
        let session = builder
            .commit_from_file(model)
            .map_err(|e| backend(&format!("cannot load \"{}\"", model.display()), e))?;

        let find_in = |want: &str| {
            session.inputs().iter().find(|o| o.name() == want).map(|o| {
                (
                    o.name().to_string(),
                    o.dtype().tensor_shape().map(|s| s.to_vec()),
                )
            })
        };
        let names: Vec<String> = session
            .inputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let unsupported = || {
            Error::Backend(format!(
                "Silero VAD: \"{}\" has inputs {names:?}; expected a v5/v6 model with input, state, sr",
                model.display()
            ))
        };
        let (input_name, _) = find_in("input").ok_or_else(unsupported)?;
        let (state_name, state_shape) = find_in("state").ok_or_else(unsupported)?;
        let (sr_name, sr_shape) = find_in("sr").ok_or_else(unsupported)?;
        let sr_scalar = sr_shape.map(|s| s.is_empty()).unwrap_or(true);
        // state is [2, batch, 128]; dynamic dims are -1
        let state_shape = state_shape.unwrap_or_default();
        let dim = |i: usize, default: usize| match state_shape.get(i) {
            Some(d) if *d > 0 => *d as usize,
            _ => default,
        };
        if state_shape.len() != 3 {
            return Err(unsupported());
        }
        let state_dims = [dim(0, 2), 1, dim(2, 128)];
        let outs: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        if outs.len() < 2 {
            return Err(unsupported());
        }
        let out_prob = outs
            .iter()
            .find(|n| n.as_str() == "output")
            .cloned()
            .unwrap_or_else(|| outs[0].clone());
        let out_state = outs
            .iter()
            .find(|n| n.contains("state"))
            .cloned()
            .unwrap_or_else(|| outs[1].clone());
        let n_state = state_dims.iter().product();
        Ok(Self {
            session,
            input_name,
            state_name,
            sr_name,
            sr_scalar,
            out_prob,
            out_state,
            state_dims,
            state: vec![0.0; n_state],
            context: vec![0.0; CONTEXT],
            scratch: Vec::with_capacity(WINDOW),
        })
    }

    /// Input names and shapes as the model declares them (for diagnostics).
    pub fn describe(&self) -> String {
        let ins: Vec<String> = self
            .session
            .inputs()
            .iter()
            .map(|o| {
                format!(
                    "{}{:?}",
                    o.name(),
                    o.dtype().tensor_shape().map(|s| s.to_vec())
                )
            })
            .collect();
        let outs: Vec<String> = self
            .session
            .outputs()
            .iter()
            .map(|o| {
                format!(
                    "{}{:?}",
                    o.name(),
                    o.dtype().tensor_shape().map(|s| s.to_vec())
                )
            })
            .collect();
        format!("inputs {} → outputs {}", ins.join(", "), outs.join(", "))
    }

    fn run(&mut self, frame: &[f32]) -> std::result::Result<f32, ort::Error> {
        let mut x = Vec::with_capacity(CONTEXT + WINDOW);
        x.extend_from_slice(&self.context);
        x.extend_from_slice(frame);
        let input = Tensor::from_array(([1usize, CONTEXT + WINDOW], x.clone()))?;
        let state = Tensor::from_array((self.state_dims, self.state.clone()))?;
        let sr = if self.sr_scalar {
            Tensor::from_array(((), vec![SAMPLE_RATE as i64]))?
        } else {
            Tensor::from_array(([1usize], vec![SAMPLE_RATE as i64]))?
        };
        let outputs = self.session.run(ort::inputs![
            self.input_name.as_str() => input,
            self.state_name.as_str() => state,
            self.sr_name.as_str() => sr,
        ])?;
        let p = {
            let (_, v) = outputs[self.out_prob.as_str()].try_extract_tensor::<f32>()?;
            v.first().copied().unwrap_or(0.0)
        };
        {
            let (_, s) = outputs[self.out_state.as_str()].try_extract_tensor::<f32>()?;
            if s.len() == self.state.len() {
                self.state.copy_from_slice(s);
            }
        }
        drop(outputs);
        self.context.copy_from_slice(&x[x.len() - CONTEXT..]);
        Ok(p)
    }
}

impl Vad for SileroVad {
    fn name(&self) -> &'static str {
        "silero"
    }

    fn frame_samples(&self) -> usize {
        WINDOW
    }

    fn speech_probability(&mut self, frame: &[f32]) -> f32 {
        let mut buf = std::mem::take(&mut self.scratch);
        fit_frame(frame, WINDOW, &mut buf);
        let p = self.run(&buf).unwrap_or(0.0);
        self.scratch = buf;
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| *s = 0.0);
        self.context.iter_mut().for_each(|s| *s = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn home() -> PathBuf {
        std::env::var_os("XIAOAN_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/xiaoan"))
            })
            .unwrap_or_default()
    }

    fn files() -> Option<(PathBuf, PathBuf)> {
        let h = home();
        let model = h.join("models/silero-vad/silero_vad.onnx");
        let lib = std::fs::read_dir(h.join("lib"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so"))
            })?;
        (model.is_file() && lib.is_file()).then_some((model, lib))
    }

    #[test]
    fn missing_library_is_a_clear_error() {
        let e = ort_environment(Path::new("/nonexistent/libonnxruntime.so"));
        // once an environment exists (another test loaded it) the call succeeds
        if let Err(e) = e {
            assert!(
                e.to_string().contains("ONNX Runtime library not found"),
                "{e}"
            );
        }
        let e = SileroVad::load(
            Path::new("/nonexistent/silero.onnx"),
            Path::new("/nonexistent/lib.so"),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("model not found"), "{e}");
    }

    #[test]
    fn silero_scores_silence_low_and_speech_high() {
        let Some((model, lib)) = files() else {
            return xiaoan_testkit::skip(
                "silero_scores_silence_low_and_speech_high: models not installed (run make setup)",
            );
        };
        let mut v = SileroVad::load(&model, &lib).unwrap();
        println!("silero model: {}", v.describe());
        assert_eq!(v.frame_samples(), 512);
        let sil: Vec<f32> = vec![0.0; 16_000];
        let ps: Vec<f32> = sil
            .chunks_exact(512)
            .map(|f| v.speech_probability(f))
            .collect();
        let max_sil = ps.iter().cloned().fold(0.0f32, f32::max);
        assert!(max_sil < 0.2, "silence scored up to {max_sil}");
        let Some(speech) = crate::decode::tests::espeak("你好，我想办社保卡") else {
            return xiaoan_testkit::skip("silero speech half: espeak-ng not installed");
        };
        v.reset();
        let ps: Vec<f32> = speech
            .samples
            .chunks_exact(512)
            .map(|f| v.speech_probability(f))
            .collect();
        let frac = ps.iter().filter(|p| **p >= 0.5).count() as f32 / ps.len() as f32;
        println!("silero: {:.2} of espeak-ng speech frames ≥ 0.5", frac);
        assert!(frac > 0.3, "only {frac} of speech frames detected");

        // through the end-pointer: one utterance around the speech
        let len = speech.duration_s();
        let mut x = vec![0.0f32; 16_000];
        x.extend_from_slice(&speech.samples);
        x.extend(std::iter::repeat_n(0.0, 24_000));
        let vad = crate::vad_by_name("silero", Some(&model), Some(&lib)).unwrap();
        let u = crate::split_utterances(
            &crate::AudioBuf::new(x, 16_000),
            vad,
            &crate::EndpointConfig::default(),
        );
        let spans: Vec<(f64, f64)> = u.iter().map(|u| (u.start_s, u.end_s)).collect();
        println!("silero utterances {spans:?} for {len:.2} s of speech at 1.0 s");
        assert!(!u.is_empty());
        assert!(u[0].start_s >= 0.9 && u[0].start_s < 1.5, "{spans:?}");
        assert!(u.last().unwrap().end_s > 1.0 + 0.7 * len, "{spans:?}");
    }
}
