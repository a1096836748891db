"""
Exported graphs and their TensorRT plans, reported: what `react-ros engines` runs.

build_plans needs TensorRT and a GPU; list_exports and verify_export run anywhere. Each prints
its report and returns an exit code. verify checks the manifest
hashes (and the checkpoint's), each plan's key against this machine when TensorRT is present,
and runs a short online sequence on ONNX Runtime against PyTorch when a checkpoint is given.
"""

from pathlib import Path

import numpy as np
from react_ros.backends.engine_cache import (
    cache_decision, DEFAULT_OPT_BATCH, engine_key, plan_paths, profile_shapes, read_key)
from react_ros.backends.graphs import GRAPH_NAMES
from react_ros.backends.loader import GraphGenerator
from react_ros.backends.manifest import file_sha256, Manifest, MANIFEST_FILE, StaleExportError
from react_ros.backends.onnxruntime_backend import OnnxRuntimeRunner
from react_ros.backends.selection import Availability
from react_ros.backends.tensorrt_backend import ensure_engines, gpu_identity, import_tensorrt
from react_ros.model.generator import ReactionGenerator


def _export_folders(root: Path) -> list:
    if (root / MANIFEST_FILE).exists():
        return [root]
    return sorted(path.parent for path in root.glob(f'*/{MANIFEST_FILE}'))


def _plan_rows(manifest: Manifest, gpu=None, opt_batch: int = DEFAULT_OPT_BATCH) -> list:
    """
    Return (text, stale) per graph plan: precision, GPU, TensorRT, and its state.

    stale is True when this machine's TensorRT (gpu given) would rebuild the plan.
    """
    rows = []
    for name in GRAPH_NAMES:
        plan, key_file = plan_paths(manifest, name)
        if not plan.exists():
            rows.append((f'    {name}: no TensorRT plan', False))
            continue
        key = read_key(key_file).get('key', {})
        state, stale = 'unknown here (TensorRT not importable)', False
        if gpu is not None:
            wanted = engine_key(manifest.graph(name), gpu, key.get('precision', 'fp32'),
                                profile_shapes(manifest.graph(name), opt_batch))
            decision = cache_decision(plan, key_file, wanted)
            state, stale = decision.reason, not decision.use
        rows.append((f'    {name}: {key.get("precision", "?")} plan for '
                     f'{key.get("gpu_name", "?")} (sm {key.get("compute_capability", "?")}, '
                     f'TensorRT {key.get("tensorrt_version", "?")}): {state}', stale))
    return rows


def _gpu_or_none(available: Availability):
    if not (available.tensorrt and available.cuda):
        return None
    return gpu_identity(import_tensorrt())


def list_exports(root: Path) -> int:
    """Print every export under root and its plans."""
    folders = _export_folders(root)
    if not folders:
        print(f'no exports under {root} (react-ros export --ckpt CKPT --out {root}/NAME)')
        return 1
    gpu = _gpu_or_none(Availability.probe())
    for folder in folders:
        try:
            manifest = Manifest.load(folder)
        except StaleExportError as error:
            print(f'{folder}: unusable: {error}')
            continue
        print(f'{folder}: {manifest.checkpoint} (sha256 {manifest.checkpoint_sha256[:12]}), '
              f'opset {manifest.data["opset"]}, {manifest.sampling_steps} DDIM steps, '
              f'k 1..{manifest.data["max_batch"]}')
        for text, _ in _plan_rows(manifest, gpu):
            print(text)
    return 0


def _online_agreement(checkpoint, manifest: Manifest, frames: int, k: int = 4) -> tuple:
    """Return (frames with identical tokens, max abs difference) of ORT vs PyTorch streams."""
    reference = ReactionGenerator.from_checkpoint(checkpoint).stream(k, seed=0)
    candidate = GraphGenerator(OnnxRuntimeRunner(manifest), manifest).stream(k, seed=0)
    config = manifest.config
    rng = np.random.default_rng(0)
    same, worst = 0, 0.0
    for frame in range(frames):
        audio = rng.normal(size=config.audio_dim).astype(np.float32)
        visual = rng.normal(size=config.visual_dim).astype(np.float32)
        present = frame % 5 != 4
        difference = np.abs(reference.step(audio, visual, present)
                            - candidate.step(audio, visual, present)).max()
        worst = max(worst, float(difference))
        same += bool((reference.last_tokens == candidate.last_tokens).all())
    return same, worst


def verify_export(folder: Path, checkpoint, frames: int) -> int:
    """Check an export folder; return 0 when everything checked is valid."""
    try:
        manifest = Manifest.load(folder)
        manifest.verify(file_sha256(checkpoint) if checkpoint else None)
    except (StaleExportError, FileNotFoundError) as error:
        print(f'FAIL {error}')
        return 1
    print(f'ok   {folder}: all {len(GRAPH_NAMES)} graphs match their manifest hashes'
          + (f' and {checkpoint}' if checkpoint else ''))
    failed = False
    available = Availability.probe()
    gpu = _gpu_or_none(available)
    for text, stale in _plan_rows(manifest, gpu):
        print(text)
        failed |= stale
    if checkpoint and frames > 0 and not available.onnxruntime:
        print('skip ONNX Runtime vs PyTorch check: onnxruntime is not installed')
    elif checkpoint and frames > 0:
        same, worst = _online_agreement(checkpoint, manifest, frames)
        status = 'ok  ' if same == frames else 'FAIL'
        print(f'{status} ONNX Runtime vs PyTorch, {frames} online frames, k=4: tokens equal on '
              f'{same}/{frames} frames, max abs difference {worst:.1e}')
        failed |= same != frames
    return 1 if failed else 0


def build_plans(folder: Path, precision: str, opt_batch: int) -> int:
    """Build or reuse the TensorRT plans of an export folder."""
    try:
        manifest = Manifest.load(folder)
        manifest.verify()
        ensure_engines(manifest, precision, opt_batch)
    except (ImportError, RuntimeError, StaleExportError) as error:
        print(f'react-ros engines build: {error}')
        return 1
    return list_exports(folder)
