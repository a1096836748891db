"""
The per-frame reaction pipeline the nodes run, free of ROS.

One step: a camera frame (or none) and the audio before its stamp go in; one listener frame
(83 channels, react_ros.spec) comes out, from the generator's online stream.
"""

from dataclasses import dataclass
import time
from typing import Optional

import numpy as np

from react_ros.features.audio import frame_audio_features, WINDOW_SAMPLES
from react_ros.features.image import FacePresenceDetector
from react_ros.model.generator import ReactionGenerator
from react_ros.spec import EXPRESSION_NAMES, EXPRESSION_SLICE


@dataclass
class ReactionFrame:
    """One published listener frame and what it was computed from."""

    values: np.ndarray  # (83,) in spec.CHANNEL_NAMES order
    face_present: bool
    expression: str  # one of spec.EXPRESSION_NAMES
    expression_confidence: float


def top_expression(values: np.ndarray):
    """Return the most probable of the 8 expressions of a frame and its probability."""
    probabilities = values[EXPRESSION_SLICE]
    best = int(np.argmax(probabilities))
    return EXPRESSION_NAMES[best], float(probabilities[best])


class ReactionPipeline:
    """Features + one online reaction stream (one sample: the robot shows one reaction)."""

    def __init__(self, generator: ReactionGenerator, seed: int, face_detect_width: int = 320,
                 face_detect_every: int = 1):
        self._generator = generator
        self._detect_face = FacePresenceDetector(face_detect_width)
        # Face detection is most of a frame's cost and presence changes slowly: detecting on
        # every n-th frame and reusing the answer in between keeps up on small CPUs.
        self._detect_every = face_detect_every
        self.reset(seed)

    def reset(self, seed: int):
        """Start a new reaction stream (new interaction, or the input timeline restarted)."""
        self._stream = self._generator.stream(k=1, seed=seed)
        self._frames_since_detection = None
        self._visual = None

    def warm_up(self):
        """Run one throwaway frame so the first real frame does not pay for lazy set-up."""
        self.step(np.zeros((240, 320, 3), np.uint8), np.zeros(WINDOW_SAMPLES, np.float32))
        self._stream.reset()
        self._frames_since_detection = self._visual = None

    def _visual_input(self, rgb: np.ndarray):
        due = (self._frames_since_detection is None
               or self._frames_since_detection + 1 >= self._detect_every)
        if due:
            self._visual = self._detect_face(rgb)
            self._frames_since_detection = 0
        else:
            self._frames_since_detection += 1
        return self._visual

    def step(self, rgb: Optional[np.ndarray], audio_window: np.ndarray) -> ReactionFrame:
        """Advance one frame. rgb: (H, W, 3) uint8 or None; audio_window: the samples before it."""
        visual = None if rgb is None else self._visual_input(rgb)
        audio_features = frame_audio_features(np.nan_to_num(audio_window))
        visual_features = visual.features if visual else np.zeros(
            self._generator.config.visual_dim, np.float32)
        face_present = bool(visual and visual.face_present)
        values = self._stream.step(audio_features, visual_features, face_present)[0]
        expression, confidence = top_expression(values)
        return ReactionFrame(values, face_present, expression, confidence)


class ThrottledWarnings:
    """Warn about each distinct problem at most once per period, counting what was held back."""

    def __init__(self, warn, period_s: float = 5.0, clock=time.monotonic):
        self._warn = warn
        self._period = period_s
        self._clock = clock
        self._last = {}  # problem key -> (time last warned, suppressed since)

    def __call__(self, problem: str, text: str):
        """Warn with text unless the same problem was reported within the period."""
        now = self._clock()
        last, suppressed = self._last.get(problem, (None, 0))
        if last is not None and now - last < self._period:
            self._last[problem] = (last, suppressed + 1)
            return
        if suppressed:
            text += f' ({suppressed} more since the last warning)'
        self._warn(text)
        self._last[problem] = (now, 0)
