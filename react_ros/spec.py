"""
The one channel layout of the project: what a listener frame is, channel by channel.

A listener frame is 83 numbers: the 25 REACT facial attributes followed by the 58 3DMM
coefficients, in the order below. Every module (data, model, nodes, renderer) indexes frames
through the names and slices defined here.
"""

import numpy as np

FPS = 30.0
AUDIO_SAMPLE_RATE = 16000
# Float audio is nominally in [-1, 1]; clipped or boosted sources overshoot a little, while
# other bytes read as floats (S32LE announced as F32LE) or broken sources reach 1e30 or more,
# which overflows the power spectrum. Samples beyond this peak are rejected, not clipped.
FLOAT_AUDIO_PEAK_LIMIT = 4.0

# The 15 action units REACT scores, as occurrences in [0, 1].
AU_NUMBERS = (1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17, 23, 24, 25, 26)
AU_NAMES = tuple(f'AU{n}' for n in AU_NUMBERS)
AFFECT_NAMES = ('valence', 'arousal')
EXPRESSION_NAMES = ('neutral', 'happy', 'sad', 'surprise', 'fear', 'disgust', 'anger', 'contempt')
EXPRESSION_CHANNELS = tuple(f'expr_{name}' for name in EXPRESSION_NAMES)
ATTRIBUTE_NAMES = AU_NAMES + AFFECT_NAMES + EXPRESSION_CHANNELS

# 3DMM (FaceVerse, as in REACT): 52 expression coefficients, rotation (radians, x=pitch,
# y=yaw, z=roll) and translation.
MM_EXPRESSION_NAMES = tuple(f'exp_{i:02d}' for i in range(52))
ROTATION_NAMES = ('rot_x', 'rot_y', 'rot_z')
TRANSLATION_NAMES = ('trans_x', 'trans_y', 'trans_z')
MM_NAMES = MM_EXPRESSION_NAMES + ROTATION_NAMES + TRANSLATION_NAMES

CHANNEL_NAMES = ATTRIBUTE_NAMES + MM_NAMES
NUM_ATTRIBUTES = len(ATTRIBUTE_NAMES)  # 25
NUM_MM = len(MM_NAMES)  # 58
NUM_CHANNELS = len(CHANNEL_NAMES)  # 83

AU_SLICE = slice(0, 15)
AFFECT_SLICE = slice(15, 17)
EXPRESSION_SLICE = slice(17, 25)
MM_EXPRESSION_SLICE = slice(25, 77)
ROTATION_SLICE = slice(77, 80)
TRANSLATION_SLICE = slice(80, 83)

# Speaker visual input: the 25 attributes + 3 head rotation (what live perception estimates).
SPEAKER_VISUAL_DIM = NUM_ATTRIBUTES + 3


def channel_index(name: str) -> int:
    """Return the position of a channel name in a listener frame."""
    try:
        return CHANNEL_NAMES.index(name)
    except ValueError:
        raise KeyError(f'unknown channel {name!r}; channels are {", ".join(CHANNEL_NAMES)}')


def _channel_ranges() -> np.ndarray:
    low = np.empty(NUM_CHANNELS)
    high = np.empty(NUM_CHANNELS)
    low[AU_SLICE], high[AU_SLICE] = 0.0, 1.0
    low[AFFECT_SLICE], high[AFFECT_SLICE] = -1.0, 1.0
    low[EXPRESSION_SLICE], high[EXPRESSION_SLICE] = 0.0, 1.0
    # Generous bounds on FaceVerse coefficients: the model's output heads stay inside them.
    low[MM_EXPRESSION_SLICE], high[MM_EXPRESSION_SLICE] = -3.0, 3.0
    low[ROTATION_SLICE], high[ROTATION_SLICE] = -np.pi / 2, np.pi / 2
    low[TRANSLATION_SLICE], high[TRANSLATION_SLICE] = -1.0, 1.0
    return np.stack([low, high], axis=1)


# (83, 2): the valid [low, high] of every channel.
CHANNEL_RANGES = _channel_ranges()


def within_range(frame: np.ndarray) -> np.ndarray:
    """Return a boolean mask: which values of (..., 83) frames are finite and in range."""
    frame = np.asarray(frame)
    return (np.isfinite(frame) & (frame >= CHANNEL_RANGES[:, 0])
            & (frame <= CHANNEL_RANGES[:, 1]))


# The neutral face: no action unit, neutral affect, the neutral expression for certain, the
# 3DMM mean shape and a head looking straight ahead. A missing value stands for this.
NEUTRAL_FRAME = np.zeros(NUM_CHANNELS)
NEUTRAL_FRAME[EXPRESSION_SLICE.start + EXPRESSION_NAMES.index('neutral')] = 1.0


def scale_expressiveness(frame: np.ndarray, gain: float) -> np.ndarray:
    """
    Scale (..., 83) frames' deviation from NEUTRAL_FRAME by gain, kept inside CHANNEL_RANGES.

    gain 0 gives the neutral face, 1 the frame unchanged, 2 twice its deviation (clipped). The
    8 expression probabilities still sum to 1: scaling around a distribution keeps the sum, and
    after clipping (gain > 1) they are renormalised.
    """
    frame = np.asarray(frame)
    scaled = np.clip(NEUTRAL_FRAME + gain * (frame - NEUTRAL_FRAME),
                     CHANNEL_RANGES[:, 0], CHANNEL_RANGES[:, 1])
    probabilities = scaled[..., EXPRESSION_SLICE]
    scaled[..., EXPRESSION_SLICE] = probabilities / np.maximum(
        probabilities.sum(axis=-1, keepdims=True), 1e-12)
    return scaled.astype(frame.dtype, copy=False)
