"""
Export a checkpoint's step graphs to ONNX, check them, and write the manifest.

`react-ros export --ckpt CKPT --out engines/NAME/` writes encoder_step.onnx,
predictor_step.onnx, decoder_step.onnx, denoiser_sample.onnx (react_ros.backends.graphs) and
manifest.json: every input and output with its shape ('k' for the samples' dimension) and
dtype, each graph's state shape and sha256, the checkpoint's sha256, the model config, the
opset and the exporter versions. Success is reported only after onnx.checker passes and
ONNX Runtime matches PyTorch on random inputs for several k.
"""

from dataclasses import dataclass
import itertools
import json
import logging
from pathlib import Path
import shutil
import tempfile
import time
import warnings

import numpy as np
from react_ros.backends.graphs import build_graphs, GRAPH_NAMES
from react_ros.backends.manifest import (
    file_sha256, FORMAT_VERSION, Manifest, MANIFEST_FILE, MAX_BATCH)
from react_ros.model.generator import ReactionGenerator
import torch
from tqdm import tqdm

OPSET = 18
EXAMPLE_BATCH = 3  # not 1: an example dimension of 1 would be specialised by the exporter
CHECK_BATCHES = (1, 4, MAX_BATCH)
RELATIVE_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """An export that failed a check; the message says which graph and why."""


@dataclass
class GraphSignature:
    """A graph's input and output names, example inputs, and which names carry the k samples."""

    inputs: tuple
    example: tuple
    outputs: tuple
    batched: frozenset


def graph_signature(graph: torch.nn.Module, name: str, config, batch: int,
                    frame: int = 70) -> GraphSignature:
    """
    Return graph `name`'s signature with random example inputs for `batch` samples.

    frame: the stream position (decides which ring slots are filled and written); the
    default lies past the first window, where the ring has wrapped.
    """
    frame = torch.tensor([frame], dtype=torch.long)
    speaker = torch.randn(1, config.d_model)
    if name == 'encoder_step':
        return GraphSignature(
            ('audio', 'visual', 'face_present', 'frame', 'state'),
            (torch.randn(1, config.audio_dim), torch.randn(1, config.visual_dim),
             torch.tensor([True]), frame, torch.randn(graph.state_shape(1))),
            ('speaker', 'new_keys_values'), frozenset())
    tokens = torch.randint(0, config.codebook_size, (batch,))
    state = torch.randn(graph.state_shape(batch))
    personas = ((torch.randn(batch, config.persona_dim),) if config.persona_dim else ())
    if name == 'predictor_step':
        return GraphSignature(
            ('previous_token', 'speaker') + ('persona',) * len(personas) + ('frame', 'state'),
            (tokens, speaker, *personas, frame, state), ('logits', 'new_keys_values'),
            frozenset({'previous_token', 'persona', 'state', 'logits', 'new_keys_values'}))
    if name == 'decoder_step':
        return GraphSignature(('token', 'state'), (tokens, state), ('token_latent', 'state_out'),
                              frozenset({'token', 'state', 'token_latent', 'state_out'}))
    latent = torch.randn(batch, config.latent_dim)
    personas = personas if config.denoiser_sees_persona else ()
    return GraphSignature(
        ('noise', 'token_latent', 'speaker') + ('persona',) * len(personas) + ('frame', 'state'),
        (torch.randn_like(latent), latent, speaker, *personas, frame, state),
        ('listener', 'new_keys_values'),
        frozenset({'noise', 'token_latent', 'persona', 'state', 'listener', 'new_keys_values'}))


def _export_graph(graph, signature: GraphSignature, path: Path) -> None:
    k = torch.export.Dim('k', min=1, max=MAX_BATCH)
    dynamic_shapes = tuple({0: k} if input_name in signature.batched else None
                           for input_name in signature.inputs)
    # The exporter logs every unavailable torchvision operator and warns about tracing
    # internals: noise for these graphs, which are checked below instead.
    exporter_log = logging.getLogger('torch.onnx')
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(graph, signature.example, str(path),
                              input_names=list(signature.inputs),
                              output_names=list(signature.outputs),
                              dynamic_shapes=dynamic_shapes, opset_version=OPSET, dynamo=True,
                              external_data=False, verbose=False)
    finally:
        exporter_log.setLevel(level)


def _io_entries(values, names, batched: set) -> list:
    entries = []
    for name, value in zip(names, values):
        shape = list(value.shape)
        if name in batched:
            shape[0] = 'k'
        entries.append({'name': name, 'shape': shape, 'dtype': str(value.dtype).split('.')[-1]})
    return entries


