//! The import of a CTranslate2 Whisper folder: read, convert, write the four files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::Dtype;

use super::ct2::read_ct2;
use super::layout::{convert_tensors, hf_config, read_dims, OutTensor};
use super::{mel_filters, WHISPER_N_FFT, WHISPER_SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::tensor_file::{self, Entry};

/// What [`import_whisper_ct2`] wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The folder written to.
    pub out_dir: PathBuf,
    /// Number of tensors in `model.safetensors`.
    pub tensors: usize,
    /// Total bytes of the files written.
    pub bytes: u64,
}

/// Convert a CTranslate2 Whisper model folder (`model.bin` v6, `config.json`,
/// `tokenizer.json`) into `out_dir` with `model.safetensors` (f16), `config.json`
/// (Hugging Face `WhisperConfig`), `tokenizer.json` and `mel_filters.safetensors`
/// (80 × 201). Files are written under temporary names and renamed, so an interrupted
/// import never leaves a half-written model that looks complete.
pub fn import_whisper_ct2(src_dir: &Path, out_dir: &Path) -> Result<ImportReport> {
    let model_path = src_dir.join("model.bin");
    let model = read_ct2(&model_path)?;
    if model.spec != "WhisperSpec" {
        return Err(Error::BadModel {
            path: model_path,
            detail: format!("spec is {:?}, expected WhisperSpec", model.spec),
        });
    }
    let dims = read_dims(&model, &model_path)?;
    let tensors = convert_tensors(&model, &dims, &model_path)?;
    drop(model);

    let tok_src = src_dir.join("tokenizer.json");
    if !tok_src.is_file() {
        return Err(Error::NotInstalled { path: tok_src });
    }
    let src_config: Option<serde_json::Value> = std::fs::read(src_dir.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());

    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut bytes = write_weights(&out_dir.join("model.safetensors"), &tensors)?;
    bytes += write_mel_filters(&out_dir.join("mel_filters.safetensors"), dims.n_mels)?;

    let cfg = serde_json::to_vec_pretty(&hf_config(&dims, src_config.as_ref()))
        .map_err(|e| Error::Decode(format!("config: {e}")))?;
    let cfg_path = out_dir.join("config.json");
    std::fs::write(&cfg_path, &cfg).map_err(|e| Error::io(&cfg_path, e))?;
    bytes += cfg.len() as u64;

    let tok_dst = out_dir.join("tokenizer.json");
    bytes += std::fs::copy(&tok_src, &tok_dst).map_err(|e| Error::io(&tok_dst, e))?;

    Ok(ImportReport {
        out_dir: out_dir.to_path_buf(),
        tensors: tensors.len(),
        bytes,
    })
}

/// `model.safetensors`: every tensor in f16, as the source stored it.
fn write_weights(path: &Path, tensors: &[OutTensor]) -> Result<u64> {
    let entries: Vec<Entry<'_>> = tensors
        .iter()
        .map(|t| Entry {
            name: t.name.clone(),
            dtype: Dtype::F16,
            shape: t.dims.clone(),
            data: &t.data,
        })
        .collect();
    tensor_file::write(path, &entries, HashMap::new())
}

