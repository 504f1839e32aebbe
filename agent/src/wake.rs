//! The robot answers to its name: a wake word (小安) gates the conversation.
//!
//! In the hall the robot hears everyone. With the gate on (the `robot` profile's
//! default, `[wake]` in `xiaoan.toml`), it only engages when addressed, by name
//! (小安你好; 诶，小安，我想问…) or by a touch or button, stays engaged while the
//! conversation goes on, and goes back to waiting after a quiet spell, with a soft cue.
//!
//! How the name is heard, at a small cost while nobody addresses the robot
//! (`docs/wake.md` has the measurements):
//! 1. the gate's own end-pointer (the configured VAD) cuts the sound into voiced
//!    segments; silence and noise cost one VAD frame each;
//! 2. of each segment only the start is decoded: [`WakeSettings::check_s`] seconds of
//!    speech (plus the pre-roll) with the existing recogniser, greedy, at most
//!    [`CHECK_TOKENS`] tokens, no language model; the rest of a segment that did not
//!    start with the name is never decoded;
//! 3. the text's start is matched by sound ([`find_name`]): tone-less pinyin, tolerant
//!    of the homophones the recogniser writes (晓安, 小案, 小暗, 肖安) and of the
//!    fillers people start with (诶, 嗯, 那个, 你好), strict on what follows 小 (小区,
//!    小爱, 小韩 and 西安 are not the name);
//! 4. a near miss ([`near_name`]: the name after two stray units, a filler written as
//!    words, and with [`WakeSettings::verify_syllables`], on by default, also 小汉 or
//!    小孩 where the name may have been said) is verified by the decoder's own
//!    likelihood: the same audio is read again with a filler or the name in that place
//!    (teacher forcing, [`AsrModel::score_texts`]) and wakes when that reading is at
//!    most [`WakeSettings::filler_margin`] (or [`WakeSettings::onset_margin`]) nats
//!    less likely than what was written (a likelihood-ratio test). Text alone never
//!    credits 小汉 or 小孩;
//! 5. with [`WakeSettings::verify_onset`] (default on) the sound decides between 安
//!    and 韩/汉/孩 ([`onset::second_onset`]: a fricative before the second vowel or
//!    not), over a quiet background only: 小汉/小孩 wake only when it says 安, and 小安
//!    written where it found a fricative does not wake.
//!
//! On a wake the gate hands back the segment's audio so far, so the caller's recogniser
//! hears the whole utterance; what follows the name is the request
//! ([`request_after_name`]). Time is counted in samples pushed, so a test or a benchmark
//! runs the gate faster than real time and gets the same answers.
//!
//! Not handled: a name said inside a long stretch of unbroken babble (a segment is only
//! checked at its start; the end-pointer closes a segment at its trailing silence or
//! its longest length); speaker identity (anyone who says 小安 wakes it).

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use xiaoan_audio::{AudioBuf, EndpointConfig, EndpointEvent, Endpointer, Vad, SAMPLE_RATE};
use xiaoan_models::{AsrModel, DecodeOptions};

use crate::config::{Profile, Settings};
use crate::error::{Error, Result};

/// The name, as it is written (its pinyin is what is matched).
pub const NAME: &str = "小安";

/// Token budget of a check's decode: the name and a few words after it (Whisper writes
/// most Chinese characters as one token, some as two).
pub const CHECK_TOKENS: usize = 12;

/// Leading words skipped before the name: hesitations and greetings people put first
/// (诶，小安; 你好小安). Longest first, so 那个 is not read as 那 + 个.
const FILLERS: [&str; 18] = [
    "你好", "那个", "hello", "hi", "hey", "诶", "欸", "哎", "唉", "嗯", "啊", "喂", "嘿", "哦",
    "噢", "呃", "额", "嗨",
];

/// Most fillers skipped before the name.
const MAX_FILLERS: usize = 2;

/// Credit for the first syllable, heard as `xiao` (小, 晓, 肖, 筱, 笑).
const FIRST_EXACT: f32 = 1.0;
/// Credit for `jiao`/`qiao` heard for `xiao` (same final, same palatal place: 叫安, 桥安).
const FIRST_PALATAL: f32 = 0.7;
/// Credit for the second syllable heard as `an` (安, 案, 暗, 岸, 按, 鞍).
const SECOND_EXACT: f32 = 1.0;
/// Credit for `ang` (昂) heard for `an`: the -n/-ng confusion of southern speakers
/// and of the recogniser.
const SECOND_NASAL: f32 = 0.8;
/// Credit for `han` heard for `an` (小汉, 小汗, 小翰): a zero-initial syllable heard
/// as if it had an h (espeak-ng's voice, often, though its 安 has none). Below what wakes on
/// its own: the recogniser writes 小韩 as 小喊 or 小汗 too (measured: 0.7 woke on
/// 小韩今天没来上班).
const SECOND_ADDED_H: f32 = 0.5;
/// Credit for 韩 or 南 heard for 安: 小韩 and 小南 are how colleagues call each other,
/// so these count as the name only in a stricter reading.
const SECOND_OTHER_NAME: f32 = 0.4;

