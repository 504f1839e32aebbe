//! Limits on text before it reaches understanding.
//!
//! Understanding's cost grows faster than the text (normalisation, segmentation,
//! entity search): a 5,000,000-character eval item ran for more than 300 s and took
//! 1.6 GB. Typed text is therefore capped where it enters: `xiaoan chat` lines and
//! `xiaoan eval` text items both go through [`check_utterance`].

use crate::{Error, Result};

/// Longest utterance understood in one turn, in characters (Unicode scalar values).
/// A resident's turn is a sentence or two: the longest line of the project's intent
/// data is far shorter, and 500 characters is several minutes of speech.
pub const MAX_UTTERANCE_CHARS: usize = 500;

/// `text` if it is at most [`MAX_UTTERANCE_CHARS`] characters, else
/// [`Error::TooLong`] with its length (counted without copying it).
pub fn check_utterance(text: &str) -> Result<&str> {
    if text.chars().nth(MAX_UTTERANCE_CHARS).is_none() {
        return Ok(text);
    }
    Err(Error::TooLong {
        chars: text.chars().count(),
        max: MAX_UTTERANCE_CHARS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_counted_in_characters_not_bytes() {
        let at_limit = "楼".repeat(MAX_UTTERANCE_CHARS);
        assert_eq!(check_utterance(&at_limit).unwrap(), at_limit);
        let over = "楼".repeat(MAX_UTTERANCE_CHARS + 1);
        let e = check_utterance(&over).unwrap_err().to_string();
        assert_eq!(
            e,
            "the text is 501 characters long; at most 500 are understood in one turn"
        );
    }

    #[test]
    fn a_huge_line_is_refused_at_once() {
        let huge = "a".repeat(5_000_000);
        let t = std::time::Instant::now();
        assert!(check_utterance(&huge).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
