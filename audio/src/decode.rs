//! Decoding files to validated 16 kHz mono.
//!
//! symphonia reads WAV (PCM 8/16/24/32-bit, float, extensible), FLAC, MP3 and
//! OGG/Vorbis; hound is the fallback for WAV files symphonia refuses. Channels are
//! averaged to mono, then [`crate::StreamResampler`] converts to [`SAMPLE_RATE`].
//!
//! Decoding streams: each packet is averaged to mono and resampled as it comes, so a
//! file is never held at its own rate. Memory is the 16 kHz output (4 bytes a sample:
//! 38.4 MB for the 10-minute limit; reserved up front when the header states the
//! length, otherwise up to twice that while the buffer grows) plus one decoded packet
//! (WAV: at most 1,152 frames; FLAC: at most 65,535) and one resampler chunk — a few
//! MB at most — whatever the file's rate and channel count. Measured peak RSS of a
//! whole process decoding 599 s of 8 × 384 kHz 16-bit WAV: 41.5 MB (919 MB when the
//! file was decoded at its own rate first); see
//! `large_multichannel_audio_decodes_in_bounded_memory`.
//!
//! Before the decoder sees a WAV file its header is checked here (channels, rate,
//! block size, chunk sizes), and the decoder runs under `catch_unwind`: a decoder bug
//! on one file is an [`Error::Corrupt`] for that file, not the end of the process.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::buf::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::resample::StreamResampler;
use crate::{AudioBuf, Error, Result, SAMPLE_RATE};

/// How many undecodable packets in a row make a file "corrupt".
const MAX_BAD_PACKETS: usize = 16;

/// Most channels a WAV header may declare (7.1.4 rigs use 12; 32 leaves room for
/// microphone arrays).
pub const MAX_CHANNELS: u16 = 32;

/// Most RIFF chunks read before the `data` chunk when checking a WAV header.
const MAX_HEADER_CHUNKS: usize = 64;

/// Longest `fmt ` chunk accepted (`WAVE_FORMAT_EXTENSIBLE` needs 40 bytes).
const MAX_FMT_LEN: u32 = 1024;

/// Frames handed to the resampler at once by the hound fallback.
const HOUND_CHUNK_FRAMES: usize = 4096;

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

/// What a path names when it is not a regular file, in words for a message.
fn not_regular(ft: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("is a directory")
    } else if ft.is_fifo() {
        Some("is a pipe (FIFO)")
    } else if ft.is_char_device() {
        Some("is a character device")
    } else if ft.is_block_device() {
        Some("is a block device")
    } else if ft.is_socket() {
        Some("is a socket")
    } else {
        Some("is not a file")
    }
}

/// Decode any supported file to 16 kHz mono, validated: the path is a regular file
/// (not a directory, pipe or device) and not empty, the format is known, the header
/// is sane (channels 1–[`MAX_CHANNELS`], rate within 4–384 kHz, chunk sizes within
/// the file), there is at least one sample, every sample is finite, and the length
/// is within `opts.max_seconds`.
///
/// A damaged header is an error ([`Error::Corrupt`]); audio data that simply
/// stops early (a recording cut off mid-write) is accepted as far as it goes.
pub fn load(path: &Path, opts: &DecodeOptions) -> Result<AudioBuf> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| Error::Io {
        file: name.clone(),
        source: e,
    };
    // metadata follows symlinks and never opens the file: a FIFO cannot block here
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound { file: name })
        }
        Err(e) => return Err(io(e)),
    };
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(Error::NotRegular { file: name, what });
    }
    if meta.len() == 0 {
        return Err(Error::Empty { file: name });
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 12];
    let n = read_up_to(&mut file, &mut head).map_err(io)?;
    let riff = is_riff_wave(&head[..n]);
    if riff {
        check_wav_header(&mut file, meta.len(), &name)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let ext = path.extension().and_then(|e| e.to_str());
    guarded(&name, || {
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
    })
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
    if riff {
        check_wav_header(&mut Cursor::new(bytes), bytes.len() as u64, &name)?;
    }
    guarded(&name, || {
        let result = decode_source(Box::new(Cursor::new(bytes.to_vec())), hint_ext, &name, opts);
        match result {
            Err(e) if riff && wants_wav_fallback(&e) => {
                match hound::WavReader::new(Cursor::new(bytes)) {
                    Ok(reader) => decode_hound(reader, &name, opts),
                    Err(_) => Err(e),
                }
            }
            other => other,
        }
    })
}

