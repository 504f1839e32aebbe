//! Dialect adapters: per-dialect decoding settings and resources, as data.
//!
//! One folder per dialect code (the codes of `spec/dialects.tsv`) under `models/adapters/`,
//! each with an `adapter.toml`:
//!
//! ```toml
//! code = "wuu-sh"
//! whisper_language = "zh"        # Whisper language token (base has no dialect tokens)
//! prompt = "侬好，我想问问看哪能办。"  # decoding prompt in the dialect's written form
//! use_prompt = false             # pass it to the decoder (off: it raised CER when measured)
//! lexicon = "wuu-sh.tsv"         # dialect -> Mandarin lexicon (read by understanding)
//! tts_voice = "cmn-latn-pinyin"  # espeak-ng voice for replies
//! lora = "lora.safetensors"      # optional low-rank deltas, relative to the folder
//!
//! [names]
//! zh = "沪语（上海话）"
//! en = "Shanghainese"
//!
//! [bias]
//! boost = 2.0                    # logit boost per matching token (0 turns biasing off)
//! phrases = ["社保卡", "敬老卡", "阿拉"]
//! ```
//!
//! The seven adapters are also compiled into the program ([`builtin_adapters`]), so a bare
//! binary has them; a centre may point to its own folder instead ([`load_adapters`]).
//! An adapter changes decoding through [`Adapter::decode_options`] (language, prompt,
//! contextual-bias phrases and boost) and, when it names LoRA weights, through the weights
//! the engines load ([`Adapter::lora_path`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::DecodeOptions;

/// The adapter files compiled into the program: (code, adapter.toml text).
const BUILTIN: [(&str, &str); 7] = [
    ("cmn", include_str!("../adapters/cmn/adapter.toml")),
    ("wuu-sh", include_str!("../adapters/wuu-sh/adapter.toml")),
    ("wuu-sz", include_str!("../adapters/wuu-sz/adapter.toml")),
    ("yue", include_str!("../adapters/yue/adapter.toml")),
    ("nan", include_str!("../adapters/nan/adapter.toml")),
    ("cmn-sc", include_str!("../adapters/cmn-sc/adapter.toml")),
    ("hak", include_str!("../adapters/hak/adapter.toml")),
];

/// File name of an adapter's description inside its folder.
pub const ADAPTER_FILE: &str = "adapter.toml";

/// The default boost when `[bias]` gives phrases but no `boost` (logit units).
pub const DEFAULT_BIAS_BOOST: f32 = 2.0;

/// TTS voices an adapter may name (espeak-ng voices that read Chinese usably).
pub const TTS_VOICES: [&str; 3] = ["cmn-latn-pinyin", "yue", "hak"];

/// Display names of an adapter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdapterNames {
    /// Chinese name, e.g. 沪语（上海话）.
    pub zh: String,
    /// English name, e.g. Shanghainese.
    pub en: String,
}

/// Contextual-biasing settings. Default: no phrases, boost [`DEFAULT_BIAS_BOOST`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdapterBias {
    /// Logit boost added to a phrase's next token while its prefix is being decoded.
    pub boost: f32,
    /// Phrases (service terms, dialect words), in Simplified or the dialect's usual script.
    pub phrases: Vec<String>,
}

impl Default for AdapterBias {
    fn default() -> Self {
        Self {
            boost: DEFAULT_BIAS_BOOST,
            phrases: Vec::new(),
        }
    }
}

/// The `adapter.toml` file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterFile {
    code: String,
    #[serde(default)]
    whisper_language: Option<String>,
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    use_prompt: bool,
    #[serde(default)]
    lexicon: Option<String>,
    tts_voice: String,
    #[serde(default)]
    lora: Option<String>,
    names: AdapterNames,
    #[serde(default)]
    bias: AdapterBias,
}

