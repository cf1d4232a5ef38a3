#!/usr/bin/env python3
"""llama.cpp's side of bench-inference: the same GGUF, the same prompt tokens, the same threads.

Run by bench-inference with the interpreter of a venv made by install-llama-cpp.sh:

    python llama_cpp_bench.py MODEL.gguf THREADS NEW_TOKENS PROMPTS.json

PROMPTS.json is a list of {"tokens": [...], "sequences": N} (tact's own encoding of each
prompt, so both engines process exactly the same tokens). For each: N sequences in one
context, each with its own KV cells (llama.cpp's parallel decoding, as its `batched` example
does): each sequence's prompt is prefilled with one `llama_decode`, then NEW_TOKENS are decoded
greedily, one batch of N tokens (one per sequence) per `llama_decode`, ignoring end of text.
Each is run twice (the first warms caches and pages) and the second is reported: one JSON
object per line with prompt tokens, sequences, prefill and decode seconds; then the peak RSS.
"""
import ctypes
import json
import sys
import time

import numpy as np
import llama_cpp as L


# Kept alive for the process: llama.cpp calls it for every log line.
QUIET = L.llama_log_callback(lambda level, text, data: None)


def run(model, vocab_size, threads, prompt, sequences, new_tokens):
    params = L.llama_context_default_params()
    params.n_ctx = sequences * (len(prompt) + new_tokens + 16)
    params.n_batch = max(512, len(prompt), sequences)
    params.n_ubatch = min(512, params.n_batch)
    params.n_seq_max = sequences
    params.n_threads = threads
    params.n_threads_batch = threads
    ctx = L.llama_init_from_model(model, params)
    if not ctx:
        raise SystemExit("llama_init_from_model failed")
    batch = L.llama_batch_init(max(len(prompt), sequences), 0, 1)

    def logits_of(i):
        ptr = L.llama_get_logits_ith(ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(vocab_size,))

    def decode(n):
        batch.n_tokens = n
        rc = L.llama_decode(ctx, batch)
        if rc != 0:
            raise SystemExit(f"llama_decode returned {rc}")

    t0 = time.perf_counter()
    tokens = []
    for s in range(sequences):
        for i, t in enumerate(prompt):
            batch.token[i] = t
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = s
            batch.logits[i] = i == len(prompt) - 1
        decode(len(prompt))
        tokens.append(int(np.argmax(logits_of(len(prompt) - 1))))
    t1 = time.perf_counter()
    for step in range(new_tokens):
        for s in range(sequences):
            batch.token[s] = tokens[s]
            batch.pos[s] = len(prompt) + step
            batch.n_seq_id[s] = 1
            batch.seq_id[s][0] = s
            batch.logits[s] = True
        decode(sequences)
        tokens = [int(np.argmax(logits_of(s))) for s in range(sequences)]
    t2 = time.perf_counter()
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    return t1 - t0, t2 - t1


def peak_rss_kib():
    # VmHWM, reset at start: getrusage's ru_maxrss survives execve and would report the
    # parent bench's own peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    model_path, threads, new_tokens, prompts_file = sys.argv[1:5]
    threads, new_tokens = int(threads), int(new_tokens)
    prompts = json.load(open(prompts_file))
    L.llama_backend_init()
    L.llama_log_set(QUIET, ctypes.c_void_p(0))
    model = L.llama_model_load_from_file(model_path.encode(), L.llama_model_default_params())
    if not model:
        raise SystemExit(f"could not load {model_path}")
    vocab_size = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    for p in prompts:
        for _ in range(2):
            prefill, decode = run(model, vocab_size, threads, p["tokens"], p["sequences"], new_tokens)
        print(json.dumps({"prompt_tokens": len(p["tokens"]), "sequences": p["sequences"],
                          "prefill_s": prefill, "decode_s": decode, "new_tokens": new_tokens}),
              flush=True)
    L.llama_model_free(model)
    print(json.dumps({"peak_rss_kib": peak_rss_kib()}))


if __name__ == "__main__":
    main()
