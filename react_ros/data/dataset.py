"""
The in-memory form of a REACT dataset, shared by the REACT 2024 and REACT 2025 (MARS) readers.

A reader turns its folder layout into a `DatasetPlan` (react_ros.data.plan; which files make
which clip, which clips pair up, which listener clips are appropriate reactions;
react_ros.data.readers picks the reader); `build_dataset` loads the plan into a
`ReactDataset`. Every clip keeps its dataset's native frame rate unless `fps` asks for another
one. Files that are missing or unreadable are skipped and listed in `ReactDataset.skipped` with
the reason; the clip pairs that need them are left out. `load_dataset` is the entry point.

The speaker inputs come from one of two sources (`speaker_features`):

- 'annotations': audio features computed here from the WAV (sequence_audio_features), visual
  input from the dataset's speaker annotations (react_ros.data.speaker.speaker_visual), a face
  on every frame;
- 'extracted': what `react-ros features` cached for each speaker clip (react_ros.data.
  feature_cache, written by react_ros.data.feature_extraction): the audio perception the
  robot runs live and, for a dataset with speaker videos, the visual perception of the video,
  whose frames without a trustworthy face have speaker_present False. The cache must be at
  the frame rate the dataset is loaded at (it is not resampled: run `react-ros features --fps
  F` for another rate); a speaker clip without an up-to-date cache entry is an error naming
  the command to run;
- 'auto': 'extracted' when every speaker clip has an up-to-date cache entry, else
  'annotations'; `ReactDataset.speaker_features` says which was used.

A `ReactDataset` is a torch Dataset of whole sequences (for evaluation); `windows()` gives a
torch Dataset of fixed-length windows (for training). Both yield dicts of tensors:

    speaker_visual (T, D)       25 attributes + 3 head rotation (+ 55 other 3DMM channels)
    speaker_visual_mask (D,)    False for channels the dataset lacks (rotation without 3DMM)
    speaker_present (T,)        False on frames without a trustworthy speaker face (extracted
                                from video) and on padded frames
    speaker_audio (T, 41)       audio features at the frame times
    listener (T, 83)            25 attributes + 58 3DMM, spec.CHANNEL_NAMES order
    listener_mask (83,)         False for the 3DMM channels when the dataset has no 3DMM
    listener_clip_mean (83,)    the listener's mean frame over the whole pair (its persona)
    valid (T,)                  False on frames padded past the end of a short sequence
    pair_index, start           where the window comes from
"""

from concurrent.futures import ProcessPoolExecutor
import csv
from dataclasses import dataclass, replace
import functools
import logging
from pathlib import Path
import re

import numpy as np
from react_ros import spec
from react_ros.data import feature_cache, readers
from react_ros.data import layout as paths
from react_ros.data.clip_store import store_arrays
from react_ros.data.plan import (ClipSource, DatasetFormatError, DatasetPlan, SkippedFile,
                                 SPEAKER_FEATURES)
from react_ros.data.speaker import MM_ROTATION, speaker_audio, speaker_visual
from scipy.io import wavfile
import torch
from torch.utils.data import Dataset

LOGGER = logging.getLogger(__name__)


class SpeakerFeaturesError(ValueError):
    """Extracted speaker features that are missing, out of date or unusable for this load."""


# ---------------------------------------------------------------------------------------------
# File readers


def _column_key(name: str) -> str:
    return re.sub(r'[^a-z0-9]', '', name.strip().lower())


def _attribute_column_keys() -> dict:
    """Map accepted header names (normalised) to attribute channels."""
    keys = {}
    for channel, names in enumerate(zip(spec.ATTRIBUTE_NAMES, paths.REACT_ATTRIBUTE_COLUMNS)):
        for name in names:
            keys[_column_key(name)] = channel
    for channel, number in enumerate(spec.AU_NUMBERS):
        keys[f'au{number:02d}'] = channel
    return keys


_ATTRIBUTE_COLUMN_KEYS = _attribute_column_keys()


