"""RobotTurn: the listener reaction's gain over the robot's turns, on a clock the test sets."""

import pytest
from react_ros.turns import RobotTurn


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def gains_over(turn, clock, seconds, step=0.05):
    """Advance the clock in steps; return the gain after each."""
    gains = []
    for _ in range(round(seconds / step)):
        clock.now += step
        gains.append(turn.gain())
    return gains


def test_the_reaction_fades_out_and_back_in_linearly():
    clock = FakeClock()
    turn = RobotTurn(fade_s=0.2, timeout_s=30.0, clock=clock)
    assert turn.gain() == 1.0 and not turn.speaking()
    turn.update(True)
    assert turn.speaking()
    assert gains_over(turn, clock, 0.3) == pytest.approx([0.75, 0.5, 0.25, 0.0, 0.0, 0.0])
    turn.update(False)
    assert not turn.speaking()
    assert gains_over(turn, clock, 0.3) == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_a_turn_that_ends_mid_fade_turns_back_from_where_it_was():
    clock = FakeClock()
    turn = RobotTurn(fade_s=0.2, timeout_s=30.0, clock=clock)
    turn.update(True)
    assert gains_over(turn, clock, 0.1) == pytest.approx([0.75, 0.5])
    turn.update(False)
    assert gains_over(turn, clock, 0.1) == pytest.approx([0.75, 1.0])  # no jump


def test_a_stale_true_stops_blocking_the_reaction():
    clock = FakeClock()
    turn = RobotTurn(fade_s=0.2, timeout_s=5.0, clock=clock)
    turn.update(True)
    gains_over(turn, clock, 4.9)
    assert turn.speaking() and not turn.stale() and turn.gain() == 0.0
    clock.now += 0.2
    assert not turn.speaking() and turn.stale()
    assert gains_over(turn, clock, 0.2)[-1] == pytest.approx(1.0)
    turn.update(True)  # a fresh message is believed again
    assert turn.speaking() and not turn.stale()


def test_zero_fade_switches_at_once_and_bad_settings_are_refused():
    clock = FakeClock()
    turn = RobotTurn(fade_s=0.0, timeout_s=1.0, clock=clock)
    turn.update(True)
    assert turn.gain() == 0.0
    turn.update(False)
    assert turn.gain() == 1.0
    with pytest.raises(ValueError, match='fade_s'):
        RobotTurn(fade_s=-1.0, timeout_s=1.0, clock=clock)
    with pytest.raises(ValueError, match='timeout_s'):
        RobotTurn(fade_s=0.2, timeout_s=0.0, clock=clock)
