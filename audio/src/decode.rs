//! Decoding files to validated 16 kHz mono.
//!
//! symphonia reads WAV (PCM 8/16/24/32-bit, float, extensible), FLAC, MP3 and
//! OGG/Vorbis; hound is the fallback for WAV files symphonia refuses. Channels are
//! averaged to mono, then [`crate::resample`] converts to [`SAMPLE_RATE`].

use std::io::{Cursor, Read};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::buf::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::{AudioBuf, Error, Result, SAMPLE_RATE};

/// How many undecodable packets in a row make a file "corrupt".
const MAX_BAD_PACKETS: usize = 16;

/// Limits applied while decoding.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Longest accepted audio in seconds (default 600 = 10 minutes). Longer input
    /// is refused with [`Error::TooLong`], checked from the header when it states
    /// the length and otherwise as soon as decoding passes the limit.
    pub max_seconds: f64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { max_seconds: 600.0 }
    }
}

/// Decode any supported file to 16 kHz mono, validated: the file exists and is not
/// empty, the format is known, the rate is within 4–384 kHz, there is at least one
/// sample, every sample is finite, and the length is within `opts.max_seconds`.
///
/// A damaged header is an error ([`Error::Corrupt`]); audio data that simply
/// stops early (a recording cut off mid-write) is accepted as far as it goes.
pub fn load(path: &Path, opts: &DecodeOptions) -> Result<AudioBuf> {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound { file: name })
        }
        Err(e) => {
            return Err(Error::Io {
                file: name,
                source: e,
            })
        }
    };
    if meta.is_dir() {
        return Err(Error::Io {
            file: name,
            source: std::io::Error::other("is a directory, not a file"),
        });
    }
    if meta.len() == 0 {
        return Err(Error::Empty { file: name });
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::Io {
        file: name.clone(),
        source: e,
    })?;
    let mut head = [0u8; 12];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::Io {
        file: name.clone(),
        source: e,
    })?;
    let riff = is_riff_wave(&head[..n]);
    drop(file);
    let file = std::fs::File::open(path).map_err(|e| Error::Io {
        file: name.clone(),
        source: e,
    })?;
    let ext = path.extension().and_then(|e| e.to_str());
    let result = decode_source(Box::new(file), ext, &name, opts);
    match result {
        Err(e) if riff && wants_wav_fallback(&e) => {
            match std::fs::File::open(path)
                .ok()
                .and_then(|f| hound::WavReader::new(std::io::BufReader::new(f)).ok())
            {
                Some(reader) => decode_hound(reader, &name, opts),
                None => Err(e),
            }
        }
        other => other,
    }
}