/// Words that begin with 安: 小 followed by one of them is not the name (这个小安静一点
/// is "a bit quieter"); the second character of each.
const AN_WORDS: [&str; 8] = ["静", "全", "排", "装", "心", "置", "慰", "稳"];

/// Units before the name that are neither silence nor a known filler, allowed at a
/// cost each: a filler or a noise the recogniser wrote as a word (给您小安, 行，小安).
const MAX_STRAY: usize = 1;
/// What each stray unit costs the match.
const STRAY_COST: f32 = 0.1;

/// Whether the stray units before a candidate name end in 小: 小小孩, 小小安 are the
/// word 小小 ("little"), not a filler before the name (espeak-ng's 这个小安静一点 with
/// 这个 lost was heard 小小孩 and 小小安, docs/wake.md).
fn little_before(us: &[Unit], name_at: usize) -> bool {
    name_at > 0 && us.get(name_at - 1).is_some_and(|u| u.text == "小")
}

/// Fillers tried in place of two stray units before the name when a check is verified
/// by likelihood (给您小安 may be 诶，小安 written as two words).
const VERIFY_FILLERS: [&str; 4] = ["诶，", "嗯，", "诶", "嗯"];

/// Default margin of the likelihood check, in nats: a near miss of the name's
/// syllables (小汉, 小孩) wakes when the decoder finds 小安 there at most this much
/// less likely than what it wrote. Chosen on `xiaoan bench wake` seed 1: espeak-ng's
/// 小安 written 小汉/小孩 scored −1.5 to −5.4, spoken 小孩 −7 and below, espeak-ng's
/// 小韩 −1.6 to −3.5 (the recogniser cannot tell it from that voice's 小安; see
/// docs/wake.md). Used only with [`WakeSettings::verify_syllables`].
pub const DEFAULT_VERIFY_MARGIN: f32 = 4.5;

/// Default margin for the name after two stray units, read again with a filler in
/// their place (给您小安 as 诶小安): wider, since a filler's spelling is itself unlikely
/// to the recogniser. Seed 1: the neural voice's 诶/嗯 + 小安 −5.3 to −9.1;
/// 这个小安静一点 −11.7.
pub const DEFAULT_FILLER_MARGIN: f32 = 9.5;

/// Default margin for a near miss of the syllables (小汉, 小孩) whose second syllable
/// was measured to start without a fricative ([`onset::second_onset`]): the sound
/// itself speaks for 安, so the decoder's doubt may be larger. Seed 1: espeak-ng's 小安
/// missed at 4.5 scored −4.9 to −5.4.
pub const DEFAULT_ONSET_MARGIN: f32 = 6.0;

/// Default smallest score (out of 2) that counts as the name: both syllables right,
/// or one exact and the other a near miss of the kinds credited above.
pub const DEFAULT_MIN_SCORE: f32 = 1.7;

/// Default logit boost of the name in the check's decode: the recogniser, told the
/// name is likely, writes 小安 where it would write 小孩 or 小汉 for an unclear one.
/// Measured (`xiaoan bench wake`, seed 1): misses 10% without, 4% with 2.0; false
/// wakes on other speech not more.
pub const DEFAULT_BIAS: f32 = 2.0;

