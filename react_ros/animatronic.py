"""
Map listener frames to the joints of an animatronic face.

A YAML file (config/animatronic.yaml) names, for every joint of a ros2_control forward command
controller, the listener channel that drives it (react_ros.spec names), a gain and offset, the
joint limits and a maximum velocity:

    controller_topic: face_controller/commands   # relative: in the node's namespace
    rate_hz: 30.0
    joints:
      - name: brow_inner_left
        channel: AU1
        gain: 1.0
        offset: 0.0
        limits: [0.0, 1.0]
        max_velocity: 4.0   # joint units per second

AnimatronicMapper turns each frame into one command vector: gain * value + offset, clamped to the
limits, then moved toward that target by at most max_velocity * dt since the previous command.
throttled_command sends at most rate_hz of them.
"""

import dataclasses
import math
from pathlib import Path
from typing import Optional

import numpy as np
from react_ros import spec
import yaml

JOINT_FIELDS = ('name', 'channel', 'gain', 'offset', 'limits', 'max_velocity')
TOP_LEVEL_FIELDS = ('controller_topic', 'rate_hz', 'joints')
# A gap between commands longer than this (seconds) restarts the velocity limiter, as the robot
# was not being driven in between.
DEFAULT_RESET_AFTER_S = 1.0
# throttled_command skips frames sooner than this fraction of a 1 / rate_hz period after the
# last command: the fifth of a period of slack absorbs camera jitter.
MIN_PERIOD_FRACTION = 0.8


@dataclasses.dataclass(frozen=True)
class JointMapping:
    """How one controller joint follows one listener channel."""

    name: str
    channel: str
    gain: float
    offset: float
    lower: float
    upper: float
    max_velocity: float


class AnimatronicMapper:
    """
    Turn listener frames into velocity-limited joint commands.

    command() keeps the previous command and its time: the first command (and the first after
    time runs backwards or pauses longer than reset_after_s) is only clamped to the limits.
    A non-finite channel value (NaN or inf) holds its joints where they are (at the clamped
    offset before any command). throttled_command is command at no more than rate_hz.
    """

    def __init__(self, joints, controller_topic: str = 'face_controller/commands',
                 rate_hz: float = 30.0, reset_after_s: float = DEFAULT_RESET_AFTER_S):
        self.joints = tuple(joints)
        if not self.joints:
            raise ValueError('an animatronic needs at least one joint')
        names = [joint.name for joint in self.joints]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f'joint names must be unique; repeated: {", ".join(repeated)}')
        if not isinstance(controller_topic, str) or not controller_topic:
            raise ValueError(f'controller_topic must be a non-empty string, '
                             f'got {controller_topic!r}')
        self.controller_topic = controller_topic
        self.rate_hz = _positive(rate_hz, 'rate_hz')
        self.reset_after_s = _positive(reset_after_s, 'reset_after_s')
        self._channel_index = np.array([spec.channel_index(j.channel) for j in self.joints])
        self._gain = np.array([j.gain for j in self.joints])
        self._offset = np.array([j.offset for j in self.joints])
        self._lower = np.array([j.lower for j in self.joints])
        self._upper = np.array([j.upper for j in self.joints])
        self._max_velocity = np.array([j.max_velocity for j in self.joints])
        self._previous_command = None
        self._previous_time = None
        self._last_throttled_time = None

    @classmethod
    def from_yaml(cls, path, reset_after_s: float = DEFAULT_RESET_AFTER_S):
        """Load a mapper from a YAML file with the schema in this module's docstring."""
        path = Path(path)
        with path.open() as stream:
            try:
                config = yaml.safe_load(stream)
            except yaml.YAMLError as error:
                raise ValueError(f'{path}: not valid YAML: {error}') from error
        return cls.from_config(config, source=str(path), reset_after_s=reset_after_s)

    @classmethod
    def from_config(cls, config, source: str = 'animatronic config',
                    reset_after_s: float = DEFAULT_RESET_AFTER_S):
        """Build a mapper from an already parsed config (a dict); source names it in errors."""
        if not isinstance(config, dict):
            raise ValueError(f'{source}: expected a mapping with {", ".join(TOP_LEVEL_FIELDS)}, '
                             f'got {type(config).__name__}')
        _check_fields(config, TOP_LEVEL_FIELDS, source)
        entries = config['joints']
        if not isinstance(entries, list) or not entries:
            raise ValueError(f'{source}: joints must be a non-empty list')
        joints = [_parse_joint(entry, f'{source}: joint {position}')
                  for position, entry in enumerate(entries)]
        try:
            return cls(joints, controller_topic=config['controller_topic'],
                       rate_hz=config['rate_hz'], reset_after_s=reset_after_s)
        except ValueError as error:
            raise ValueError(f'{source}: {error}') from None

    @property
    def joint_names(self) -> tuple:
        """Joint names in command order."""
        return tuple(joint.name for joint in self.joints)

    def reset(self) -> None:
        """Forget the previous command, so the next one is only clamped and never throttled."""
        self._previous_command = None
        self._previous_time = None
        self._last_throttled_time = None

    def throttled_command(self, frame: np.ndarray, t: float) -> Optional[np.ndarray]:
        """
        Return command(frame, t), or None when t is too soon after the last command it returned.

        Too soon: less than MIN_PERIOD_FRACTION of a 1 / rate_hz period later. A time before the
        last command's (the stream restarted) is never too soon.
        """
        last = self._last_throttled_time
        if last is not None and 0 <= t - last < MIN_PERIOD_FRACTION * (1.0 / self.rate_hz):
            return None
        self._last_throttled_time = t
        return self.command(frame, t)

    def command(self, frame: np.ndarray, t: float) -> np.ndarray:
        """
        Compute the joint command for one frame.

        frame: (83,) listener frame; t: its time in seconds.
        Returns (n_joints,) float64 positions in joint order.
        """
        frame = np.asarray(frame, dtype=np.float64)
        if frame.shape != (spec.NUM_CHANNELS,):
            raise ValueError(f'command expects one listener frame of shape '
                             f'({spec.NUM_CHANNELS},), got shape {frame.shape}')
        if not math.isfinite(t):
            raise ValueError(f'command time must be finite, got {t}')
        values = frame[self._channel_index]
        finite = np.isfinite(values)
        target = np.clip(self._gain * np.where(finite, values, 0.0) + self._offset,
                         self._lower, self._upper)
        if self._previous_command is None:
            hold = np.clip(self._offset, self._lower, self._upper)
        else:
            hold = self._previous_command
        target = np.where(finite, target, hold)
        dt = None if self._previous_time is None else t - self._previous_time
        if dt is None or dt < 0.0 or dt > self.reset_after_s:
            command = target
        else:
            max_step = self._max_velocity * dt
            command = self._previous_command + np.clip(target - self._previous_command,
                                                       -max_step, max_step)
        self._previous_command = command
        self._previous_time = t
        return command.copy()


