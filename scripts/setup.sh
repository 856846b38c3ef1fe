#!/usr/bin/env bash
# Create .venv and install anypix with its dev tools. Safe to re-run: each step is skipped
# when what it installs is already there.
#
# Order matters:
#   1. torch==2.13.0 first, so nothing later pulls a different torch. On this machine kind pip's
#      config finds the local CPU wheel; on a CUDA machine the same pin resolves to PyPI's CUDA
#      build. Set TORCH_SPEC / TORCH_PIP_ARGS to choose another build (e.g. a CPU-only index).
#   2. llama-cpp-python built from source with explicit CPU flags: the default native build
#      crashes on CPUs with AMX, so we turn native detection off and enable only the instruction
#      sets /proc/cpuinfo reports (a machine without AVX-512 still gets a working build).
#   3. the package itself, editable, with the extras in ANYPIX_EXTRAS (default: dev,ray -- the
#      tests run batches on a local Ray cluster).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
python=${PYTHON:-python3}
extras=${ANYPIX_EXTRAS:-dev,ray}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
llama_spec=${LLAMA_CPP_SPEC:-llama-cpp-python==0.3.36}

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip wheel setuptools >/dev/null

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "==> installing $torch_spec"
  # shellcheck disable=SC2086
  "${pip[@]}" install "$torch_spec" ${TORCH_PIP_ARGS:-}
fi

cpu_flags() {
  local flags="-DGGML_NATIVE=OFF"
  local have
  have=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
  for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512_vnni:AVX512_VNNI; do
    local cpu=${pair%%:*} ggml=${pair##*:}
    if grep -qw "$cpu" <<<"$have"; then flags+=" -DGGML_$ggml=ON"; else flags+=" -DGGML_$ggml=OFF"; fi
  done
  echo "$flags"
}

if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  if [ "$(uname -m)" = "x86_64" ] && [ -z "${CMAKE_ARGS:-}" ]; then
    CMAKE_ARGS=$(cpu_flags)
    export CMAKE_ARGS
  fi
  echo "==> building $llama_spec from source (a few minutes; CMAKE_ARGS=${CMAKE_ARGS:-default})"
  "${pip[@]}" install --no-cache-dir "$llama_spec"
fi

echo "==> installing anypix[$extras]"
"${pip[@]}" install --quiet -e "$here[$extras]"
echo "==> ready: $venv"