def _require_file(path: Path):
    if not path.is_file():
        raise DatasetFormatError(path, 'missing file')


def read_attribute_csv(path) -> np.ndarray:
    """
    Read a facial attribute CSV (a header row, then one row of 25 values per frame).

    Columns are matched by name (REACT names such as 'AU1', 'valence', 'Happy', or the spec
    names such as 'expr_happy'), in any order; a leading unnamed index column is ignored.
    Returns (T, 25) float32 in spec.ATTRIBUTE_NAMES order.
    """
    path = Path(path)
    _require_file(path)
    with open(path, newline='') as stream:
        rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetFormatError(path, 'empty file; expected a header row naming the 25 '
                                       'attribute columns')
    header = rows[0]
    positions = {}  # attribute channel -> CSV column
    for position, name in enumerate(header):
        key = _column_key(name)
        if not key and position == 0:
            continue
        if key not in _ATTRIBUTE_COLUMN_KEYS:
            raise DatasetFormatError(
                path, f'unknown column {name!r} (column {position + 1} of the header); the '
                      f'columns must be {", ".join(paths.REACT_ATTRIBUTE_COLUMNS)}')
        channel = _ATTRIBUTE_COLUMN_KEYS[key]
        if channel in positions:
            raise DatasetFormatError(path, f'column {name!r} repeats attribute '
                                           f'{paths.REACT_ATTRIBUTE_COLUMNS[channel]!r}')
        positions[channel] = position
    missing = [paths.REACT_ATTRIBUTE_COLUMNS[channel] for channel in range(spec.NUM_ATTRIBUTES)
               if channel not in positions]
    if missing:
        raise DatasetFormatError(path, f'missing column(s) {", ".join(missing)}')
    body = rows[1:]
    if not body:
        raise DatasetFormatError(path, 'no data rows after the header')
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DatasetFormatError(path, f'line {line} has {len(row)} fields, the header has '
                                           f'{len(header)}')
    order = [positions[channel] for channel in range(spec.NUM_ATTRIBUTES)]
    cells = np.array(body)[:, order]
    try:
        return cells.astype(np.float32)
    except ValueError:
        for line, row in enumerate(cells, start=2):
            for channel, cell in enumerate(row):
                try:
                    float(cell)
                except ValueError:
                    raise DatasetFormatError(
                        path, f'line {line}, column {header[order[channel]]!r}: {cell!r} is not '
                              f'a number')
        raise


