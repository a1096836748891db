"""
The speaker as the reaction model sees it, frame by frame: audio and visual features aligned.

`SpeakerPerception` takes camera frames (`process`) and microphone chunks (`push_audio`) as
they come, each with its own stamp, and answers `features_at(stamp)` for a video frame: the
audio perception of the window before the stamp (react_ros.perception.audio) and the visual
perception of the newest image at or before the stamp (react_ros.perception.visual). An image
older than `stale_s` counts as no image: its features are zeros and visual_present is False,
so a frozen camera is not read as a frozen face.
"""

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np
from react_ros.perception.audio import AudioPerception
from react_ros.spec import AUDIO_SAMPLE_RATE, SPEAKER_VISUAL_DIM

# About 6 frames at 30 fps: a few dropped frames keep the last face, a stalled camera does not.
STALE_S = 0.2
# Image stamps that go back further than this mean the source restarted (e.g. a bag loop).
RESTART_S = 0.1
# Observations kept for frames asked about late (audio lags the camera by a chunk or two).
HISTORY_S = 1.0
_STAMP_EPSILON = 1e-6


@dataclass
class SpeakerFeatures:
    """The speaker inputs of one video frame, and what was missing from them."""

    stamp: float
    audio: np.ndarray  # (41,) float32, react_ros.perception.audio_features.frame_audio_features
    visual: np.ndarray  # (28,) float32, zeros when not visual_present
    visual_present: bool
    voice_active: bool
    pitch_hz: float  # 0 when unvoiced or not voice-active
    problems: tuple  # short keys, e.g. ('no_face', 'audio_gap'); () when all is well
    image_age_s: Optional[float] = None  # stamp minus the stamp of the image used; None: none

    @property
    def vector(self) -> np.ndarray:
        """Return the (69,) model input: audio features, then visual features."""
        return np.concatenate([self.audio, self.visual])

    @property
    def mask(self) -> np.ndarray:
        """Return the (69,) bool mask of the vector's channels that were observed."""
        return np.concatenate([np.full(len(self.audio), 'no_audio' not in self.problems),
                               np.full(len(self.visual), self.visual_present)])


class SpeakerPerception:
    """
    Camera and microphone in, per-frame speaker features out (no ROS).

    visual: a VisualPerception (or anything with its process/reset); None builds the default
    one. audio: an AudioPerception; None builds the default one. Not thread-safe: callers
    serialise the calls.
    """

    def __init__(self, visual=None, audio: AudioPerception = None, stale_s: float = STALE_S):
        if visual is None:
            # Imported here: the face networks load only when a camera path is used.
            from react_ros.perception.visual import VisualPerception
            visual = VisualPerception()
        if stale_s <= 0:
            raise ValueError(f'stale_s must be positive, got {stale_s}')
        self.visual = visual
        self.audio = AudioPerception() if audio is None else audio
        self.stale_s = stale_s
        self._images = deque()  # (stamp, VisualObservation), oldest first

    def reset(self):
        """Forget all images and audio (a new interaction)."""
        self._images.clear()
        self.visual.reset()
        self.audio.reset()

    def process(self, image: np.ndarray, stamp: float):
        """Run visual perception on an RGB frame (H, W, 3) uint8; return its observation."""
        if self._images and stamp < self._images[-1][0] - RESTART_S:
            self._images.clear()
            self.visual.reset()
        observation = self.visual.process(image, stamp)
        self._images.append((float(stamp), observation))
        while len(self._images) > 1 and self._images[0][0] < stamp - max(self.stale_s, HISTORY_S):
            self._images.popleft()
        return observation

    def push_audio(self, samples: np.ndarray, stamp: float,
                   sample_rate: int = AUDIO_SAMPLE_RATE) -> list:
        """Add an audio chunk whose first sample is at stamp; return new warnings (see push)."""
        return self.audio.push(samples, stamp, sample_rate)

    def _image_at(self, stamp: float):
        """Return the (stamp, observation) of the newest image at or before stamp, or None."""
        for image_stamp, observation in reversed(self._images):
            if image_stamp <= stamp + _STAMP_EPSILON:
                return image_stamp, observation
        return None

    def features_at(self, stamp: float) -> SpeakerFeatures:
        """Return the aligned speaker features of the video frame stamped stamp (seconds)."""
        heard = self.audio.features_at(stamp)
        problems = list(heard.problems)
        visual = np.zeros(SPEAKER_VISUAL_DIM, np.float32)
        present = False
        age = None
        image = self._image_at(stamp)
        if image is None:
            problems.append('no_image')
        else:
            image_stamp, seen = image
            age = stamp - image_stamp
            if age > self.stale_s:
                problems.append('image_stale')
            elif seen.present:
                visual = np.asarray(seen.features, np.float32)
                present = True
            elif seen.problem:
                problems.append(seen.problem)
            else:
                problems.append('no_face')
        return SpeakerFeatures(float(stamp), heard.features, visual, present, heard.voice_active,
                               heard.pitch_hz, tuple(problems), age)