/// Run a decoder on one input; a panic inside it becomes [`Error::Corrupt`] for that
/// input, so the files after it are still read.
fn guarded(name: &str, f: impl FnOnce() -> Result<AudioBuf>) -> Result<AudioBuf> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown reason".to_string());
            Err(corrupt(name, format!("the decoder failed: {msg}")))
        }
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

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Check a RIFF/WAVE header before a decoder sees it: the `fmt ` chunk's channels,
/// rate, block size and bits, and that no chunk before `data` claims more bytes than
/// the file holds. A header too short to check is left to the decoder, which reports
/// it as truncated.
fn check_wav_header<R: Read + Seek>(r: &mut R, len: u64, name: &str) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        file: name.to_string(),
        source: e,
    };
    let mut pos = 12u64;
    for _ in 0..MAX_HEADER_CHUNKS {
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut ch = [0u8; 8];
        if read_up_to(r, &mut ch).map_err(io)? < 8 {
            return Ok(());
        }
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size = le32(&ch, 4);
        let body = pos + 8;
        if &id == b"data" {
            return Ok(());
        }
        let left = len.saturating_sub(body);
        if u64::from(size) > left {
            return Err(corrupt(
                name,
                format!(
                    "the '{}' chunk claims {size} bytes but only {left} follow",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        if &id == b"fmt " {
            if !(16..=MAX_FMT_LEN).contains(&size) {
                return Err(corrupt(
                    name,
                    format!("a format chunk of {size} bytes (expected 16 to {MAX_FMT_LEN})"),
                ));
            }
            let mut f = [0u8; 16];
            if read_up_to(r, &mut f).map_err(io)? < 16 {
                return Ok(());
            }
            check_fmt(&f, name)?;
        }
        pos = body + u64::from(size) + u64::from(size & 1);
    }
    Err(corrupt(
        name,
        format!("no data chunk within the first {MAX_HEADER_CHUNKS} chunks"),
    ))
}

/// The 16 common bytes of a `fmt ` chunk.
fn check_fmt(f: &[u8; 16], name: &str) -> Result<()> {
    let format = le16(f, 0);
    let channels = le16(f, 2);
    let rate = le32(f, 4);
    let block_align = le16(f, 12);
    let bits = le16(f, 14);
    if channels == 0 {
        return Err(corrupt(name, "the header says 0 channels"));
    }
    if channels > MAX_CHANNELS {
        return Err(corrupt(
            name,
            format!("the header says {channels} channels (at most {MAX_CHANNELS})"),
        ));
    }
    check_rate(u64::from(rate), name)?;
    if block_align == 0 {
        return Err(corrupt(name, "the header says 0 bytes per frame"));
    }
    const PCM: u16 = 0x0001;
    const MS_ADPCM: u16 = 0x0002;
    const FLOAT: u16 = 0x0003;
    const IMA_ADPCM: u16 = 0x0011;
    const EXTENSIBLE: u16 = 0xFFFE;
    match format {
        PCM | FLOAT | EXTENSIBLE if bits == 0 || bits > 64 => Err(corrupt(
            name,
            format!("the header says {bits} bits per sample"),
        )),
        MS_ADPCM | IMA_ADPCM => {
            let overhead = if format == MS_ADPCM { 7 } else { 4 };
            if bits == 0 || bits > 8 || u32::from(block_align) < overhead * u32::from(channels) {
                Err(corrupt(
                    name,
                    format!(
                        "an ADPCM header with {bits} bits, {channels} channels and {block_align}-byte blocks"
                    ),
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
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

/// Mono samples on their way to 16 kHz: checked for NaN/∞ and resampled piece by
/// piece.
struct MonoSink {
    rs: StreamResampler,
    frames: u64,
}

impl MonoSink {
    /// A sink for audio at `rate` Hz; `frames_hint` (the header's claim, if any)
    /// reserves the output up front, at most `opts.max_seconds` of it.
    fn new(rate: u32, frames_hint: Option<u64>, opts: &DecodeOptions) -> Result<Self> {
        let mut rs = StreamResampler::new(rate, SAMPLE_RATE)?;
        if let Some(n) = frames_hint {
            let cap = (opts.max_seconds * SAMPLE_RATE as f64).ceil() as usize + 1;
            rs.reserve_for(n, cap);
        }
        Ok(Self { rs, frames: 0 })
    }

    fn push(&mut self, mono: &[f32], name: &str) -> Result<()> {
        if mono.iter().any(|s| !s.is_finite()) {
            return Err(Error::NonFinite {
                file: name.to_string(),
            });
        }
        self.frames += mono.len() as u64;
        self.rs.push(mono)
    }

    /// Validate and bring to 16 kHz.
    fn finish(self, name: &str) -> Result<AudioBuf> {
        if self.frames == 0 {
            return Err(Error::NoSamples {
                file: name.to_string(),
            });
        }
        let samples = self.rs.finish()?;
        if samples.is_empty() {
            // fewer samples than one 16 kHz step (e.g. a single sample at 44.1 kHz)
            return Err(Error::NoSamples {
                file: name.to_string(),
            });
        }
        Ok(AudioBuf::new(samples, SAMPLE_RATE))
    }
}

/// Average interleaved frames of `channels` into `mono` (cleared first).
fn downmix(inter: &[f32], channels: usize, mono: &mut Vec<f32>) {
    let scale = 1.0 / channels as f32;
    mono.clear();
    mono.extend(
        inter
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() * scale),
    );
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

    let mut sink: Option<MonoSink> = None;
    let mut rate: Option<u32> = params.sample_rate;
    let mut frames_total: u64 = 0;
    let mut over_limit = false;
    let mut bad_in_row = 0usize;
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    let mut mono: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(e) if is_eof(&e) => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                if frames_total == 0 {
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
        downmix(sb.samples(), channels, &mut mono);
        let s = match &mut sink {
            Some(s) => s,
            None => sink.insert(MonoSink::new(r, params.n_frames, opts)?),
        };
        s.push(&mono, name)?;
        frames_total += frames as u64;
        if frames_total > max_frames(r, opts) {
            over_limit = true;
            // free the output at once: the rest is only measured
            sink = None;
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
    match sink {
        Some(s) => s.finish(name),
        None => Err(Error::NoSamples {
            file: name.to_string(),
        }),
    }
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
    let mut sink = MonoSink::new(rate, Some(frames), opts)?;
    let mut inter: Vec<f32> = Vec::with_capacity(HOUND_CHUNK_FRAMES * channels);
    let mut mono: Vec<f32> = Vec::with_capacity(HOUND_CHUNK_FRAMES);
    let chunk = HOUND_CHUNK_FRAMES * channels;
    let mut flush = |inter: &mut Vec<f32>, sink: &mut MonoSink| -> Result<()> {
        downmix(inter, channels, &mut mono);
        inter.clear();
        sink.push(&mono, name)
    };
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for s in reader.samples::<f32>() {
                match s {
                    Ok(v) => inter.push(v),
                    Err(_) => break,
                }
                if inter.len() == chunk {
                    flush(&mut inter, &mut sink)?;
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
                if inter.len() == chunk {
                    flush(&mut inter, &mut sink)?;
                }
            }
        }
    }
    // a partial last frame (a file cut mid-frame) is dropped, as before
    inter.truncate(inter.len() / channels * channels);
    flush(&mut inter, &mut sink)?;
    sink.finish(name)
}

#[cfg(test)]
pub(crate) mod tests;
