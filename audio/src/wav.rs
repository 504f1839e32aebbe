//! Writing 16-bit PCM WAV.

use std::io::Cursor;
use std::path::Path;

use crate::{AudioBuf, Error, Result};

fn spec(buf: &AudioBuf) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: buf.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Float sample → 16-bit PCM; clips outside `[-1, 1]`, NaN becomes 0.
fn to_i16(s: f32) -> i16 {
    if !s.is_finite() {
        return 0;
    }
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn write_into<W: std::io::Write + std::io::Seek>(
    w: W,
    buf: &AudioBuf,
) -> std::result::Result<(), hound::Error> {
    let mut writer = hound::WavWriter::new(w, spec(buf))?;
    {
        let mut w16 = writer.get_i16_writer(buf.samples.len() as u32);
        for s in &buf.samples {
            w16.write_sample(to_i16(*s));
        }
        w16.flush()?;
    }
    writer.finalize()
}

fn check(buf: &AudioBuf, name: &str) -> Result<()> {
    if buf.sample_rate == 0 {
        return Err(Error::Write {
            file: name.to_string(),
            reason: "sample rate is 0 Hz".into(),
        });
    }
    if buf.samples.len() > (u32::MAX / 2 - 64) as usize {
        return Err(Error::Write {
            file: name.to_string(),
            reason: "too many samples for a WAV file".into(),
        });
    }
    Ok(())
}

/// Write `buf` as a mono 16-bit PCM WAV file (samples outside `[-1, 1]` are clipped).
pub fn write_wav(path: &Path, buf: &AudioBuf) -> Result<()> {
    let name = path.display().to_string();
    check(buf, &name)?;
    let bytes = wav_bytes(buf)?;
    std::fs::write(path, bytes).map_err(|e| Error::Write {
        file: name,
        reason: e.to_string(),
    })
}

/// `buf` as the bytes of a mono 16-bit PCM WAV file.
pub fn wav_bytes(buf: &AudioBuf) -> Result<Vec<u8>> {
    check(buf, "WAV in memory")?;
    let mut cur = Cursor::new(Vec::with_capacity(44 + buf.samples.len() * 2));
    write_into(&mut cur, buf).map_err(|e| Error::Write {
        file: "WAV in memory".into(),
        reason: e.to_string(),
    })?;
    Ok(cur.into_inner())
}
