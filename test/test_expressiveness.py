"""The expressiveness dial: reactions scaled around the neutral face, inside the channel ranges."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from react_ros.spec import (CHANNEL_RANGES, EXPRESSION_SLICE, NEUTRAL_FRAME, NUM_CHANNELS,
                            scale_expressiveness, within_range)


@st.composite
def valid_frames(draw):
    """Draw a listener frame inside every channel range, its expressions summing to 1."""
    unit = np.array(draw(st.lists(st.floats(0, 1), min_size=NUM_CHANNELS,
                                  max_size=NUM_CHANNELS)))
    frame = CHANNEL_RANGES[:, 0] + unit * (CHANNEL_RANGES[:, 1] - CHANNEL_RANGES[:, 0])
    probabilities = frame[EXPRESSION_SLICE] + 1e-3
    frame[EXPRESSION_SLICE] = probabilities / probabilities.sum()
    return frame


@settings(max_examples=200, derandomize=True, deadline=None)
@given(valid_frames(), st.floats(0, 2))
def test_every_gain_keeps_a_valid_frame(frame, gain):
    scaled = scale_expressiveness(frame, gain)
    assert within_range(scaled).all()
    assert scaled[EXPRESSION_SLICE].sum() == pytest.approx(1.0)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(valid_frames())
def test_zero_is_neutral_and_one_is_unchanged(frame):
    np.testing.assert_allclose(scale_expressiveness(frame, 0.0), NEUTRAL_FRAME)
    np.testing.assert_allclose(scale_expressiveness(frame, 1.0), frame)


def test_two_doubles_the_deviation_and_clips_at_the_ranges():
    frame = NEUTRAL_FRAME.copy()
    frame[0], frame[15], frame[30] = 0.2, -0.3, 2.0  # AU1, valence, a 3DMM coefficient
    doubled = scale_expressiveness(frame, 2.0)
    assert doubled[0] == pytest.approx(0.4) and doubled[15] == pytest.approx(-0.6)
    assert doubled[30] == CHANNEL_RANGES[30, 1]  # 4.0 clipped to the range's 3.0
    # A batch of frames (T, 83) scales frame by frame.
    batch = scale_expressiveness(np.stack([frame, NEUTRAL_FRAME]), 2.0)
    np.testing.assert_allclose(batch, np.stack([doubled, NEUTRAL_FRAME]))
