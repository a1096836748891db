"""
A checkpoint on a backend behind the ReactionGenerator interface.

`load_generator(checkpoint, backend)` returns an object with the ReactionGenerator interface
(`config`, `stream(k, seed)`, `generate(...)`) running on the chosen backend, and the
BackendChoice (react_ros.backends.selection) that says which one and why. ONNX Runtime and
TensorRT run the checkpoint's exported step graphs (exported on first use when needed).
"""

from pathlib import Path

import numpy as np
from react_ros.backends.export import export_checkpoint
from react_ros.backends.graph_stream import GraphStream
from react_ros.backends.manifest import file_sha256, Manifest, MANIFEST_FILE, StaleExportError
from react_ros.backends.onnxruntime_backend import OnnxRuntimeRunner
from react_ros.backends.selection import Availability, BackendChoice, choose_backend
from react_ros.backends.tensorrt_backend import TensorRTRunner
from react_ros.model.generator import check_sequence_inputs, ReactionGenerator
from react_ros.resources import DEFAULT_MODEL, DEFAULT_MODEL_EXPORT, package_file
import torch

CACHE_ROOT = Path.home() / '.cache' / 'react_ros' / 'engines'
UNTRAINED = 'untrained'  # a model_path that asks for fresh networks (tests of the plumbing)


class GraphGenerator:
    """The ReactionGenerator interface over the exported step graphs (ONNX Runtime, TensorRT)."""

    def __init__(self, runner, manifest: Manifest):
        self.config = manifest.config
        self.provenance = manifest.data.get('provenance', {})  # the checkpoint's
        self.manifest = manifest
        self.runner = runner

    def stream(self, k: int = 10, seed: int = 0, sampling_steps: int = None):
        """Start an online reaction with k samples (the exported number of DDIM steps)."""
        steps = self.manifest.sampling_steps
        if sampling_steps not in (None, steps):
            raise ValueError(f'these graphs were exported with {steps} DDIM steps, not '
                             f'{sampling_steps}; export again with --sampling-steps')
        if not 1 <= k <= self.manifest.data['max_batch']:
            raise ValueError(f'k must be in 1..{self.manifest.data["max_batch"]} for the '
                             f'exported graphs, got {k}')
        return GraphStream(self.runner, self.config, k, seed)

    def generate(self, audio_features, visual_features, visual_mask=None, k: int = 10,
                 seed: int = 0, online: bool = True, sampling_steps: int = None) -> np.ndarray:
        """
        Return k reactions (k, T, 83) float32, as ReactionGenerator.generate.

        The graphs are the streaming step only, so offline runs the same frame by frame
        (what the PyTorch offline path computes too, up to float rounding).
        """
        audio, visual, mask = check_sequence_inputs(self.config, audio_features,
                                                    visual_features, visual_mask)
        stream = self.stream(k, seed, sampling_steps)
        return np.stack([stream.step(audio[t], visual[t], bool(mask[t]))
                         for t in range(audio.shape[0])], axis=1)


def default_export_folder(checkpoint, checkpoint_hash: str) -> Path:
    """Return where the export of a checkpoint goes when no folder is given."""
    return CACHE_ROOT / f'{Path(checkpoint).stem}-{checkpoint_hash[:12]}'


def ensure_export(checkpoint, folder=None, log=print) -> Manifest:
    """
    Return the verified export of a checkpoint, exporting it first if needed.

    folder None: the per-checkpoint cache folder, which react_ros owns, so a missing or
    outdated export there is (re)written. A given folder is exported into only when it has
    no manifest; one holding an export of another checkpoint, an older export format, or
    files changed after export is refused (StaleExportError), never overwritten.
    """
    checkpoint_hash = file_sha256(checkpoint)
    owned = folder is None
    folder = default_export_folder(checkpoint, checkpoint_hash) if owned else Path(folder)
    try:
        manifest = Manifest.load(folder)
        manifest.verify(checkpoint_hash)
        return manifest
    except StaleExportError as error:
        outdated = (folder / MANIFEST_FILE).exists()
        if outdated and not owned:
            raise
        reason = error if outdated else 'none there yet'
        log(f'exporting {checkpoint} to ONNX in {folder} (about 20 s): {reason}')
        return export_checkpoint(checkpoint, folder, force=owned, log=log)


def load_generator(checkpoint, backend: str = 'auto', export_folder=None, threads: int = 1,
                   precision: str = 'auto', available: Availability = None, log=print) -> tuple:
    """
    Return (generator, BackendChoice) for a checkpoint on a backend.

    export_folder: the checkpoint's ONNX export (default: a per-checkpoint folder under
    ~/.cache/react_ros/engines, exported on first use). threads: CPU threads of the torch
    and ONNX Runtime backends. precision: TensorRT 'auto' (fp16 when fast), 'fp16', 'fp32'.
    """
    available = available or Availability.probe()
    choice = choose_backend(backend, available)
    log(f'backend: {choice.name} ({choice.reason})')
    if choice.name == 'torch':
        torch.set_num_threads(threads)
        device = 'cuda' if available.cuda else 'cpu'
        log(f'PyTorch device: {device}')
        return ReactionGenerator.from_checkpoint(checkpoint, device=device), choice
    manifest = ensure_export(checkpoint, export_folder, log)
    if choice.name == 'onnxruntime':
        runner = OnnxRuntimeRunner(manifest, threads)
        log(f'ONNX Runtime providers: {", ".join(runner.providers)}')
    else:
        runner = TensorRTRunner(manifest, precision, log=log)
    return GraphGenerator(runner, manifest), choice


def load_model(model_path: str, backend: str = 'auto', export_folder=None, threads: int = 1,
               precision: str = 'auto', log=print, warn=print) -> tuple:
    """
    Return (generator, BackendChoice) for a node's model_path, as load_generator does.

    model_path '': the package's default model (models/reaction_synth.pt) with its shipped
    export (engines/reaction_synth) unless export_folder says otherwise; 'untrained': fresh,
    untrained networks on PyTorch (warned: their reactions carry no meaning).
    """
    if model_path == UNTRAINED:
        if backend not in ('auto', 'torch'):
            raise ValueError(f"model_path '{UNTRAINED}' runs on the torch backend only (no "
                             f'checkpoint to export), not {backend!r}')
        warn(f'model_path is "{UNTRAINED}": running fresh, UNTRAINED reaction networks on '
             'PyTorch; their reactions carry no meaning')
        return ReactionGenerator.untrained(), BackendChoice('torch', 'untrained networks')
    if not model_path:
        model_path = package_file('models', DEFAULT_MODEL)
        export_folder = export_folder or package_file('engines', DEFAULT_MODEL_EXPORT)
    log(f'reaction model: {model_path}')
    return load_generator(model_path, backend, export_folder, threads, precision, log=log)
