"""Sentences/s of sentence-transformers on the sentences given as a JSON list on stdin.

Used by bench-retrieval: python st_throughput.py <model dir>. Batch 1 runs the first 128
sentences one at a time; batch 32 runs all of them in batches of 32.
"""
import json
import sys
import time

from sentence_transformers import SentenceTransformer

model = SentenceTransformer(sys.argv[1], device="cpu")
sentences = json.load(sys.stdin)
model.encode(sentences[:32], batch_size=32)  # warm-up
start = time.perf_counter()
for s in sentences[:128]:
    model.encode([s], batch_size=1)
batch1 = 128 / (time.perf_counter() - start)
start = time.perf_counter()
model.encode(sentences, batch_size=32)
batch32 = len(sentences) / (time.perf_counter() - start)
print(json.dumps({"batch1": batch1, "batch32": batch32}))
