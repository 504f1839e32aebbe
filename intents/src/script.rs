//! Script, width and case folding: the part of normalisation that keeps every word, and
//! that the lexicons and the dialect identifier match against.

/// Traditional → Simplified.
pub(crate) fn to_simplified(text: &str) -> String {
    zhconv::zhconv(text, zhconv::Variant::ZhHans)
}

/// Full width → half width (letters, digits, ASCII punctuation, the ideographic space).
pub(crate) fn to_half_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Simplified, half width, lower case.
pub(crate) fn fold(text: &str) -> String {
    to_half_width(&to_simplified(text)).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_width_and_case() {
        assert_eq!(to_half_width("ＡＢＣ１２３\u{3000}"), "ABC123 ");
        assert_eq!(fold("辦理ＳＯＳ卡"), "办理sos卡");
    }
}