/// `[wake]` in `xiaoan.toml`: the wake word. Unset values take the profile's defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WakeConfig {
    /// Gate the conversation on the name (or a touch). Unset: on for the `robot`
    /// profile, off for the window and kiosks (their residents press to talk).
    pub enabled: Option<bool>,
    /// Seconds of speech at a segment's start that are decoded to look for the name
    /// (0.8–3; default 1.5: 小安 said slowly after a filler fits).
    pub check_s: Option<f32>,
    /// Seconds without a turn after which the robot goes back to waiting (default 15:
    /// past the dialogue's re-prompt, so a resident who was asked 还在吗 can answer).
    pub sleep_after_s: Option<f32>,
    /// Smallest match score (0–2) that counts as the name (default
    /// [`DEFAULT_MIN_SCORE`]).
    pub min_score: Option<f32>,
    /// Logit boost for the name's tokens in the check's decode (contextual biasing;
    /// 0 = off; default [`DEFAULT_BIAS`]).
    pub bias: Option<f32>,
    /// Verify a near miss by the decoder's likelihood of the name (default on, with
    /// an engine that can score; [`near_name`] says which texts are near misses).
    pub verify: Option<bool>,
    /// Also verify near misses of the name's syllables (小汉, 小孩), not only the name
    /// after two stray units (default on; with [`WakeConfig::verify_onset`] on, they
    /// wake only when the sound of the second syllable was measured and says 安:
    /// without that check it woke on espeak-ng's 小韩, docs/wake.md).
    pub verify_syllables: Option<bool>,
    /// How much less likely (nats, 0–20) than what the decoder wrote the name may be
    /// and still wake (default [`DEFAULT_VERIFY_MARGIN`]).
    pub verify_margin: Option<f32>,
    /// The same for the name after two stray units read as a filler (default
    /// [`DEFAULT_FILLER_MARGIN`]).
    pub filler_margin: Option<f32>,
    /// Refuse a near miss of the name's syllables (小汉, 小孩) when the audio's second
    /// syllable starts with a fricative, as 韩, 汉 and 孩 do and 安 does not
    /// ([`onset::second_onset`]; default on); the same refuses 小安 written for such
    /// audio.
    pub verify_onset: Option<bool>,
    /// Nats the name may fall short of what was written for a near miss of the
    /// syllables whose second syllable was measured to start without a fricative
    /// (default [`DEFAULT_ONSET_MARGIN`]).
    pub onset_margin: Option<f32>,
}

/// The wake word's settings, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct WakeSettings {
    /// Gate the conversation at all.
    pub enabled: bool,
    /// Seconds of speech decoded at the start of a segment.
    pub check_s: f32,
    /// Seconds without a turn before going back to waiting.
    pub sleep_after_s: f32,
    /// Smallest match score that counts as the name.
    pub min_score: f32,
    /// Logit boost for the name's tokens in the check's decode (0 = off).
    pub bias: f32,
    /// Verify near misses by likelihood.
    pub verify: bool,
    /// Verify near misses of the name's syllables too.
    pub verify_syllables: bool,
    /// Nats the name may fall short of what was written and still wake.
    pub verify_margin: f32,
    /// The same, for the name after two stray units read as a filler.
    pub filler_margin: f32,
    /// Refuse a near miss of the syllables whose second syllable starts with a
    /// fricative (and 小安 written for such audio).
    pub verify_onset: bool,
    /// The margin for a near miss of the syllables measured to start without a
    /// fricative.
    pub onset_margin: f32,
}

impl WakeConfig {
    /// Settings for `profile`, the file's values over the profile's defaults; an error
    /// names a value out of range.
    pub fn resolve(&self, profile: Profile) -> Result<WakeSettings> {
        let s = WakeSettings {
            enabled: self.enabled.unwrap_or(profile == Profile::Robot),
            check_s: self.check_s.unwrap_or(1.5),
            sleep_after_s: self.sleep_after_s.unwrap_or(15.0),
            min_score: self.min_score.unwrap_or(DEFAULT_MIN_SCORE),
            bias: self.bias.unwrap_or(DEFAULT_BIAS),
            verify: self.verify.unwrap_or(true),
            verify_syllables: self.verify_syllables.unwrap_or(true),
            verify_margin: self.verify_margin.unwrap_or(DEFAULT_VERIFY_MARGIN),
            filler_margin: self.filler_margin.unwrap_or(DEFAULT_FILLER_MARGIN),
            verify_onset: self.verify_onset.unwrap_or(true),
            onset_margin: self.onset_margin.unwrap_or(DEFAULT_ONSET_MARGIN),
        };
        let invalid = |field: &str, reason: String| Error::Config {
            file: "xiaoan.toml".into(),
            reason: format!("wake.{field}: {reason}"),
        };
        if !(0.8..=3.0).contains(&s.check_s) {
            return Err(invalid(
                "check_s",
                format!("{} is outside 0.8–3 seconds", s.check_s),
            ));
        }
        if !(2.0..=600.0).contains(&s.sleep_after_s) {
            return Err(invalid(
                "sleep_after_s",
                format!("{} is outside 2–600 seconds", s.sleep_after_s),
            ));
        }
        if !(0.5..=2.0).contains(&s.min_score) {
            return Err(invalid(
                "min_score",
                format!("{} is outside 0.5–2", s.min_score),
            ));
        }
        if !(0.0..=10.0).contains(&s.bias) {
            return Err(invalid("bias", format!("{} is outside 0–10", s.bias)));
        }
        for (field, v) in [
            ("verify_margin", s.verify_margin),
            ("filler_margin", s.filler_margin),
            ("onset_margin", s.onset_margin),
        ] {
            if !(0.0..=20.0).contains(&v) {
                return Err(invalid(field, format!("{v} is outside 0–20")));
            }
        }
        Ok(s)
    }
}