/// `mel_filters.safetensors`: the `n_mels` × 201 filterbank as tensor `mel_{n_mels}`, f32.
fn write_mel_filters(path: &Path, n_mels: usize) -> Result<u64> {
    let filters = mel_filters(n_mels, WHISPER_N_FFT, WHISPER_SAMPLE_RATE);
    let data = tensor_file::f32_bytes(&filters);
    let entry = Entry {
        name: format!("mel_{n_mels}"),
        dtype: Dtype::F32,
        shape: vec![n_mels, WHISPER_N_FFT / 2 + 1],
        data: &data,
    };
    tensor_file::write(path, &[entry], HashMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_file::{read, HostTensor};

    #[test]
    fn import_matches_source_tensors() {
        let src = crate::whisper_ct2_dir(&crate::xiaoan_home());
        if crate::testing::model_or_skip(src.join("model.bin")).is_none() {
            return;
        }
        let out = tempfile::tempdir().unwrap();
        let report = import_whisper_ct2(&src, out.path()).unwrap();
        let ct2 = read_ct2(&src.join("model.bin")).unwrap();
        let hf = read(&out.path().join("model.safetensors")).unwrap().tensors;
        assert_eq!(report.tensors, hf.len());
        // base: 6+6 layers; 5 encoder stem tensors, 16 per encoder layer, 2 final LN;
        // 2 decoder stem, 25 per decoder layer, 2 final LN
        assert_eq!(hf.len(), 5 + 6 * 15 + 2 + 2 + 6 * 24 + 2);
        let d = 512;
        let src_rows = |name: &str| ct2.get(name).unwrap().to_f32();
        let check = |hf_name: &str, shape: &[usize], src: &[f32], start_row: usize| {
            let HostTensor { shape: s, data: v } = &hf[hf_name];
            assert_eq!(s.as_slice(), shape, "{hf_name}");
            let row_len: usize = shape.iter().skip(1).product::<usize>().max(1);
            // first, middle and last rows of the block, value for value
            for r in [0, shape[0] / 2, shape[0] - 1] {
                assert_eq!(
                    &v[r * row_len..(r + 1) * row_len],
                    &src[(start_row + r) * row_len..(start_row + r + 1) * row_len],
                    "{hf_name} row {r}"
                );
            }
        };
        for layer in [0, 5] {
            let qkv = src_rows(&format!(
                "encoder/layer_{layer}/self_attention/linear_0/weight"
            ));
            let t = format!("model.encoder.layers.{layer}.self_attn");
            check(&format!("{t}.q_proj.weight"), &[d, d], &qkv, 0);
            check(&format!("{t}.k_proj.weight"), &[d, d], &qkv, d);
            check(&format!("{t}.v_proj.weight"), &[d, d], &qkv, 2 * d);
            let qkv_b = src_rows(&format!(
                "encoder/layer_{layer}/self_attention/linear_0/bias"
            ));
            check(&format!("{t}.q_proj.bias"), &[d], &qkv_b, 0);
            check(&format!("{t}.v_proj.bias"), &[d], &qkv_b, 2 * d);
            assert!(!hf.contains_key(&format!("{t}.k_proj.bias")));
            let kv = src_rows(&format!("decoder/layer_{layer}/attention/linear_1/weight"));
            let t = format!("model.decoder.layers.{layer}.encoder_attn");
            check(&format!("{t}.k_proj.weight"), &[d, d], &kv, 0);
            check(&format!("{t}.v_proj.weight"), &[d, d], &kv, d);
            let kv_b = src_rows(&format!("decoder/layer_{layer}/attention/linear_1/bias"));
            check(&format!("{t}.v_proj.bias"), &[d], &kv_b, d);
            let q = src_rows(&format!("decoder/layer_{layer}/attention/linear_0/weight"));
            check(&format!("{t}.q_proj.weight"), &[d, d], &q, 0);
            let g = src_rows(&format!("decoder/layer_{layer}/ffn/layer_norm/gamma"));
            check(
                &format!("model.decoder.layers.{layer}.final_layer_norm.weight"),
                &[d],
                &g,
                0,
            );
            let fc1 = src_rows(&format!("decoder/layer_{layer}/ffn/linear_0/weight"));
            check(
                &format!("model.decoder.layers.{layer}.fc1.weight"),
                &[4 * d, d],
                &fc1,
                0,
            );
        }
        check(
            "model.encoder.conv1.weight",
            &[d, 80, 3],
            &src_rows("encoder/conv1/weight"),
            0,
        );
        check(
            "model.encoder.embed_positions.weight",
            &[1500, d],
            &src_rows("encoder/position_encodings/encodings"),
            0,
        );
        check(
            "model.decoder.embed_tokens.weight",
            &[51865, d],
            &src_rows("decoder/embeddings/weight"),
            0,
        );
        check(
            "model.decoder.embed_positions.weight",
            &[448, d],
            &src_rows("decoder/position_encodings/encodings"),
            0,
        );
        // the self-attention K bias that Whisper lacks is zero in the source
        let qkv_b = src_rows("decoder/layer_0/self_attention/linear_0/bias");
        assert!(qkv_b[d..2 * d].iter().all(|v| *v == 0.0));
        // config and mel filters
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cfg["d_model"], 512);
        assert_eq!(cfg["encoder_layers"], 6);
        assert_eq!(cfg["decoder_attention_heads"], 8);
        assert_eq!(cfg["vocab_size"], 51865);
        assert!(cfg["suppress_tokens"].as_array().unwrap().len() > 50);
        let mel = read(&out.path().join("mel_filters.safetensors"))
            .unwrap()
            .tensors;
        assert_eq!(mel["mel_80"].shape, vec![80, 201]);
        assert_eq!(mel["mel_80"].data, mel_filters(80, 400, 16_000));
        assert!(out.path().join("tokenizer.json").is_file());
        let installed = crate::list_installed(out.path().parent().unwrap());
        let _ = installed; // listing other folders must not fail
    }
}
