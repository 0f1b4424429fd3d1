//! Sentence embeddings: tokenize (WordPiece, no padding), run the model, mean-pool the last hidden
//! state over the attention mask, L2-normalize.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};
use tract_onnx::prelude::*;

pub const MODEL_FILE: &str = "model-int8.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Longest text embedded, in tokens; longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error("model file {path}: {message}")]
    File { path: String, message: String },
    #[error("{file}: sha256 {found} does not match SHA256SUMS ({expected})")]
    Checksum {
        file: String,
        expected: String,
        found: String,
    },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model: {0}")]
    Model(String),
}

type Plan = Arc<TypedRunnableModel>;

/// The loaded model; `embed` is safe to call from several threads.
pub struct EmbeddingModel {
    /// Any batch size and length.
    plan: Plan,
    /// Specialized for one text (batch dimension fixed to 1): the common case on the action
    /// path, about a fifth faster than the general plan.
    single: Plan,
    tokenizer: Tokenizer,
    /// How many weights were dequantized at load.
    pub dequantized: usize,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> IntentError {
    IntentError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Checks `file` in `dir` against the `SHA256SUMS` there; returns its bytes.
fn verified(dir: &Path, file: &str) -> Result<Vec<u8>, IntentError> {
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| file_err(&sums_path, e))?;
    let expected = sums
        .lines()
        .find_map(|l| {
            let (h, f) = l.split_once(char::is_whitespace)?;
            (f.trim().trim_start_matches('*') == file).then(|| h.trim().to_string())
        })
        .ok_or_else(|| file_err(&sums_path, format!("no checksum for {file}")))?;
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| file_err(&path, e))?;
    let found = hex::encode(Sha256::digest(&bytes));
    if found != expected {
        return Err(IntentError::Checksum {
            file: path.display().to_string(),
            expected,
            found,
        });
    }
    Ok(bytes)
}

impl EmbeddingModel {
    /// Loads and checks the model in `dir` (e.g. `models/all-MiniLM-L6-v2`).
    pub fn load(dir: &Path) -> Result<Self, IntentError> {
        let model_bytes = verified(dir, MODEL_FILE)?;
        let tokenizer_bytes = verified(dir, TOKENIZER_FILE)?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| IntentError::Tokenizer(e.to_string()))?;
        // The shipped tokenizer pads to a fixed length: every text would pay for it.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| IntentError::Tokenizer(e.to_string()))?;
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut model_bytes.as_slice())
            .map_err(|e| IntentError::Model(e.to_string()))?;
        let dequantized = crate::dequantize::dequantize_weights(&mut proto);
        crate::gelu::rewrite_gelu_divisions(&mut proto);
        let model_err = |e: TractError| IntentError::Model(format!("{e:?}"));
        let typed = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.into_typed())
            .map_err(model_err)?;
        drop(proto);
        let batch = typed
            .symbols
            .get("batch")
            .ok_or_else(|| IntentError::Model("the model has no `batch` dimension".into()))?;
        let single = typed
            .set_symbols(&std::collections::HashMap::from([(batch, TDim::from(1))]))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(model_err)?;
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(model_err)?;
        Ok(Self {
            plan,
            single,
            tokenizer,
            dequantized,
        })
    }

    /// Token ids of `text` as the model sees them.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, IntentError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| IntentError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The L2-normalized mean-pooled embedding of `text` (384 values).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, IntentError> {
        let mut v = self.embed_batch(&[text])?;
        v.pop()
            .ok_or_else(|| IntentError::Model("no vector returned".into()))
    }

    /// Embeddings of several texts in one run of the model: shorter texts are padded to the
    /// longest, and padding is masked out of attention and pooling.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, IntentError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings: Vec<tokenizers::Encoding> = texts
            .iter()
            .map(|t| self.tokenizer.encode(*t, true))
            .collect::<Result<_, _>>()
            .map_err(|e| IntentError::Tokenizer(e.to_string()))?;
        let b = encodings.len();
        let n = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let as_tensor =
            |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, IntentError> {
                let mut data = vec![0i64; b * n];
                for (row, enc) in encodings.iter().enumerate() {
                    for (col, x) in f(enc).iter().enumerate() {
                        data[row * n + col] = i64::from(*x);
                    }
                }
                tract_ndarray::Array2::from_shape_vec((b, n), data)
                    .map(Tensor::from)
                    .map_err(|e| IntentError::Model(e.to_string()))
            };
        let ids = as_tensor(&|e| e.get_ids())?;
        let mask = as_tensor(&|e| e.get_attention_mask())?;
        let types = as_tensor(&|e| e.get_type_ids())?;
        let plan = if b == 1 { &self.single } else { &self.plan };
        let outputs = plan
            .run(tvec!(ids.into(), mask.into(), types.into()))
            .map_err(|e| IntentError::Model(format!("{e:?}")))?;
        let hidden = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| IntentError::Model(e.to_string()))?;
        let shape = hidden.shape();
        if shape.len() != 3 || shape[0] != b || shape[1] != n {
            return Err(IntentError::Model(format!(
                "unexpected output shape {shape:?}"
            )));
        }
        let dim = shape[2];
        let mut out = Vec::with_capacity(b);
        for (row, enc) in encodings.iter().enumerate() {
            let mut pooled = vec![0f32; dim];
            let mut weight = 0f32;
            for (t, m) in enc.get_attention_mask().iter().enumerate() {
                if *m == 0 {
                    continue;
                }
                weight += 1.0;
                for (d, p) in pooled.iter_mut().enumerate() {
                    *p += hidden[[row, t, d]];
                }
            }
            let weight = weight.max(1e-9);
            pooled.iter_mut().for_each(|p| *p /= weight);
            let norm = pooled.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            pooled.iter_mut().for_each(|p| *p /= norm);
            out.push(pooled);
        }
        Ok(out)
    }
}

/// Cosine similarity of two normalized vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
