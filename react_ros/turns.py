"""
Conversation turns, free of ROS: while the robot speaks, the listener reaction fades out.

The robot's text-to-speech says when it talks (`robot_speaking`, std_msgs/Bool). `RobotTurn`
turns that into a gain in [0, 1] on the reaction's deviation from the neutral face: 1 while
the person has the turn, ramping linearly to 0 over `fade_s` when the robot starts and back to
1 over `fade_s` when it stops, so the face never jumps. A `robot_speaking` true that is not
refreshed within `timeout_s` (a TTS node that died mid-utterance) ends the robot's turn:
reacting is never blocked by a stale state. The model's stream goes on throughout (its context
survives the turn); only what reaches the outputs and the encoder's audio changes.
"""

import threading
from typing import Callable


class RobotTurn:
    """The robot's speaking state and the listener-reaction gain it implies (thread-safe)."""

    def __init__(self, fade_s: float, timeout_s: float, clock: Callable[[], float]):
        if fade_s < 0 or timeout_s <= 0:
            raise ValueError(f'fade_s must be >= 0 and timeout_s > 0, got {fade_s}, {timeout_s}')
        self.fade_s, self.timeout_s, self._clock = fade_s, timeout_s, clock
        self._lock = threading.Lock()
        self._said_speaking = False
        self._updated = clock()
        self._gain, self._gain_time = 1.0, self._updated

    def update(self, speaking: bool) -> None:
        """Take a robot_speaking message (each one refreshes the timeout)."""
        with self._lock:
            self._said_speaking, self._updated = bool(speaking), self._clock()

    def speaking(self) -> bool:
        """Whether the robot has the turn now (not once a true state went stale)."""
        with self._lock:
            return self._speaking(self._clock())

    def stale(self) -> bool:
        """Whether robot_speaking said true but was not refreshed within timeout_s."""
        with self._lock:
            return self._said_speaking and self._clock() - self._updated > self.timeout_s

    def gain(self) -> float:
        """
        Return the listener-reaction gain now, moved towards its target since the last call.

        Target 0 on the robot's turn, 1 on the person's; the gain moves 1 / fade_s per second.
        """
        with self._lock:
            now = self._clock()
            target = 0.0 if self._speaking(now) else 1.0
            step = (now - self._gain_time) / self.fade_s if self.fade_s > 0 else 1.0
            self._gain = (min(target, self._gain + step) if target > self._gain
                          else max(target, self._gain - step))
            self._gain_time = now
            return self._gain

    def _speaking(self, now: float) -> bool:
        return self._said_speaking and now - self._updated <= self.timeout_s
