"""
Normalisation statistics of the model's inputs, computed from a training split.

Speaker audio features, speaker visual features and listener frames each get a per-channel
mean and standard deviation over the valid frames of the training pairs. Channels a dataset
lacks (its masks say so) keep the identity (mean 0, std 1); standard deviations have a floor so
a nearly constant channel does not blow up. The keys are those of a checkpoint's
'normalisation' entry (react_ros.model.generator), which also applies them at inference.
"""

import numpy as np
from react_ros import spec
from react_ros.model import generator
import torch

# Floors of the standard deviations: a fraction of the channel range for listener frames,
# an absolute value for speaker features.
LISTENER_STD_FLOOR_FRACTION = 0.01
SPEAKER_STD_FLOOR = 1e-3

# Where the generator keeps each statistic: checkpoint key -> (module, buffer).
NORMALISATION_BUFFERS = {key: (module, buffer)
                         for key, module, buffer in generator.NORMALISATION_BUFFERS}


class _RunningMoments:
    """Per-channel sums of values and squares over the frames where a channel is present."""

    def __init__(self, channels: int):
        self.count = np.zeros(channels)
        self.total = np.zeros(channels)
        self.squares = np.zeros(channels)

    def add(self, frames: np.ndarray, present: np.ndarray) -> None:
        """Add frames (T, C) whose channels `present` (C,) bool exist."""
        frames = frames.astype(np.float64)
        self.count += len(frames) * present
        self.total += np.where(present, frames.sum(axis=0), 0.0)
        self.squares += np.where(present, (frames ** 2).sum(axis=0), 0.0)

    def mean_std(self, floor) -> tuple:
        """Return (mean, std) float32; channels never present get (0, 1)."""
        seen = self.count > 0
        count = np.maximum(self.count, 1)
        mean = self.total / count
        variance = np.maximum(self.squares / count - mean ** 2, 0.0)
        std = np.maximum(np.sqrt(variance), floor)
        return (np.where(seen, mean, 0.0).astype(np.float32),
                np.where(seen, std, 1.0).astype(np.float32))


def compute_normalisation(dataset) -> dict:
    """
    Return the statistics of a ReactDataset (its whole pairs) as a dict of float32 tensors.

    Keys: audio_mean/std (A,), visual_mean/std (V,), listener_mean/std (83,).
    """
    if not dataset.pairs:
        raise ValueError(f'{dataset.root} split {dataset.split}: no clip pairs to compute '
                         f'normalisation statistics from')
    audio = visual = None
    listener = _RunningMoments(spec.NUM_CHANNELS)
    for index in range(len(dataset)):
        item = dataset[index]
        if audio is None:
            audio = _RunningMoments(item['speaker_audio'].shape[1])
            visual = _RunningMoments(item['speaker_visual'].shape[1])
        audio.add(item['speaker_audio'].numpy(), np.ones(audio.count.shape, bool))
        # Frames without a trustworthy face hold zeros, not a face: leave them out.
        face = item['speaker_present'].numpy().astype(bool)
        visual.add(item['speaker_visual'].numpy()[face], item['speaker_visual_mask'].numpy())
        listener.add(item['listener'].numpy(), item['listener_mask'].numpy())
    half_range = (spec.CHANNEL_RANGES[:, 1] - spec.CHANNEL_RANGES[:, 0]) / 2
    stats = {}
    for name, moments, floor in (
            ('audio', audio, SPEAKER_STD_FLOOR), ('visual', visual, SPEAKER_STD_FLOOR),
            ('listener', listener, LISTENER_STD_FLOOR_FRACTION * half_range)):
        mean, std = moments.mean_std(floor)
        stats[f'{name}_mean'] = torch.from_numpy(mean)
        stats[f'{name}_std'] = torch.from_numpy(std)
    return stats


def apply_normalisation(network, stats: dict) -> None:
    """Copy statistics into the network's normalisation buffers (shapes are checked)."""
    for key, (module, buffer) in NORMALISATION_BUFFERS.items():
        target = getattr(getattr(network, module), buffer)
        value = torch.as_tensor(stats[key], dtype=target.dtype)
        if value.shape != target.shape:
            raise ValueError(f'normalisation {key} has shape {tuple(value.shape)}, the model '
                             f'needs {tuple(target.shape)}')
        target.copy_(value)


def is_identity(stats: dict) -> bool:
    """Return True when every mean is 0 and every std 1 (an untrained model's statistics)."""
    return all(bool((value == (1.0 if key.endswith('_std') else 0.0)).all())
               for key, value in stats.items())
