"""
`react-ros engines build|list|verify`: manage exported graphs and their TensorRT plans.

    react-ros engines build  --engines engines/NAME [--precision auto|fp16|fp32] [--opt-k 10]
    react-ros engines list   [--engines engines/]      every export below, with its plans
    react-ros engines verify --engines engines/NAME [--ckpt CKPT] [--frames 60]

build needs TensorRT and a GPU; list and verify run anywhere. verify checks the manifest
hashes (and the checkpoint's), each plan's key against this machine when TensorRT is present,
and runs a short online sequence on ONNX Runtime against PyTorch when a checkpoint is given.
"""

import argparse
from pathlib import Path

import numpy as np
from react_ros.backends import Availability
from react_ros.backends.engine_cache import (
    cache_decision, DEFAULT_OPT_BATCH, engine_key, plan_paths, profile_shapes, read_key)
from react_ros.backends.graphs import GRAPH_NAMES
from react_ros.backends.manifest import file_sha256, Manifest, MANIFEST_FILE, StaleExportError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `react-ros engines` subcommands."""
    actions = parser.add_subparsers(dest='action', required=True)
    build = actions.add_parser('build', help='build (or reuse) TensorRT plans of an export')
    build.add_argument('--engines', required=True, help='export folder (has manifest.json)')
    build.add_argument('--precision', choices=('auto', 'fp16', 'fp32'), default='auto')
    build.add_argument('--opt-k', type=int, default=DEFAULT_OPT_BATCH,
                       help='k the profiles are optimised for (all of 1..16 run)')
    listing = actions.add_parser('list', help='list exports and their plans')
    listing.add_argument('--engines', default='engines', help='an export folder or a parent')
    verify = actions.add_parser('verify', help='check an export (and its plans)')
    verify.add_argument('--engines', required=True, help='export folder (has manifest.json)')
    verify.add_argument('--ckpt', default=None, help='the checkpoint it should serve')
    verify.add_argument('--frames', type=int, default=60,
                        help='frames of the ONNX Runtime vs PyTorch check (needs --ckpt)')


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
    from react_ros.backends.tensorrt_backend import gpu_identity, import_tensorrt
    return gpu_identity(import_tensorrt())


def run_list(root: Path) -> int:
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
    from react_ros.backends import GraphGenerator
    from react_ros.backends.onnxruntime_backend import OnnxRuntimeRunner
    from react_ros.model.generator import ReactionGenerator

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


def run_verify(folder: Path, checkpoint, frames: int) -> int:
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


def run_build(folder: Path, precision: str, opt_batch: int) -> int:
    """Build or reuse the TensorRT plans of an export folder."""
    from react_ros.backends.tensorrt_backend import ensure_engines
    try:
        manifest = Manifest.load(folder)
        manifest.verify()
        ensure_engines(manifest, precision, opt_batch)
    except (ImportError, RuntimeError, StaleExportError) as error:
        print(f'react-ros engines build: {error}')
        return 1
    return run_list(folder)


def run_engines(args) -> int:
    """Run `react-ros engines ACTION`; return the exit status."""
    folder = Path(args.engines)
    if args.action == 'list':
        return run_list(folder)
    if args.action == 'verify':
        return run_verify(folder, args.ckpt, args.frames)
    return run_build(folder, args.precision, args.opt_k)