def compare_with_torch(graph, name: str, config, session, batches=CHECK_BATCHES,
                       frames=(70,)) -> float:
    """
    Return the worst relative error of ONNX Runtime against PyTorch over random inputs.

    Relative to each output's largest magnitude, so near-zero entries do not dominate.
    """
    worst = 0.0
    for batch, frame in itertools.product(batches, frames):
        signature = graph_signature(graph, name, config, batch, frame)
        with torch.inference_mode():
            expected = [value.numpy() for value in graph(*signature.example)]
        got = session.run(None, {input_name: value.numpy() for input_name, value
                                 in zip(signature.inputs, signature.example)})
        for want, have in zip(expected, got):
            if want.shape != have.shape:
                raise ExportError(f'{name}: ONNX Runtime output shape {have.shape} differs '
                                  f'from PyTorch {want.shape} at k={batch}')
            scale = max(float(np.abs(want).max()), 1e-6)
            worst = max(worst, float(np.abs(want - have).max()) / scale)
    return worst


def export_checkpoint(checkpoint, out_dir, sampling_steps: int = None, force: bool = False,
                      log=tqdm.write) -> Manifest:
    """
    Export, check and describe the step graphs of a checkpoint in out_dir.

    An out_dir holding an export of another checkpoint is only replaced with force=True;
    files are written to a temporary folder first, so a failed export leaves out_dir as it
    was.
    """
    import onnx
    import onnxruntime
    import onnxscript

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    checkpoint_hash = file_sha256(checkpoint)
    existing = out_dir / MANIFEST_FILE
    if existing.exists() and not force:
        previous = Manifest.load(out_dir)
        if previous.checkpoint_sha256 != checkpoint_hash:
            raise ExportError(f'{out_dir} holds an export of another checkpoint '
                              f'({previous.checkpoint}); use --force to replace it')
    generator = ReactionGenerator.from_checkpoint(checkpoint)
    config = generator.config
    steps = sampling_steps or config.sampling_steps
    graphs = build_graphs(generator.network, config, steps)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.export-', dir=out_dir))
    entries = {}
    started = time.monotonic()
    try:
        for name in tqdm(GRAPH_NAMES, desc='export', unit='graph'):
            graph, path = graphs[name], staging / f'{name}.onnx'
            signature = graph_signature(graph, name, config, EXAMPLE_BATCH)
            _export_graph(graph, signature, path)
            onnx.checker.check_model(str(path), full_check=True)
            session = onnxruntime.InferenceSession(str(path),
                                                   providers=['CPUExecutionProvider'])
            error = compare_with_torch(graph, name, config, session)
            if not error <= RELATIVE_TOLERANCE:
                raise ExportError(f'{name}: ONNX Runtime differs from PyTorch by {error:.2e} '
                                  f'(relative), more than {RELATIVE_TOLERANCE:.0e}')
            with torch.inference_mode():
                outputs = graph(*signature.example)
            entries[name] = {
                'file': path.name, 'sha256': file_sha256(path),
                'inputs': _io_entries(signature.example, signature.inputs, signature.batched),
                'outputs': _io_entries(outputs, signature.outputs, signature.batched),
                'state_shape': list(graph.state_shape(1)),
                'max_relative_error': error,
            }
            log(f'{name}: checked, ONNX Runtime vs PyTorch relative error {error:.1e}')
        manifest = Manifest({
            'format': 'react_ros.onnx_export', 'format_version': FORMAT_VERSION,
            'checkpoint': str(checkpoint), 'checkpoint_sha256': checkpoint_hash,
            'config': config.to_dict(), 'provenance': generator.provenance,
            'sampling_steps': steps,
            'opset': OPSET, 'max_batch': MAX_BATCH,
            'exporter': {'torch': torch.__version__, 'onnx': onnx.__version__,
                         'onnxscript': onnxscript.__version__,
                         'onnxruntime': onnxruntime.__version__},
            'graphs': entries,
        }, out_dir)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest.data, indent=2) + '\n')
        for name in GRAPH_NAMES:
            (staging / f'{name}.onnx').replace(out_dir / f'{name}.onnx')
        (staging / MANIFEST_FILE).replace(out_dir / MANIFEST_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f'exported {len(GRAPH_NAMES)} graphs to {out_dir} in {time.monotonic() - started:.1f} s')
    return manifest
