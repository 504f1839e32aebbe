//! Sample-rate conversion with rubato's FFT resampler.
//!
//! The output is aligned with the input (the resampler's delay is removed) and
//! has `round(len * to / from)` samples, so timestamps survive resampling.

use rubato::{FftFixedIn, Resampler};

use crate::{Error, Result};

/// Input chunk handed to the FFT resampler (its actual size is rounded to the
/// rates' ratio).
const CHUNK_IN: usize = 1024;
/// Sub-chunks per chunk (rubato's default suggestion: 2).
const SUB_CHUNKS: usize = 2;

/// Resample mono `samples` from `from_hz` to `to_hz`.
///
/// Returns exactly `round(samples.len() * to_hz / from_hz)` samples, time-aligned
/// with the input. Equal rates return a copy.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>> {
    let mut rs = StreamResampler::new(from_hz, to_hz)?;
    rs.push(samples)?;
    rs.finish()
}

/// A resampler fed piece by piece, for audio too large to hold at its own rate.
///
/// [`push`](Self::push) any number of slices, then [`finish`](Self::finish): the
/// output is the same as [`resample`] of all the pieces joined (exactly
/// `round(total * to_hz / from_hz)` samples, time-aligned), while memory holds only
/// the output so far plus less than one resampler chunk of input.
pub struct StreamResampler {
    from_hz: u32,
    to_hz: u32,
    /// `None` when the rates are equal (samples are copied through).
    fft: Option<Fft>,
    /// Input samples pushed so far.
    n_in: u64,
    /// The output so far, the resampler's delay already removed.
    out: Vec<f32>,
}

/// The FFT resampler and its buffers.
struct Fft {
    rs: FftFixedIn<f32>,
    /// Input not yet handed to the resampler (less than one chunk).
    pending: Vec<f32>,
    buf_out: Vec<Vec<f32>>,
    /// Output samples still to drop: the resampler's delay.
    skip: usize,
}

fn resample_err(e: rubato::ResampleError) -> Error {
    Error::Resample(e.to_string())
}

impl StreamResampler {
    /// A resampler from `from_hz` to `to_hz` (both above 0).
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self> {
        if from_hz == 0 || to_hz == 0 {
            return Err(Error::Resample(format!(
                "sample rates must be above 0 Hz (got {from_hz} → {to_hz})"
            )));
        }
        let fft = if from_hz == to_hz {
            None
        } else {
            let rs =
                FftFixedIn::<f32>::new(from_hz as usize, to_hz as usize, CHUNK_IN, SUB_CHUNKS, 1)
                    .map_err(|e| Error::Resample(e.to_string()))?;
            Some(Fft {
                skip: rs.output_delay(),
                buf_out: rs.output_buffer_allocate(true),
                pending: Vec::with_capacity(rs.input_frames_max()),
                rs,
            })
        };
        Ok(Self {
            from_hz,
            to_hz,
            fft,
            n_in: 0,
            out: Vec::new(),
        })
    }

    /// How many output samples `n_in` input samples make.
    fn expected(&self, n_in: u64) -> usize {
        (n_in as f64 * self.to_hz as f64 / self.from_hz as f64).round() as usize
    }

    /// Reserve room for the output of `n_in` more input samples, at most `cap` output
    /// samples in all (the header's length is only a claim).
    pub fn reserve_for(&mut self, n_in: u64, cap: usize) {
        let want = self.expected(self.n_in.saturating_add(n_in)).min(cap);
        self.out.reserve(want.saturating_sub(self.out.len()));
    }

    /// Output samples so far.
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Feed the next input samples.
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.n_in += samples.len() as u64;
        let Some(f) = &mut self.fft else {
            self.out.extend_from_slice(samples);
            return Ok(());
        };
        let mut rest = samples;
        // complete the chunk left over from the last push
        if !f.pending.is_empty() {
            let need = f.rs.input_frames_next();
            let take = need.saturating_sub(f.pending.len()).min(rest.len());
            f.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if f.pending.len() < need {
                return Ok(());
            }
            let (_, n) =
                f.rs.process_into_buffer(&[&f.pending[..]], &mut f.buf_out, None)
                    .map_err(resample_err)?;
            emit(&mut self.out, &mut f.skip, &f.buf_out[0][..n]);
            f.pending.clear();
        }
        // whole chunks straight from the input, without copying it
        loop {
            let need = f.rs.input_frames_next();
            if need > rest.len() {
                break;
            }
            let (_, n) =
                f.rs.process_into_buffer(&[&rest[..need]], &mut f.buf_out, None)
                    .map_err(resample_err)?;
            emit(&mut self.out, &mut f.skip, &f.buf_out[0][..n]);
            rest = &rest[need..];
        }
        f.pending.extend_from_slice(rest);
        Ok(())
    }

    /// Flush the resampler and return exactly `round(total_in * to_hz / from_hz)`
    /// samples.
    pub fn finish(mut self) -> Result<Vec<f32>> {
        let expected = self.expected(self.n_in);
        if let Some(f) = &mut self.fft {
            if !f.pending.is_empty() {
                let (_, n) =
                    f.rs.process_partial_into_buffer(Some(&[&f.pending[..]]), &mut f.buf_out, None)
                        .map_err(resample_err)?;
                emit(&mut self.out, &mut f.skip, &f.buf_out[0][..n]);
                f.pending.clear();
            }
            // Push the delayed tail out with silence.
            let mut guard = 0;
            while self.out.len() < expected && self.n_in > 0 && guard < 64 {
                let (_, n) =
                    f.rs.process_partial_into_buffer(None::<&[&[f32]]>, &mut f.buf_out, None)
                        .map_err(resample_err)?;
                if n == 0 {
                    break;
                }
                emit(&mut self.out, &mut f.skip, &f.buf_out[0][..n]);
                guard += 1;
            }
        }
        self.out.resize(expected, 0.0);
        Ok(self.out)
    }
}

