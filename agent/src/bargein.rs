//! Barge-in: stop playback when the resident starts speaking over it.
//!
//! On a robot the speaker sits a few centimetres from the microphone, so the microphone
//! hears the reply too. The guard has two parts:
//! - while a reply plays, the VAD threshold is raised by [`ECHO_GUARD_BOOST`];
//! - a frame only counts as the resident when it is louder than the expected echo of
//!   what is playing at that moment (playback level + [`ECHO_COUPLING_DB`]) by
//!   [`ECHO_MARGIN_DB`].
//!
//! Speech that passes both for [`ONSET_FRAMES`] consecutive frames stops playback. With
//! 20–32 ms VAD frames this decides within about 100 ms of the onset (the target is
//! 200 ms). Not handled: real acoustic echo cancellation (no adaptive filter), so a
//! resident speaking softly over loud playback may not interrupt; the `window` profile's
//! headset avoids the problem. Playback that is not speech-like (earcons) is covered by
//! the same level test.

use xiaoan_audio::Vad;

/// How much the VAD threshold rises while a reply is playing.
pub const ECHO_GUARD_BOOST: f32 = 0.2;
/// How much louder than the expected echo a frame must be to count as the resident.
pub const ECHO_MARGIN_DB: f32 = 6.0;
/// Level of the playback as picked up by the microphone, relative to the signal sent to
/// the speaker (an assumption for a robot; set per device).
pub const ECHO_COUPLING_DB: f32 = -20.0;
/// Consecutive speech frames needed to stop playback (one frame is too easily a click).
pub const ONSET_FRAMES: usize = 3;

/// Decides, frame by frame, whether the resident is talking over the playback.
pub struct BargeIn {
    vad: Box<dyn Vad>,
    threshold: f32,
    run: usize,
    buf: Vec<f32>,
    consumed: usize,
}

/// RMS level in dB full scale.
pub fn level_db(x: &[f32]) -> f32 {
    if x.is_empty() {
        return -120.0;
    }
    let e = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    10.0 * e.max(1e-12).log10()
}

/// The level of a reply while it is speaking: the 90th percentile of its 20 ms frame
/// levels (the mean would be pulled down by the pauses between words, and the echo of
/// a loud syllable would then pass for the resident).
pub fn active_level_db(x: &[f32]) -> f32 {
    let mut levels: Vec<f32> = x
        .chunks(320)
        .filter(|c| c.len() == 320)
        .map(level_db)
        .collect();
    if levels.is_empty() {
        return level_db(x);
    }
    levels.sort_by(|a, b| a.total_cmp(b));
    levels[(levels.len() * 9 / 10).min(levels.len() - 1)]
}

impl BargeIn {
    /// A detector with the given VAD and base threshold (the end-pointer's).
    pub fn new(vad: Box<dyn Vad>, threshold: f32) -> BargeIn {
        BargeIn {
            vad,
            threshold,
            run: 0,
            buf: Vec::new(),
            consumed: 0,
        }
    }

    /// Feed microphone samples (16 kHz) captured while a reply at level `playing_db`
    /// ([`active_level_db`] of the samples sent to the speaker; `None` when nothing
    /// plays) was playing.
    /// Returns the offset in samples, from the start of everything fed so far, at which
    /// playback must stop.
    pub fn push(&mut self, mic: &[f32], playing_db: Option<f32>) -> Option<usize> {
        self.buf.extend_from_slice(mic);
        let n = self.vad.frame_samples().max(1);
        let threshold = if playing_db.is_some() {
            (self.threshold + ECHO_GUARD_BOOST).min(0.95)
        } else {
            self.threshold
        };
        let mut fired = None;
        while self.buf.len() >= n {
            let frame: Vec<f32> = self.buf.drain(..n).collect();
            self.consumed += n;
            let p = self.vad.speech_probability(&frame);
            let above_echo = match playing_db {
                Some(db) => level_db(&frame) > db + ECHO_COUPLING_DB + ECHO_MARGIN_DB,
                None => true,
            };
            if p >= threshold && above_echo {
                self.run += 1;
                if self.run >= ONSET_FRAMES && fired.is_none() {
                    fired = Some(self.consumed);
                }
            } else {
                self.run = 0;
            }
        }
        fired
    }

    /// Start over (after playback ended or stopped).
    pub fn reset(&mut self) {
        self.vad.reset();
        self.run = 0;
        self.buf.clear();
        self.consumed = 0;
    }
}
