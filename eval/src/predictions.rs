//! Predictions (JSON Lines, one line per manifest item, in manifest order).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the system produced for one manifest item.
///
/// Serialised with exactly the contract's keys, in the contract's order, `null` where a
/// value is absent. The one extension, [`Prediction::elapsed_ms`], is an optional field
/// (the contract allows new optional fields) written last and only when set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The manifest item's id.
    pub id: String,
    /// The recogniser's final text (for `text` items: the text as given).
    #[serde(default)]
    pub transcript: Option<String>,
    /// The detected (or given/forced) dialect code.
    #[serde(default)]
    pub dialect: Option<String>,
    /// The top intent.
    #[serde(default)]
    pub intent: Option<String>,
    /// Confidence of the top intent, in [0, 1].
    #[serde(default)]
    pub intent_confidence: Option<f32>,
    /// The retriever's top 3 service-guide ids, best first (empty when none is needed).
    #[serde(default)]
    pub service_ids: Vec<String>,
    /// Input duration in seconds (audio items).
    #[serde(default)]
    pub audio_s: Option<f64>,
    /// Wall time from the start of streaming the audio in real time to the first partial.
    #[serde(default)]
    pub first_partial_ms: Option<f64>,
    /// Wall time from the end of the audio to the final transcript.
    #[serde(default)]
    pub final_ms: Option<f64>,
    /// `None`, or why this item could not be processed.
    #[serde(default)]
    pub error: Option<String>,
    /// Extension (optional field): processing time spent on this item in milliseconds —
    /// time in recognition, understanding and retrieval, excluding any waiting done to
    /// feed audio in real time. Used for the real-time factor. Omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<f64>,
}

impl Prediction {
    /// A prediction for an item that could not be processed.
    pub fn failed(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Prediction {
            id: id.into(),
            error: Some(reason.into()),
            ..Default::default()
        }
    }
}

/// The contract's prediction keys, in order.
pub const PREDICTION_KEYS: [&str; 10] = [
    "id",
    "transcript",
    "dialect",
    "intent",
    "intent_confidence",
    "service_ids",
    "audio_s",
    "first_partial_ms",
    "final_ms",
    "error",
];

/// Writes predictions as JSON Lines (creating the parent folder if needed).
pub fn write_predictions(path: &Path, preds: &[Prediction]) -> Result<()> {
    crate::jsonl::write(path, preds)
}

/// Reads predictions written by [`write_predictions`] (or by another system following
/// the contract). Blank lines are skipped; a malformed line is an error naming the line.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.trim().is_empty() {
            continue;
        }
        let p: Prediction = serde_json::from_str(line).map_err(|e| Error::json(path, i + 1, e))?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(line: &str) -> Vec<String> {
        // serde_json keeps insertion order only with `preserve_order`; read keys by hand.
        let mut keys = Vec::new();
        let mut de = serde_json::Deserializer::from_str(line);
        struct Keys<'a>(&'a mut Vec<String>);
        impl<'de> serde::de::Visitor<'de> for Keys<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<(), A::Error> {
                while let Some(k) = map.next_key::<String>()? {
                    self.0.push(k);
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                Ok(())
            }
        }
        serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys)).unwrap();
        keys
    }

    #[test]
    fn lines_have_exactly_the_contract_keys_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/p.jsonl");
        let full = Prediction {
            id: "sh-017".into(),
            transcript: Some("阿拉姆妈要办敬老卡".into()),
            dialect: Some("wuu-sh".into()),
            intent: Some("service.query".into()),
            intent_confidence: Some(0.91),
            service_ids: vec![
                "senior-card".into(),
                "elderly-allowance".into(),
                "silver-butler".into(),
            ],
            audio_s: Some(2.4),
            first_partial_ms: Some(610.0),
            final_ms: Some(180.0),
            error: None,
            elapsed_ms: None,
        };
        let failed = Prediction::failed("x-1", "audio file not found: wav/x-1.wav");
        write_predictions(&path, &[full.clone(), failed.clone()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in &lines {
            assert_eq!(keys_of(l), PREDICTION_KEYS.to_vec());
        }
        assert!(
            lines[0].contains("\"intent_confidence\":0.91"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("\"error\":null"));
        assert!(
            lines[1].contains("\"transcript\":null") && lines[1].contains("\"service_ids\":[]")
        );
        assert_eq!(read_predictions(&path).unwrap(), vec![full, failed]);
    }

    #[test]
    fn elapsed_extension_is_written_last_and_only_when_set() {
        let p = Prediction {
            id: "a".into(),
            elapsed_ms: Some(12.5),
            ..Default::default()
        };
        let line = serde_json::to_string(&p).unwrap();
        let keys = keys_of(&line);
        assert_eq!(&keys[..10], &PREDICTION_KEYS[..]);
        assert_eq!(keys[10], "elapsed_ms");
    }

    #[test]
    fn contract_example_line_reads_and_bad_line_names_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(
            &path,
            "{\"id\": \"sh-017\", \"transcript\": \"阿拉\", \"dialect\": \"wuu-sh\", \"intent\": \"service.query\",\"intent_confidence\": 0.91, \"service_ids\": [\"senior-card\"], \"audio_s\": 2.4, \"first_partial_ms\": 610, \"final_ms\": 180, \"error\": null}\n\n{oops}\n",
        )
        .unwrap();
        let e = read_predictions(&path).unwrap_err().to_string();
        assert!(e.contains(":3:"), "{e}");
        std::fs::write(&path, "{\"id\": \"a\", \"final_ms\": 180}\n").unwrap();
        let p = read_predictions(&path).unwrap();
        assert_eq!(p[0].final_ms, Some(180.0));
        assert!(p[0].service_ids.is_empty());
    }
}