/// A dialect adapter: how to decode, understand and answer one dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    /// Dialect code (`cmn`, `wuu-sh`, `wuu-sz`, `yue`, `nan`, `cmn-sc`, `hak`).
    pub code: String,
    /// Display names.
    pub names: AdapterNames,
    /// Whisper language code (`zh` for all: Whisper base has no dialect tokens).
    pub whisper_language: String,
    /// Decoding prompt in the dialect's written form (empty: none).
    pub prompt: String,
    /// Whether [`Adapter::decode_options`] passes the prompt to the decoder. Default off:
    /// on the espeak-ng fixtures a prompt made Whisper base invent words (see the file).
    pub use_prompt: bool,
    /// Contextual-biasing phrases and boost.
    pub bias: AdapterBias,
    /// File name of the dialect → Mandarin lexicon (resolved by the understanding stage).
    pub lexicon: Option<String>,
    /// espeak-ng voice for replies.
    pub tts_voice: String,
    /// LoRA file name as written in `adapter.toml` (relative to the adapter's folder).
    pub lora: Option<String>,
    /// The folder the adapter was read from; `None` for a built-in adapter.
    pub dir: Option<PathBuf>,
}

impl Adapter {
    /// Parses an `adapter.toml` text; `origin` names it in errors, `dir` is its folder.
    pub fn parse(text: &str, origin: &str, dir: Option<&Path>) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("{origin}: {why}"));
        let f: AdapterFile = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if f.code.trim().is_empty() {
            return Err(bad("`code` is empty".into()));
        }
        if !TTS_VOICES.contains(&f.tts_voice.as_str()) {
            return Err(bad(format!(
                "unknown tts_voice `{}` (want one of {TTS_VOICES:?})",
                f.tts_voice
            )));
        }
        if !f.bias.boost.is_finite() || f.bias.boost < 0.0 || f.bias.boost > 20.0 {
            return Err(bad(format!(
                "bias boost {} is outside 0..=20",
                f.bias.boost
            )));
        }
        if let Some(l) = &f.lora {
            if Path::new(l).is_absolute() || l.contains("..") {
                return Err(bad(format!(
                    "lora `{l}` must be a file name inside the adapter folder"
                )));
            }
        }
        let phrases: Vec<String> = f
            .bias
            .phrases
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        Ok(Self {
            code: f.code.trim().to_string(),
            names: f.names,
            whisper_language: f.whisper_language.unwrap_or_else(|| "zh".into()),
            prompt: f.prompt.trim().to_string(),
            use_prompt: f.use_prompt,
            bias: AdapterBias {
                boost: f.bias.boost,
                phrases,
            },
            lexicon: f.lexicon,
            tts_voice: f.tts_voice,
            lora: f.lora,
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// The LoRA file's path when the adapter names one and comes from a folder.
    /// (A built-in adapter has no folder: its LoRA, if any, is looked for by the caller
    /// under the data folder's `adapters/<code>/`.)
    pub fn lora_path(&self) -> Option<PathBuf> {
        match (&self.lora, &self.dir) {
            (Some(name), Some(dir)) => Some(dir.join(name)),
            _ => None,
        }
    }

    /// The lexicon's path inside `lexicon_dir` (e.g. `intents/lexicons/`).
    pub fn lexicon_path(&self, lexicon_dir: &Path) -> Option<PathBuf> {
        self.lexicon.as_ref().map(|l| lexicon_dir.join(l))
    }

    /// `base` with this adapter's language, prompt and bias applied. A prompt or bias
    /// list already set in `base` (e.g. by the kiosk's configuration) is kept and the
    /// adapter's phrases are added after it.
    pub fn decode_options(&self, base: &DecodeOptions) -> DecodeOptions {
        let mut o = base.clone();
        o.language = self.whisper_language.clone();
        let own_prompt = self.use_prompt && !self.prompt.is_empty();
        if own_prompt && o.prompt.as_deref().is_none_or(|p| p.trim().is_empty()) {
            o.prompt = Some(self.prompt.clone());
        }
        for p in &self.bias.phrases {
            if !o.bias_phrases.contains(p) {
                o.bias_phrases.push(p.clone());
            }
        }
        if !self.bias.phrases.is_empty() {
            o.bias_boost = self.bias.boost;
        }
        o
    }

    /// A few lines for `xiaoan adapters list`: what the adapter contains and which parts
    /// are active.
    pub fn describe(&self) -> String {
        let on = |b: bool| if b { "active" } else { "off" };
        let mut s = format!("{} — {} / {}\n", self.code, self.names.zh, self.names.en);
        s += &format!("  language token : <|{}|>\n", self.whisper_language);
        s += &format!(
            "  prompt         : {} ({})\n",
            if self.prompt.is_empty() {
                "(none)"
            } else {
                &self.prompt
            },
            on(self.use_prompt && !self.prompt.is_empty())
        );
        let bias_on = !self.bias.phrases.is_empty() && self.bias.boost > 0.0;
        let sample: Vec<&str> = self
            .bias
            .phrases
            .iter()
            .take(5)
            .map(String::as_str)
            .collect();
        s += &format!(
            "  bias           : {} phrases, boost {:.1} ({}) e.g. {}\n",
            self.bias.phrases.len(),
            self.bias.boost,
            on(bias_on),
            sample.join("、")
        );
        s += &format!(
            "  lexicon        : {}\n",
            self.lexicon.as_deref().unwrap_or("(none)")
        );
        s += &format!("  tts voice      : {}\n", self.tts_voice);
        let lora = match (&self.lora, self.lora_path()) {
            (None, _) => "(none)".to_string(),
            (Some(n), Some(p)) if p.is_file() => format!("{n} (active)"),
            (Some(n), Some(_)) => format!("{n} (missing file: off)"),
            (Some(n), None) => format!("{n} (built-in adapter, no folder: off)"),
        };
        s += &format!("  lora           : {lora}\n");
        s += &format!(
            "  source         : {}",
            self.dir
                .as_ref()
                .map_or_else(|| "built-in".to_string(), |d| d.display().to_string())
        );
        s
    }
}

/// Reads every `<dir>/<code>/adapter.toml`, sorted by code. A folder without
/// `adapter.toml` is skipped; a malformed file or a duplicated code is an error.
pub fn load_adapters(dir: &Path) -> Result<Vec<Adapter>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut out: Vec<Adapter> = Vec::new();
    for entry in rd.flatten() {
        let sub = entry.path();
        let file = sub.join(ADAPTER_FILE);
        if !file.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&file).map_err(|e| Error::Io {
            path: file.clone(),
            source: e,
        })?;
        let a = Adapter::parse(&text, &file.display().to_string(), Some(&sub))?;
        if out.iter().any(|b| b.code == a.code) {
            return Err(Error::Config(format!(
                "{}: code `{}` is defined twice",
                file.display(),
                a.code
            )));
        }
        out.push(a);
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

/// The seven adapters compiled into the program, in `dialects.tsv` order.
pub fn builtin_adapters() -> Result<Vec<Adapter>> {
    BUILTIN
        .iter()
        .map(|(code, text)| Adapter::parse(text, &format!("built-in adapter {code}"), None))
        .collect()
}

/// Finds an adapter by code among `adapters`.
pub fn find_adapter<'a>(adapters: &'a [Adapter], code: &str) -> Option<&'a Adapter> {
    adapters.iter().find(|a| a.code == code)
}

