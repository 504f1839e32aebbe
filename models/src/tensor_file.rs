//! Safetensors files, read and written through the `safetensors` crate: every tensor of
//! a file widened to f32 with the file's metadata (what LoRA adapters, the ggml writer
//! and the voice's networks read), and one writer that puts a file in place atomically
//! (what the importers and the LoRA writer use). The candle engine maps its files with
//! candle's own loader; files written here load there too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};

/// A tensor held in host memory as f32, row-major, with its logical shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape, outermost dimension first (PyTorch order).
    pub shape: Vec<usize>,
    /// Row-major data, `shape.iter().product()` values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The tensors of a file, widened to f32, and its `__metadata__` map.
#[derive(Debug, Default)]
pub(crate) struct TensorFile {
    pub(crate) tensors: BTreeMap<String, HostTensor>,
    pub(crate) metadata: HashMap<String, String>,
}

fn bad(path: &Path, detail: String) -> Error {
    Error::BadModel {
        path: path.to_path_buf(),
        detail,
    }
}

/// Read every tensor of the safetensors file `path` as f32 (F32, F16 and BF16 stored).
pub(crate) fn read(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(path, format!("not a safetensors file ({e})")))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("not a safetensors file ({e})")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.iter() {
        let data = widen(&view).ok_or_else(|| {
            bad(
                path,
                format!("`{name}`: unsupported dtype {:?}", view.dtype()),
            )
        })?;
        let shape = view.shape().to_vec();
        tensors.insert(name.to_string(), HostTensor { shape, data });
    }
    Ok(TensorFile {
        tensors,
        metadata: header.metadata().clone().unwrap_or_default(),
    })
}

/// The values of an F32, F16 or BF16 tensor as f32; `None` for other types.
fn widen(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let d = view.data();
    Some(match view.dtype() {
        Dtype::F32 => f32_values(d),
        Dtype::F16 => f16_values(d),
        Dtype::BF16 => bf16_values(d),
        _ => return None,
    })
}

/// Little-endian f32 values (a trailing partial value is ignored).
pub(crate) fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Little-endian IEEE half floats, widened to f32.
pub(crate) fn f16_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

/// Little-endian bfloat16 values, widened to f32.
pub(crate) fn bf16_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

/// One tensor to write: its name, element type, shape and little-endian bytes.
pub(crate) struct Entry<'a> {
    pub(crate) name: String,
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: &'a [u8],
}

/// The little-endian bytes of f32 values (an F32 tensor's data).
pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Write `tensors` and `metadata` (omitted when empty) as the safetensors file `path`,
/// creating its folder. The file is written beside `path` and renamed into place, so an
/// interrupted write never leaves a truncated file that looks complete. Returns the
/// file's size in bytes.
pub(crate) fn write(
    path: &Path,
    tensors: &[Entry<'_>],
    metadata: HashMap<String, String>,
) -> Result<u64> {
    // the crate writes its temporary file in the target's folder, which must be named
    let path: PathBuf = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new(".").join(path),
        _ => path.to_path_buf(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let views = tensors
        .iter()
        .map(|t| {
            TensorView::new(t.dtype, t.shape.clone(), t.data)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| bad(&path, format!("`{}`: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = (!metadata.is_empty()).then_some(metadata);
    safetensors::serialize_to_file(views, metadata, &path)
        .map_err(|e| bad(&path, format!("cannot write: {e}")))?;
    let written = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    Ok(written.len())
}

/// Write f32 host tensors and `metadata` (see [`write`]).
pub(crate) fn write_f32(
    path: &Path,
    tensors: &BTreeMap<String, HostTensor>,
    metadata: HashMap<String, String>,
) -> Result<u64> {
    let bytes: Vec<(&String, &HostTensor, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| (n, t, f32_bytes(&t.data)))
        .collect();
    let entries: Vec<Entry<'_>> = bytes
        .iter()
        .map(|(name, t, data)| Entry {
            name: name.to_string(),
            dtype: Dtype::F32,
            shape: t.shape.clone(),
            data,
        })
        .collect();
    write(path, &entries, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensors() -> BTreeMap<String, HostTensor> {
        BTreeMap::from([
            (
                "a".to_string(),
                HostTensor {
                    shape: vec![2, 3],
                    data: vec![0.5, -1.25, 3.0, 1e-3, -7.5, 2.0],
                },
            ),
            (
                "b".to_string(),
                HostTensor {
                    shape: vec![4],
                    data: vec![1.0, 2.0, 3.0, 4.0],
                },
            ),
        ])
    }

    #[test]
    fn a_written_file_reads_back_with_its_values_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.safetensors");
        let meta = HashMap::from([("rank".to_string(), "4".to_string())]);
        let n = write_f32(&path, &tensors(), meta.clone()).unwrap();
        assert_eq!(n, std::fs::metadata(&path).unwrap().len());
        let back = read(&path).unwrap();
        assert_eq!(back.tensors, tensors());
        assert_eq!(back.metadata, meta);
        // no temporary file is left beside it
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn f16_tensors_are_widened_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.safetensors");
        let vals = [0.5f32, -2.0, 65504.0];
        let data: Vec<u8> = vals
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let entry = Entry {
            name: "h".into(),
            dtype: Dtype::F16,
            shape: vec![3],
            data: &data,
        };
        write(&path, &[entry], HashMap::new()).unwrap();
        assert_eq!(read(&path).unwrap().tensors["h"].data, vals);
        std::fs::write(&path, b"not a tensor file").unwrap();
        assert!(matches!(read(&path), Err(Error::BadModel { .. })));
        let short = Entry {
            name: "x".into(),
            dtype: Dtype::F32,
            shape: vec![4],
            data: &[0u8; 8],
        };
        assert!(write(&path, &[short], HashMap::new()).is_err());
    }

    /// What the importer and the LoRA writer write, candle loads: the same values by
    /// name, through both its loader and a memory-mapped `VarBuilder`.
    #[cfg(feature = "candle")]
    #[test]
    fn candle_loads_written_files() {
        use candle_core::{DType, Device};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let meta = HashMap::from([("format".to_string(), "test".to_string())]);
        write_f32(&path, &tensors(), meta).unwrap();
        let loaded = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        for (name, t) in tensors() {
            let c = &loaded[&name];
            assert_eq!(c.dims(), t.shape.as_slice(), "{name}");
            assert_eq!(c.flatten_all().unwrap().to_vec1::<f32>().unwrap(), t.data);
        }
        // SAFETY: the file is not modified while mapped.
        let vb = unsafe {
            candle_nn::VarBuilder::from_mmaped_safetensors(&[&path], DType::F32, &Device::Cpu)
        }
        .unwrap();
        let a = vb.get((2, 3), "a").unwrap();
        assert_eq!(a.to_vec2::<f32>().unwrap()[1], vec![1e-3, -7.5, 2.0]);
    }
}
