"""
Reader of the REACT 2024 layout (NoXI + RECOLA, 25 fps, 751-frame clips).

Pairs come from the split's pair list ({split}.csv); a clip path such as
'NoXI/010_2016-03-25_Paris/Expert_video/1' names Emotion/<path>.csv, 3D_FV_files/<path>.npy and
Audio_files/<path>.wav. With `mirror`, the samples are ordered as upstream orders them for
val/test: the N listed pairs, then the same N with speaker and listener swapped. The
appropriateness matrix neighbour_emotion_{split}.npy is (2N, 2N) in that order: a 1 at [k, j]
makes the listener of sample j an appropriate reaction to the speaker of sample k.
"""

import csv
import logging
from pathlib import Path

import numpy as np
from react_ros.data import layout as paths
from react_ros.data.plan import ClipSource, DatasetFormatError, DatasetPlan, PairSource

LOGGER = logging.getLogger(__name__)


def data_dir(root, split: str) -> Path:
    """Return the folder holding {split}.csv and {split}/ (ROOT/data or ROOT), or None."""
    root = Path(root)
    for candidate in (root / paths.REACT2024_DATA, root):
        if ((candidate / split / paths.REACT2024_EMOTION).is_dir()
                or (candidate / f'{split}.csv').is_file()):
            return candidate
    return None


def looks_like(root, split: str) -> bool:
    """Return whether root holds this split in the REACT 2024 layout."""
    return data_dir(root, split) is not None


def read_pair_list(path) -> list:
    """Read a pair list CSV (header naming speaker_path, listener_path) as (speaker, listener)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, 'missing pair list')
    with open(path, newline='') as stream:
        rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    header = [name.strip() for name in rows[0]] if rows else []
    missing = [name for name in paths.REACT2024_PAIR_COLUMNS if name not in header]
    if missing:
        raise DatasetFormatError(path, f'header {rows[0] if rows else []} lacks the column(s) '
                                       f'{", ".join(missing)}')
    columns = [header.index(name) for name in paths.REACT2024_PAIR_COLUMNS]
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(columns):
            raise DatasetFormatError(path, f'line {line} has {len(row)} fields, expected at '
                                           f'least {max(columns) + 1}')
        speaker, listener = (row[column].strip().strip('/') for column in columns)
        if not speaker or not listener:
            raise DatasetFormatError(path, f'line {line} has an empty clip path')
        pairs.append((speaker, listener))
    if not pairs:
        raise DatasetFormatError(path, 'no pairs listed')
    return pairs


def emotion_path(split_dir: Path, clip: str) -> Path:
    """
    Return the Emotion CSV of a clip path.

    Some releases name the Emotion person folders P1/P2 where the other modalities use
    Expert_video/Novice_video (NoXI) or P25/P26... (RECOLA); the alias is used when only it
    exists.
    """
    direct = split_dir / paths.REACT2024_EMOTION / f'{clip}{paths.CSV_SUFFIX}'
    parts = clip.split('/')
    aliases = paths.REACT2024_EMOTION_PERSON_ALIASES.get(parts[0], {})
    if direct.is_file() or len(parts) < 3 or parts[-2] not in aliases:
        return direct
    aliased = '/'.join(parts[:-2] + [aliases[parts[-2]], parts[-1]])
    alias = split_dir / paths.REACT2024_EMOTION / f'{aliased}{paths.CSV_SUFFIX}'
    return alias if alias.is_file() else direct


def read_neighbour_matrix(path: Path, pair_count: int) -> np.ndarray:
    """Read the appropriateness matrix: (2N, 2N), or (N, N) for unmirrored samples; bool."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DatasetFormatError(path, f'cannot read as .npy ({error})')
    if matrix.shape not in ((2 * pair_count,) * 2, (pair_count,) * 2):
        raise DatasetFormatError(path, f'shape {matrix.shape}, expected ({2 * pair_count}, '
                                       f'{2 * pair_count}) for the {pair_count} listed pairs')
    return matrix > 0


def plan(root, split: str, mirror: bool = True) -> DatasetPlan:
    """Find the clips, pairs and appropriate reactions of one split."""
    base = data_dir(root, split)
    if base is None:
        raise FileNotFoundError(f'{root}: no REACT 2024 {split!r} split (looked for '
                                f'{paths.REACT2024_DATA}/{split}.csv and {split}.csv)')
    pair_list = base / f'{split}.csv'
    listed = read_pair_list(pair_list)
    count = len(listed)
    # Sample k: its speaker and listener; samples N..2N-1 are the mirrored pairs.
    samples = listed + [(listener, speaker) for speaker, listener in listed]
    matrix_path = base / paths.REACT2024_NEIGHBOURS.format(split=split)
    matrix = read_neighbour_matrix(matrix_path, count) if matrix_path.is_file() else None
    if matrix is None:
        LOGGER.info('%s: no %s; each speaker clip has its own listener as the only appropriate '
                    'reaction', base, matrix_path.name)
    pairs = []
    for index, (speaker, listener) in enumerate(samples[:2 * count if mirror else count]):
        neighbours = () if matrix is None or index >= len(matrix) else tuple(
            samples[column][1] for column in np.flatnonzero(matrix[index]))
        pairs.append(PairSource(speaker, listener, index >= count, index, neighbours))
    split_dir = base / split
    has_mm = (split_dir / paths.REACT2024_3DMM).is_dir()
    speakers = {pair.speaker for pair in pairs}
    clips = []
    for clip in dict.fromkeys(clip for pair in pairs for clip in (pair.speaker, pair.listener)):
        coefficients = split_dir / paths.REACT2024_3DMM / f'{clip}{paths.COEFFICIENT_SUFFIX}'
        audio = split_dir / paths.REACT2024_AUDIO / f'{clip}{paths.AUDIO_SUFFIX}'
        clips.append(ClipSource(clip, emotion_path(split_dir, clip),
                                coefficients if has_mm else None,
                                audio if clip in speakers else None))
    return DatasetPlan('react2024', split, base, paths.REACT2024_FPS, clips, pairs)
