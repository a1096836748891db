"""
The per-frame reaction pipeline the nodes run, free of ROS.

Camera frames and microphone chunks go into speaker perception as they arrive; for each
camera frame, the speaker features aligned to its stamp go through the generator's online
stream, and one listener frame (83 channels, react_ros.spec) comes out.
"""

from dataclasses import dataclass
import time
from typing import Optional

import numpy as np

from react_ros.errors import InputProblem
from react_ros.perception.speaker import SpeakerFeatures, SpeakerPerception
from react_ros.spec import AUDIO_SAMPLE_RATE, EXPRESSION_NAMES, EXPRESSION_SLICE


@dataclass
class ReactionFrame:
    """One published listener frame and what it was computed from."""

    values: np.ndarray  # (83,) in spec.CHANNEL_NAMES order
    face_present: bool
    expression: str  # one of spec.EXPRESSION_NAMES
    expression_confidence: float
    speaker: SpeakerFeatures  # the model's input for this frame


def top_expression(values: np.ndarray):
    """Return the most probable of the 8 expressions of a frame and its probability."""
    probabilities = values[EXPRESSION_SLICE]
    best = int(np.argmax(probabilities))
    return EXPRESSION_NAMES[best], float(probabilities[best])


class ReactionPipeline:
    """
    Speaker perception + one online reaction stream (one sample: the robot shows one reaction).

    generator: anything with the ReactionGenerator interface (any backend). Not thread-safe:
    callers serialise push_audio and step.
    """

    def __init__(self, generator, seed: int, perception: SpeakerPerception = None):
        self._generator = generator
        self.perception = SpeakerPerception() if perception is None else perception
        self.reset(seed)

    def reset(self, seed: int):
        """Start over: a new reaction stream, and perception forgets the speaker."""
        self.perception.reset()
        self.restart_stream(seed)

    def restart_stream(self, seed: int):
        """Start a new reaction stream; perception keeps its state (it handles restarts)."""
        self._stream = self._generator.stream(k=1, seed=seed)

    def warm_up(self):
        """Run one throwaway frame so the first real frame does not pay for lazy set-up."""
        self.push_audio(np.zeros(AUDIO_SAMPLE_RATE // 10, np.float32), 0.0)
        self.step(np.zeros((480, 640, 3), np.uint8), 0.1)
        self.perception.reset()
        self._stream.reset()

    def push_audio(self, samples: np.ndarray, stamp: float,
                   sample_rate: int = AUDIO_SAMPLE_RATE) -> list:
        """Add a microphone chunk (first sample at stamp); return warnings new with it."""
        return self.perception.push_audio(samples, stamp, sample_rate)

    @property
    def audio_end_time(self) -> float:
        """Return the time just after the newest audio sample (-inf before any)."""
        return self.perception.audio.end_time

    def step(self, rgb: Optional[np.ndarray], stamp: float) -> ReactionFrame:
        """Advance one frame: rgb (H, W, 3) uint8 or None (no new image), stamped in seconds."""
        if rgb is not None:
            self.perception.process(rgb, stamp)
        speaker = self.perception.features_at(stamp)
        for name, features in (('audio', speaker.audio), ('visual', speaker.visual)):
            if not np.isfinite(features).all():
                # Named here, before the model: the stream would refuse them with a bare error.
                raise InputProblem(f'speaker_{name}_nonfinite',
                                   f'speaker {name} features at stamp {stamp:.3f} are not '
                                   'finite; frame skipped')
        values = self._stream.step(speaker.audio, speaker.visual, speaker.visual_present)[0]
        expression, confidence = top_expression(values)
        return ReactionFrame(values, speaker.visual_present, expression, confidence, speaker)


class ThrottledWarnings:
    """
    Warn about each distinct problem at most once per period, counting what was held back.

    A problem never seen (or not seen for a period) is warned at once, so one problem never
    hides another; callers give distinct problems distinct keys.
    """

    # Keys come from the wire (encodings, formats): forget quiet ones beyond this many.
    MAX_KEYS = 256

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
        if len(self._last) > self.MAX_KEYS:
            self._last = {key: entry for key, entry in self._last.items()
                          if now - entry[0] < self._period}
