"""The animatronic joint mapping, the shipped config/animatronic.yaml and its ros2_control."""

import copy
from pathlib import Path
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from react_ros import spec
from react_ros.animatronic import AnimatronicMapper
import yaml

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / 'config' / 'animatronic.yaml'
ROS2_CONTROL = SHIPPED_CONFIG.parent / 'ros2_control'

CONFIG = {
    'controller_topic': '/face_controller/commands',
    'rate_hz': 30.0,
    'joints': [
        {'name': 'smile', 'channel': 'AU12', 'gain': 2.0, 'offset': 0.1,
         'limits': [0.0, 1.5], 'max_velocity': 3.0},
        {'name': 'pan', 'channel': 'rot_y', 'gain': -1.0, 'offset': 0.0,
         'limits': [-0.5, 0.5], 'max_velocity': 1.0},
    ],
}


def make_frame(**values) -> np.ndarray:
    frame = np.zeros(spec.NUM_CHANNELS)
    for name, value in values.items():
        frame[spec.channel_index(name)] = value
    return frame


def mapper(**overrides) -> AnimatronicMapper:
    return AnimatronicMapper.from_config(copy.deepcopy(CONFIG), **overrides)


def test_gain_offset_and_clamp_on_first_command():
    m = mapper()
    assert m.joint_names == ('smile', 'pan')
    assert m.controller_topic == '/face_controller/commands' and m.rate_hz == 30.0
    # smile: 2 * 0.3 + 0.1 = 0.7; pan: -1 * 0.2 = -0.2.
    np.testing.assert_allclose(m.command(make_frame(AU12=0.3, rot_y=0.2), 0.0), [0.7, -0.2])
    m.reset()
    # smile: 2 * 1 + 0.1 = 2.1 -> 1.5; pan: -1 * -1.2 = 1.2 -> 0.5.
    np.testing.assert_allclose(m.command(make_frame(AU12=1.0, rot_y=-1.2), 0.0), [1.5, 0.5])


def test_velocity_limit_steps_toward_target():
    m = mapper()
    np.testing.assert_allclose(m.command(make_frame(), 0.0), [0.1, 0.0])
    target = make_frame(AU12=1.0, rot_y=-1.0)  # clamped targets [1.5, 0.5]
    # dt = 0.1 s: smile moves at most 3.0 * 0.1 = 0.3, pan at most 1.0 * 0.1 = 0.1.
    np.testing.assert_allclose(m.command(target, 0.1), [0.4, 0.1])
    np.testing.assert_allclose(m.command(target, 0.2), [0.7, 0.2])
    # A small remaining distance is covered exactly, never overshot.
    np.testing.assert_allclose(m.command(make_frame(AU12=0.35, rot_y=-0.25), 0.3), [0.8, 0.25])
    # dt = 0 holds the previous command.
    np.testing.assert_allclose(m.command(target, 0.3), [0.8, 0.25])


def test_limiter_resets_when_time_goes_back_or_pauses():
    m = mapper()
    m.command(make_frame(), 5.0)
    target = make_frame(AU12=1.0, rot_y=-1.0)
    np.testing.assert_allclose(m.command(target, 4.0), [1.5, 0.5])  # time went backwards
    m.command(make_frame(), 4.0)
    np.testing.assert_allclose(m.command(target, 4.0 + 10.0), [1.5, 0.5])  # long pause
    limited = mapper(reset_after_s=20.0)
    limited.command(make_frame(), 0.0)
    np.testing.assert_allclose(limited.command(target, 0.2), [0.7, 0.2])
    np.testing.assert_allclose(limited.command(target, 10.0), [1.5, 0.5])


def test_non_finite_values_hold_the_joint():
    m = mapper()
    np.testing.assert_allclose(m.command(make_frame(AU12=np.nan, rot_y=0.2), 0.0), [0.1, -0.2])
    # smile heads for 2 * 0.2 + 0.1 = 0.5 but moves only 3.0 * 0.1 = 0.3 from 0.1.
    np.testing.assert_allclose(m.command(make_frame(AU12=0.2, rot_y=0.2), 0.1), [0.4, -0.2])
    held = m.command(make_frame(AU12=np.nan, rot_y=-np.inf), 0.2)
    np.testing.assert_allclose(held, [0.4, -0.2])


def test_command_rejects_wrong_shape_and_time():
    m = mapper()
    with pytest.raises(ValueError, match=r'\(83,\)'):
        m.command(np.zeros(25), 0.0)
    with pytest.raises(ValueError, match='finite'):
        m.command(make_frame(), float('nan'))


def test_throttled_command_sends_at_most_rate_hz():
    m = mapper()  # 30 Hz: a frame less than 0.8 / 30 s = 26.7 ms after the last is skipped
    np.testing.assert_allclose(m.throttled_command(make_frame(), 0.0), [0.1, 0.0])
    target = make_frame(AU12=1.0)
    sent = {t: m.throttled_command(target, t) for t in (0.02, 0.027, 0.04, 0.06)}
    assert [t for t, command in sent.items() if command is not None] == [0.027, 0.06]
    # Skipped frames do not move the velocity limiter: 0.027 s after 0.0, 3.0 * 0.027 up.
    np.testing.assert_allclose(sent[0.027], [0.1 + 3.0 * 0.027, 0.0])
    # A stamp before the last command (the stream restarted) is never skipped.
    assert m.throttled_command(target, 0.05) is not None
    assert m.throttled_command(target, 0.06) is None


