"""
The inputs of a split as the REACT metrics see them, and prediction files checked against them.

Prediction file: a float .npy array (N, K, T, 25) — for each of the N inputs of the split, in
the order `react-ros eval --list` prints (that of `load_dataset(DATA, SPLIT).pairs`), K reaction
samples of T frames of the 25 REACT attributes (react_ros.spec.ATTRIBUTE_NAMES order). Inputs of
different lengths are all cut to the shortest one (the metrics compare sequences frame by frame
across inputs), so T must be at least that length; frames beyond it are ignored.
"""

from pathlib import Path

import numpy as np


def split_length(dataset) -> int:
    """Return the frames every input of a split is cut to for evaluation (the shortest pair)."""
    return min(pair.length for pair in dataset.pairs)


def evaluation_inputs(dataset):
    """Return speakers (N, T, 25) and appropriate reaction sets [(M_i, T, 25)], cut to one T."""
    length = split_length(dataset)
    speakers = np.stack([pair.speaker_attributes[:length] for pair in dataset.pairs])
    appropriate = [dataset.appropriate(i).attributes[:, :length]
                   for i in range(len(dataset.pairs))]
    return speakers, appropriate


def load_predictions(path: Path, n_inputs: int, length: int) -> np.ndarray:
    """Read a prediction file, checking its shape against the split."""
    predictions = np.load(path)
    if predictions.ndim != 4 or predictions.shape[0] != n_inputs or predictions.shape[3] != 25:
        raise ValueError(f'{path}: predictions must be (N={n_inputs}, K, T>={length}, 25), '
                         f'got {predictions.shape}')
    if predictions.shape[2] < length:
        raise ValueError(f'{path}: predictions have {predictions.shape[2]} frames; the split '
                         f'needs at least {length}')
    if not np.isfinite(predictions).all():
        raise ValueError(f'{path}: predictions contain NaN or inf')
    return predictions[:, :, :length]
