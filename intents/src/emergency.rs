//! Emergencies: the words that name one (characters, dialect forms, sounds), what makes
//! them not one (prevention: 防摔倒扶手; the past: 上个月摔倒了，想装扶手), and the policy
//! that joins them with the classifier's reading.
//!
//! A real emergency must always read as one, and a need told in serious words (help at
//! home, a frail parent living alone, no money, a fall last month) never: strong words
//! happening now decide at once ([`EmergencyCall::Rule`]); words that often mean
//! something else ([`EmergencyCue::weak`]: 中风 in a disability question, 掉下来 of a
//! tile) count unless the classifier rules an emergency out; without words, the
//! classifier's emergency reading counts only when it is strong
//! ([`CLASSIFIER_EMERGENCY_MIN`]).

mod context;
mod situations;
mod words;

use crate::features::fuzzy;
use context::{
    prevented, CONSEQUENCE, LASTING, NOT_URGENT, PREVENTION, SERVICE_ASK, SETTLED, URGENT,
};
use situations::{lost_person, paired, stuck_in_lift};
use words::{DENIED, EMERGENCY_SOUNDS, EMERGENCY_WORDS, MILDER_AFTER, NOT_EMERGENCY, WEAK_WORDS};

/// What the rules see in an utterance about an emergency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmergencyCue {
    /// Emergency words (or their sounds) are there, not as prevention.
    pub hit: bool,
    /// Only words of the weak kind (they often name something else).
    pub weak: bool,
    /// The event is in the past or over, and nothing says it is happening now.
    pub settled: bool,
    /// Something says it is happening now.
    pub urgent: bool,
    /// Words tell of a lasting state (坏了1个礼拜了) or name something that only looks
    /// like an emergency (打不着火, 报警器): the classifier alone must be very sure.
    pub calm: bool,
}

impl EmergencyCue {
    /// The words name an emergency whatever the classifier thinks: a hit, strong, not
    /// settled.
    pub fn certain(&self) -> bool {
        self.hit && !self.settled && !self.weak
    }
}

/// What the rules see about an emergency in normalised text and its pinyin.
pub fn emergency_cue(text: &str, pinyin: &[String]) -> EmergencyCue {
    if PREVENTION.iter().any(|p| text.contains(p)) {
        return EmergencyCue::default();
    }
    let mut strong = false;
    let mut weak = false;
    let mut after_past = false;
    // a phrase known to mean something else also rules out a match by sound
    let explained = NOT_EMERGENCY.iter().any(|w| text.contains(w));
    let calm = explained || LASTING.iter().any(|w| text.contains(w));
    let mut any_prevented = explained;
    let masked = NOT_EMERGENCY
        .iter()
        .fold(text.to_string(), |t, w| t.replace(w, "|"));
    let text = masked.as_str();
    for w in EMERGENCY_WORDS {
        for (i, _) in text.match_indices(w) {
            let head = &text[..i];
            if DENIED.iter().any(|d| head.ends_with(d))
                || MILDER_AFTER
                    .iter()
                    .any(|(word, before)| w == word && head.ends_with(before))
            {
                continue;
            }
            if prevented(head) {
                any_prevented = true;
                continue;
            }
            if WEAK_WORDS.contains(w) {
                weak = true;
            } else {
                strong = true;
            }
            // 中风过, 摔过: done before (but 抽过去, 晕过去: passing out now)
            let rest = &text[i + w.len()..];
            if rest.starts_with('过') && !rest.starts_with("过去") {
                after_past = true;
            }
        }
    }
    if lost_person(text) || paired(text) || stuck_in_lift(text) {
        strong = true;
    }
    if !strong && !weak && !any_prevented {
        let py: Vec<String> = pinyin.iter().map(|p| fuzzy(p)).collect();
        strong = EMERGENCY_SOUNDS.iter().any(|pat| {
            let pat: Vec<String> = pat.iter().map(|p| fuzzy(p)).collect();
            py.windows(pat.len()).any(|w| w == pat.as_slice())
        });
    }
    let hit = strong || weak;
    let unmasked = NOT_URGENT
        .iter()
        .fold(text.to_string(), |t, w| t.replace(w, "|"));
    let urgent = URGENT.iter().any(|u| unmasked.contains(u));
    let past = after_past
        || SETTLED.iter().any(|p| text.contains(p))
        || SERVICE_ASK.iter().any(|p| text.contains(p))
        || CONSEQUENCE.iter().any(|p| text.contains(p));
    EmergencyCue {
        hit,
        weak: hit && !strong,
        settled: hit && past && !urgent,
        urgent,
        calm: calm && !urgent,
    }
}

/// An emergency named only by words that often mean something else (中风, 掉下来, 打架;
/// [`EmergencyCue::weak`]) counts when the fused classifier gives an emergency at
/// least this probability, or something says it is happening now. Chosen on the
/// residents' training lines out of fold (see `examples/meaning.rs --em`).
pub const WEAK_EMERGENCY_MIN: f32 = 0.2;

/// With no emergency words (or only ones in the past: 上个月摔倒了), the classifier's
/// emergency reading counts only from this probability; below it the next intent is
/// read. Chosen likewise: needs told in serious words (no money, a frail parent alone)
/// stay what they are.
pub const CLASSIFIER_EMERGENCY_MIN: f32 = 0.6;

/// The same when the emergency words are in the past (上个月家里失火了，想申请救助): the
/// classifier hears the fire; the resident asks for help after it. Also when the cue is
/// [`EmergencyCue::calm`] (电梯坏了1个礼拜了，老人上不去下不来; 煤气灶打不着火).
pub const SETTLED_EMERGENCY_MIN: f32 = 0.9;

/// How an utterance stands towards an emergency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyCall {
    /// The words name one happening now: act.
    Rule,
    /// No such words, but the classifier reads one strongly enough: a guess.
    Classifier,
    /// Not an emergency (whatever the classifier's top reading).
    No,
}

/// The emergency policy: the rules' cue and the classifier's probability of an emergency.
pub fn emergency_call(cue: &EmergencyCue, p_emergency: f32) -> EmergencyCall {
    if cue.hit && !cue.settled && (!cue.weak || cue.urgent || p_emergency >= WEAK_EMERGENCY_MIN) {
        EmergencyCall::Rule
    } else if p_emergency
        >= if cue.settled || cue.calm {
            SETTLED_EMERGENCY_MIN
        } else {
            CLASSIFIER_EMERGENCY_MIN
        }
    {
        EmergencyCall::Classifier
    } else {
        EmergencyCall::No
    }
}

#[cfg(test)]
mod tests;
