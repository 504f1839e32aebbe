//! Personal fields encrypted at rest (ChaCha20-Poly1305).
//!
//! The columns that hold names, ID and phone numbers — `fields` (filings, drafts),
//! `resident` (cases), `contact` (appointments, feedback) and `transcript` (events) — are
//! stored as `enc1:` + hex(12-byte random nonce ‖ ciphertext ‖ tag). The key is a
//! 32-byte secret in `<db>.fieldkey` beside the database (hex, 0600, made on first use;
//! a centre may replace it with its own before the first start). Reads decrypt before
//! anything else sees the row, so the evidence chain's record hashes are over the plain
//! content: sealing an older store's rows in place leaves its chain valid.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use super::error::{Result, StoreError};
use super::keyfile::{self, random};
use super::RecordKind;

/// Marks a sealed value.
const PREFIX: &str = "enc1:";
const NONCE_LEN: usize = 12;

/// The personal columns of each table.
pub(crate) fn personal_columns(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Filing | RecordKind::Draft => &["fields"],
        RecordKind::Case => &["resident"],
        RecordKind::Appointment | RecordKind::Feedback => &["contact"],
        RecordKind::Event => &["transcript"],
        RecordKind::Queue => &[],
    }
}

/// The field key file of the database at `db`.
pub fn field_key_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_os_string();
    p.push(".fieldkey");
    PathBuf::from(p)
}

/// The key that seals personal fields.
pub(crate) struct Sealer {
    cipher: ChaCha20Poly1305,
    key: [u8; 32],
}

impl Sealer {
    /// Load the field key of `db`, creating it (0600) when `create` and it is absent.
    pub(crate) fn load(db: &Path, create: bool) -> Result<Option<Sealer>> {
        let path = field_key_path(db);
        let key = match keyfile::read(&path, "field key")? {
            Some(k) => k,
            None if create => keyfile::create(&path)?,
            None => return Ok(None),
        };
        Ok(Some(Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            key,
        }))
    }

    /// Seal a value.
    pub(crate) fn seal(&self, plain: &str) -> Result<String> {
        let nonce: [u8; NONCE_LEN] = random()?;
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| StoreError::Invalid("could not encrypt a personal field".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", hex::encode(bytes)))
    }

    /// Open a sealed value; a value that is not sealed (an older row) is returned as is.
    pub(crate) fn open(&self, stored: &str) -> Result<String> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let bad = || {
            StoreError::Invalid(
                "a personal field does not open with this store's field key (altered, or the key was replaced)"
                    .into(),
            )
        };
        let bytes = hex::decode(body).map_err(|_| bad())?;
        if bytes.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

impl Sealer {
    /// The lookup tag of a phone or ID number: HMAC-SHA256 with the field key over its
    /// digits (and a final X), so a number can be found without being stored.
    pub(crate) fn tag(&self, number: &str) -> String {
        let digits: String = number
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        hmac_sha256(&self.key, digits.as_bytes())
    }
}

/// HMAC-SHA256 (RFC 2104), lowercase hex.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize(),
    )
}

/// The phone and ID numbers in a text: runs of 11 digits starting with 1, and of 17
/// digits followed by a digit or X.
pub(crate) fn numbers_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || ((chars[i] == 'X' || chars[i] == 'x') && i - start == 17))
        {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        if (run.len() == 11 && run.starts_with('1')) || run.len() == 18 {
            out.push(run);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_a_reference_and_numbers_are_found() {
        // reference: Python's hmac.new(b"\x0b" * 32, b"Hi There", hashlib.sha256)
        let key = [0x0bu8; 32];
        assert_eq!(
            hmac_sha256(&key, b"Hi There"),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
        assert_eq!(
            numbers_in("电话13812345678，身份证11010519491231002X，编号2611290001"),
            ["11010519491231002X", "13812345678"]
        );
    }
}
