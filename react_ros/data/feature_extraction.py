"""
Extract the per-frame speaker features of a dataset, as the robot computes them live.

For every clip that plays the speaker (REACT 2024 or REACT 2025 / MARS layout, react_ros.data
readers) `extract_split` computes, at the dataset's frame rate (or another one):

- audio (T, 41), voice_active (T,), pitch_hz (T,): react_ros.perception.audio on the clip's
  WAV, the same functions the robot runs live;
- visual (T, 28), visual_present (T,): react_ros.perception.visual on the speaker video
  (.mp4, read with OpenCV) when the dataset has one, each frame taking the newest video frame
  at or before it. Without a video - the synthetic corpus has none - the visual features are
  the dataset's own speaker annotations (25 facial attributes + 3DMM head rotation,
  react_ros.data.speaker.speaker_visual) and visual_source says 'annotations'.

Results go to the feature cache (react_ros.data.feature_cache); a clip whose entry is up to
date is re-used unless forced. Clips that share their files (the synthetic corpus hard-links
a session's speaker clips) are computed once per run. `react-ros features` is the command.
"""

from concurrent.futures import ProcessPoolExecutor
import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
import time

import cv2
import numpy as np
from react_ros.data import feature_cache, readers
from react_ros.data.dataset import load_clip, read_wav
from react_ros.data.plan import DatasetFormatError
from react_ros.data.speaker import frame_times, speaker_visual
from react_ros.perception.audio import sequence_audio_perception
from react_ros.perception.visual import VisualPerception
from react_ros.spec import SPEAKER_VISUAL_DIM
from tqdm import tqdm

# How far a clip's audio may fall short of its frames (as the dataset loader allows).
LENGTH_TOLERANCE_S = 1.0


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
                 visual=None) -> feature_cache.ClipFeatures:
    """
    Compute the features of one speaker clip; raise DatasetFormatError if it is unusable.

    source: a react_ros.data.plan.ClipSource with audio; video: its .mp4 or None (then the
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
    return feature_cache.ClipFeatures(times, heard.features, heard.voice_active,
                                      heard.pitch_hz, features.astype(np.float32), present,
                                      mask, visual_source, fps)


def _count(summary: SplitSummary, features: feature_cache.ClipFeatures, fps: float) -> None:
    """Add one clip's features to the summary's totals."""
    summary.frames += len(features.frame_times)
    summary.audio_s += len(features.frame_times) / fps
    summary.voice_frames += int(features.voice_active.sum())
    summary.visual_sources[features.visual_source] = (
        summary.visual_sources.get(features.visual_source, 0) + 1)


class _Extractor:
    """extract_clip on jobs (source, native fps, fps, video), with one VisualPerception."""

    def __init__(self, visual=None):
        self.visual = visual

    def __call__(self, job: tuple):
        """Return the clip's features, or the DatasetFormatError that makes it unusable."""
        if job[3] is not None and self.visual is None:
            self.visual = VisualPerception()  # the face networks load only for videos
        try:
            return extract_clip(*job, self.visual)
        except DatasetFormatError as error:
            return error


# Each worker process's own extractor: its face networks load once per worker (they hold
# ONNX Runtime sessions, which cannot be sent to a process).
_worker_extractor = _Extractor()


def _extract_in_worker(job: tuple):
    """Run a job on this worker process's extractor."""
    return _worker_extractor(job)


def extract_split(root, split: str, layout: str = 'auto', fps: float = None,
                  force: bool = False, progress: bool = True, visual=None,
                  workers: int = 0) -> SplitSummary:
    """
    Extract (or find cached) the features of every speaker clip of one split.

    workers: processes computing clips in parallel (0 or 1: this process, with `visual` if
    given). Only the clips being written are in memory, whatever the split's size.
    """
    start = time.perf_counter()
    root = Path(root)
    plan = readers.plan_dataset(root, split, layout, mirror=True)
    fps = plan.fps if fps is None else float(fps)
    summary = SplitSummary(plan.layout, split, root / feature_cache.CACHE_DIR / split)
    summary.skipped = [(item.path, item.reason) for item in plan.skipped]
    # Clips to compute, by the identities of their files: clips that share their files
    # (hard links) are computed once and written for each.
    pending = {}  # identity -> [(source, video, cache path, key)]
    for source in plan.clips:
        if source.audio is None:
            continue
        files = feature_cache.source_files(source, readers.clip_video(plan, source.clip_id))
        path = feature_cache.cache_path(root, split, source.clip_id)
        try:
            key = feature_cache.cache_key(files, fps)
            identity = tuple((kind, file.stat().st_dev, file.stat().st_ino)
                             for kind, file in sorted(files.items()))
            features = None if force else feature_cache.read_cache(path, key)
        except DatasetFormatError as error:
            summary.skipped.append((error.path, error.reason))
            continue
        if features is not None:
            summary.cached += 1
            _count(summary, features, fps)
        else:
            pending.setdefault(identity, []).append((source, files.get('video'), path, key))
    jobs = [(entries[0][0], plan.fps, fps, entries[0][1]) for entries in pending.values()]
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(workers))
            results = pool.map(_extract_in_worker, jobs)
        else:
            results = map(_Extractor(visual), jobs)
        for entries, result in zip(pending.values(), tqdm(
                results, total=len(jobs), desc=f'features {split}', unit='clip',
                disable=not progress)):
            if isinstance(result, DatasetFormatError):
                summary.skipped += [(result.path, result.reason)] * len(entries)
                continue
            for number, (_, _, path, key) in enumerate(entries):
                feature_cache.write_cache(path, result, key)
                _count(summary, result, fps)
                if number == 0:
                    summary.computed += 1
                else:
                    summary.shared += 1
    summary.elapsed_s = time.perf_counter() - start
    return summary
