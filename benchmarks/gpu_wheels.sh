#!/usr/bin/env bash
# Fetch the pure-Python wheels react_ros needs that the lent GPU machine's image lacks (its
# python3 is 3.12 with torch, numpy, scipy, opencv, tqdm...; see benchmarks/gpu_check.sh),
# pinned as in requirements.txt / the project's environment, into .whl/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .whl \
    vector-quantize-pytorch==1.32.0 diffusers==0.42.1 einx==0.4.3 loguru==0.7.3 \
    torch-einops-utils==0.2.0 frozendict==2.5.1 importlib_metadata==10.2.0 lazy-importer==0.1.0
ls .whl
