//! Importers that turn public data-set layouts into manifests.
//!
//! - [`kaldi`]: a Kaldi-style data folder (`wav.scp`, `text`, optional `utt2dialect`), as
//!   AISHELL, KeSpeech and the WenetSpeech dialect sets ship.
//! - [`commonvoice`]: a Common Voice TSV (`validated.tsv`, `test.tsv`, …) and its clips.
//! - [`write_manifest`]: writes the items with audio paths relative to the manifest.
//!
//! Importers do not check that audio files exist: a missing or unreadable file becomes
//! an item error when the manifest is run, and the run goes on.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::codes;
use crate::error::{Error, Result};
use crate::manifest::ManifestItem;

fn import_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Import {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a Kaldi-style `KEY VALUE…` file into (key, rest) pairs, skipping blank lines.
fn read_kv(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Imports a Kaldi-style data folder.
///
/// `wav.scp` gives the audio (`UTT PATH`; relative paths are looked up in `dir` first,
/// then in the current folder). Command pipelines (`UTT CMD … |`) are kept verbatim and
/// become item errors when the manifest is read, naming the pipeline. `text` gives the
/// reference transcripts (word-segmented text is kept; CER ignores spaces).
/// `utt2dialect`, when present, maps utterances to dialect labels: our codes and common
/// public labels (`Cantonese`, `zh-HK`, `Southwestern`, …) are mapped; other labels leave
/// the dialect unknown. A `segments` file (utterances cut from longer recordings) is not
/// supported and is an error.
pub fn kaldi(dir: &Path) -> Result<Vec<ManifestItem>> {
    let scp = dir.join("wav.scp");
    if !scp.is_file() {
        return Err(import_err(
            dir,
            "not a Kaldi data folder: wav.scp is missing",
        ));
    }
    if dir.join("segments").exists() {
        return Err(import_err(
            &dir.join("segments"),
            "Kaldi `segments` (utterances cut from longer recordings) are not supported: cut the audio into one file per utterance first",
        ));
    }
    let text: HashMap<String, String> = match dir.join("text") {
        p if p.is_file() => read_kv(&p)?
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect(),
        _ => HashMap::new(),
    };
    let dialects: HashMap<String, String> = match dir.join("utt2dialect") {
        p if p.is_file() => read_kv(&p)?.into_iter().collect(),
        _ => HashMap::new(),
    };
    let mut items = Vec::new();
    for (utt, value) in read_kv(&scp)? {
        let audio = if value.ends_with('|') || value.is_empty() {
            value
        } else {
            let p = Path::new(&value);
            let resolved = if p.is_absolute() {
                p.to_path_buf()
            } else if dir.join(p).exists() || !p.exists() {
                absolute(&dir.join(p))
            } else {
                absolute(p)
            };
            resolved.to_string_lossy().into_owned()
        };
        items.push(ManifestItem {
            transcript: text.get(&utt).filter(|t| !t.is_empty()).cloned(),
            dialect: dialects
                .get(&utt)
                .and_then(|d| codes::map_dialect_label(d))
                .map(str::to_string),
            audio: Some(audio),
            id: utt,
            ..Default::default()
        });
    }
    Ok(items)
}

/// Imports a Common Voice TSV (`validated.tsv`, `test.tsv`, …): the `path` column names
/// the clip inside `clips`, `sentence` is the reference transcript. Every item gets the
/// dialect `dialect` (one of our codes, or a Common Voice locale such as `zh-HK`,
/// `nan-tw`, `hak`, `zh-CN`).
pub fn commonvoice(tsv: &Path, clips: &Path, dialect: &str) -> Result<Vec<ManifestItem>> {
    let code = codes::map_dialect_label(dialect)
        .ok_or_else(|| Error::UnknownDialect(dialect.to_string()))?;
    let text = std::fs::read_to_string(tsv).map_err(|e| Error::io(tsv, e))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h
            .trim_start_matches('\u{feff}')
            .split('\t')
            .map(str::trim)
            .collect(),
        None => return Err(import_err(tsv, "empty file: expected a header line")),
    };
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            import_err(
                tsv,
                format!("no `{name}` column in the header (is this a Common Voice TSV?)"),
            )
        })
    };
    let (path_col, sentence_col) = (col("path")?, col("sentence")?);
    let clips = absolute(clips);
    let mut items = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(sentence)) = (fields.get(path_col), fields.get(sentence_col)) else {
            return Err(import_err(
                tsv,
                format!("line {}: too few columns ({})", i + 1, fields.len()),
            ));
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(import_err(tsv, format!("line {}: empty `path`", i + 1)));
        }
        let id = Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string());
        let sentence = sentence.trim();
        items.push(ManifestItem {
            id,
            audio: Some(clips.join(path).to_string_lossy().into_owned()),
            dialect: Some(code.to_string()),
            transcript: (!sentence.is_empty()).then(|| sentence.to_string()),
            ..Default::default()
        });
    }
    Ok(items)
}