def _check_fields(entry: dict, expected: tuple, where: str) -> None:
    missing = [field for field in expected if field not in entry]
    unknown = [str(field) for field in entry if field not in expected]
    if missing:
        raise ValueError(f'{where}: missing field(s) {", ".join(missing)}')
    if unknown:
        raise ValueError(f'{where}: unknown field(s) {", ".join(unknown)}; '
                         f'expected {", ".join(expected)}')


def _parse_joint(entry, where: str) -> JointMapping:
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected a mapping with {", ".join(JOINT_FIELDS)}, '
                         f'got {entry!r}')
    if isinstance(entry.get('name'), str) and entry['name']:
        where = f'{where} ({entry["name"]!r})'
    _check_fields(entry, JOINT_FIELDS, where)
    name, channel = entry['name'], entry['channel']
    if not isinstance(name, str) or not name:
        raise ValueError(f'{where}: name must be a non-empty string, got {name!r}')
    if channel not in spec.CHANNEL_NAMES:
        raise ValueError(f'{where}: unknown channel {channel!r}; valid channels: '
                         f'{", ".join(spec.CHANNEL_NAMES)}')
    limits = entry['limits']
    if not isinstance(limits, (list, tuple)) or len(limits) != 2:
        raise ValueError(f'{where}: limits must be a pair [low, high], got {limits!r}')
    lower = _finite(limits[0], f'{where}: limits low')
    upper = _finite(limits[1], f'{where}: limits high')
    if lower > upper:
        raise ValueError(f'{where}: limits low {lower} is above high {upper}')
    return JointMapping(name=name, channel=channel,
                        gain=_finite(entry['gain'], f'{where}: gain'),
                        offset=_finite(entry['offset'], f'{where}: offset'),
                        lower=lower, upper=upper,
                        max_velocity=_positive(entry['max_velocity'], f'{where}: max_velocity'))


def _finite(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f'{what} must be a finite number, got {value!r}')
    return float(value)


def _positive(value, what: str) -> float:
    value = _finite(value, what)
    if value <= 0.0:
        raise ValueError(f'{what} must be positive, got {value}')
    return value
