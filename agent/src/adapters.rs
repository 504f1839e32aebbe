//! The session's dialect adapter: which one applies, and where its files are.

use std::path::PathBuf;

use xiaoan_models::adapters::{builtin_adapters, load_adapters, Adapter};
use xiaoan_models::DecodeOptions;

use crate::config::Settings;
use crate::error::Result;

/// The dialect adapters of this terminal: the configured folder's, else the built-in ones.
#[derive(Clone, Debug)]
pub struct Adapters {
    list: Vec<Adapter>,
}

impl Adapters {
    /// Load from `[asr] adapters_dir`, else the adapters compiled into the program.
    pub fn load(settings: &Settings) -> Result<Adapters> {
        let list = match &settings.config.asr.adapters_dir {
            Some(dir) => load_adapters(dir)?,
            None => builtin_adapters()?,
        };
        Ok(Adapters { list })
    }

    /// The adapter for a dialect code (Mandarin's when the code has none).
    pub fn get(&self, code: &str) -> Option<&Adapter> {
        self.list
            .iter()
            .find(|a| a.code == code)
            .or_else(|| self.list.iter().find(|a| a.code == "cmn"))
    }

    /// All adapters.
    pub fn all(&self) -> &[Adapter] {
        &self.list
    }

    /// Switch parts of every adapter on or off: `prompt` forces the prompts on (or
    /// off), `bias` false empties the bias lists. Benchmarks use it to measure what each
    /// part does to the error rate.
    pub fn set_parts(&mut self, prompt: Option<bool>, bias: bool) {
        for a in &mut self.list {
            if let Some(p) = prompt {
                a.use_prompt = p;
            }
            if !bias {
                a.bias.phrases.clear();
            }
        }
    }

    /// Decoding options for a dialect.
    pub fn decode_options(&self, code: &str, base: &DecodeOptions) -> DecodeOptions {
        match self.get(code) {
            Some(a) => a.decode_options(base),
            None => base.clone(),
        }
    }

    /// The adapters whose LoRA file exists: (dialect code, path).
    pub fn lora_files(&self) -> Vec<(String, PathBuf)> {
        self.list
            .iter()
            .filter_map(|a| a.lora_path().map(|p| (a.code.clone(), p)))
            .filter(|(_, p)| p.is_file())
            .collect()
    }

    /// The espeak-ng voice for replies in a dialect.
    pub fn tts_voice(&self, code: &str) -> String {
        self.get(code)
            .map(|a| a.tts_voice.clone())
            .unwrap_or_else(|| xiaoan_models::voice_for_dialect(code).to_string())
    }
}

/// The whisper.cpp model file of the configured weight type (`ggml-base-q8_0.bin` ...).
pub fn ggml_path(settings: &Settings) -> PathBuf {
    ggml_path_for(settings, None)
}

/// The whisper.cpp model file for a dialect whose adapter carries LoRA deltas: written
/// by `xiaoan models import` with the deltas merged (`ggml-base-f16-yue.bin`); `None`
/// gives the shared file.
pub fn ggml_path_for(settings: &Settings, dialect: Option<&str>) -> PathBuf {
    let t = &settings.config.asr.ggml_type;
    let name = match dialect {
        Some(code) => format!("ggml-base-{t}-{code}.bin"),
        None => format!("ggml-base-{t}.bin"),
    };
    xiaoan_models::whisper_dir(&settings.home).join(name)
}
