"""
The reference baselines of the REACT papers' tables, as predictions: (K, T_i, 25) per input.

As in the challenge's run_baselines.py (baseline_react2023 and baseline_react2024):
- GT: real reactions as predictions. Official: the input's own listener reaction repeated K
  times; corrected: K reactions drawn from the input's appropriate set, so the K samples
  differ like real reactions do (baseline_react2026's GT_identical draws them too).
- Random: uniform noise. Official: torch.rand, [0, 1] on every channel, valence and arousal
  included; corrected: uniform within each attribute's valid range (spec.CHANNEL_RANGES).
- Mime: the speaker's own attributes, K times.
- MeanSeq: the training mean sequence (frame by frame over the training clips covering each
  frame), cut to each input, K times.
- MeanFr: the training mean frame, repeated over time, K times.
The challenge's MeanSeq and MeanFr average speaker and listener clips of the training set
together; pass train_speakers to include the speakers.
"""

import numpy as np

from react_ros.eval.metrics import check_sequences
from react_ros.spec import CHANNEL_RANGES, NUM_ATTRIBUTES

BASELINE_NAMES = ('GT', 'Random', 'Mime', 'MeanSeq', 'MeanFr')
# MeanSeq: frames fewer training clips reach than this take the mean frame instead.
MEAN_SEQUENCE_MIN_CLIPS = 1


def baseline_predictions(name, speakers, appropriate, train_listeners=None, k=10, seed=0,
                         official=False, train_speakers=None):
    """
    Return the predictions of baseline `name` (one of BASELINE_NAMES): N arrays (K, T_i, 25).

    speakers: N arrays (T_i, 25) (or one (N, T, 25)); appropriate: N arrays (M_i, T_i, 25),
    whose first reaction is the input's own real listener reaction; train_listeners: training
    listener clips (T_s, 25) of any lengths, needed by MeanSeq and MeanFr, with
    train_speakers (T_s', 25) optionally pooled in. seed makes GT and Random reproducible.
    """
    if name not in BASELINE_NAMES:
        raise ValueError(f'unknown baseline {name!r}; baselines are {", ".join(BASELINE_NAMES)}')
    if k < 1:
        raise ValueError(f'k (samples per input) must be at least 1, got {k}')
    speakers = check_sequences(speakers, 'speakers', ('frames',))
    rng = np.random.default_rng(seed)
    if name == 'Mime':
        return [np.repeat(speaker[None], k, axis=0) for speaker in speakers]
    if name == 'Random':
        ranges = CHANNEL_RANGES[:NUM_ATTRIBUTES]
        low, high = (0.0, 1.0) if official else (ranges[:, 0], ranges[:, 1])
        return [rng.uniform(low, high, size=(k, len(speaker), NUM_ATTRIBUTES))
                for speaker in speakers]
    if name == 'GT':
        return _ground_truth(appropriate, speakers, k, rng, official)
    pool = _training_pool(train_listeners, train_speakers)
    frames = max(len(speaker) for speaker in speakers)
    if name == 'MeanFr':
        sequence = np.broadcast_to(np.concatenate(pool).mean(axis=0), (frames, NUM_ATTRIBUTES))
    else:
        sequence = _mean_sequence(pool, frames)  # (frames, 25)
    return [np.broadcast_to(sequence[:len(speaker)], (k, len(speaker), NUM_ATTRIBUTES)).copy()
            for speaker in speakers]


def _mean_sequence(pool, frames):
    """Return (frames, 25): the mean of the clips reaching each frame, else the mean frame."""
    total = np.zeros((frames, NUM_ATTRIBUTES))
    count = np.zeros(frames)
    for clip in pool:
        covered = min(len(clip), frames)
        total[:covered] += clip[:covered]
        count[:covered] += 1
    mean_frame = np.concatenate(pool).mean(axis=0)
    enough = count >= MEAN_SEQUENCE_MIN_CLIPS
    return np.where(enough[:, None], total / np.maximum(count, 1)[:, None], mean_frame)


def _ground_truth(appropriate, speakers, k, rng, official):
    if appropriate is None or len(appropriate) != len(speakers):
        count = 'none' if appropriate is None else len(appropriate)
        raise ValueError(f'GT needs one appropriate set per input ({len(speakers)}), '
                         f'got {count}')
    appropriate = check_sequences(appropriate, 'appropriate', ('reactions', 'frames'))
    predictions = []
    for index, (reactions, speaker) in enumerate(zip(appropriate, speakers)):
        if reactions.shape[1] != len(speaker):
            raise ValueError(f'appropriate[{index}] must hold reactions of {len(speaker)} '
                             f'frames like speakers[{index}], got shape {reactions.shape}')
        if official:
            chosen = np.zeros(k, dtype=int)
        else:
            chosen = rng.choice(len(reactions), size=k, replace=len(reactions) < k)
        predictions.append(reactions[chosen])
    return predictions


def _training_pool(train_listeners, train_speakers):
    """Return the training clips (T_s, 25) MeanSeq and MeanFr average."""
    if train_listeners is None:
        raise ValueError('MeanSeq and MeanFr need train_listeners (training listener clips)')
    pool = check_sequences(train_listeners, 'train_listeners', ('frames',))
    if train_speakers is not None:
        pool += check_sequences(train_speakers, 'train_speakers', ('frames',))
    return pool
