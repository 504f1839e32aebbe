//! The byte alphabet of Whisper's byte-level BPE (GPT-2's): every byte is spelled as one
//! printable character, so a token's text maps back to the bytes it writes.

use std::collections::HashMap;

/// Character → byte of the byte-level alphabet: the printable bytes `!`..=`~`,
/// `¡`..=`¬` and `®`..=`ÿ` stand for themselves, the other 68 bytes are spelled
/// U+0100 onwards, in byte order.
pub(crate) fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut map = HashMap::with_capacity(256);
    let mut next = 0x100;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            next += 1;
            next - 1
        };
        if let Some(c) = char::from_u32(c) {
            map.insert(c, b as u8);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_is_a_bijection() {
        let d = byte_decoder();
        assert_eq!(d.len(), 256);
        let mut bytes: Vec<u8> = d.values().copied().collect();
        bytes.sort_unstable();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
        assert_eq!(d[&'A'], b'A');
        // the space and the newline, as GPT-2 spells them
        assert_eq!(d[&'Ġ'], b' ');
        assert_eq!(d[&'Ċ'], b'\n');
        assert_eq!(d[&'Ā'], 0);
    }
}
