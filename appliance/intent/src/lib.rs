//! Intent signals: the local embedding model (all-MiniLM-L6-v2, int8 ONNX, run by tract) that
//! turns the user's request and an action into vectors whose distance is the drift signal.
//!
//! Only this crate knows tract. The model files are bundled in `models/` and checked against
//! their `SHA256SUMS` at load; nothing is downloaded at run time.

pub mod dequantize;
pub mod embedding;
pub mod gelu;

pub use embedding::{cosine, EmbeddingModel, IntentError};