/// Like [`load`] for bytes already in memory; `hint_ext` is a file extension
/// (`"wav"`, `"mp3"`, …) that helps format detection. Messages call the input `input`
/// (or `input.EXT`).
pub fn load_bytes(bytes: &[u8], hint_ext: Option<&str>, opts: &DecodeOptions) -> Result<AudioBuf> {
    let name = match hint_ext {
        Some(e) => format!("input.{e}"),
        None => "input".to_string(),
    };
    if bytes.is_empty() {
        return Err(Error::Empty { file: name });
    }
    let riff = is_riff_wave(bytes);
    let result = decode_source(Box::new(Cursor::new(bytes.to_vec())), hint_ext, &name, opts);
    match result {
        Err(e) if riff && wants_wav_fallback(&e) => match hound::WavReader::new(Cursor::new(bytes))
        {
            Ok(reader) => decode_hound(reader, &name, opts),
            Err(_) => Err(e),
        },
        other => other,
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn is_riff_wave(head: &[u8]) -> bool {
    head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// Errors after which a RIFF/WAVE file is worth a second try with hound.
fn wants_wav_fallback(e: &Error) -> bool {
    matches!(e, Error::UnknownFormat { .. } | Error::Corrupt { .. })
}

fn limit_text(max_seconds: f64) -> String {
    let m = (max_seconds / 60.0 * 100.0).round() / 100.0;
    format!("{m}")
}

fn check_options(opts: &DecodeOptions) -> Result<()> {
    if !(opts.max_seconds.is_finite() && opts.max_seconds > 0.0) {
        return Err(Error::InvalidConfig(format!(
            "max_seconds must be a positive number of seconds, not {}",
            opts.max_seconds
        )));
    }
    Ok(())
}

fn check_rate(rate: u64, name: &str) -> Result<u32> {
    if rate < MIN_SAMPLE_RATE as u64 || rate > MAX_SAMPLE_RATE as u64 {
        return Err(Error::BadSampleRate {
            file: name.to_string(),
            rate,
            min: MIN_SAMPLE_RATE,
            max: MAX_SAMPLE_RATE,
        });
    }
    Ok(rate as u32)
}

fn too_long(name: &str, frames: u64, rate: u32, opts: &DecodeOptions) -> Error {
    Error::TooLong {
        file: name.to_string(),
        minutes: frames as f64 / rate as f64 / 60.0,
        limit: limit_text(opts.max_seconds),
    }
}

fn max_frames(rate: u32, opts: &DecodeOptions) -> u64 {
    (opts.max_seconds * rate as f64).floor() as u64
}

fn corrupt(name: &str, e: impl std::fmt::Display) -> Error {
    // keep the message on one line
    let detail = e.to_string().replace('\n', " ");
    Error::Corrupt {
        file: name.to_string(),
        detail,
    }
}

fn is_eof(e: &SymError) -> bool {
    matches!(e, SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// Validate decoded mono samples and bring them to 16 kHz.
fn finish(mono: Vec<f32>, rate: u32, name: &str) -> Result<AudioBuf> {
    if mono.is_empty() {
        return Err(Error::NoSamples {
            file: name.to_string(),
        });
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(Error::NonFinite {
            file: name.to_string(),
        });
    }
    let samples = crate::resample(&mono, rate, SAMPLE_RATE)?;
    if samples.is_empty() {
        // fewer samples than one 16 kHz step (e.g. a single sample at 44.1 kHz)
        return Err(Error::NoSamples {
            file: name.to_string(),
        });
    }
    Ok(AudioBuf::new(samples, SAMPLE_RATE))
}

fn decode_source(
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    name: &str,
    opts: &DecodeOptions,
) -> Result<AudioBuf> {
    check_options(opts)?;
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(e) = ext {
        hint.with_extension(e);
    }
    let probed = match symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    ) {
        Ok(p) => p,
        Err(SymError::Unsupported(_)) => {
            return Err(Error::UnknownFormat {
                file: name.to_string(),
            })
        }
        Err(e) if is_eof(&e) => return Err(corrupt(name, "the file ends inside its header")),
        Err(SymError::IoError(io)) => {
            return Err(Error::Io {
                file: name.to_string(),
                source: io,
            })
        }
        Err(e) => return Err(corrupt(name, e)),
    };
    let mut format = probed.format;
    let Some(track) = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
    else {
        return Err(Error::NoSamples {
            file: name.to_string(),
        });
    };
    let track_id = track.id;
    let params = track.codec_params.clone();
    // Header checks before decoding anything.
    if let Some(rate) = params.sample_rate {
        let rate = check_rate(rate as u64, name)?;
        if let Some(n) = params.n_frames {
            if n == 0 {
                return Err(Error::NoSamples {
                    file: name.to_string(),
                });
            }
            if n > max_frames(rate, opts) {
                return Err(too_long(name, n, rate, opts));
            }
        }
    }
    let mut decoder =
        match symphonia::default::get_codecs().make(&params, &DecoderOptions::default()) {
            Ok(d) => d,
            Err(SymError::Unsupported(_)) => {
                return Err(Error::UnknownFormat {
                    file: name.to_string(),
                })
            }
            Err(e) => return Err(corrupt(name, e)),
        };

    let mut mono: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = params.sample_rate;
    let mut frames_total: u64 = 0;
    let mut over_limit = false;
    let mut bad_in_row = 0usize;
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(e) if is_eof(&e) => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                if mono.is_empty() {
                    return Err(corrupt(name, e));
                }
                // damaged tail: keep what was decoded
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        if over_limit {
            // only measure how long the rest is; no decoding
            frames_total += packet.dur;
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => {
                bad_in_row = 0;
                d
            }
            Err(SymError::DecodeError(e)) => {
                bad_in_row += 1;
                if bad_in_row > MAX_BAD_PACKETS {
                    return Err(corrupt(name, e));
                }
                continue;
            }
            Err(e) if is_eof(&e) => break,
            Err(e) => return Err(corrupt(name, e)),
        };
        let spec = *decoded.spec();
        let r = match rate {
            Some(r) => r,
            None => {
                let r = check_rate(spec.rate as u64, name)?;
                rate = Some(r);
                r
            }
        };
        let channels = spec.channels.count().max(1);
        let frames = decoded.frames();
        if frames == 0 {
            continue;
        }
        let need = decoded.capacity() as u64;
        let sb = match &mut sample_buf {
            Some(sb) if sb.capacity() >= decoded.capacity() * channels => sb,
            _ => sample_buf.insert(SampleBuffer::<f32>::new(need, spec)),
        };
        sb.copy_interleaved_ref(decoded);
        let inter = sb.samples();
        let scale = 1.0 / channels as f32;
        mono.extend(
            inter
                .chunks_exact(channels)
                .map(|f| f.iter().sum::<f32>() * scale),
        );
        frames_total += frames as u64;
        if frames_total > max_frames(r, opts) {
            over_limit = true;
            mono = Vec::new();
        }
    }
    let Some(rate) = rate else {
        return Err(Error::NoSamples {
            file: name.to_string(),
        });
    };
    if over_limit {
        return Err(too_long(name, frames_total, rate, opts));
    }
    finish(mono, rate, name)
}

fn decode_hound<R: Read>(
    mut reader: hound::WavReader<R>,
    name: &str,
    opts: &DecodeOptions,
) -> Result<AudioBuf> {
    check_options(opts)?;
    let spec = reader.spec();
    let rate = check_rate(spec.sample_rate as u64, name)?;
    let channels = spec.channels.max(1) as usize;
    let frames = reader.duration() as u64;
    if frames > max_frames(rate, opts) {
        return Err(too_long(name, frames, rate, opts));
    }
    // the header's claim is only a hint: cap the up-front allocation
    let hint = (frames as usize).saturating_mul(channels).min(1 << 24);
    let mut inter: Vec<f32> = Vec::with_capacity(hint);
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for s in reader.samples::<f32>() {
                match s {
                    Ok(v) => inter.push(v),
                    Err(_) => break,
                }
            }
        }
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample.clamp(1, 32) as i32;
            let scale = 1.0 / (2f64.powi(bits - 1)) as f32;
            for s in reader.samples::<i32>() {
                match s {
                    Ok(v) => inter.push(v as f32 * scale),
                    Err(_) => break,
                }
            }
        }
    }
    let scale = 1.0 / channels as f32;
    let mono: Vec<f32> = inter
        .chunks_exact(channels)
        .map(|f| f.iter().sum::<f32>() * scale)
        .collect();
    finish(mono, rate, name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::resample::tests::{peak_frequency, sine};
    use std::path::PathBuf;
    use std::process::Command;

    fn have(cmd: &str) -> bool {
        Command::new(cmd)
            .arg("--version")
            .output()
            .map(|o| o.status.success() || !o.stdout.is_empty())
            .unwrap_or(false)
    }

    /// Render `text` with espeak-ng's Mandarin voice; `None` when espeak-ng is absent.
    pub(crate) fn espeak(text: &str) -> Option<AudioBuf> {
        if !have("espeak-ng") {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let out = dir.path().join("speech.wav");
        let ok = Command::new("espeak-ng")
            .args(["-v", "cmn-latn-pinyin", "-w"])
            .arg(&out)
            .arg(text)
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        load(&out, &DecodeOptions::default()).ok()
    }

    fn write_hound(path: &Path, spec: hound::WavSpec, frames: &[f32]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for f in frames {
            for _ in 0..spec.channels {
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(*f).unwrap(),
                    hound::SampleFormat::Int => {
                        let max = (1i64 << (spec.bits_per_sample - 1)) - 1;
                        let v = (*f as f64 * max as f64).round() as i32;
                        if spec.bits_per_sample == 8 {
                            w.write_sample(v as i8).unwrap()
                        } else {
                            w.write_sample(v).unwrap()
                        }
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    fn err_text(r: Result<AudioBuf>) -> String {
        match r {
            Ok(b) => panic!("expected an error, got {} samples", b.samples.len()),
            Err(e) => {
                let s = e.to_string();
                assert!(!s.contains('\n'), "message is not one line: {s}");
                s
            }
        }
    }

    fn check_tone(buf: &AudioBuf, seconds: f64, freq: f32) {
        assert_eq!(buf.sample_rate, 16_000);
        assert!(
            (buf.duration_s() - seconds).abs() < 0.08,
            "duration {}",
            buf.duration_s()
        );
        let mid = buf.samples.len() / 2;
        let core = &buf.samples[mid - 2000..mid + 2000];
        let f = peak_frequency(core, 16_000);
        assert!(
            (f - freq).abs() < 4.0,
            "tone came out at {f} Hz, wanted {freq}"
        );
        let peak = core.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.2 && peak < 0.7, "level {peak}");
    }

    #[test]
    fn wav_formats_decode_to_16k_mono() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("pcm16_stereo_44k.wav", spec(2, 44_100, 16, false)),
            ("pcm24_mono_48k.wav", spec(1, 48_000, 24, false)),
            ("float32_stereo_22k.wav", spec(2, 22_050, 32, true)),
            ("pcm8_mono_8k.wav", spec(1, 8_000, 8, false)),
            ("pcm32_6ch_96k.wav", spec(6, 96_000, 32, false)),
            ("pcm16_mono_16k.wav", spec(1, 16_000, 16, false)),
        ];
        for (name, sp) in cases {
            let p = dir.path().join(name);
            write_hound(
                &p,
                sp,
                &sine(440.0, sp.sample_rate, sp.sample_rate as usize, 0.5),
            );
            let buf = load(&p, &DecodeOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_tone(&buf, 1.0, 440.0);
            // the same bytes through load_bytes
            let bytes = std::fs::read(&p).unwrap();
            let b2 = load_bytes(&bytes, Some("wav"), &DecodeOptions::default()).unwrap();
            assert_eq!(b2.samples.len(), buf.samples.len(), "{name}");
        }
    }

    #[test]
    fn downmix_averages_channels() {
        // left = tone, right = silence → half amplitude
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lr.wav");
        let sp = spec(2, 16_000, 16, false);
        let mut w = hound::WavWriter::create(&p, sp).unwrap();
        for s in sine(500.0, 16_000, 16_000, 0.8) {
            w.write_sample((s * 32767.0) as i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let b = load(&p, &DecodeOptions::default()).unwrap();
        let peak = b.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.4).abs() < 0.02, "peak {peak}");
    }

    #[test]
    fn write_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rt.wav");
        let buf = AudioBuf::new(sine(1000.0, 16_000, 8_000, 0.5), 16_000);
        crate::write_wav(&p, &buf).unwrap();
        let back = load(&p, &DecodeOptions::default()).unwrap();
        assert_eq!(back.samples.len(), buf.samples.len());
        let max_err = back
            .samples
            .iter()
            .zip(&buf.samples)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(max_err < 1e-3, "16-bit round trip error {max_err}");
        let bytes = crate::wav_bytes(&buf).unwrap();
        assert_eq!(bytes.len(), 44 + 2 * buf.samples.len());
        assert_eq!(&bytes[..4], b"RIFF");
    }

    #[test]
    fn flac_mp3_ogg_decode_via_sox() {
        if !have("sox") {
            println!("SKIP: flac_mp3_ogg_decode_via_sox: sox not installed (run make setup)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for (ext, rate, ch) in [
            ("flac", "44100", "2"),
            ("mp3", "44100", "2"),
            ("ogg", "48000", "1"),
        ] {
            let p = dir.path().join(format!("tone.{ext}"));
            let st = Command::new("sox")
                .args(["-n", "-r", rate, "-c", ch])
                .arg(&p)
                .args(["synth", "2.0", "sine", "660", "vol", "0.5"])
                .status()
                .unwrap();
            if !st.success() {
                println!("SKIP: flac_mp3_ogg_decode_via_sox: sox cannot write {ext}");
                continue;
            }
            let b = load(&p, &DecodeOptions::default()).unwrap_or_else(|e| panic!("{ext}: {e}"));
            check_tone(&b, 2.0, 660.0);
            // no extension hint: detection by content
            let bytes = std::fs::read(&p).unwrap();
            let b2 = load_bytes(&bytes, None, &DecodeOptions::default())
                .unwrap_or_else(|e| panic!("{ext}: {e}"));
            assert!((b2.duration_s() - b.duration_s()).abs() < 0.1);
        }
    }

    fn tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn valid_wav() -> Vec<u8> {
        crate::wav_bytes(&AudioBuf::new(sine(440.0, 16_000, 16_000, 0.5), 16_000)).unwrap()
    }

    #[test]
    fn missing_file() {
        let e = err_text(load(
            Path::new("/no/such/dir/x.wav"),
            &DecodeOptions::default(),
        ));
        assert_eq!(e, "cannot read \"/no/such/dir/x.wav\": file not found");
    }

    #[test]
    fn empty_file() {
        let d = tempfile::tempdir().unwrap();
        let p = tmp(&d, "x.wav", b"");
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(e.ends_with("x.wav\": file is empty"), "{e}");
        let e = err_text(load_bytes(b"", Some("wav"), &DecodeOptions::default()));
        assert_eq!(e, "cannot read \"input.wav\": file is empty");
    }

    #[test]
    fn text_renamed_wav_is_not_audio() {
        let d = tempfile::tempdir().unwrap();
        let p = tmp(
            &d,
            "notes.wav",
            "这不是音频文件，只是一段文字。\nhello world\n"
                .repeat(20)
                .as_bytes(),
        );
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(
            e.contains("notes.wav\": not an audio file (unrecognised header)"),
            "{e}"
        );
        let p = tmp(&d, "tiny.mp3", b"hi");
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(e.contains("tiny.mp3\": not an audio file"), "{e}");
    }

    #[test]
    fn truncated_header_is_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let wav = valid_wav();
        for cut in [12usize, 20, 30] {
            let p = tmp(&d, "cut.wav", &wav[..cut]);
            let e = err_text(load(&p, &DecodeOptions::default()));
            assert!(
                e.contains("cut.wav\": truncated or corrupt"),
                "cut at {cut}: {e}"
            );
        }
        // a damaged fmt chunk (0 channels)
        let mut bad = wav.clone();
        bad[22] = 0;
        bad[23] = 0;
        let p = tmp(&d, "bad.wav", &bad);
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(e.contains("bad.wav\": truncated or corrupt"), "{e}");
    }

    #[test]
    fn zero_length_audio_has_no_samples() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("zero.wav");
        write_hound(&p, spec(1, 16_000, 16, false), &[]);
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(e.ends_with("zero.wav\": no audio samples"), "{e}");
    }

    #[test]
    fn nan_and_inf_samples_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for (name, bad) in [("nan.wav", f32::NAN), ("inf.wav", f32::INFINITY)] {
            let p = d.path().join(name);
            let mut x = sine(440.0, 16_000, 16_000, 0.5);
            x[8000] = bad;
            write_hound(&p, spec(1, 16_000, 32, true), &x);
            let e = err_text(load(&p, &DecodeOptions::default()));
            assert!(
                e.ends_with(&format!("{name}\": contains NaN or infinite samples")),
                "{e}"
            );
        }
    }

    #[test]
    fn absurd_sample_rates_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for rate in [3u32, 1_000_000] {
            let p = d.path().join(format!("r{rate}.wav"));
            write_hound(&p, spec(1, rate, 16, false), &[0.1; 100]);
            let e = err_text(load(&p, &DecodeOptions::default()));
            assert!(
                e.ends_with(&format!(
                    "\": sample rate {rate} Hz is outside 4000–384000 Hz"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn too_long_is_refused_before_decoding() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("long.wav");
        // 11 minutes at 4 kHz
        write_hound(&p, spec(1, 4_000, 16, false), &vec![0.0; 11 * 60 * 4_000]);
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(
            e.ends_with("long.wav\": 11.0 minutes is longer than the 10-minute limit"),
            "{e}"
        );
        let ok = load(
            &p,
            &DecodeOptions {
                max_seconds: 12.0 * 60.0,
            },
        )
        .unwrap();
        assert!((ok.duration_s() - 660.0).abs() < 0.01);
        let e = err_text(load(&p, &DecodeOptions { max_seconds: 30.0 }));
        assert!(
            e.ends_with("11.0 minutes is longer than the 0.5-minute limit"),
            "{e}"
        );
    }

    #[test]
    fn too_long_without_length_in_header_stops_decoding() {
        if !have("sox") {
            println!("SKIP: too_long_without_length_in_header_stops_decoding: sox not installed");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("long.mp3");
        let st = Command::new("sox")
            .args(["-n", "-r", "16000", "-c", "1"])
            .arg(&p)
            .args(["synth", "90", "sine", "300"])
            .status()
            .unwrap();
        assert!(st.success());
        let e = err_text(load(&p, &DecodeOptions { max_seconds: 60.0 }));
        assert!(
            e.contains("minutes is longer than the 1-minute limit"),
            "{e}"
        );
        assert!(e.contains(": 1.5 minutes"), "{e}");
    }

    #[test]
    fn wav_cut_inside_its_data_keeps_what_is_there() {
        // a recording interrupted mid-write: the header promises 1 s, 0.5 s is present
        let d = tempfile::tempdir().unwrap();
        let wav = valid_wav();
        let p = tmp(&d, "cut_data.wav", &wav[..44 + 16_000]);
        let b = load(&p, &DecodeOptions::default()).unwrap();
        assert!((b.duration_s() - 0.5).abs() < 0.01, "{}", b.duration_s());
    }

    #[test]
    fn extensible_wav_with_odd_channel_mask_loads() {
        // WAVE_FORMAT_EXTENSIBLE, 24-bit, 3 channels, channel mask 0 ("no positions"),
        // as some recorders write it
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ext.wav");
        write_hound(
            &p,
            spec(3, 48_000, 24, false),
            &sine(440.0, 48_000, 48_000, 0.5),
        );
        let mut bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            &bytes[20..22],
            &[0xFE, 0xFF],
            "hound wrote an extensible header"
        );
        bytes[40..44].copy_from_slice(&[0, 0, 0, 0]);
        std::fs::write(&p, &bytes).unwrap();
        let b = load(&p, &DecodeOptions::default()).unwrap();
        check_tone(&b, 1.0, 440.0);
    }

    #[test]
    fn a_single_sample_is_no_audio() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("one.wav");
        write_hound(&p, spec(1, 44_100, 16, false), &[0.5]);
        let e = err_text(load(&p, &DecodeOptions::default()));
        assert!(e.ends_with("one.wav\": no audio samples"), "{e}");
    }

    #[test]
    fn directory_is_not_a_file() {
        let d = tempfile::tempdir().unwrap();
        let e = err_text(load(d.path(), &DecodeOptions::default()));
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 12345;
        for len in [1usize, 7, 44, 100, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 56) as u8
                })
                .collect();
            for ext in [None, Some("wav"), Some("mp3"), Some("ogg"), Some("flac")] {
                let _ = load_bytes(&bytes, ext, &DecodeOptions::default());
            }
            let mut riff = valid_wav()[..44].to_vec();
            riff.extend_from_slice(&bytes);
            let _ = load_bytes(&riff, Some("wav"), &DecodeOptions::default());
        }
    }
}
