//! The tract runtime matches onnxruntime on the bundled model (tests/intent/reference_vectors.json).

use aarmor_intent::{cosine, EmbeddingModel};

#[test]
fn embeddings_match_the_onnxruntime_reference() {
    let root = repo_root();
    let model = EmbeddingModel::load(&root.join("models/all-MiniLM-L6-v2")).expect("model loads");
    assert!(
        model.dequantized >= 30,
        "int8 weights are dequantized at load ({})",
        model.dequantized
    );
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/intent/reference_vectors.json")).unwrap(),
    )
    .unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 20);
    let mut worst = 1f32;
    for s in sentences {
        let text = s["text"].as_str().unwrap();
        let want_ids: Vec<u32> = s["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            model.token_ids(text).unwrap(),
            want_ids,
            "tokens of {text:?}"
        );
        let want: Vec<f32> = s["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = model.embed(text).unwrap();
        assert_eq!(got.len(), 384);
        let c = cosine(&got, &want);
        worst = worst.min(c);
        assert!(c >= 0.9999, "{text:?}: cosine {c}");
    }
    eprintln!("worst cosine vs onnxruntime: {worst}");
    // A padded batch gives the same vectors as single calls.
    let texts: Vec<&str> = sentences
        .iter()
        .take(6)
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let batch = model.embed_batch(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (text, v) in texts.iter().zip(&batch) {
        let single = model.embed(text).unwrap();
        let c = cosine(&single, v);
        assert!(c >= 0.99999, "batched {text:?}: cosine {c}");
    }
}

#[test]
fn a_changed_model_file_is_refused() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    for f in ["model-int8.onnx", "tokenizer.json"] {
        std::fs::copy(
            root.join("models/all-MiniLM-L6-v2").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("SHA256SUMS"),
        "0000000000000000000000000000000000000000000000000000000000000000  model-int8.onnx\n",
    )
    .unwrap();
    let err = EmbeddingModel::load(dir.path())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("does not match"), "{err}");
}

/// The repository root of the checkout under test. Cargo sets `CARGO_MANIFEST_DIR` when it runs
/// tests; the value compiled in may name another checkout that shared the build directory.
fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("../..")
}
