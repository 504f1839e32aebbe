//! Whisper's log-mel spectrogram on candle, as openai/whisper computes it, and the
//! length of the encoder window.

use candle_core::{DType, Device, Tensor};

use crate::asr::SAMPLE_RATE;

/// Whisper's hop between mel frames in samples (openai/whisper `HOP_LENGTH`).
pub(super) const HOP: usize = 160;
/// FFT window (openai/whisper `N_FFT`).
const N_FFT: usize = crate::import::WHISPER_N_FFT;
/// Frequency bins of one frame's spectrum.
const N_FREQ: usize = N_FFT / 2 + 1;
/// Mel frames of a full 30 s window (openai/whisper `N_FRAMES`).
pub(super) const N_FRAMES_30S: usize = 3000;

/// The mel front end: the filterbank and a DFT basis with the window folded in.
pub(super) struct LogMel {
    /// mel filterbank (n_mels, 201)
    pub(super) filters: Tensor,
    /// [cos | sin] DFT basis × Hann window, (400, 402)
    dft: Tensor,
}

impl LogMel {
    /// The front end of filterbank `filters` (n_mels, 201).
    pub(super) fn new(filters: Tensor) -> candle_core::Result<Self> {
        let mut basis = vec![0f32; N_FFT * 2 * N_FREQ];
        for n in 0..N_FFT {
            // periodic Hann window (torch.hann_window)
            let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos());
            for k in 0..N_FREQ {
                let a = 2.0 * std::f64::consts::PI * (k * n % N_FFT) as f64 / N_FFT as f64;
                basis[n * 2 * N_FREQ + k] = (w * a.cos()) as f32;
                basis[n * 2 * N_FREQ + N_FREQ + k] = (w * a.sin()) as f32;
            }
        }
        let dft = Tensor::from_vec(basis, (N_FFT, 2 * N_FREQ), &Device::Cpu)?;
        Ok(Self { filters, dft })
    }

    /// Log-mel spectrogram (1, n_mels, frames) as openai/whisper computes it: STFT with
    /// a 400-sample Hann window, hop 160, reflect padding; power; mel; log10 clamped
    /// 8 decades below the maximum; scaled `(x + 4) / 4`. `frames` is even.
    pub(super) fn compute(&self, samples: &[f32], frames: usize) -> candle_core::Result<Tensor> {
        // frames whose window holds no audio have zero power: compute only the others
        let live = ((samples.len() + N_FFT / 2) / HOP + 1).min(frames);
        let power = self.power(&windows(samples, frames, live), live)?;
        let power = if live < frames {
            let silent = Tensor::zeros((frames - live, N_FREQ), DType::F32, &Device::Cpu)?;
            Tensor::cat(&[&power, &silent], 0)?
        } else {
            power
        };
        let mel = self.filters.matmul(&power.t()?)?; // (n_mels, frames)
        let log = mel
            .clamp(1e-10f32, f32::MAX)?
            .log()?
            .affine(1.0 / std::f64::consts::LN_10, 0.0)?;
        let max = log.max_all()?.to_scalar::<f32>()?;
        let log = log.clamp(max - 8.0, f32::MAX)?;
        log.affine(0.25, 1.0)?.unsqueeze(0)
    }

    /// The power spectrum (live, 201) of `live` windows of [`N_FFT`] samples.
    fn power(&self, windows: &[f32], live: usize) -> candle_core::Result<Tensor> {
        let w = Tensor::from_slice(windows, (live, N_FFT), &Device::Cpu)?;
        let spec = w.matmul(&self.dft)?; // (live, 402)
        let re = spec.narrow(1, 0, N_FREQ)?;
        let im = spec.narrow(1, N_FREQ, N_FREQ)?;
        re.sqr()? + im.sqr()?
    }
}

/// The first `live` analysis windows (row-major, [`N_FFT`] samples each) of `samples`
/// zero-padded to `frames` hops, centred with reflect padding (openai/whisper's STFT).
fn windows(samples: &[f32], frames: usize, live: usize) -> Vec<f32> {
    let half = N_FFT / 2;
    let mut padded = samples.to_vec();
    padded.resize((frames * HOP).max(samples.len()), 0.0);
    let len = padded.len();
    let at = |i: isize| -> f32 {
        let mut i = i;
        if i < 0 {
            i = -i;
        }
        if i as usize >= len {
            i = 2 * (len as isize - 1) - i;
        }
        padded.get(i.max(0) as usize).copied().unwrap_or(0.0)
    };
    let mut win = vec![0f32; live * N_FFT];
    for f in 0..live {
        for n in 0..N_FFT {
            win[f * N_FFT + n] = at((f * HOP + n) as isize - half as isize);
        }
    }
    win
}

/// Frames of the encoder window for `n` samples: the audio and `pad_s` seconds of
/// silence rounded up to whole seconds, at most 30 s; the full 30 s when `pad_s` is
/// `None` (no trimming).
pub(super) fn window_frames(n: usize, pad_s: Option<f32>) -> usize {
    let Some(pad_s) = pad_s else {
        return N_FRAMES_30S;
    };
    let secs = (n as f32 / SAMPLE_RATE as f32 + pad_s).ceil() as usize;
    (secs * SAMPLE_RATE / HOP).clamp(2, N_FRAMES_30S)
}
