//! One way to turn an ONNX graph written in memory into an ONNX Runtime session, shared
//! by the Whisper encoder and the voice's networks.

use std::path::Path;

use ort::session::Session;

use crate::error::{Error, Result};

/// A session for `model` on `threads` intra-op threads, with ONNX Runtime loaded from
/// `lib`. Threads never busy-wait between calls: the models here run one after another
/// on the same two cores (a spinning pool doubled the next model's time under load).
/// Memory is planned per call, not cached: these graphs see a new input shape on nearly
/// every call (the encoder's window is trimmed to the audio, the voice's length to the
/// sentence), and ONNX Runtime's memory patterns and prepacked weight copies kept
/// growing the process without making a call measurably faster (`bench serve`, `bench
/// asr`, `bench tts`; docs/staff.md).
/// Failures become `err(what failed)`; a missing or broken library is
/// [`Error::LoadModel`].
pub(crate) fn from_memory(
    model: &[u8],
    lib: &Path,
    threads: usize,
    err: impl Fn(String) -> Error,
) -> Result<Session> {
    let env = xiaoan_audio::ort_environment(lib).map_err(|e| Error::LoadModel {
        path: lib.to_path_buf(),
        detail: e.to_string(),
    })?;
    let fail = |what: &str, e: &dyn std::fmt::Display| err(format!("{what}: {e}"));
    Session::builder(&env)
        .map_err(|e| fail("session", &e))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail("threads", &e))?
        .with_inter_threads(1)
        .map_err(|e| fail("threads", &e))?
        .with_intra_op_spinning(false)
        .map_err(|e| fail("spinning", &e))?
        .with_memory_pattern(false)
        .map_err(|e| fail("memory pattern", &e))?
        .with_prepacking(false)
        .map_err(|e| fail("prepacking", &e))?
        .commit_from_memory(model)
        .map_err(|e| fail("cannot build the graph", &e))
}