/// Append resampler output, first dropping what is left of its delay.
fn emit(out: &mut Vec<f32>, skip: &mut usize, chunk: &[f32]) {
    let drop = (*skip).min(chunk.len());
    *skip -= drop;
    out.extend_from_slice(&chunk[drop..]);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sine(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Frequency of the strongest DFT bin between 20 Hz and Nyquist, refined by
    /// a search with 1 Hz steps around it (Goertzel-style evaluation).
    pub(crate) fn peak_frequency(x: &[f32], rate: u32) -> f32 {
        let power = |f: f32| -> f64 {
            let w = 2.0 * std::f64::consts::PI * f as f64 / rate as f64;
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (i, s) in x.iter().enumerate() {
                let a = w * i as f64;
                re += *s as f64 * a.cos();
                im -= *s as f64 * a.sin();
            }
            re * re + im * im
        };
        let nyq = rate as f32 / 2.0;
        let mut best = (0.0f32, -1.0f64);
        let mut f = 20.0f32;
        while f < nyq {
            let p = power(f);
            if p > best.1 {
                best = (f, p);
            }
            f += 10.0;
        }
        let centre = best.0;
        let mut f = centre - 10.0;
        while f <= centre + 10.0 {
            let p = power(f);
            if p > best.1 {
                best = (f, p);
            }
            f += 1.0;
        }
        best.0
    }

    #[test]
    fn equal_rates_copy() {
        let x = sine(440.0, 16_000, 1000, 0.5);
        assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
    }

    #[test]
    fn zero_rate_is_an_error() {
        let e = resample(&[0.0; 10], 0, 16_000).unwrap_err();
        assert!(e.to_string().contains("above 0 Hz"), "{e}");
    }

    #[test]
    fn resampling_keeps_time_alignment() {
        // A click at 0.5 s must stay at 0.5 s after 44.1 k → 16 k.
        let mut x = vec![0.0f32; 44_100];
        for s in &mut x[22_050..22_060] {
            *s = 1.0;
        }
        let y = resample(&x, 44_100, 16_000).unwrap();
        let peak = y
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i)
            .unwrap();
        assert!(
            (peak as i64 - 8_000).abs() <= 3,
            "click moved to sample {peak}"
        );
    }

    #[test]
    fn streaming_in_pieces_matches_whole() {
        let x = sine(440.0, 44_100, 50_000, 0.5);
        let whole = resample(&x, 44_100, 16_000).unwrap();
        let mut rs = StreamResampler::new(44_100, 16_000).unwrap();
        for piece in x.chunks(777) {
            rs.push(piece).unwrap();
        }
        assert_eq!(rs.finish().unwrap(), whole);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn resampled_length_matches_ratio(
            from in prop::sample::select(vec![8_000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000]),
            to in prop::sample::select(vec![8_000u32, 16_000, 22_050, 44_100, 48_000]),
            len in 0usize..20_000,
        ) {
            let x = vec![0.1f32; len];
            let y = resample(&x, from, to).unwrap();
            let want = len as f64 * to as f64 / from as f64;
            prop_assert!((y.len() as f64 - want).abs() <= 1.0, "len {} want {}", y.len(), want);
        }

        #[test]
        fn odd_rates_resample_to_16k(from in 4_000u32..=100_000, len in 1usize..5_000) {
            let x = vec![0.1f32; len];
            let y = resample(&x, from, 16_000).unwrap();
            let want = len as f64 * 16_000.0 / from as f64;
            prop_assert!((y.len() as f64 - want).abs() <= 1.0, "len {} want {}", y.len(), want);
            prop_assert!(y.iter().all(|s| s.is_finite()));
        }

        #[test]
        fn sine_frequency_survives_resampling(
            from in prop::sample::select(vec![8_000u32, 22_050, 44_100, 48_000]),
            freq in 200.0f32..3_500.0,
        ) {
            let x = sine(freq, from, from as usize / 2, 0.5);
            let y = resample(&x, from, 16_000).unwrap();
            // skip the edges where the filter rings
            let core = &y[800..y.len() - 800];
            let got = peak_frequency(core, 16_000);
            prop_assert!((got - freq).abs() <= 3.0, "{} Hz came out as {} Hz", freq, got);
        }
    }
}