/// The name found at the start of a transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct NameMatch {
    /// How well it sounds like 小安, out of 2.
    pub score: f32,
    /// What was said after it (the request), punctuation at its start removed.
    pub rest: String,
}

/// One unit of a transcript: a Han character with its tone-less pinyin, or a Latin
/// word (lower case); `end` is the byte offset just after it.
#[derive(Debug)]
struct Unit {
    text: String,
    pinyin: String,
    end: usize,
}

fn units(text: &str) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut latin = String::new();
    let mut latin_end = 0;
    let flush = |latin: &mut String, end: usize, out: &mut Vec<Unit>| {
        if !latin.is_empty() {
            let w = std::mem::take(latin).to_lowercase();
            out.push(Unit {
                text: w.clone(),
                pinyin: w,
                end,
            });
        }
    };
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if c.is_ascii_alphabetic() {
            latin.push(c);
            latin_end = end;
            continue;
        }
        flush(&mut latin, latin_end, &mut out);
        if c.is_alphanumeric() {
            let s = c.to_string();
            let pinyin = xiaoan_intents::to_pinyin(&s).concat();
            out.push(Unit {
                text: s,
                pinyin,
                end,
            });
        }
    }
    flush(&mut latin, latin_end, &mut out);
    out
}

/// Credit for a syllable heard where `xiao` was said.
fn first_credit(p: &str) -> f32 {
    match p {
        "xiao" => FIRST_EXACT,
        "jiao" | "qiao" => FIRST_PALATAL,
        _ => 0.0,
    }
}

/// Credit for a syllable heard where `an` was said.
fn second_credit(u: &Unit) -> f32 {
    match u.pinyin.as_str() {
        "an" => SECOND_EXACT,
        "ang" => SECOND_NASAL,
        // 小韩 and 小南 are other people
        _ if u.text == "韩" || u.text == "南" => SECOND_OTHER_NAME,
        "han" => SECOND_ADDED_H,
        _ => 0.0,
    }
}

/// How many units at `at` make one filler, if they do.
fn filler_at(us: &[Unit], at: usize) -> Option<usize> {
    FILLERS.iter().find_map(|f| {
        let latin = f.is_ascii();
        if latin {
            (us.get(at)?.text == *f).then_some(1)
        } else {
            let n = f.chars().count();
            let joined: String = us
                .get(at..at + n)?
                .iter()
                .map(|u| u.text.as_str())
                .collect();
            (joined == *f).then_some(n)
        }
    })
}

/// Where the units after up to [`MAX_FILLERS`] leading fillers begin.
fn past_fillers(us: &[Unit]) -> usize {
    let mut at = 0;
    for _ in 0..MAX_FILLERS {
        match filler_at(us, at) {
            Some(n) => at += n,
            None => break,
        }
    }
    at
}

/// The name at the start of `text`, scored by sound, or `None` when the text does not
/// start with anything like it. At most two fillers may come first, and then at most
/// [`MAX_STRAY`] other units at [`STRAY_COST`] each (the best-scoring place wins), but
/// not a stray 小 (小小安 is 小小, "little"). Latin `xiao an` / `xiaoan` (the
/// recogniser sometimes writes pinyin) counts as the name.
///
/// ```
/// use xiaoan_agent::wake::find_name;
/// let m = find_name("诶，晓安，我想问一下敬老卡").unwrap();
/// assert_eq!(m.rest, "我想问一下敬老卡");
/// assert!(find_name("小区门口怎么走").is_none());
/// ```
pub fn find_name(text: &str) -> Option<NameMatch> {
    let us = units(text);
    let at = past_fillers(&us);
    let rest_after = |end: usize| -> String {
        text[end..]
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .to_string()
    };
    let mut best: Option<NameMatch> = None;
    for stray in 0..=MAX_STRAY {
        let Some(first) = us.get(at + stray) else {
            break;
        };
        if stray > 0 && little_before(&us, at + stray) {
            continue;
        }
        let cost = STRAY_COST * stray as f32;
        // pinyin written out: "xiaoan", "xiao an", "Xiao'an"
        let found = if first.pinyin == "xiaoan" {
            Some((2.0 - cost, first.end))
        } else {
            us.get(at + stray + 1).and_then(|second| {
                let (a, b) = (first_credit(&first.pinyin), second_credit(second));
                let word = us.get(at + stray + 2).is_some_and(|next| {
                    second.text == "安" && AN_WORDS.contains(&next.text.as_str())
                });
                (a > 0.0 && b > 0.0 && !word).then_some((a + b - cost, second.end))
            })
        };
        if let Some((score, end)) = found {
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(NameMatch {
                    score,
                    rest: rest_after(end),
                });
            }
        }
    }
    best
}