def _read_npy(path: Path, width: int, what: str) -> np.ndarray:
    _require_file(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DatasetFormatError(path, f'cannot read as .npy ({error})')
    squeezed = np.squeeze(array)
    if squeezed.ndim != 2 or squeezed.shape[1] != width or not np.issubdtype(
            squeezed.dtype, np.number):
        raise DatasetFormatError(path, f'expected (frames, {width}) numbers ({what}), got '
                                       f'{array.dtype} {array.shape}')
    return squeezed.astype(np.float32)


def read_attributes(path) -> np.ndarray:
    """Read a facial attribute file, .csv (with header) or .npy; returns (T, 25) float32."""
    path = Path(path)
    if path.suffix.lower() == paths.CSV_SUFFIX:
        return read_attribute_csv(path)
    return _read_npy(path, spec.NUM_ATTRIBUTES, 'facial attributes')


def read_coefficients(path) -> np.ndarray:
    """Read a 3DMM coefficient .npy, (T, 58) or (T, 1, 58); returns (T, 58) float32."""
    return _read_npy(Path(path), spec.NUM_MM, '3DMM coefficients')


def read_wav(path) -> tuple:
    """Read a WAV file as mono float32 in [-1, 1] (channels averaged); returns (audio, rate)."""
    path = Path(path)
    _require_file(path)
    try:
        rate, samples = wavfile.read(path)
    except (OSError, ValueError, EOFError) as error:
        raise DatasetFormatError(path, f'cannot read as WAV ({error})')
    if samples.dtype == np.uint8:
        audio = (samples.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(samples.dtype, np.integer):
        audio = samples.astype(np.float32) / float(-np.iinfo(samples.dtype).min)
    else:
        audio = samples.astype(np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.size == 0:
        raise DatasetFormatError(path, 'no audio samples')
    return audio, int(rate)


def resample_frames(frames: np.ndarray, source_fps: float, target_fps: float,
                    nearest: slice = None) -> np.ndarray:
    """
    Resample per-frame values (T, C) from one frame rate to another.

    Linear interpolation between neighbouring frames; channels in `nearest` take the nearest
    frame instead (AU occurrences stay 0/1). Frame 0 stays at time 0.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if source_fps == target_fps:
        return frames
    count = int(np.floor((len(frames) - 1) * target_fps / source_fps + 1e-6)) + 1
    position = np.arange(count) * (source_fps / target_fps)  # in source frames
    low = np.minimum(np.floor(position).astype(np.int64), len(frames) - 1)
    high = np.minimum(low + 1, len(frames) - 1)
    weight = (position - low)[:, None].astype(np.float32)
    resampled = frames[low] * (1.0 - weight) + frames[high] * weight
    if nearest is not None:
        closest = np.minimum(np.rint(position).astype(np.int64), len(frames) - 1)
        resampled[:, nearest] = frames[closest][:, nearest]
    return resampled


def frame_mask(has_mm: bool) -> np.ndarray:
    """Return the (83,) mask of the frame channels a clip has (3DMM ones only with 3DMM)."""
    mask = np.ones(spec.NUM_CHANNELS, bool)
    mask[spec.NUM_ATTRIBUTES:] = has_mm
    return mask


def compose_frame(attributes: np.ndarray, mm: np.ndarray = None) -> tuple:
    """Return the (T, 83) frames of attributes + 3DMM and the (83,) mask of present channels."""
    has_mm = mm is not None
    if not has_mm:
        mm = np.zeros((len(attributes), spec.NUM_MM), np.float32)
    return np.concatenate([attributes, mm], axis=1).astype(np.float32), frame_mask(has_mm)


# ---------------------------------------------------------------------------------------------
# Records

# The per-frame arrays a dataset store (react_ros.data.clip_store) keeps on disk.
CLIP_ARRAYS = ('attributes', 'mm', 'audio')
FEATURE_ARRAYS = ('frame_times', 'audio', 'voice_active', 'pitch_hz', 'visual',
                  'visual_present')


@dataclass
class Clip:
    """One person's recording: attributes (T, 25), 3DMM (T, 58) or None, audio features."""

    clip_id: str
    fps: float
    attributes: np.ndarray
    mm: np.ndarray = None
    audio: np.ndarray = None  # (T, 41); None for a clip that is never a speaker
    # The `react-ros features` ClipFeatures of a speaker clip; None: inputs from annotations.
    extracted: object = None

    @property
    def length(self) -> int:
        """Return the number of frames."""
        return len(self.attributes)


@dataclass
class ClipPair:
    """A speaker clip and the listener clip recorded with it, cut to their common length."""

    index: int
    speaker: Clip
    listener: Clip
    length: int
    mirrored: bool  # the recording's listener plays the speaker here
    source_index: int  # position in the upstream sample order (the neighbour matrix rows)
    appropriate_ids: tuple  # listener clip ids of the appropriate reactions, own listener first

    @property
    def fps(self) -> float:
        """Return the frame rate of both clips."""
        return self.speaker.fps

    @property
    def speaker_id(self) -> str:
        """Return the speaker clip id."""
        return self.speaker.clip_id

    @property
    def listener_id(self) -> str:
        """Return the listener clip id."""
        return self.listener.clip_id

    @property
    def speaker_attributes(self) -> np.ndarray:
        """Return the speaker's (T, 25) facial attributes."""
        return self.speaker.attributes[:self.length]

    @property
    def speaker_mm(self) -> np.ndarray:
        """Return the speaker's (T, 58) 3DMM coefficients, or None."""
        return None if self.speaker.mm is None else self.speaker.mm[:self.length]

    @property
    def speaker_rotation(self) -> np.ndarray:
        """Return the speaker's (T, 3) head rotation (zeros without 3DMM)."""
        if self.speaker.mm is None:
            return np.zeros((self.length, 3), np.float32)
        return self.speaker.mm[:self.length, MM_ROTATION]

    @property
    def speaker_audio(self) -> np.ndarray:
        """Return the speaker's (T, 41) audio features."""
        return self.speaker.audio[:self.length]

    @property
    def listener_attributes(self) -> np.ndarray:
        """Return the listener's (T, 25) facial attributes."""
        return self.listener.attributes[:self.length]

    @property
    def listener_mm(self) -> np.ndarray:
        """Return the listener's (T, 58) 3DMM coefficients, or None."""
        return None if self.listener.mm is None else self.listener.mm[:self.length]

    @property
    def listener_frame(self) -> np.ndarray:
        """Return the listener's (T, 83) frames (3DMM channels zero when missing)."""
        return compose_frame(self.listener_attributes, self.listener_mm)[0]

    @functools.cached_property
    def listener_clip_mean(self) -> np.ndarray:
        """Return the listener's (83,) mean frame over the pair (read once, then kept)."""
        return self.listener_frame.mean(axis=0)

    @property
    def listener_mask(self) -> np.ndarray:
        """Return the (83,) mask of the listener channels the dataset has."""
        return frame_mask(self.listener.mm is not None)

    @property
    def speaker_present(self) -> np.ndarray:
        """Return (T,) bool: frames with a trustworthy speaker face (all, for annotations)."""
        return self.speaker_present_between(0, self.length)

    def speaker_present_between(self, start: int, stop: int) -> np.ndarray:
        """Return speaker_present of frames [start, stop) (stop at most the pair's length)."""
        if self.speaker.extracted is None:
            return np.ones(stop - start, bool)
        return self.speaker.extracted.visual_present[start:stop]

    def speaker_visual(self, include_mm: bool = False, start: int = 0,
                       stop: int = None) -> tuple:
        """Return the speaker visual input of frames [start, stop) (T, D) and its (D,) mask."""
        stop = self.length if stop is None else min(stop, self.length)
        extracted = self.speaker.extracted
        if extracted is None:
            # Sliced from the clip itself (stop <= length): a stored clip reads these frames.
            mm = self.speaker.mm
            return speaker_visual(self.speaker.attributes[start:stop],
                                  None if mm is None else mm[start:stop], include_mm)
        if include_mm:
            raise SpeakerFeaturesError(
                f'{self.speaker_id}: extracted speaker features have the '
                f'{spec.SPEAKER_VISUAL_DIM} visual channels only; the other 3DMM channels '
                f'(include_mm) need speaker_features=annotations')
        return extracted.visual[start:stop], extracted.visual_mask


@dataclass
class AppropriateReactions:
    """The appropriate listener reactions to one speaker clip, cut or padded to its length."""

    clip_ids: tuple
    frames: np.ndarray  # (M, T, 83)
    valid: np.ndarray  # (M, T) bool: False past the end of a shorter reaction (zero padded)
    masks: np.ndarray  # (M, 83) bool: channels each reaction has

    @property
    def attributes(self) -> np.ndarray:
        """Return the (M, T, 25) facial attributes."""
        return self.frames[..., :spec.NUM_ATTRIBUTES]


# ---------------------------------------------------------------------------------------------
# Plans and loading


def load_clip(source: ClipSource, native_fps: float, fps: float,
              length_tolerance_s: float) -> Clip:
    """
    Load one clip's files and compute its audio features; raise DatasetFormatError if unusable.

    Attributes and 3DMM are cut to their common length when they differ by at most
    `length_tolerance_s`; the audio must cover the frames up to that tolerance.
    """
    attributes = read_attributes(source.attributes)
    mm = None if source.coefficients is None else read_coefficients(source.coefficients)
    tolerance = int(round(length_tolerance_s * native_fps))
    length = len(attributes)
    if mm is not None:
        if abs(len(mm) - len(attributes)) > tolerance:
            raise DatasetFormatError(
                source.coefficients, f'{len(mm)} frames, but {source.attributes.name} has '
                                     f'{len(attributes)} (tolerance {tolerance})')
        length = min(length, len(mm))
        mm = mm[:length]
    attributes = attributes[:length]
    for path, array in ((source.attributes, attributes), (source.coefficients, mm)):
        if array is not None and not np.isfinite(array).all():
            bad_row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise DatasetFormatError(path, f'non-finite value in frame {bad_row}')
    attributes = resample_frames(attributes, native_fps, fps, nearest=spec.AU_SLICE)
    if mm is not None:
        mm = resample_frames(mm, native_fps, fps)
    audio = None
    if source.audio is not None:
        samples, rate = read_wav(source.audio)
        needed = (length - 1) / native_fps
        if len(samples) / rate < needed - length_tolerance_s:
            raise DatasetFormatError(source.audio, f'{len(samples) / rate:.2f} s of audio, the '
                                                   f'{length} frames need {needed:.2f} s')
        audio = speaker_audio(samples, rate, len(attributes), fps)
    return Clip(source.clip_id, fps, attributes, mm, audio)


def _extracted_features(plan: DatasetPlan, fps: float, features_root: Path,
                        store: Path = None) -> tuple:
    """
    Return the cached features of the plan's speaker clips, and why the others have none.

    Returns ({clip id: ClipFeatures}, {clip id: problem}) over the clips with audio; with a
    store their arrays are on disk there.
    """
    found, problems = {}, {}
    for source in plan.clips:
        if source.audio is None:
            continue
        files = feature_cache.source_files(source, readers.clip_video(plan, source.clip_id))
        features, problem = feature_cache.lookup(
            feature_cache.cache_path(features_root, plan.split, source.clip_id), files, fps)
        if features is None:
            problems[source.clip_id] = problem
        elif store is not None:
            found[source.clip_id] = store_arrays(features, FEATURE_ARRAYS, store / 'features',
                                                 source.clip_id)
        else:
            found[source.clip_id] = features
    return found, problems


def _features_command(plan: DatasetPlan, fps: float, features_root: Path) -> str:
    """Return the command that extracts a plan's speaker features at fps."""
    rate = '' if fps == plan.fps else f' --fps {fps:g}'
    return f'react-ros features --data {features_root} --split {plan.split}{rate}'


def _features_problem(plan: DatasetPlan, fps: float, features_root: Path,
                      problems: dict) -> str:
    """Return one message on the speaker clips without usable extracted features."""
    listed = '; '.join(f'{clip_id}: {problem}' for clip_id, problem
                       in list(problems.items())[:3])
    more = f' (+{len(problems) - 3} more)' if len(problems) > 3 else ''
    return (f'{features_root} split {plan.split}: {len(problems)} speaker clip(s) without '
            f'up-to-date extracted features ({listed}{more}); run '
            f'`{_features_command(plan, fps, features_root)}`')


def _choose_speaker_features(plan: DatasetPlan, fps: float, speaker_features: str,
                             include_mm: bool, features_root: Path, store: Path = None) -> tuple:
    """
    Return the source of the speaker inputs ('annotations' or 'extracted') and the cache.

    Returns (source, {clip id: ClipFeatures}, ids of speaker clips never extracted). Those
    clips are only allowed when they turn out unusable (the extractor skipped them too).
    """
    if speaker_features not in SPEAKER_FEATURES:
        raise ValueError(f'unknown speaker_features {speaker_features!r}; choose from '
                         f'{", ".join(SPEAKER_FEATURES)}')
    if speaker_features == 'annotations':
        return 'annotations', {}, ()
    if include_mm:
        if speaker_features == 'extracted':
            raise SpeakerFeaturesError(
                f'extracted speaker features have the {spec.SPEAKER_VISUAL_DIM} visual '
                f'channels only; include_mm needs speaker_features=annotations')
        LOGGER.info('speaker features: annotations (include_mm needs the 3DMM annotations)')
        return 'annotations', {}, ()
    found, problems = _extracted_features(plan, fps, features_root, store)
    if speaker_features == 'extracted':
        unextracted = tuple(clip_id for clip_id, problem in problems.items()
                            if problem == feature_cache.NOT_EXTRACTED)
        if not found or len(unextracted) < len(problems):
            raise SpeakerFeaturesError(_features_problem(plan, fps, features_root, problems))
        return 'extracted', found, unextracted
    if found and not problems:
        LOGGER.info('speaker features: extracted (%d clips of %s split %s)', len(found),
                    features_root, plan.split)
        return 'extracted', found, ()
    if found:
        LOGGER.warning('speaker features: annotations, because %s',
                       _features_problem(plan, fps, features_root, problems))
    else:
        LOGGER.info('speaker features: annotations (none extracted; `%s` extracts them)',
                    _features_command(plan, fps, features_root))
    return 'annotations', {}, ()


def _load_or_skip(job: tuple):
    """
    Load a clip, or return the SkippedFile saying why not (picklable, for worker processes).

    job: (ClipSource, native fps, fps, length tolerance, store folder or None); with a store
    the clip's arrays are written there and the clip returned holds DiskArrays.
    """
    *arguments, store = job
    try:
        clip = load_clip(*arguments)
    except DatasetFormatError as error:
        return SkippedFile(error.path, error.reason)
    return clip if store is None else store_arrays(clip, CLIP_ARRAYS, store / 'clips',
                                                   clip.clip_id)


def build_dataset(plan: DatasetPlan, fps: float = None, strict: bool = False,
                  length_tolerance_s: float = 1.0, include_mm: bool = False,
                  workers: int = 0, speaker_features: str = 'annotations',
                  features_root=None, store=None) -> 'ReactDataset':
    """
    Load a plan's clips and pair them.

    fps: frame rate of the loaded data (None: the dataset's own). strict: raise on the first
    unusable file instead of skipping it. length_tolerance_s: how far a clip's modalities, or a
    speaker and its listener, may differ in length before they are rejected (they are cut to
    the shortest). include_mm: speaker visual inputs carry the other 3DMM channels. workers:
    processes that load clips in parallel (0 or 1: this process). speaker_features:
    'annotations', 'extracted' or 'auto' (see the module docstring; SpeakerFeaturesError when
    'extracted' finds no usable cache). features_root: the folder `react-ros features --data`
    was given (None: plan.root). store: a folder to keep the loaded arrays in, read back per
    window (react_ros.data.clip_store; None: in memory).
    """
    fps = plan.fps if fps is None else float(fps)
    if fps <= 0:
        raise ValueError(f'fps must be positive, got {fps}')
    features_root = plan.root if features_root is None else Path(features_root)
    store = None if store is None else Path(store) / plan.split
    speaker_features, extracted, unextracted = _choose_speaker_features(
        plan, fps, speaker_features, include_mm, features_root, store)
    skipped = list(plan.skipped)
    if strict and skipped:
        raise DatasetFormatError(skipped[0].path, skipped[0].reason)
    sources = {source.clip_id: source for source in plan.clips}
    # Clips with extracted features skip the audio: the cache has it.
    jobs = [(replace(source, audio=None) if source.clip_id in extracted else source, plan.fps,
             fps, length_tolerance_s, store) for source in plan.clips]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_load_or_skip, jobs, chunksize=4))
    else:
        results = map(_load_or_skip, jobs)  # lazy: strict stops at the first bad clip
    clips = {}
    for source, result in zip(plan.clips, results):
        if isinstance(result, SkippedFile):
            if strict:
                raise DatasetFormatError(result.path, result.reason)
            skipped.append(result)
        else:
            clips[source.clip_id] = result
    for clip_id, features in extracted.items():
        clip = clips.get(clip_id)
        if clip is None:
            continue  # the file that failed is already listed
        if len(features.audio) != clip.length:
            raise SpeakerFeaturesError(
                f'{features_root} split {plan.split}: {clip_id} has {clip.length} frames, its '
                f'extracted features {len(features.audio)}; run '
                f'`{_features_command(plan, fps, features_root)} --force`')
        clip.audio, clip.extracted = features.audio, features
    usable = {clip_id: feature_cache.NOT_EXTRACTED for clip_id in unextracted if clip_id in clips}
    if usable:
        raise SpeakerFeaturesError(_features_problem(plan, fps, features_root, usable))
    pairs = []
    tolerance = int(round(length_tolerance_s * fps))
    for pair in plan.pairs:
        speaker, listener = clips.get(pair.speaker), clips.get(pair.listener)
        if speaker is None or listener is None:
            continue  # the file that failed is already listed
        if abs(speaker.length - listener.length) > tolerance:
            error = DatasetFormatError(
                sources[pair.listener].attributes,
                f'{listener.length} frames, but its speaker clip {pair.speaker} has '
                f'{speaker.length} (tolerance {tolerance})')
            if strict:
                raise error
            skipped.append(SkippedFile(error.path, error.reason))
            continue
        appropriate = (pair.listener,) + tuple(dict.fromkeys(
            clip_id for clip_id in pair.appropriate
            if clip_id in clips and clip_id != pair.listener))
        pairs.append(ClipPair(len(pairs), speaker, listener,
                              min(speaker.length, listener.length), pair.mirrored,
                              pair.source_index, appropriate))
    skipped = list(dict.fromkeys(skipped))
    dataset = ReactDataset(plan.layout, plan.split, plan.root, fps, clips, pairs, skipped,
                           include_mm, speaker_features)
    log = LOGGER.warning if skipped else LOGGER.info
    log('%s', dataset.summary())
    return dataset


# ---------------------------------------------------------------------------------------------
# Torch datasets


def _pair_item(pair: ClipPair, start: int, length: int, include_mm: bool) -> dict:
    """Return the tensors of frames [start, start + length) of a pair, zero padded past its end."""
    stop = min(start + length, pair.length)
    visual, visual_mask = pair.speaker_visual(include_mm, start, stop)
    # Sliced from the clips themselves (stop <= pair.length): a stored clip reads these frames.
    listener_mm = pair.listener.mm
    listener, listener_mask = compose_frame(
        pair.listener.attributes[start:stop],
        None if listener_mm is None else listener_mm[start:stop])
    sequences = {'speaker_visual': visual, 'speaker_audio': pair.speaker.audio[start:stop],
                 'speaker_present': pair.speaker_present_between(start, stop),
                 'listener': listener, 'valid': np.ones(stop - start, bool)}
    padding = length - (stop - start)
    item = {name: torch.from_numpy(np.ascontiguousarray(
        np.pad(values, [(0, padding)] + [(0, 0)] * (values.ndim - 1))))
        for name, values in sequences.items()}
    item.update(speaker_visual_mask=torch.tensor(visual_mask),
                listener_mask=torch.from_numpy(listener_mask),
                listener_clip_mean=torch.from_numpy(pair.listener_clip_mean),
                pair_index=torch.tensor(pair.index), start=torch.tensor(start))
    return item


class ReactDataset(Dataset):
    """
    A loaded split: clips, clip pairs, the appropriate reactions of each pair, skipped files.

    As a torch Dataset it yields one whole sequence per pair (see the module docstring).
    speaker_features says where the speaker inputs come from: 'annotations' or 'extracted'.
    """

    def __init__(self, layout: str, split: str, root: Path, fps: float, clips: dict,
                 pairs: list, skipped: list, include_mm: bool = False,
                 speaker_features: str = 'annotations'):
        self.layout = layout
        self.split = split
        self.root = Path(root)
        self.fps = fps
        self.clips = clips
        self.pairs = pairs
        self.skipped = skipped
        self.include_mm = include_mm
        self.speaker_features = speaker_features

    def __len__(self) -> int:
        """Return the number of clip pairs."""
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        """Return the whole sequence of pair `index` as tensors."""
        pair = self.pairs[index]
        return _pair_item(pair, 0, pair.length, self.include_mm)

    def appropriate(self, index: int) -> AppropriateReactions:
        """Return the appropriate listener reactions to pair `index`'s speaker clip."""
        pair = self.pairs[index]
        count = len(pair.appropriate_ids)
        frames = np.zeros((count, pair.length, spec.NUM_CHANNELS), np.float32)
        valid = np.zeros((count, pair.length), bool)
        masks = np.zeros((count, spec.NUM_CHANNELS), bool)
        for row, clip_id in enumerate(pair.appropriate_ids):
            clip = self.clips[clip_id]
            length = min(clip.length, pair.length)
            mm = None if clip.mm is None else clip.mm[:length]
            frames[row, :length], masks[row] = compose_frame(clip.attributes[:length], mm)
            valid[row, :length] = True
        return AppropriateReactions(pair.appropriate_ids, frames, valid, masks)

    def windows(self, length: int, stride: int = None, pad_short: bool = False,
                include_mm: bool = None) -> 'WindowDataset':
        """Return a torch Dataset of `length`-frame windows every `stride` frames (training)."""
        return WindowDataset(self, length, length if stride is None else stride, pad_short,
                             self.include_mm if include_mm is None else include_mm)

    def summary(self) -> str:
        """Return one line on what was loaded and what was skipped."""
        text = (f'{self.layout} {self.split} at {self.root}: {len(self.pairs)} clip pairs from '
                f'{len(self.clips)} clips at {self.fps:g} fps, speaker features from '
                f'{self.speaker_features}')
        if self.skipped:
            listed = '; '.join(f'{item.path}: {item.reason}' for item in self.skipped[:5])
            more = f' (+{len(self.skipped) - 5} more)' if len(self.skipped) > 5 else ''
            text += f'; skipped {len(self.skipped)} file(s): {listed}{more}'
        return text


class WindowDataset(Dataset):
    """Fixed-length windows over the pairs of a ReactDataset, as dicts of tensors."""

    def __init__(self, dataset: ReactDataset, length: int, stride: int, pad_short: bool = False,
                 include_mm: bool = False):
        if length < 1 or stride < 1:
            raise ValueError(f'window length and stride must be >= 1, got {length}, {stride}')
        self.dataset = dataset
        self.length = length
        self.stride = stride
        self.include_mm = include_mm
        self.index = []  # (pair index, start frame)
        for pair in dataset.pairs:
            if pair.length >= length:
                self.index += [(pair.index, start)
                               for start in range(0, pair.length - length + 1, stride)]
            elif pad_short:
                self.index.append((pair.index, 0))

    def __len__(self) -> int:
        """Return the number of windows."""
        return len(self.index)

    def __getitem__(self, index: int) -> dict:
        """Return window `index` as tensors (frames padded past a short pair's end)."""
        pair_index, start = self.index[index]
        return _pair_item(self.dataset.pairs[pair_index], start, self.length, self.include_mm)


def load_dataset(root, split: str, layout: str = 'auto', *, mirror: bool = True,
                 fps: float = None, include_mm: bool = False, strict: bool = False,
                 length_tolerance_s: float = 1.0, workers: int = 0,
                 speaker_features: str = 'annotations', store=None) -> ReactDataset:
    """
    Load one split of a REACT dataset.

    layout: 'react2024', 'mars' (REACT 2025) or 'auto' (from the folders under root).
    mirror: also pair each recording's listener as speaker with its speaker as listener (as the
    upstream loaders do; pairs are ordered forward first, then mirrored). Other options: see
    `build_dataset`.
    """
    plan = readers.plan_dataset(root, split, layout, mirror=mirror)
    return build_dataset(plan, fps=fps, strict=strict, length_tolerance_s=length_tolerance_s,
                         include_mm=include_mm, workers=workers,
                         speaker_features=speaker_features, features_root=root, store=store)
