#!/usr/bin/env bash
# Installs the pinned PyTorch into the venv before the package, choosing the build for this machine:
# a machine with an NVIDIA driver gets PyPI's CUDA build; a CPU-only machine gets the CPU build from
# PyTorch's CPU index (a few hundred MB instead of several GB), falling back to PyPI (or a local
# wheel directory configured for pip) when that index cannot be reached. Override with TORCH_INDEX_URL.
set -u
PY="$1"
VERSION=$(sed -n 's/.*"torch==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
if "$PY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$VERSION' else 1)" 2>/dev/null; then
  exit 0
fi
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  exec "$PY" -m pip install -q "torch==$VERSION" --index-url "$TORCH_INDEX_URL"
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "installing torch==$VERSION (CPU build)"
  "$PY" -m pip install -q "torch==$VERSION" --index-url https://download.pytorch.org/whl/cpu \
    --timeout 20 --retries 1 2>/dev/null && exit 0
fi
echo "installing torch==$VERSION"
exec "$PY" -m pip install -q "torch==$VERSION"
