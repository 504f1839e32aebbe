//! [`AudioBuf`]: a mono buffer of `f32` samples with its rate.

/// The sample rate every later stage (VAD, end-pointer, ASR) consumes.
///
/// Whisper and Silero are trained on 16 kHz audio (Whisper's `SAMPLE_RATE`).
pub const SAMPLE_RATE: u32 = 16_000;

/// Lowest sample rate a file may declare (below this nothing intelligible survives).
pub const MIN_SAMPLE_RATE: u32 = 4_000;
/// Highest sample rate a file may declare (the highest rate common hardware records).
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// How far (dB, RMS) below a clip's loudest 10 ms frame a frame stops counting as
/// speech in [`AudioBuf::speech_end`].
pub const SPEECH_FLOOR_DB: f64 = 35.0;

/// Mono audio: samples in `[-1, 1]` (not enforced) at `sample_rate` Hz.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBuf {
    /// The samples, one per time step.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl AudioBuf {
    /// Wrap samples taken at `sample_rate` Hz.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
        }
    }

    /// Length in seconds (0 when the rate is 0).
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / self.sample_rate as f64
    }

    /// `seconds` of digital silence (negative or non-finite lengths give an empty buffer).
    pub fn silence(seconds: f64, sample_rate: u32) -> Self {
        let n = if seconds.is_finite() && seconds > 0.0 {
            (seconds * sample_rate as f64).round() as usize
        } else {
            0
        };
        Self::new(vec![0.0; n], sample_rate)
    }

    /// Where the speech in a recording ends, in samples: just after the last 10 ms frame
    /// whose RMS is within [`SPEECH_FLOOR_DB`] of the loudest frame's (0 when every
    /// frame is digital silence). For benchmarks that time "end of speech → result" on
    /// clips that carry trailing padding; the live loop never sees the future like this.
    pub fn speech_end(&self) -> usize {
        let n = (self.sample_rate as usize / 100).max(1);
        let rms: Vec<f64> = self
            .samples
            .chunks(n)
            .map(|f| (f.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / f.len() as f64).sqrt())
            .collect();
        let peak = rms
            .iter()
            .cloned()
            .filter(|r| r.is_finite())
            .fold(0.0, f64::max);
        let floor = (peak * 10f64.powf(-SPEECH_FLOOR_DB / 20.0)).max(1e-4);
        match rms.iter().rposition(|r| r.is_finite() && *r >= floor) {
            Some(i) => ((i + 1) * n).min(self.samples.len()),
            None => 0,
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// This buffer at [`SAMPLE_RATE`] (a copy when it already is).
    pub fn to_16k(&self) -> crate::Result<AudioBuf> {
        Ok(AudioBuf::new(
            crate::resample(&self.samples, self.sample_rate, SAMPLE_RATE)?,
            SAMPLE_RATE,
        ))
    }

    /// Root-mean-square level in dB relative to full scale (−120 for silence).
    pub fn rms_dbfs(&self) -> f32 {
        rms_dbfs(&self.samples)
    }
}

/// Root-mean-square level of `samples` in dBFS, floored at −120.
pub(crate) fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return -120.0;
    }
    let ms = samples
        .iter()
        .map(|s| (*s as f64) * (*s as f64))
        .sum::<f64>()
        / samples.len() as f64;
    (10.0 * (ms + 1e-12).log10()).max(-120.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_has_the_asked_length() {
        let b = AudioBuf::silence(1.5, 16_000);
        assert_eq!(b.samples.len(), 24_000);
        assert!((b.duration_s() - 1.5).abs() < 1e-9);
        assert!(b.samples.iter().all(|s| *s == 0.0));
        assert!(AudioBuf::silence(-1.0, 16_000).is_empty());
        assert!(AudioBuf::silence(f64::NAN, 16_000).is_empty());
    }

    #[test]
    fn rms_of_full_scale_square_is_zero_db() {
        let b = AudioBuf::new(vec![1.0, -1.0, 1.0, -1.0], 16_000);
        assert!(b.rms_dbfs().abs() < 0.01);
        assert_eq!(AudioBuf::silence(0.1, 16_000).rms_dbfs(), -120.0);
    }

    #[test]
    fn speech_ends_where_the_sound_stops_not_where_the_padding_does() {
        // 0.3 s silence, 1 s tone, 0.4 s faint hiss (60 dB down), then 0.5 s silence
        let sr = 16_000;
        let mut x = vec![0.0f32; 4_800];
        x.extend((0..16_000).map(|i| 0.5 * (i as f32 * 0.1).sin()));
        x.extend((0..6_400).map(|i| if i % 2 == 0 { 5e-4 } else { -5e-4 }));
        x.extend(vec![0.0; 8_000]);
        let end = AudioBuf::new(x, sr).speech_end();
        assert_eq!(end, 20_800, "speech ends after the tone, at 1.3 s");
        assert_eq!(AudioBuf::silence(1.0, sr).speech_end(), 0);
        assert_eq!(AudioBuf::new(Vec::new(), sr).speech_end(), 0);
        let odd = AudioBuf::new(vec![f32::NAN, 0.5, f32::INFINITY, 0.0], sr);
        assert!(odd.speech_end() <= 4);
    }
}
