"""
SpeakerPerception with real inputs: a real face photograph and espeak-ng speech.

The visual path is the real VisualPerception (LiteRT face networks) on skimage's astronaut
photograph; the audio path is the real AudioPerception.
"""

import numpy as np
import pytest
from react_ros.perception.audio_features import AUDIO_FEATURE_DIM, sequence_audio_features
from react_ros.perception.speaker import SpeakerPerception, STALE_S
from react_ros.perception.visual import VisualPerception
from react_ros.spec import AUDIO_SAMPLE_RATE, FPS, SPEAKER_VISUAL_DIM
from react_ros.speech import speak_with_pauses, Voice
from skimage.data import astronaut

RATE = AUDIO_SAMPLE_RATE


@pytest.fixture(scope='module')
def speech():
    """0.3 s pause, a sentence, 1.5 s pause: (audio, speech sample ranges)."""
    audio, ranges = speak_with_pauses([('Hello, nice to meet you again.', Voice())], [0.3])
    return np.concatenate([audio, np.zeros(int(1.5 * RATE), np.float32)]), ranges


@pytest.fixture(scope='module')
def visual():
    """One VisualPerception for the module (its networks load once)."""
    return VisualPerception(calibration_s=0.5)


def test_face_and_speech_give_aligned_features(speech, visual):
    audio, ranges = speech
    perception = SpeakerPerception(visual)
    perception.reset()
    face = astronaut()
    stamps = np.arange(int(len(audio) / RATE * FPS)) / FPS
    chunk = RATE // 50  # 20 ms chunks, as a microphone node sends them
    asked, position = [], 0
    for stamp in stamps:
        while position < stamp * RATE:
            perception.push_audio(audio[position:position + chunk], position / RATE)
            position += chunk
        perception.process(face, stamp)
        asked.append(perception.features_at(stamp))
    assert all(frame.visual_present for frame in asked)
    assert all(frame.visual.shape == (SPEAKER_VISUAL_DIM,) for frame in asked)
    assert np.abs(asked[-1].visual).sum() > 0
    assert asked[-1].vector.shape == (AUDIO_FEATURE_DIM + SPEAKER_VISUAL_DIM,)
    assert asked[-1].mask.all() and asked[-1].image_age_s == 0.0
    np.testing.assert_array_equal([frame.audio for frame in asked],
                                  sequence_audio_features(audio, stamps))
    start, end = ranges[0]
    during = [frame for frame, stamp in zip(asked, stamps) if start < stamp * RATE <= end]
    before = [frame for frame, stamp in zip(asked, stamps) if stamp * RATE <= start]
    assert np.mean([frame.voice_active for frame in during]) >= 0.9
    assert not any(frame.voice_active for frame in before)
    assert 60 < np.median([f.pitch_hz for f in during if f.pitch_hz > 0]) < 200
    assert all(frame.problems == () for frame in asked[2:])


def test_stale_missing_and_faceless_images(speech, visual):
    audio, _ = speech
    perception = SpeakerPerception(visual)
    perception.reset()
    perception.push_audio(audio[:2 * RATE], 0.0)
    nothing = perception.features_at(0.5)
    assert not nothing.visual_present and 'no_image' in nothing.problems
    assert nothing.image_age_s is None and not nothing.mask[AUDIO_FEATURE_DIM:].any()
    face = astronaut()
    for stamp in np.arange(0, 31) / FPS:
        perception.process(face, stamp)
    perception.process(np.zeros_like(face), 1.1)  # the camera now sees no one
    # The newest image at or before the stamp decides.
    seen = perception.features_at(1.05)
    assert seen.visual_present and seen.image_age_s == pytest.approx(0.05)
    faceless = perception.features_at(1.1 + STALE_S - 0.02)
    assert not faceless.visual_present and 'no_face' in faceless.problems
    assert not faceless.visual.any() and faceless.image_age_s == pytest.approx(STALE_S - 0.02)
    # An image older than the staleness limit is no image.
    stale = perception.features_at(1.1 + STALE_S + 0.05)
    assert not stale.visual_present and 'image_stale' in stale.problems
    assert not stale.visual.any()
    # A frame stamped before every image kept has none.
    assert 'no_image' in perception.features_at(-0.5).problems


def test_image_stamps_going_back_restart_the_timeline(visual):
    perception = SpeakerPerception(visual, stale_s=0.5)
    perception.reset()
    face = astronaut()
    perception.process(face, 100.0)
    perception.process(face, 1.0)  # a bag loop
    assert perception.features_at(1.0).visual_present
    assert 'no_image' in perception.features_at(0.9).problems
    with pytest.raises(ValueError):
        SpeakerPerception(visual, stale_s=0.0)
