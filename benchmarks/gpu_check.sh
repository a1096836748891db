#!/usr/bin/env bash
# GPU check of the torch backend and training (benchmarks/gpu_check.py), sized for a lent GPU
# machine: under 5 minutes, PyTorch with CUDA only (no TensorRT, no ONNX Runtime GPU).
#
# The GPU image lacks a few pure-Python dependencies of react_ros; fetch them here first, once:
#     benchmarks/gpu_wheels.sh            # -> .whl/ (ignored by git)
# then run, with the device tool: command `benchmarks/gpu_check.sh`, carry [".whl"],
# timeout_s 420. The table lands in $OUT/gpu_check.md (here: /tmp/gpu_check/gpu_check.md).
# Any arguments go to gpu_check.py (for example --device cpu to check the logic on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/react_gpu_site .whl/*.whl
    export PYTHONPATH=/tmp/react_gpu_site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
timeout 280 "$PYTHON" benchmarks/gpu_check.py --out "$OUT/gpu_check.md" "$@"
