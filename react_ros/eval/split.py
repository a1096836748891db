"""
The inputs of a split as the REACT metrics score them; prediction files and Oracle draws.

Inputs are the clip pairs of `load_dataset(DATA, SPLIT).pairs`, in the order `react-ros eval
--list` prints. Each is scored over its whole length; one longer than `segment_frames`
(default 750: a REACT 2024 clip) is scored as ceil(L / segment_frames) consecutive segments of
near-equal length that cover it, each an input of the metrics. That bounds the O(T^2) DTW of
FRDist on 20,000-frame MARS clips; a long clip weighs as many inputs as it has segments.

Prediction file: a float .npy array (N, K, T, 25) — for each of the N inputs, K reaction
samples of the 25 REACT attributes (react_ros.spec.ATTRIBUTE_NAMES order), T at least the
longest input's length. Frames of input i past its own length are ignored (`react-ros predict`
pads them by repeating the last frame).

Oracle draws (`react-ros synth --oracle K`): one float .npy (K, T, 25) per input's speaker
clip, T at least the input's length, K fresh draws of the corpus's listener rules; the
caller's locate function says where (react_ros.data.synth.oracle_path).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from react_ros.eval.metrics import Scores
from react_ros.spec import NUM_ATTRIBUTES

DEFAULT_SEGMENT_FRAMES = 750


def segment_bounds(length: int, segment_frames: int = DEFAULT_SEGMENT_FRAMES) -> list:
    """Return (start, stop) of ceil(length / segment_frames) near-equal segments covering it."""
    if segment_frames < 1:
        raise ValueError(f'segment_frames must be at least 1, got {segment_frames}')
    count = -(-length // segment_frames)
    # Integer edges: lengths differ by at most one frame and none exceeds segment_frames.
    edges = [step * length // count for step in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


@dataclass
class EvaluationInputs:
    """A split's inputs, whole, and the segments of them the metrics score."""

    speaker_ids: list  # per input: the speaker clip id
    mirrored: list  # per input: the recording's listener plays the speaker
    speakers: list  # per input (L_i, 25)
    appropriate: list  # per input (M_i, L_i, 25)
    segment_frames: int = DEFAULT_SEGMENT_FRAMES
    segments: list = field(init=False)  # (input, start, stop) per scored sequence

    def __post_init__(self):
        self.segments = [(index, start, stop) for index, speaker in enumerate(self.speakers)
                         for start, stop in segment_bounds(len(speaker), self.segment_frames)]

    @property
    def lengths(self) -> list:
        """Return the frames of each input."""
        return [len(speaker) for speaker in self.speakers]

    def cut(self, sequences, name: str = 'predictions') -> list:
        """
        Return the scored segments of per-input sequences: one array per segment.

        sequences holds one (..., T_i, C) array per input (or is one array, inputs first),
        T_i at least the input's length; frames past it are ignored.
        """
        if len(sequences) != len(self.speakers):
            raise ValueError(f'{name} hold {len(sequences)} inputs, the split {len(self)}')
        for index, (sequence, length) in enumerate(zip(sequences, self.lengths)):
            if np.shape(sequence)[-2] < length:
                raise ValueError(f'{name}[{index}] has {np.shape(sequence)[-2]} frames; input '
                                 f'{index} ({self.speaker_ids[index]}) has {length}')
        return [sequences[index][..., start:stop, :] for index, start, stop in self.segments]

    def directions(self) -> dict:
        """Return the segments of forward and of mirrored inputs, when there are both."""
        units = {'forward': [], 'mirrored': []}
        for unit, (index, _, _) in enumerate(self.segments):
            units['mirrored' if self.mirrored[index] else 'forward'].append(unit)
        return units if all(units.values()) else {}

    def score(self, predictions, official: bool = False, fps: float = 30.0,
              dtw_workers=None) -> Scores:
        """Return the Scores of per-input predictions (K, T_i >= L_i, 25) over the segments."""
        return Scores(self.cut(predictions), self.cut(self.appropriate, 'appropriate'),
                      self.cut(self.speakers, 'speakers'), official, fps, dtw_workers)

    def __len__(self) -> int:
        """Return the number of inputs."""
        return len(self.speakers)


def evaluation_inputs(dataset, segment_frames: int = DEFAULT_SEGMENT_FRAMES) -> EvaluationInputs:
    """Return the inputs of a loaded split (react_ros.data.dataset), whole, and their segments."""
    pairs = dataset.pairs
    return EvaluationInputs([pair.speaker_id for pair in pairs],
                            [pair.mirrored for pair in pairs],
                            [pair.speaker_attributes for pair in pairs],
                            [dataset.appropriate(index).attributes for index in range(len(pairs))],
                            segment_frames)


def load_predictions(path: Path, lengths: list) -> list:
    """Read a prediction file (N, K, T, 25); return each input cut to its length (K, L_i, 25)."""
    predictions = np.load(path)
    longest = max(lengths)
    if (predictions.ndim != 4 or predictions.shape[0] != len(lengths)
            or predictions.shape[3] != NUM_ATTRIBUTES):
        raise ValueError(f'{path}: predictions must be (N={len(lengths)}, K, T>={longest}, '
                         f'{NUM_ATTRIBUTES}), got {predictions.shape}')
    if predictions.shape[2] < longest:
        raise ValueError(f'{path}: predictions have {predictions.shape[2]} frames; the longest '
                         f'input has {longest}')
    cut = [samples[:, :length] for samples, length in zip(predictions, lengths)]
    if not all(np.isfinite(samples).all() for samples in cut):
        raise ValueError(f'{path}: predictions contain NaN or inf')
    return cut


def load_oracle(inputs: EvaluationInputs, locate) -> list:
    """
    Return the Oracle draws of every input, cut to its length (K, L_i, 25), or None.

    locate(speaker_clip_id) gives an input's file. None when no input has one; raises
    FileNotFoundError naming the first missing file when only some have one, ValueError for
    a file of the wrong shape.
    """
    paths = [Path(locate(clip_id)) for clip_id in inputs.speaker_ids]
    present = [path.is_file() for path in paths]
    if not any(present):
        return None
    if not all(present):
        index = present.index(False)
        direction = ', mirrored' if inputs.mirrored[index] else ''
        raise FileNotFoundError(f'{paths[index]}: no Oracle draws for input {index} '
                                f'({inputs.speaker_ids[index]}{direction}), though '
                                f'{sum(present)} of {len(paths)} inputs have them')
    draws = []
    for path, length in zip(paths, inputs.lengths):
        values = np.load(path)
        if values.ndim != 3 or values.shape[1] < length or values.shape[2] != NUM_ATTRIBUTES:
            raise ValueError(f'{path}: Oracle draws must be (K, T>={length}, '
                             f'{NUM_ATTRIBUTES}), got {values.shape}')
        draws.append(values[:, :length])
    return draws
