"""The ROS-free per-frame pipeline the reaction node runs."""

import cv2
import numpy as np
from react_ros.model.generator import ReactionGenerator
from react_ros.pipeline import ReactionPipeline, ThrottledWarnings
from react_ros.spec import AUDIO_SAMPLE_RATE, EXPRESSION_NAMES, within_range
import skimage.data


def test_speaker_face_and_voice_reach_the_model_input():
    pipeline = ReactionPipeline(ReactionGenerator.untrained(), seed=0)
    pipeline.warm_up()
    face = cv2.resize(skimage.data.astronaut(), (640, 480))
    rng = np.random.default_rng(0)
    pipeline.push_audio(rng.normal(0, 0.1, AUDIO_SAMPLE_RATE).astype(np.float32), 0.0)
    seen = [pipeline.step(frame, stamp) for frame, stamp in
            ((face, 0.1), (None, 0.133), (np.zeros_like(face), 0.167), (None, 0.6))]
    assert [reaction.face_present for reaction in seen] == [True, True, False, False]
    assert seen[0].speaker.problems == ()
    assert 'no_face' in seen[2].speaker.problems
    assert 'image_stale' in seen[3].speaker.problems  # no new image for 0.43 s
    np.testing.assert_array_equal(seen[2].speaker.visual, 0)
    assert seen[0].speaker.audio.shape == (41,) and np.abs(seen[0].speaker.audio).sum() > 0


def test_frames_are_in_range_and_name_their_expression():
    pipeline = ReactionPipeline(ReactionGenerator.untrained(), seed=1)
    for frame in range(5):
        reaction = pipeline.step(None, frame / 30)
        assert within_range(reaction.values).all()
        assert reaction.expression in EXPRESSION_NAMES and not reaction.face_present
        assert {'no_image', 'no_audio'} <= set(reaction.speaker.problems)


def test_throttled_warnings_hold_back_repeats_per_problem_and_count_them():
    now = [0.0]
    said = []
    warn = ThrottledWarnings(said.append, period_s=5.0, clock=lambda: now[0])
    warn('a', 'first a')
    warn('a', 'second a')
    warn('b', 'first b')
    now[0] = 6.0
    warn('a', 'third a')
    assert said == ['first a', 'first b', 'third a (1 more since the last warning)']
