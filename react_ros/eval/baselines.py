"""
The reference baselines of the REACT papers' tables, as prediction arrays (N, K, T, 25).

As in the challenge's run_baselines.py (baseline_react2023 and baseline_react2024):
- GT: real reactions as predictions. Official: the input's own listener reaction repeated K
  times; corrected: K reactions drawn from the input's appropriate set, so the K samples
  differ like real reactions do (baseline_react2026's GT_identical draws them too).
- Random: uniform noise. Official: torch.rand, [0, 1] on every channel, valence and arousal
  included; corrected: uniform within each attribute's valid range (spec.CHANNEL_RANGES).
- Mime: the speaker's own attributes, K times.
- MeanSeq: the training mean sequence (frame by frame over the training clips), K times.
- MeanFr: the training mean frame, repeated over time, K times.
The challenge's MeanSeq and MeanFr average speaker and listener clips of the training set
together; pass train_speakers to include the speakers.
"""

import numpy as np

from react_ros.spec import ATTRIBUTE_NAMES, CHANNEL_RANGES, NUM_ATTRIBUTES

BASELINE_NAMES = ('GT', 'Random', 'Mime', 'MeanSeq', 'MeanFr')


def baseline_predictions(name, speakers, appropriate, train_listeners=None, k=10, seed=0,
                         official=False, train_speakers=None):
    """
    Return the predictions (N, K, T, 25) of baseline `name` (one of BASELINE_NAMES).

    speakers (N, T, 25); appropriate: N arrays (M_i, T, 25), whose first reaction is the
    input's own real listener reaction; train_listeners (S, T, 25), needed by MeanSeq and
    MeanFr (T must match for MeanSeq), with train_speakers (S', T, 25) optionally pooled in.
    seed makes GT and Random reproducible.
    """
    if name not in BASELINE_NAMES:
        raise ValueError(f'unknown baseline {name!r}; baselines are {", ".join(BASELINE_NAMES)}')
    if k < 1:
        raise ValueError(f'k (samples per input) must be at least 1, got {k}')
    speakers = _sequences(speakers, 'speakers')
    inputs, frames = speakers.shape[:2]
    rng = np.random.default_rng(seed)
    if name == 'Mime':
        return np.repeat(speakers[:, None], k, axis=1)
    if name == 'Random':
        ranges = CHANNEL_RANGES[:NUM_ATTRIBUTES]
        low, high = (0.0, 1.0) if official else (ranges[:, 0], ranges[:, 1])
        return rng.uniform(low, high, size=(inputs, k, frames, NUM_ATTRIBUTES))
    if name == 'GT':
        return _ground_truth(appropriate, inputs, frames, k, rng, official)
    pool = _training_pool(train_listeners, train_speakers)
    if name == 'MeanFr':
        mean_frame = pool.mean(axis=(0, 1))
        return np.broadcast_to(mean_frame, (inputs, k, frames, NUM_ATTRIBUTES)).copy()
    if pool.shape[1] != frames:
        raise ValueError(f'MeanSeq needs training clips of the test length ({frames} frames), '
                         f'got {pool.shape[1]}')
    mean_sequence = pool.mean(axis=0)
    return np.broadcast_to(mean_sequence, (inputs, k, frames, NUM_ATTRIBUTES)).copy()


def _ground_truth(appropriate, inputs, frames, k, rng, official):
    if appropriate is None or len(appropriate) != inputs:
        count = 'none' if appropriate is None else len(appropriate)
        raise ValueError(f'GT needs one appropriate set per input ({inputs}), got {count}')
    predictions = np.empty((inputs, k, frames, NUM_ATTRIBUTES))
    for index, reactions in enumerate(appropriate):
        reactions = _sequences(reactions, f'appropriate[{index}]')
        if reactions.shape[1] != frames or len(reactions) == 0:
            raise ValueError(f'appropriate[{index}] must hold reactions of {frames} frames, '
                             f'got shape {reactions.shape}')
        if official:
            chosen = np.zeros(k, dtype=int)
        else:
            chosen = rng.choice(len(reactions), size=k, replace=len(reactions) < k)
        predictions[index] = reactions[chosen]
    return predictions


def _training_pool(train_listeners, train_speakers):
    if train_listeners is None:
        raise ValueError('MeanSeq and MeanFr need train_listeners (training listener clips)')
    pool = _sequences(train_listeners, 'train_listeners')
    if train_speakers is not None:
        speakers = _sequences(train_speakers, 'train_speakers')
        if speakers.shape[1] != pool.shape[1]:
            raise ValueError(f'train_speakers have {speakers.shape[1]} frames per clip, '
                             f'train_listeners {pool.shape[1]}')
        pool = np.concatenate([pool, speakers])
    return pool


def _sequences(array, name):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != NUM_ATTRIBUTES:
        raise ValueError(f'{name} must be (clips, frames, {NUM_ATTRIBUTES}) with channels '
                         f'{ATTRIBUTE_NAMES[0]}..{ATTRIBUTE_NAMES[-1]}, got {array.shape}')
    if 0 in array.shape[:2]:
        raise ValueError(f'{name} is empty: shape {array.shape}')
    if not np.all(np.isfinite(array)):
        raise ValueError(f'{name} holds NaN or infinite values')
    return array
