"""
The TensorRT engine cache: what a plan was built from, and whether it may be used.

A plan is only valid for the exact ONNX file, TensorRT version, GPU (name and compute
capability), precision and optimisation profile it was built with. That key is stored next
to the plan (GRAPH.key.json beside GRAPH.plan, in EXPORT/tensorrt/) together with the plan's
own sha256, so a plan whose key differs is rebuilt and a plan damaged on disk is detected
before TensorRT reads it. Nothing here imports TensorRT: all of it is tested on any machine.
"""

from dataclasses import dataclass
import json
from pathlib import Path

from react_ros.backends.manifest import file_sha256, Manifest, MAX_BATCH

ENGINE_FOLDER = 'tensorrt'
PRECISIONS = ('fp16', 'fp32')
DEFAULT_OPT_BATCH = 10  # k of the REACT protocol; the node's k=1 is inside the profile too


def plan_paths(manifest: Manifest, graph: str) -> tuple:
    """Return (plan, key file) paths of a graph's engine."""
    folder = manifest.folder / ENGINE_FOLDER
    return folder / f'{graph}.plan', folder / f'{graph}.key.json'


def profile_shapes(graph_entry: dict, opt_batch: int = DEFAULT_OPT_BATCH,
                   max_batch: int = MAX_BATCH) -> dict:
    """
    Return {input name: (min, opt, max) shapes} of a graph's optimisation profile.

    The samples' dimension ('k' in the manifest) spans 1..max_batch, optimised for
    opt_batch; every other dimension is fixed (the ring states have a fixed window, so no
    input has a time dimension).
    """
    if not 1 <= opt_batch <= max_batch:
        raise ValueError(f'opt_batch must be in 1..{max_batch}, got {opt_batch}')
    shapes = {}
    for entry in graph_entry['inputs']:
        def with_batch(batch, shape=entry['shape']):
            return tuple(batch if size == 'k' else int(size) for size in shape)
        shapes[entry['name']] = (with_batch(1), with_batch(opt_batch), with_batch(max_batch))
    return shapes


@dataclass(frozen=True)
class GpuIdentity:
    """What a plan is specific to on the hardware side."""

    name: str
    compute_capability: str  # 'major.minor'
    tensorrt_version: str


def engine_key(graph_entry: dict, gpu: GpuIdentity, precision: str,
               profiles: dict) -> dict:
    """Return the cache key of a graph's plan (JSON-compatible)."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    return {
        'onnx_sha256': graph_entry['sha256'],
        'tensorrt_version': gpu.tensorrt_version,
        'gpu_name': gpu.name,
        'compute_capability': gpu.compute_capability,
        'precision': precision,
        'profiles': {name: [list(shape) for shape in shapes]
                     for name, shapes in sorted(profiles.items())},
    }


@dataclass(frozen=True)
class CacheDecision:
    """Whether a cached plan may be used, and why (for the log)."""

    use: bool
    reason: str


def cache_decision(plan: Path, key_file: Path, wanted: dict) -> CacheDecision:
    """Decide whether the plan at `plan` was built for key `wanted` and is intact."""
    if not plan.exists():
        return CacheDecision(False, 'no plan built yet')
    try:
        stored = json.loads(key_file.read_text())
    except FileNotFoundError:
        return CacheDecision(False, f'{key_file.name} is missing: the plan is of unknown origin')
    except json.JSONDecodeError:
        return CacheDecision(False, f'{key_file.name} is corrupt')
    differing = sorted(name for name in wanted if stored.get('key', {}).get(name) != wanted[name])
    if differing:
        return CacheDecision(False, 'built for another ' + ', '.join(differing))
    if stored.get('plan_sha256') != file_sha256(plan):
        return CacheDecision(False, 'the plan file is corrupt (sha256 differs from when built)')
    return CacheDecision(True, 'up to date')


def write_key(plan: Path, key_file: Path, key: dict, build_seconds: float) -> None:
    """Record the key a freshly written plan was built with, and the plan's hash."""
    record = {'key': key, 'plan_sha256': file_sha256(plan),
              'build_seconds': round(build_seconds, 1)}
    temporary = key_file.with_suffix('.tmp')
    temporary.write_text(json.dumps(record, indent=2) + '\n')
    temporary.replace(key_file)


def read_key(key_file: Path) -> dict:
    """Return a stored key record, or {} when it is missing or unreadable."""
    try:
        return json.loads(key_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