/// The forms of a bias phrase worth biasing: as written, Simplified and Traditional
/// (Whisper base often writes Traditional), without duplicates.
pub fn phrase_variants(phrase: &str) -> Vec<String> {
    let mut v = vec![phrase.to_string()];
    for f in [
        zhconv::zhconv(phrase, zhconv::Variant::ZhHans),
        zhconv::zhconv(phrase, zhconv::Variant::ZhHant),
    ] {
        if !v.contains(&f) {
            v.push(f);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: [&str; 7] = ["cmn", "wuu-sh", "wuu-sz", "yue", "nan", "cmn-sc", "hak"];

    #[test]
    fn every_builtin_adapter_parses_and_matches_its_folder() {
        let all = builtin_adapters().unwrap();
        assert_eq!(
            all.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
            CODES
        );
        for a in &all {
            assert_eq!(a.whisper_language, "zh", "{}", a.code);
            assert!(
                !a.prompt.is_empty() && a.prompt.chars().count() <= 20,
                "{}: short prompt",
                a.code
            );
            assert!(
                (20..=45).contains(&a.bias.phrases.len()),
                "{}: {} phrases",
                a.code,
                a.bias.phrases.len()
            );
            assert_eq!(
                a.lexicon.as_deref(),
                Some(format!("{}.tsv", a.code).as_str())
            );
            assert!(a.bias.phrases.iter().any(|p| p == "社保卡"));
        }
        let voice = |c: &str| find_adapter(&all, c).map(|a| a.tts_voice.clone());
        assert_eq!(voice("yue").as_deref(), Some("yue"));
        assert_eq!(voice("hak").as_deref(), Some("hak"));
        assert_eq!(voice("wuu-sh").as_deref(), Some("cmn-latn-pinyin"));
    }

    #[test]
    fn folder_adapters_equal_the_builtin_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters");
        let from_dir = load_adapters(&dir).unwrap();
        let builtin = builtin_adapters().unwrap();
        assert_eq!(from_dir.len(), builtin.len());
        for b in &builtin {
            let d = find_adapter(&from_dir, &b.code).unwrap();
            assert_eq!(
                Adapter {
                    dir: None,
                    ..d.clone()
                },
                *b
            );
        }
    }

    #[test]
    fn decode_options_carry_prompt_bias_and_language() {
        let all = builtin_adapters().unwrap();
        let sh = find_adapter(&all, "wuu-sh").unwrap();
        let base = DecodeOptions::default();
        let o = sh.decode_options(&base);
        assert_eq!(o.language, "zh");
        assert_eq!(
            o.prompt, None,
            "the shipped prompts are off (they raised CER)"
        );
        let prompted = Adapter {
            use_prompt: true,
            ..sh.clone()
        };
        assert_eq!(
            prompted.decode_options(&base).prompt.as_deref(),
            Some(sh.prompt.as_str())
        );
        assert!(o.bias_phrases.iter().any(|p| p == "阿拉"));
        assert_eq!(o.bias_boost, sh.bias.boost);
        // A prompt set by the kiosk is kept.
        let mut kiosk = base.clone();
        kiosk.prompt = Some("小安".into());
        assert_eq!(sh.decode_options(&kiosk).prompt.as_deref(), Some("小安"));
    }

    #[test]
    fn describe_shows_parts_and_their_state() {
        let all = builtin_adapters().unwrap();
        let d = find_adapter(&all, "yue").unwrap().describe();
        assert!(d.contains("粤语") && d.contains("Cantonese"), "{d}");
        assert!(d.contains("bias") && d.contains("(active)"), "{d}");
        assert!(d.contains("prompt") && d.contains("(off)"), "{d}");
        assert!(d.contains("lora           : (none)"), "{d}");
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let bad_voice = "code='x'\ntts_voice='robot'\n[names]\nzh='x'\nen='x'\n";
        let e = Adapter::parse(bad_voice, "t.toml", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml") && e.contains("tts_voice"), "{e}");
        let unknown = "code='x'\ntts_voice='yue'\ncolour='red'\n[names]\nzh='x'\nen='x'\n";
        assert!(Adapter::parse(unknown, "t.toml", None).is_err());
        let escape =
            "code='x'\ntts_voice='yue'\nlora='../../etc/passwd'\n[names]\nzh='x'\nen='x'\n";
        assert!(Adapter::parse(escape, "t.toml", None).is_err());
    }

    #[test]
    fn lora_is_resolved_inside_the_folder_and_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("wuu-sh");
        std::fs::create_dir(&sub).unwrap();
        let text = "code='wuu-sh'\ntts_voice='cmn-latn-pinyin'\nlora='lora.safetensors'\n[names]\nzh='沪语'\nen='Shanghainese'\n";
        std::fs::write(sub.join(ADAPTER_FILE), text).unwrap();
        let a = load_adapters(dir.path()).unwrap().remove(0);
        assert_eq!(a.lora_path(), Some(sub.join("lora.safetensors")));
        assert!(a.describe().contains("missing file"), "{}", a.describe());
        std::fs::write(sub.join("lora.safetensors"), b"x").unwrap();
        assert!(a.describe().contains("lora.safetensors (active)"));
    }

    #[test]
    fn phrase_variants_cover_both_scripts() {
        assert_eq!(
            phrase_variants("社保卡"),
            vec!["社保卡".to_string()],
            "same in both scripts"
        );
        let v = phrase_variants("敬老卡");
        assert_eq!(v[0], "敬老卡");
        let v = phrase_variants("纠纷调解");
        assert!(v.iter().any(|p| p == "糾紛調解"), "{v:?}");
        assert_eq!(phrase_variants("abc"), vec!["abc".to_string()]);
    }
}