/// A check's text that may hide the name, to be verified by likelihood
/// ([`AsrModel::score_texts`]): what was written up to the name's place, and readings
/// of it with the name there.
#[derive(Clone, Debug, PartialEq)]
pub struct NearName {
    /// The text as written, up to and including the two units in the name's place.
    pub heard: String,
    /// The same start with 小安 in the name's place (and, for two stray units, a
    /// filler in theirs).
    pub named: Vec<String>,
    /// Whether the stray units before the name were read as a filler (judged with
    /// [`WakeSettings::filler_margin`]).
    pub filler: bool,
}

/// Whether a syllable is near enough to `xiao` to be the name's first syllable
/// misheard, for a check verified by likelihood: the palatals [`first_credit`] credits,
/// and `xia`/`xiang` (想安 for a fast 小安).
fn near_xiao(p: &str) -> bool {
    matches!(p, "xiao" | "jiao" | "qiao" | "xia" | "xiang")
}

/// Whether a syllable is near enough to `an` to be the name's second syllable
/// misheard: `an` or `ang`, or either with an h or n heard at the onset (小汉, 小南),
/// and `hai` (小孩: espeak-ng's 安 is often written so). Not `ai`: 小爱 is another
/// assistant's name.
fn near_an(p: &str) -> bool {
    matches!(p, "an" | "ang" | "han" | "hang" | "hai" | "nan" | "nang")
}

/// The near miss at the start of `text`, if there is one: after the fillers, a
/// syllable like `xiao` ([`near_xiao`]) then one near `an` ([`near_an`]) with at most [`MAX_STRAY`]
/// stray units before them (小汉你好, 小孩你好, 叫安), or the name after one more
/// stray unit than [`find_name`] allows (给您小安子), written exactly as the name. 小
/// followed by a word beginning with 安 (安静) is not one, nor is a stray 小 before
/// the name (小小孩). Text alone never wakes on these: the gate asks the
/// decoder whether the name explains the audio about as well as what it wrote.
///
/// ```
/// use xiaoan_agent::wake::near_name;
/// let n = near_name("小汉，我想问一下").unwrap();
/// assert_eq!((n.heard.as_str(), n.named[0].as_str()), ("小汉", "小安"));
/// assert!(near_name("小区门口怎么走").is_none());
/// ```
pub fn near_name(text: &str) -> Option<NearName> {
    let us = units(text);
    let at = past_fillers(&us);
    let start_of = |u: &Unit| u.end - u.text.len();
    for stray in 0..=MAX_STRAY + 1 {
        let (Some(first), Some(second)) = (us.get(at + stray), us.get(at + stray + 1)) else {
            break;
        };
        let word = us
            .get(at + stray + 2)
            .is_some_and(|next| second.text == "安" && AN_WORDS.contains(&next.text.as_str()));
        if !near_xiao(&first.pinyin) || !near_an(&second.pinyin) || word {
            continue;
        }
        if stray > 0 && little_before(&us, at + stray) {
            continue;
        }
        // read as a filler written as words, the name itself must be written as the
        // name: one departure from it at a time (我一向安床 is not 诶，小安)
        if stray > MAX_STRAY && (first.pinyin != "xiao" || second.pinyin != "an") {
            continue;
        }
        // 这个小… is "this little …", not a filler before the name
        let this = stray > MAX_STRAY
            && us
                .get(at..at + stray)
                .is_some_and(|s| s.iter().map(|u| u.text.as_str()).collect::<String>() == "这个");
        if this {
            continue;
        }
        let heard = text[..second.end].to_string();
        let named = if stray <= MAX_STRAY {
            vec![format!("{}{NAME}", &text[..start_of(first)])]
        } else {
            // the stray units may be a filler written as words
            let before = us.get(at).map_or(0, |u| start_of(u).min(start_of(first)));
            VERIFY_FILLERS
                .iter()
                .map(|f| format!("{}{f}{NAME}", &text[..before]))
                .collect()
        };
        return Some(NearName {
            heard,
            named,
            filler: stray > MAX_STRAY,
        });
    }
    None
}

