"""onnxruntime on the same model, texts and machine as `aarmor-bench embed`: the reference the
tract numbers are compared with. Needs: pip install onnxruntime tokenizers numpy.

    python bench/embed_ort.py TEXTS.json [iterations]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "all-MiniLM-L6-v2"


def main():
    texts = json.loads(Path(sys.argv[1]).read_text())
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    for threads in (1, 0):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(MODEL_DIR / "model-int8.onnx"), opts, providers=["CPUExecutionProvider"])
        label = "1thread" if threads == 1 else "allthreads"

        def embed(batch):
            encs = [tok.encode(t) for t in batch]
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, e in enumerate(encs):
                ids[i, :len(e.ids)] = e.ids
                mask[i, :len(e.ids)] = 1
            out = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

        for t in texts:
            for _ in range(5):
                embed([t["text"]])
            times = []
            for _ in range(n):
                s = time.perf_counter()
                embed([t["text"]])
                times.append(time.perf_counter() - s)
            times.sort()
            p50, p99 = times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
            print(f"embed/ort_{label}_single_{t['target_tokens']}tok\ttokens={t['tokens']}\tn={n}\tp50_ms={p50:.2f}\tp99_ms={p99:.2f}")
            rounds = max(n // 4, 10)
            times = []
            for _ in range(rounds):
                s = time.perf_counter()
                embed([t["text"]] * 8)
                times.append(time.perf_counter() - s)
            times.sort()
            p50, p99 = times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
            print(f"embed/ort_{label}_batch8_{t['target_tokens']}tok\ttokens={t['tokens']}\tn={rounds}\tp50_ms={p50:.2f}\tp99_ms={p99:.2f}\tper_text_p50_ms={p50 / 8:.2f}")


if __name__ == "__main__":
    main()
