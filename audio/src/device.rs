//! Microphone (cpal) and speaker (rodio), feature `mic`.
//!
//! Only the system's *default* device is used. On a machine without a sound
//! card ALSA still offers a "null" device that accepts a stream and produces
//! endless zeros; it is refused, and so is a default device whose configuration
//! cannot be read, with [`Error::NoDevice`]. We never fall back to the first
//! device in the list: that would be the null device, or the wrong microphone.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use rubato::{FftFixedIn, Resampler};

use crate::{AudioBuf, Error, Result, SAMPLE_RATE};

/// Captured chunks queued between the audio thread and [`Microphone::read`]
/// (about 10 s at typical buffer sizes); older audio is dropped when full.
const QUEUE_CHUNKS: usize = 1000;

fn is_null_device(d: &cpal::Device) -> bool {
    match d.description() {
        Ok(desc) => {
            desc.name().eq_ignore_ascii_case("null")
                || desc
                    .driver()
                    .is_some_and(|drv| drv.eq_ignore_ascii_case("null"))
        }
        Err(_) => false,
    }
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|desc| desc.name().to_string())
        .unwrap_or_else(|_| "default".into())
}

/// Streaming resampler from the device rate to 16 kHz.
struct StreamResampler {
    rs: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
    skip: usize,
}

impl StreamResampler {
    fn new(from: u32) -> Result<Self> {
        if from == SAMPLE_RATE {
            return Ok(Self {
                rs: None,
                pending: Vec::new(),
                out: Vec::new(),
                skip: 0,
            });
        }
        let rs = FftFixedIn::<f32>::new(from as usize, SAMPLE_RATE as usize, 1024, 2, 1)
            .map_err(|e| Error::Resample(e.to_string()))?;
        let out = rs.output_buffer_allocate(true);
        let skip = rs.output_delay();
        Ok(Self {
            rs: Some(rs),
            pending: Vec::new(),
            out,
            skip,
        })
    }

    fn push(&mut self, x: &[f32], dst: &mut Vec<f32>) {
        let Some(rs) = self.rs.as_mut() else {
            dst.extend_from_slice(x);
            return;
        };
        self.pending.extend_from_slice(x);
        let mut pos = 0;
        while self.pending.len() - pos >= rs.input_frames_next() {
            let need = rs.input_frames_next();
            match rs.process_into_buffer(&[&self.pending[pos..pos + need]], &mut self.out, None) {
                Ok((_, n)) => {
                    let got = &self.out[0][..n];
                    let drop = self.skip.min(got.len());
                    self.skip -= drop;
                    dst.extend_from_slice(&got[drop..]);
                }
                Err(_) => break,
            }
            pos += need;
        }
        self.pending.drain(..pos);
    }
}

/// The default microphone, delivering 16 kHz mono frames.
pub struct Microphone {
    stream: cpal::Stream,
    rx: Receiver<Vec<f32>>,
    resampler: StreamResampler,
    name: String,
    rate: u32,
}

fn build_input<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    tx: SyncSender<Vec<f32>>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = config.channels.max(1) as usize;
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _info| {
            let scale = 1.0 / channels as f32;
            let mono: Vec<f32> = data
                .chunks(channels)
                .map(|f| f.iter().map(|s| s.to_sample::<f32>()).sum::<f32>() * scale)
                .collect();
            // a slow reader loses audio rather than blocking the audio thread
            let _ = tx.try_send(mono);
        },
        |_err| {},
        None,
    )
}