/// Whether `text` starts with the name, scoring at least `min_score` (see
/// [`find_name`]).
pub fn starts_with_name(text: &str, min_score: f32) -> bool {
    find_name(text).is_some_and(|m| m.score >= min_score)
}

/// The request in an utterance that may start with the name: what follows 小安 (and a
/// repeated 小安), or the whole text when it does not start with the name.
///
/// ```
/// use xiaoan_agent::wake::request_after_name;
/// assert_eq!(request_after_name("小安，我想问一下居住证怎么办"), "我想问一下居住证怎么办");
/// assert_eq!(request_after_name("小安小安，你好"), "你好");
/// assert_eq!(request_after_name("小区门口怎么走"), "小区门口怎么走");
/// ```
pub fn request_after_name(text: &str) -> String {
    let mut rest = text.trim().to_string();
    // "小安小安": the name said twice is still the name
    for _ in 0..2 {
        match find_name(&rest) {
            Some(m) if m.score >= DEFAULT_MIN_SCORE => rest = m.rest,
            _ => break,
        }
    }
    rest
}

/// How the robot was engaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WakeSource {
    /// The name was heard.
    Name,
    /// A touch on the screen or a button.
    Touch,
}

/// What the gate reports.
#[derive(Clone, Debug, PartialEq)]
pub enum WakeEvent {
    /// The robot is engaged from now on.
    Woke {
        /// Why.
        by: WakeSource,
        /// What the check decoded (empty for a touch).
        heard: String,
        /// The audio of the utterance that carried the name, from its start (pre-roll
        /// included) to now: feed it to the recogniser before the next frames, so the
        /// request after the name is heard whole. Empty for a touch.
        audio: Vec<f32>,
        /// The resident is still speaking (more of the utterance is coming): a caller
        /// would rather not play a cue over it.
        speaking: bool,
    },
    /// The quiet spell passed: back to waiting ([`sleep_cue`] is the sound for it).
    Slept,
}

/// Counters for benchmarks: how often and how long the gate decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WakeStats {
    /// Checks run (one per voiced segment while waiting).
    pub checks: usize,
    /// Wall time spent decoding checks (and verifying near misses), seconds.
    pub decode_s: f64,
    /// Audio pushed, seconds.
    pub audio_s: f64,
}

/// The wake gate: waiting (only the name or a touch engages) or engaged (everything
/// goes to the conversation until a quiet spell).
pub struct WakeGate {
    settings: WakeSettings,
    model: Arc<dyn AsrModel>,
    opts: DecodeOptions,
    ep: Endpointer,
    engaged: bool,
    /// samples pushed since the gate was made
    clock: u64,
    /// `clock` at the last sign of conversation
    last_activity: u64,
    /// audio of the current segment while it is still a candidate
    seg: Vec<f32>,
    /// the current segment was checked (or ended)
    checked: bool,
    /// samples of pre-roll at a segment's start
    pre_roll: usize,
    /// what the last check decoded
    last_heard: String,
    /// the last check's likelihood ratio of the name, when it was verified
    last_ratio: Option<f32>,
    /// the last check's measure of the second syllable's onset, when it was taken
    last_onset: Option<onset::SecondOnset>,
    stats: WakeStats,
}

impl WakeGate {
    /// A gate that checks with `model` (decoding options derived from `base`: greedy,
    /// [`CHECK_TOKENS`] at most, no language model) and segments with `vad` under
    /// `endpoint`'s settings.
    pub fn new(
        model: Arc<dyn AsrModel>,
        base: &DecodeOptions,
        vad: Box<dyn Vad>,
        endpoint: EndpointConfig,
        settings: WakeSettings,
    ) -> WakeGate {
        let window = settings.check_s + endpoint.pre_roll_ms as f32 / 1000.0;
        let opts = DecodeOptions {
            temperatures: vec![0.0],
            beam_size: 1,
            lm: None,
            continue_from: None,
            // the budget is seconds × per-second rate; this makes it CHECK_TOKENS
            max_tokens_per_second: CHECK_TOKENS as f32 / window.max(0.1),
            bias_phrases: if settings.bias > 0.0 {
                vec![NAME.to_string()]
            } else {
                Vec::new()
            },
            bias_boost: settings.bias,
            ..base.clone()
        };
        let pre_roll = endpoint.pre_roll_ms as usize * SAMPLE_RATE as usize / 1000;
        WakeGate {
            settings,
            model,
            opts,
            ep: Endpointer::new(vad, endpoint),
            engaged: false,
            clock: 0,
            last_activity: 0,
            seg: Vec::new(),
            checked: true,
            pre_roll,
            last_heard: String::new(),
            last_ratio: None,
            last_onset: None,
            stats: WakeStats::default(),
        }
    }

