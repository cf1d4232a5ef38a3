#!/usr/bin/env bash
# Installs llama.cpp's Python binding (llama-cpp-python, built from its source package with
# the machine's compiler, CPU only, tuned for this CPU) into a virtual environment, for
# bench-inference's side-by-side rows and the tokenizer reference in crates/inference.
#
#   bash benches/scripts/install-llama-cpp.sh [VENV]      # default: target/llama-cpp-venv
#   cargo run --release -p tact-benches --bin bench-inference -- --llama-cpp VENV/bin/python
set -euo pipefail
venv="${1:-$(dirname "$0")/../../target/llama-cpp-venv}"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The AVX2 / AVX-512 (VNNI) kernels this CPU has, chosen from /proc/cpuinfo. Not
# GGML_NATIVE: on a Sapphire Rapids VM its AMX path segfaulted in the first llama_decode
# (seen with llama-cpp-python 0.3.36), so AMX stays off.
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { [[ " $flags " == *" $1 "* ]] && echo ON || echo OFF; }
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=$(has avx) -DGGML_AVX2=$(has avx2) -DGGML_FMA=$(has fma) -DGGML_F16C=$(has f16c) \
  -DGGML_AVX512=$(has avx512f) -DGGML_AVX512_VNNI=$(has avx512_vnni) -DGGML_AVX512_BF16=$(has avx512_bf16) \
  -DGGML_AVX512_VBMI=$(has avx512vbmi) -DGGML_AVX_VNNI=$(has avx_vnni) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
  -DGGML_OPENMP=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  "$venv/bin/python" -m pip install --quiet --no-cache-dir "llama-cpp-python==$version"
"$venv/bin/python" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
