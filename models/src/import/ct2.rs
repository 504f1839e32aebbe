//! The reader of CTranslate2's `model.bin` (format version 6): variables by name, their
//! element type, shape and raw data, and the aliases that follow them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tensor_file;

/// The only CTranslate2 `model.bin` format version this reader knows.
pub const CT2_FORMAT_VERSION: u32 = 6;

/// Element type of a CTranslate2 variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ct2DType {
    /// 32-bit float.
    F32,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// IEEE half float.
    F16,
    /// bfloat16.
    BF16,
}

impl Ct2DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One variable of a CTranslate2 model.
#[derive(Clone, Debug)]
pub struct Ct2Var {
    /// Element type.
    pub dtype: Ct2DType,
    /// Shape (empty for scalars).
    pub dims: Vec<usize>,
    /// Raw little-endian bytes.
    pub data: Vec<u8>,
}

impl Ct2Var {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }

    /// The values widened to f32 (integers converted, floats exact).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            Ct2DType::F32 => tensor_file::f32_values(d),
            Ct2DType::F16 => tensor_file::f16_values(d),
            Ct2DType::BF16 => tensor_file::bf16_values(d),
            Ct2DType::I8 => d.iter().map(|b| *b as i8 as f32).collect(),
            Ct2DType::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            Ct2DType::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
        }
    }

    /// The value of a scalar integer variable (e.g. `encoder/num_heads`).
    pub fn scalar_int(&self) -> Option<i64> {
        if self.numel() != 1 {
            return None;
        }
        Some(match self.dtype {
            Ct2DType::I8 => self.data[0] as i8 as i64,
            Ct2DType::I16 => i16::from_le_bytes([self.data[0], self.data[1]]) as i64,
            Ct2DType::I32 => {
                i32::from_le_bytes([self.data[0], self.data[1], self.data[2], self.data[3]]) as i64
            }
            _ => return None,
        })
    }
}

/// A CTranslate2 model read from `model.bin`.
#[derive(Clone, Debug)]
pub struct Ct2Model {
    /// Format version (6).
    pub version: u32,
    /// Spec name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Spec revision.
    pub revision: u32,
    /// Variables by name.
    pub vars: BTreeMap<String, Ct2Var>,
    /// Aliases: alias name → target variable name.
    pub aliases: BTreeMap<String, String>,
}

impl Ct2Model {
    /// A variable by name, following aliases.
    pub fn get(&self, name: &str) -> Option<&Ct2Var> {
        self.vars
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.vars.get(t)))
    }
}

/// Little-endian reader over a `model.bin` that turns short reads into [`Error::BadModel`].
struct Reader<R> {
    inner: R,
    path: PathBuf,
}

impl<R: Read> Reader<R> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        Error::BadModel {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.bad(format!("truncated ({e})")))?;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string stored as `u16` length (including a trailing NUL) then bytes.
    fn string(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let mut b = self.bytes(n)?;
        if b.last() == Some(&0) {
            b.pop();
        }
        String::from_utf8(b).map_err(|_| self.bad("a name is not UTF-8"))
    }
}

/// Largest single variable accepted (guards against absurd sizes in corrupt files).
const MAX_VAR_BYTES: u64 = 4 << 30;

/// Read a CTranslate2 `model.bin` (format version 6): variables by name, their element
/// type, shape and raw data, and the aliases that follow them.
pub fn read_ct2(path: &Path) -> Result<Ct2Model> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotInstalled {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 20, file),
        path: path.to_path_buf(),
    };
    let version = r.u32()?;
    if version != CT2_FORMAT_VERSION {
        return Err(r.bad(format!(
            "format version {version}, only version {CT2_FORMAT_VERSION} is supported"
        )));
    }
    let spec = r.string()?;
    let revision = r.u32()?;
    let n_vars = r.u32()?;
    let mut vars = BTreeMap::new();
    for _ in 0..n_vars {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(r.u32()? as usize);
        }
        let code = r.u8()?;
        let dtype = Ct2DType::from_code(code)
            .ok_or_else(|| r.bad(format!("{name}: unknown dtype {code}")))?;
        let nbytes = r.u32()? as u64;
        if nbytes > MAX_VAR_BYTES || nbytes > file_len {
            return Err(r.bad(format!("{name}: {nbytes} bytes is larger than the file")));
        }
        let numel: usize = dims.iter().product();
        if numel as u64 * dtype.size() as u64 != nbytes {
            return Err(r.bad(format!(
                "{name}: {nbytes} bytes do not match shape {dims:?} of {dtype:?}"
            )));
        }
        let data = r.bytes(nbytes as usize)?;
        vars.insert(name, Ct2Var { dtype, dims, data });
    }
    let mut aliases = BTreeMap::new();
    // Aliases are optional at the end of the file.
    let mut rest = Vec::new();
    r.inner
        .read_to_end(&mut rest)
        .map_err(|e| Error::io(path, e))?;
    if rest.len() >= 4 {
        let mut ar = Reader {
            inner: &rest[..],
            path: path.to_path_buf(),
        };
        let n = ar.u32()?;
        for _ in 0..n {
            let alias = ar.string()?;
            let target = ar.string()?;
            aliases.insert(alias, target);
        }
    }
    Ok(Ct2Model {
        version,
        spec,
        revision,
        vars,
        aliases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ct2_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        assert!(matches!(read_ct2(&p), Err(Error::NotInstalled { .. })));
        std::fs::write(&p, b"").unwrap();
        assert!(matches!(read_ct2(&p), Err(Error::BadModel { .. })));
        std::fs::write(&p, 5u32.to_le_bytes()).unwrap();
        let e = read_ct2(&p).unwrap_err().to_string();
        assert!(e.contains("version 5"), "{e}");
        // version 6, spec, revision, one variable whose byte count lies
        let mut b = 6u32.to_le_bytes().to_vec();
        b.extend(3u16.to_le_bytes());
        b.extend(b"ab\0");
        b.extend(1u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(b"x\0");
        b.push(1);
        b.extend(4u32.to_le_bytes());
        b.push(0);
        b.extend(99u32.to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(read_ct2(&p), Err(Error::BadModel { .. })));
        // same, truthful: 4 f32 values, then one alias
        let n = b.len();
        b[n - 4..].copy_from_slice(&16u32.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            b.extend(v.to_le_bytes());
        }
        b.extend(1u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(b"y\0");
        b.extend(2u16.to_le_bytes());
        b.extend(b"x\0");
        std::fs::write(&p, &b).unwrap();
        let m = read_ct2(&p).unwrap();
        assert_eq!(m.spec, "ab");
        assert_eq!(m.get("y").unwrap().to_f32(), vec![1.0, 2.0, 3.0, 4.0]);
    }
}