    /// A gate on the recogniser's engine and Mandarin options, with the configured VAD
    /// and end-pointer, under the settings' `[wake]` values.
    pub fn from_settings(s: &Settings, rec: &crate::pipeline::Recognizer) -> Result<WakeGate> {
        let settings = s.config.wake.resolve(s.config.profile)?;
        let models = s.home.join("models");
        let silero = models.join("silero-vad").join("silero_vad.onnx");
        let ort = xiaoan_models::ort_lib(&s.home);
        let vad = xiaoan_audio::vad_by_name(&rec.vad, Some(&silero), Some(&ort))?;
        Ok(WakeGate::new(
            rec.model.clone(),
            &rec.options_for("cmn"),
            vad,
            rec.endpoint.clone(),
            settings,
        ))
    }

    /// The gate a session of `profile` needs: `None` when the wake word is off for it
    /// (`[wake] enabled`, on by default for the robot).
    pub fn for_profile(
        s: &Settings,
        rec: &crate::pipeline::Recognizer,
        profile: Profile,
    ) -> Result<Option<WakeGate>> {
        if !s.config.wake.resolve(profile)?.enabled {
            return Ok(None);
        }
        let mut gate = WakeGate::from_settings(s, rec)?;
        gate.settings = s.config.wake.resolve(profile)?;
        Ok(Some(gate))
    }

    /// The settings in force.
    pub fn settings(&self) -> &WakeSettings {
        &self.settings
    }

    /// Whether the robot is engaged (frames go to the conversation).
    pub fn is_engaged(&self) -> bool {
        self.engaged
    }

    /// How often and how long the gate decoded so far.
    pub fn stats(&self) -> WakeStats {
        WakeStats {
            audio_s: self.clock as f64 / SAMPLE_RATE as f64,
            ..self.stats
        }
    }

    /// What the last check decoded (benchmarks report it for a miss).
    pub fn last_heard(&self) -> &str {
        &self.last_heard
    }

    /// The last check's log-likelihood ratio of the name against what the decoder
    /// wrote (nats), when that check was a near miss verified by likelihood.
    pub fn last_ratio(&self) -> Option<f32> {
        self.last_ratio
    }

    /// The last check's measure of the name's second syllable's onset, when it was
    /// taken (a near miss of the syllables, with [`WakeSettings::verify_onset`]).
    pub fn last_onset(&self) -> Option<onset::SecondOnset> {
        self.last_onset
    }

    /// Feed captured 16 kHz frames (all of them, engaged or not: the quiet spell is
    /// counted in them). While waiting, a voiced segment's start is checked for the
    /// name; while engaged, only the quiet spell is watched.
    pub fn push(&mut self, frame: &[f32]) -> Result<Option<WakeEvent>> {
        self.clock += frame.len() as u64;
        if self.engaged {
            let quiet = (self.clock - self.last_activity) as f64 / SAMPLE_RATE as f64;
            if quiet > self.settings.sleep_after_s as f64 {
                self.sleep();
                return Ok(Some(WakeEvent::Slept));
            }
            return Ok(None);
        }
        let window = self.pre_roll + (self.settings.check_s * SAMPLE_RATE as f32) as usize;
        for ev in self.ep.push(frame) {
            match ev {
                EndpointEvent::Start { .. } => {
                    self.seg.clear();
                    self.checked = false;
                }
                EndpointEvent::Audio(samples) => {
                    if self.checked {
                        continue;
                    }
                    self.seg.extend_from_slice(&samples);
                    if self.seg.len() >= window {
                        if let Some(w) = self.check(window, true)? {
                            return Ok(Some(w));
                        }
                    }
                }
                EndpointEvent::End { .. } => {
                    if !self.checked && !self.seg.is_empty() {
                        if let Some(w) = self.check(window, false)? {
                            return Ok(Some(w));
                        }
                    }
                    self.seg.clear();
                    self.checked = true;
                }
            }
        }
        Ok(None)
    }