/// Removes `.` and resolves `..` without touching the file system.
fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `target` relative to the folder `base` (both absolute), with `/` separators.
fn relative_to(target: &Path, base: &Path) -> String {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn canonical_or_lexical(p: &Path) -> PathBuf {
    let abs = absolute(p);
    abs.canonicalize()
        .unwrap_or_else(|_| lexical_normalize(&abs))
}

/// Writes items as a manifest (JSON Lines), creating the folder if needed. Audio paths
/// (absolute, or relative to the current folder) are written relative to the manifest's
/// folder, as the contract requires; command pipelines are written unchanged.
pub fn write_manifest(path: &Path, items: &[ManifestItem]) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let base = canonical_or_lexical(&parent);
    let relative = |item: &ManifestItem| {
        let mut item = item.clone();
        if let Some(a) = &item.audio {
            if !a.trim_end().ends_with('|') && !a.is_empty() {
                item.audio = Some(relative_to(&canonical_or_lexical(Path::new(a)), &base));
            }
        }
        item
    };
    crate::jsonl::write(path, items.iter().map(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn tiny_wav(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..1600 {
            w.write_sample(((i as f32 * 0.2).sin() * 3000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    #[test]
    fn kaldi_folder_becomes_a_runnable_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data/test");
        copy_dir(&fixtures().join("kaldi"), &data);
        tiny_wav(&data.join("wav/S0001-U0001.wav"));
        tiny_wav(&data.join("wav/S0001-U0002.wav"));
        let abs = tmp.path().join("elsewhere/abs.wav");
        tiny_wav(&abs);
        let mut scp = std::fs::read_to_string(data.join("wav.scp")).unwrap();
        scp.push_str(&format!("abs-01 {}\n", abs.display()));
        std::fs::write(data.join("wav.scp"), scp).unwrap();

        let items = kaldi(&data).unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "S0001-U0001",
                "S0001-U0002",
                "yue-0001",
                "S0002-U0003",
                "abs-01"
            ]
        );
        assert_eq!(items[0].transcript.as_deref(), Some("我想 办理 社保卡"));
        assert_eq!(
            items[0].dialect.as_deref(),
            Some("cmn"),
            "`Mandarin` maps to cmn"
        );
        assert_eq!(items[2].dialect.as_deref(), Some("yue"));
        assert_eq!(
            items[3].dialect, None,
            "labels outside the seven leave the dialect unknown"
        );
        assert_eq!(items[4].transcript, None);

        let out = tmp.path().join("manifests/kaldi.jsonl");
        write_manifest(&out, &items).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("\"audio\":\"../data/test/wav/S0001-U0001.wav\""),
            "{text}"
        );
        assert!(
            text.contains("\"audio\":\"../elsewhere/abs.wav\""),
            "{text}"
        );
        let m = crate::read_manifest(&out).unwrap();
        assert_eq!(m.items.len(), 5);
        let err = m.items[2].as_ref().unwrap_err();
        assert!(
            err.reason.contains("pipeline") && err.id.as_deref() == Some("yue-0001"),
            "{err}"
        );
        for i in [0, 1, 4] {
            let item = m.items[i].as_ref().unwrap();
            assert!(m.audio_path(item).unwrap().is_file(), "{}", item.id);
        }
        let missing = m.items[3].as_ref().unwrap();
        assert!(!m.audio_path(missing).unwrap().is_file());
    }

    #[test]
    fn kaldi_errors_are_clear() {
        let tmp = tempfile::tempdir().unwrap();
        let e = kaldi(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("wav.scp is missing"), "{e}");
        std::fs::write(tmp.path().join("wav.scp"), "a a.wav\n").unwrap();
        std::fs::write(tmp.path().join("segments"), "a rec 0 1\n").unwrap();
        assert!(kaldi(tmp.path())
            .unwrap_err()
            .to_string()
            .contains("segments"));
    }

    #[test]
    fn commonvoice_tsv_becomes_a_runnable_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let clips = tmp.path().join("cv/clips");
        tiny_wav(&clips.join("common_voice_yue_00000002.wav"));
        tiny_wav(&clips.join("common_voice_yue_00000003.wav"));
        let tsv = fixtures().join("commonvoice/test.tsv");
        let items = commonvoice(&tsv, &clips, "zh-HK").unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].id, "common_voice_yue_00000001");
        assert_eq!(items[1].transcript.as_deref(), Some("而家排隊要等幾耐"));
        assert!(items.iter().all(|i| i.dialect.as_deref() == Some("yue")));
        let out = tmp.path().join("cv/manifest.jsonl");
        write_manifest(&out, &items).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("\"audio\":\"clips/common_voice_yue_00000002.wav\""),
            "{text}"
        );
        let m = crate::read_manifest(&out).unwrap();
        assert!(m.items.iter().all(|i| i.is_ok()));
        let ok: Vec<bool> = m
            .items
            .iter()
            .map(|i| m.audio_path(i.as_ref().unwrap()).unwrap().is_file())
            .collect();
        assert_eq!(ok, [false, true, true]);
        let e = commonvoice(&tsv, &clips, "klingon")
            .unwrap_err()
            .to_string();
        assert!(e.contains("klingon"), "{e}");
        std::fs::write(tmp.path().join("bad.tsv"), "client_id\tfile\n").unwrap();
        let e = commonvoice(&tmp.path().join("bad.tsv"), &clips, "yue")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`path`"), "{e}");
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative_to(Path::new("/a/b/c.wav"), Path::new("/a")),
            "b/c.wav"
        );
        assert_eq!(
            relative_to(Path::new("/a/b/c.wav"), Path::new("/a/x/y")),
            "../../b/c.wav"
        );
        assert_eq!(
            lexical_normalize(Path::new("/a/./b/../c")),
            PathBuf::from("/a/c")
        );
    }
}
