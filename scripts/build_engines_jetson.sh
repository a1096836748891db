#!/usr/bin/env bash
# Build the TensorRT engines of a react_ros model on a Jetson (JetPack 6, TensorRT 10), the
# same steps as `react-ros export` + `react-ros engines build|verify` on any other machine.
#
# Usage: scripts/build_engines_jetson.sh [CKPT] [ENGINES_DIR] [PRECISION]
#   CKPT         model checkpoint (default: models/reaction_synth.pt)
#   ENGINES_DIR  its export folder (default: engines/<checkpoint name>)
#   PRECISION    auto | fp16 | fp32 (default: auto = fp16 where the GPU is fast at it)
#
# Run it from the package root, or from a colcon workspace after `source install/setup.bash`
# with the paths of the installed share folder. The ONNX export runs on the CPU (it needs
# torch, which JetPack's PyTorch wheel provides); the plans are built on the Jetson's GPU and
# are valid only there (engines/NAME/tensorrt/*.plan, with the key they were built for).
set -euo pipefail

ckpt="${1:-models/reaction_synth.pt}"
name="$(basename "${ckpt%.*}")"
engines="${2:-engines/$name}"
precision="${3:-auto}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import tensorrt' 2>/dev/null; then
    echo "error: the tensorrt Python module is missing. On JetPack: sudo apt install" \
         "python3-libnvinfer (and use the system python3, or a venv made with" \
         "--system-site-packages)." >&2
    exit 1
fi
"$python" -c 'import tensorrt, torch; print(f"TensorRT {tensorrt.__version__}, CUDA GPU:",
    torch.cuda.get_device_name() if torch.cuda.is_available() else "NONE")'

react_ros=("$python" -m react_ros.cli)
if [[ ! -f "$engines/manifest.json" ]]; then
    echo "== exporting $ckpt to $engines"
    "${react_ros[@]}" export --ckpt "$ckpt" --out "$engines"
fi
echo "== building TensorRT plans ($precision) in $engines/tensorrt"
"${react_ros[@]}" engines build --engines "$engines" --precision "$precision"
echo "== verifying"
"${react_ros[@]}" engines verify --engines "$engines" --ckpt "$ckpt"
echo "done: run the node with backend:=tensorrt (or auto) and engines_dir:=$engines"