    /// Decode the first `window` samples of the segment; on the name, engage.
    fn check(&mut self, window: usize, speaking: bool) -> Result<Option<WakeEvent>> {
        self.checked = true;
        let n = window.min(self.seg.len());
        let t = Instant::now();
        let heard = self.model.decode(&self.seg[..n], &self.opts)?.text;
        self.last_ratio = None;
        self.last_onset = None;
        let mut named = starts_with_name(&heard, self.settings.min_score);
        if named && self.settings.verify_onset {
            // 小安 written for 小韩 said (a voice's 韩 heard as 安): the sound decides
            self.last_onset = onset::second_onset(&self.seg[..n]);
            named = !self.last_onset.is_some_and(|o| o.fricative());
        }
        if !named && self.settings.verify {
            let near = near_name(&heard).filter(|n| n.filler || self.settings.verify_syllables);
            if let Some(near) = near {
                // 韩, 汉 and 孩 start with a fricative, 安 does not; with the onset check
                // on, a near miss of the syllables wakes only when the sound was
                // measured and says 安
                let refused = !near.filler && self.settings.verify_onset && {
                    self.last_onset = onset::second_onset(&self.seg[..n]);
                    self.last_onset.is_none_or(|o| o.fricative())
                };
                if refused {
                    self.stats.decode_s += t.elapsed().as_secs_f64();
                    self.stats.checks += 1;
                    self.last_heard.clone_from(&heard);
                    self.seg.clear();
                    return Ok(None);
                }
                self.last_ratio = self.name_ratio(n, &near)?;
                let margin = if near.filler {
                    self.settings.filler_margin
                } else if self.last_onset.is_some() {
                    self.settings.onset_margin
                } else {
                    self.settings.verify_margin
                };
                named = self.last_ratio.is_some_and(|r| r >= -margin);
            }
        }
        self.stats.decode_s += t.elapsed().as_secs_f64();
        self.stats.checks += 1;
        self.last_heard.clone_from(&heard);
        if !named {
            self.seg.clear();
            return Ok(None);
        }
        self.engage();
        Ok(Some(WakeEvent::Woke {
            by: WakeSource::Name,
            heard,
            audio: std::mem::take(&mut self.seg),
            speaking,
        }))
    }

    /// How much likelier (log, nats) the best reading with the name is than what was
    /// written, for the segment's first `n` samples; `None` when the engine cannot say.
    fn name_ratio(&self, n: usize, near: &NearName) -> Result<Option<f32>> {
        let mut texts = vec![near.heard.clone()];
        texts.extend(near.named.iter().cloned());
        let Some(lp) = self.model.score_texts(&self.seg[..n], &self.opts, &texts)? else {
            return Ok(None);
        };
        let (Some(heard), Some(named)) = (lp.first(), lp.iter().skip(1).copied().reduce(f32::max))
        else {
            return Ok(None);
        };
        Ok(Some(named - heard))
    }

    fn engage(&mut self) {
        self.engaged = true;
        self.last_activity = self.clock;
        self.ep.reset();
        self.checked = true;
    }

    /// A touch on the screen or a button: engaged at once.
    pub fn touch(&mut self) -> WakeEvent {
        self.seg.clear();
        self.engage();
        WakeEvent::Woke {
            by: WakeSource::Touch,
            heard: String::new(),
            audio: Vec::new(),
            speaking: false,
        }
    }

    /// The conversation goes on (a turn was heard, a reply finished playing): the quiet
    /// spell starts again from now.
    pub fn activity(&mut self) {
        self.last_activity = self.clock;
    }

    /// Back to waiting now (the dialogue ended the session, or after the quiet spell).
    pub fn sleep(&mut self) {
        self.engaged = false;
        self.ep.reset();
        self.seg.clear();
        self.checked = true;
    }
}

/// The cue played on a wake by name or touch: the listening earcon.
pub fn wake_cue() -> AudioBuf {
    crate::speech::cue(xiaoan_audio::Earcon::Listening)
}

/// The soft cue played when the robot goes back to waiting: the listening earcon
/// played backwards (its notes fall a fourth instead of rising; each note's fades are
/// symmetric, so it stays click-free) at half its level.
pub fn sleep_cue() -> AudioBuf {
    let mut a = wake_cue();
    a.samples.reverse();
    for x in a.samples.iter_mut() {
        *x *= 0.5;
    }
    a
}

pub mod onset;

#[cfg(test)]
mod tests;