impl Microphone {
    /// Open the system's default input device. No device, the ALSA "null"
    /// device, or a device whose configuration cannot be read gives
    /// [`Error::NoDevice`] ("no microphone found …").
    pub fn open_default() -> Result<Self> {
        let host = cpal::default_host();
        let device = host.default_input_device().ok_or_else(|| {
            Error::NoDevice("no microphone found: the system has no default input device".into())
        })?;
        if is_null_device(&device) {
            return Err(Error::NoDevice(
                "no microphone found: the default input is ALSA's \"null\" device (no sound card)"
                    .into(),
            ));
        }
        let supported = device
            .default_input_config()
            .map_err(|e| Error::NoDevice(format!("no microphone found: {e}")))?;
        let config = supported.config();
        let rate = config.sample_rate;
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_CHUNKS);
        let stream = match supported.sample_format() {
            cpal::SampleFormat::F32 => build_input::<f32>(&device, &config, tx),
            cpal::SampleFormat::I16 => build_input::<i16>(&device, &config, tx),
            cpal::SampleFormat::U16 => build_input::<u16>(&device, &config, tx),
            cpal::SampleFormat::I32 => build_input::<i32>(&device, &config, tx),
            cpal::SampleFormat::U8 => build_input::<u8>(&device, &config, tx),
            cpal::SampleFormat::I8 => build_input::<i8>(&device, &config, tx),
            cpal::SampleFormat::F64 => build_input::<f64>(&device, &config, tx),
            other => {
                return Err(Error::Backend(format!(
                    "microphone: unsupported sample format {other:?}"
                )))
            }
        }
        .map_err(|e| {
            Error::NoDevice(format!(
                "no microphone found: cannot open the input stream: {e}"
            ))
        })?;
        stream.play().map_err(|e| {
            Error::NoDevice(format!("no microphone found: cannot start recording: {e}"))
        })?;
        Ok(Self {
            stream,
            rx,
            resampler: StreamResampler::new(rate)?,
            name: device_name(&device),
            rate,
        })
    }

    /// The device's name and native rate, e.g. `"USB Audio (48000 Hz)"`.
    pub fn describe(&self) -> String {
        format!("{} ({} Hz)", self.name, self.rate)
    }

    /// Wait up to `timeout` for audio; returns 16 kHz mono samples, or `None`
    /// on time-out or when the device went away.
    pub fn read(&mut self, timeout: Duration) -> Option<Vec<f32>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => {
                    self.resampler.push(&chunk, &mut out);
                    // take whatever else is already waiting
                    while let Ok(more) = self.rx.try_recv() {
                        self.resampler.push(&more, &mut out);
                    }
                    if !out.is_empty() {
                        return Some(out);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Stop capturing (reading afterwards returns what was queued, then `None`).
    pub fn pause(&self) {
        let _ = self.stream.pause();
    }
}

/// The default speaker. [`Speaker::play`] queues audio after what is already
/// playing; [`Speaker::stop`] silences it at once (barge-in).
pub struct Speaker {
    sink: rodio::MixerDeviceSink,
    player: std::sync::Mutex<rodio::Player>,
}

impl Speaker {
    /// Open the system's default output device; no device, the ALSA "null"
    /// device or an unreadable configuration gives [`Error::NoDevice`].
    pub fn open_default() -> Result<Self> {
        let host = cpal::default_host();
        let device = host.default_output_device().ok_or_else(|| {
            Error::NoDevice("no speaker found: the system has no default output device".into())
        })?;
        if is_null_device(&device) {
            return Err(Error::NoDevice(
                "no speaker found: the default output is ALSA's \"null\" device (no sound card)"
                    .into(),
            ));
        }
        let builder = rodio::DeviceSinkBuilder::from_device(device)
            .map_err(|e| Error::NoDevice(format!("no speaker found: {e}")))?;
        let mut sink = builder.open_stream().map_err(|e| {
            Error::NoDevice(format!(
                "no speaker found: cannot open the output stream: {e}"
            ))
        })?;
        sink.log_on_drop(false);
        let player = std::sync::Mutex::new(rodio::Player::connect_new(sink.mixer()));
        Ok(Self { sink, player })
    }

    /// Queue `buf` for playback (any rate; rodio converts). Returns at once.
    pub fn play(&self, buf: &AudioBuf) {
        let (Some(ch), Some(rate)) = (
            std::num::NonZero::new(1u16),
            std::num::NonZero::new(buf.sample_rate),
        ) else {
            return;
        };
        if buf.samples.is_empty() {
            return;
        }
        let data: Vec<f32> = buf
            .samples
            .iter()
            .map(|s| {
                if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect();
        let player = self.player();
        player.append(rodio::buffer::SamplesBuffer::new(ch, rate, data));
        player.play();
    }

    fn player(&self) -> std::sync::MutexGuard<'_, rodio::Player> {
        self.player.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stop playback at once and drop everything queued (barge-in). Later
    /// [`Speaker::play`] calls start afresh.
    pub fn stop(&self) {
        let mut player = self.player();
        let volume = player.volume();
        player.stop();
        *player = rodio::Player::connect_new(self.sink.mixer());
        player.set_volume(volume);
    }

    /// True while something is playing or queued.
    pub fn is_playing(&self) -> bool {
        !self.player().empty()
    }

    /// Set the playback volume (1.0 = unchanged; clamped to 0–4).
    pub fn set_volume(&self, v: f32) {
        if v.is_finite() {
            self.player().set_volume(v.clamp(0.0, 4.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_without_a_sound_card_is_a_clear_error() {
        if std::path::Path::new("/dev/snd").exists() {
            println!("SKIP: opening_without_a_sound_card_is_a_clear_error: this machine has a sound card");
            return;
        }
        match Microphone::open_default() {
            Ok(_) => panic!("opened a microphone on a machine without /dev/snd"),
            Err(e) => {
                assert!(matches!(e, Error::NoDevice(_)), "{e:?}");
                assert!(e.to_string().starts_with("no microphone found"), "{e}");
                assert!(!e.to_string().contains('\n'));
            }
        }
        match Speaker::open_default() {
            Ok(_) => panic!("opened a speaker on a machine without /dev/snd"),
            Err(e) => {
                assert!(matches!(e, Error::NoDevice(_)), "{e:?}");
                assert!(e.to_string().starts_with("no speaker found"), "{e}");
            }
        }
    }

    #[test]
    fn stream_resampler_converts_48k_to_16k() {
        let mut r = StreamResampler::new(48_000).unwrap();
        let mut out = Vec::new();
        for _ in 0..100 {
            r.push(&vec![0.25f32; 480], &mut out);
        }
        // 1 s in, about 1 s out (minus what is still inside the resampler)
        assert!(out.len() > 15_000 && out.len() <= 16_000, "{}", out.len());
        assert!(out[out.len() / 2] > 0.2 && out[out.len() / 2] < 0.3);
    }
}
