"""The ROS-free per-frame pipeline the reaction node runs."""

import cv2
import numpy as np
from react_ros.features.audio import WINDOW_SAMPLES
from react_ros.model.generator import ReactionGenerator
from react_ros.pipeline import ReactionPipeline, ThrottledWarnings
from react_ros.spec import EXPRESSION_NAMES, within_range
import skimage.data


def test_face_detection_every_third_frame_reuses_the_answer_in_between():
    pipeline = ReactionPipeline(ReactionGenerator.untrained(), seed=0, face_detect_every=3)
    pipeline.warm_up()
    face = cv2.resize(skimage.data.astronaut(), (640, 480))
    blank = np.zeros_like(face)
    audio = np.zeros(WINDOW_SAMPLES, np.float32)
    present = [pipeline.step(frame, audio).face_present
               for frame in (face, blank, blank, blank, face, face)]
    assert present == [True, True, True, False, False, False]


def test_frames_are_in_range_and_name_their_expression():
    pipeline = ReactionPipeline(ReactionGenerator.untrained(), seed=1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        reaction = pipeline.step(None, rng.normal(0, 0.1, WINDOW_SAMPLES).astype(np.float32))
        assert within_range(reaction.values).all()
        assert reaction.expression in EXPRESSION_NAMES and not reaction.face_present


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
