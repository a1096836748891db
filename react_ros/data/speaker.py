"""
The speaker inputs of the reaction model, built from a dataset clip.

Visual input per frame: the 25 facial attributes and the 3 head rotation angles
(spec.SPEAKER_VISUAL_DIM = 28), optionally followed by the other 3DMM channels (52 expression,
3 translation) when a dataset has 3DMM. Audio input per frame: `sequence_audio_features` at the
frame times, which applies the live node's feature function (`frame_audio_features`, in
react_ros.perception.audio_features) to the 64 ms of audio before each frame.
"""

import numpy as np
from react_ros import spec
from react_ros.perception.audio_features import sequence_audio_features


def _mm_slice(frame_slice: slice) -> slice:
    """Return where a slice of the 83-channel frame lies inside the 58 3DMM coefficients."""
    return slice(frame_slice.start - spec.NUM_ATTRIBUTES, frame_slice.stop - spec.NUM_ATTRIBUTES)


MM_ROTATION = _mm_slice(spec.ROTATION_SLICE)
MM_EXPRESSION = _mm_slice(spec.MM_EXPRESSION_SLICE)
MM_TRANSLATION = _mm_slice(spec.TRANSLATION_SLICE)
SPEAKER_EXTRA_NAMES = spec.MM_EXPRESSION_NAMES + spec.TRANSLATION_NAMES


def speaker_visual_names(include_mm: bool = False) -> tuple:
    """Return the channel names of the speaker visual input."""
    names = spec.ATTRIBUTE_NAMES + spec.ROTATION_NAMES
    return names + SPEAKER_EXTRA_NAMES if include_mm else names


def speaker_visual_dim(include_mm: bool = False) -> int:
    """Return the width of the speaker visual input (28, or 83 with the other 3DMM channels)."""
    return len(speaker_visual_names(include_mm))


def speaker_visual(attributes: np.ndarray, mm: np.ndarray = None,
                   include_mm: bool = False) -> tuple:
    """
    Build the speaker visual input of a clip.

    attributes: (T, 25); mm: (T, 58) 3DMM coefficients or None. Returns (features (T, D),
    mask (D,) bool): channels a clip lacks (rotation and 3DMM without 3DMM) are zeros with a
    False mask.
    """
    attributes = np.asarray(attributes, dtype=np.float32)
    frames = len(attributes)
    if mm is None:
        mm = np.zeros((frames, spec.NUM_MM), np.float32)
        has_mm = False
    else:
        mm = np.asarray(mm, dtype=np.float32)
        has_mm = True
        if mm.shape != (frames, spec.NUM_MM):
            raise ValueError(f'3DMM must be ({frames}, {spec.NUM_MM}) to match the attributes, '
                             f'got {mm.shape}')
    parts = [attributes, mm[:, MM_ROTATION]]
    mask = [np.ones(spec.NUM_ATTRIBUTES, bool), np.full(3, has_mm)]
    if include_mm:
        parts += [mm[:, MM_EXPRESSION], mm[:, MM_TRANSLATION]]
        mask.append(np.full(len(SPEAKER_EXTRA_NAMES), has_mm))
    return np.concatenate(parts, axis=1), np.concatenate(mask)


def frame_times(num_frames: int, fps: float) -> np.ndarray:
    """
    Return the time of each video frame, frame 0 at 0 s.

    A frame's audio features are the audio just before its time, as on the robot, where the
    features of a camera frame end at the frame's stamp.
    """
    return np.arange(num_frames) / float(fps)


def speaker_audio(audio: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> np.ndarray:
    """Return the (num_frames, 41) audio features of mono audio that starts with frame 0."""
    return sequence_audio_features(audio, frame_times(num_frames, fps), sample_rate)