def test_reset_forgets_the_throttle():
    m = mapper()
    assert m.throttled_command(make_frame(), 1.0) is not None
    assert m.throttled_command(make_frame(), 1.01) is None
    m.reset()
    np.testing.assert_allclose(m.throttled_command(make_frame(AU12=1.0), 1.01), [1.5, 0.0])


def broken_config(joint_changes=None, **top_changes):
    config = copy.deepcopy(CONFIG)
    config['joints'][1].update(joint_changes or {})
    config.update(top_changes)
    return config


@pytest.mark.parametrize('config, message', [
    (broken_config({'channel': 'AU99'}), r"joint 1 \('pan'\): unknown channel 'AU99'; "
                                         r'valid channels: AU1, AU2'),
    (broken_config({'limits': [1.0, -1.0]}), r"'pan'\): limits low 1.0 is above high -1.0"),
    (broken_config({'limits': [1.0]}), r"'pan'\): limits must be a pair"),
    (broken_config({'max_velocity': 0.0}), r"'pan'\): max_velocity must be positive"),
    (broken_config({'max_velocity': -2}), r"'pan'\): max_velocity must be positive"),
    (broken_config({'gain': 'big'}), r"'pan'\): gain must be a finite number"),
    (broken_config({'name': 'smile'}), 'repeated: smile'),
    (broken_config({'extra': 1}), r"'pan'\): unknown field\(s\) extra"),
    (broken_config(rate_hz=0), 'rate_hz must be positive'),
    (broken_config(controller_topic=''), 'controller_topic must be a non-empty string'),
    (broken_config(joints=[]), 'joints must be a non-empty list'),
    ([1, 2], 'expected a mapping'),
])
def test_invalid_configs_name_the_problem(config, message):
    with pytest.raises(ValueError, match=message):
        AnimatronicMapper.from_config(config)


@pytest.mark.parametrize('field', ['name', 'channel', 'gain', 'offset', 'limits',
                                   'max_velocity'])
def test_missing_joint_field_is_named(field):
    config = copy.deepcopy(CONFIG)
    del config['joints'][0][field]
    with pytest.raises(ValueError, match=rf'joint 0.*missing field\(s\) {field}'):
        AnimatronicMapper.from_config(config)


def test_missing_top_level_field_is_named(tmp_path):
    config = copy.deepcopy(CONFIG)
    del config['rate_hz']
    path = tmp_path / 'face.yaml'
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=rf'{path}: missing field\(s\) rate_hz'):
        AnimatronicMapper.from_yaml(path)


def test_shipped_config_loads_and_drives_every_joint_group():
    m = AnimatronicMapper.from_yaml(SHIPPED_CONFIG)
    names = m.joint_names
    for expected in ('brow_inner_left', 'eyelid_upper_left', 'jaw', 'mouth_corner_up_left',
                     'head_pan', 'head_tilt', 'head_roll'):
        assert expected in names
    assert m.controller_topic == 'face_controller/commands'  # relative: follows the namespace
    rest = m.command(make_frame(), 0.0)
    assert rest.shape == (len(names),)
    lower = np.array([joint.lower for joint in m.joints])
    upper = np.array([joint.upper for joint in m.joints])
    extreme = m.command(np.full(spec.NUM_CHANNELS, 10.0), 100.0)  # after a reset-length pause
    assert np.all(extreme >= lower) and np.all(extreme <= upper)
    assert extreme[names.index('jaw')] > rest[names.index('jaw')]
    assert extreme[names.index('head_pan')] == upper[names.index('head_pan')]


def test_ros2_control_urdf_and_controllers_match_the_shipped_mapping():
    m = AnimatronicMapper.from_yaml(SHIPPED_CONFIG)
    limits = {joint.name: (joint.lower, joint.upper) for joint in m.joints}
    velocities = {joint.name: joint.max_velocity for joint in m.joints}
    robot = ElementTree.parse(ROS2_CONTROL / 'face.urdf').getroot()
    # URDF joints: the same names, limits and velocity limits.
    urdf_joints = robot.findall('joint')
    assert [joint.get('name') for joint in urdf_joints] == list(m.joint_names)
    for joint in urdf_joints:
        limit = joint.find('limit')
        name = joint.get('name')
        assert (float(limit.get('lower')), float(limit.get('upper'))) == limits[name], name
        assert float(limit.get('velocity')) == velocities[name], name
    # ros2_control: one position command interface per joint, bounded by the same limits.
    control = robot.find('ros2_control').findall('joint')
    assert [joint.get('name') for joint in control] == list(m.joint_names)
    for joint in control:
        interface = joint.find('command_interface')
        bounds = {param.get('name'): float(param.text) for param in interface.findall('param')}
        assert interface.get('name') == 'position'
        assert (bounds['min'], bounds['max']) == limits[joint.get('name')], joint.get('name')
    # The controller reaction_node's commands reach: its name is the topic's namespace, and its
    # joints are in the order of the command vector.
    controllers = yaml.safe_load((ROS2_CONTROL / 'controllers.yaml').read_text())
    name, topic = m.controller_topic.split('/')
    assert topic == 'commands'
    assert controllers['/**/controller_manager']['ros__parameters'][name]['type'] == \
        'forward_command_controller/ForwardCommandController'
    forward = controllers[f'/**/{name}']['ros__parameters']
    assert forward['joints'] == list(m.joint_names)
    assert forward['interface_name'] == 'position'
