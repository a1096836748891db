"""
Tests of the interface packages built from interfaces/ (audio_common_msgs, hri_msgs).

The definitions are checked against the upstream ones (ros-drivers/audio_common, ROS 2 branch,
and ros4hri/hri_msgs), and an AudioDataStamped and an Expression travel between two separate
processes through real rclpy and Fast DDS, their contents compared field by field.

Run as a script, this file is also the peer process: `python test_interfaces.py publish TOPIC`
or `python test_interfaces.py subscribe TOPIC`.
"""

import json
import os
import subprocess
import sys
import time

from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from hri_msgs.msg import Expression, FacialActionUnits
import pytest

# The 25 expression constants of hri_msgs/Expression, name -> value, as upstream defines them.
UPSTREAM_EXPRESSIONS = {
    'NEUTRAL': 'neutral', 'ANGRY': 'angry', 'SAD': 'sad', 'HAPPY': 'happy',
    'SURPRISED': 'surprised', 'DISGUSTED': 'disgusted', 'SCARED': 'scared',
    'PLEADING': 'pleading', 'VULNERABLE': 'vulnerable', 'DESPAIRED': 'despaired',
    'GUILTY': 'guilty', 'DISAPPOINTED': 'disappointed', 'EMBARRASSED': 'embarrassed',
    'HORRIFIED': 'horrified', 'SKEPTICAL': 'skeptical', 'ANNOYED': 'annoyed',
    'FURIOUS': 'furious', 'SUSPICIOUS': 'suspicious', 'REJECTED': 'rejected',
    'BORED': 'bored', 'TIRED': 'tired', 'ASLEEP': 'asleep', 'CONFUSED': 'confused',
    'AMAZED': 'amazed', 'EXCITED': 'excited',
}

AUDIO_SUFFIX = '/audio'
EXPRESSION_SUFFIX = '/expression'
PEER_TIMEOUT_S = 20.0

# Values chosen to be exact in float32, so equality holds after the round trip.
SENT_AUDIO = {
    'sec': 1234, 'nanosec': 5678, 'frame_id': 'microphone',
    'data_hex': bytes((i * 7 + 3) % 256 for i in range(1600)).hex(),
}
SENT_EXPRESSION = {
    'sec': 42, 'nanosec': 500, 'frame_id': 'face_1',
    'expression': Expression.AMAZED, 'valence': 0.625, 'arousal': -0.375, 'confidence': 0.875,
}


def _message_constants(message_type):
    """Return the constants of a generated message class, name -> value."""
    return {name: getattr(message_type, name) for name in dir(message_type)
            if name.isupper() and name != 'SLOT_TYPES'}


def test_audio_common_msgs_match_upstream():
    assert AudioData.get_fields_and_field_types() == {'data': 'sequence<uint8>'}
    assert AudioDataStamped.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'audio': 'audio_common_msgs/AudioData'}
    assert AudioInfo.get_fields_and_field_types() == {
        'channels': 'uint8', 'sample_rate': 'uint32', 'sample_format': 'string',
        'bitrate': 'uint32', 'coding_format': 'string'}


def test_hri_msgs_match_upstream():
    assert Expression.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'expression': 'string', 'valence': 'float',
        'arousal': 'float', 'confidence': 'float'}
    assert _message_constants(Expression) == UPSTREAM_EXPRESSIONS
    assert FacialActionUnits.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'intensity': 'float[99]', 'confidence': 'float[99]'}
    action_units = _message_constants(FacialActionUnits)
    assert len(action_units) == 76
    assert action_units['NEUTRAL_FACE'] == 0
    assert action_units['INNER_BROW_RAISER'] == 1
    assert action_units['LIP_CORNER_PULLER'] == 12
    assert action_units['JAW_DROP'] == 26
    assert action_units['EYES_POSITIONED_TO_LOOK_AT_OTHER_PERSON'] == 69
    assert action_units['FAST_UP_DOWN_LOOK'] == 98
    # Every code indexes the 99-long intensity and confidence arrays.
    assert max(action_units.values()) < 99


def _ros_environment():
    """Return the environment for the peers: loopback-only discovery, a domain of this run."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
    return env


def _start_peer(role, topic_prefix):
    return subprocess.Popen(
        [sys.executable, __file__, role, topic_prefix], env=_ros_environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope='module')
def received():
    """Run a subscriber and a publisher process; return what the subscriber received."""
    topic_prefix = f'/react_ros_interface_test_{os.getpid()}'
    subscriber = _start_peer('subscribe', topic_prefix)
    publisher = _start_peer('publish', topic_prefix)
    try:
        out, err = subscriber.communicate(timeout=PEER_TIMEOUT_S + 10)
    finally:
        # The publisher never stops by itself before its deadline; nothing in it needs cleanup.
        publisher.kill()
        publisher.communicate()
        subscriber.kill()
    assert subscriber.returncode == 0, f'subscriber failed:\n{err}'
    return json.loads(out)


def test_audio_data_stamped_crosses_processes(received):
    assert received['audio'] == SENT_AUDIO


def test_expression_crosses_processes(received):
    assert received['expression'] == SENT_EXPRESSION


def _publish(topic_prefix):
    """Publish the two test messages every 100 ms until terminated."""
    import rclpy

    audio = AudioDataStamped()
    audio.header.stamp.sec = SENT_AUDIO['sec']
    audio.header.stamp.nanosec = SENT_AUDIO['nanosec']
    audio.header.frame_id = SENT_AUDIO['frame_id']
    audio.audio.data = bytes.fromhex(SENT_AUDIO['data_hex'])
    expression = Expression()
    expression.header.stamp.sec = SENT_EXPRESSION['sec']
    expression.header.stamp.nanosec = SENT_EXPRESSION['nanosec']
    expression.header.frame_id = SENT_EXPRESSION['frame_id']
    for field in ('expression', 'valence', 'arousal', 'confidence'):
        setattr(expression, field, SENT_EXPRESSION[field])

    rclpy.init()
    node = rclpy.create_node('interface_test_publisher')
    audio_publisher = node.create_publisher(AudioDataStamped, topic_prefix + AUDIO_SUFFIX, 10)
    expression_publisher = node.create_publisher(
        Expression, topic_prefix + EXPRESSION_SUFFIX, 10)
    deadline = time.monotonic() + PEER_TIMEOUT_S
    while time.monotonic() < deadline:
        audio_publisher.publish(audio)
        expression_publisher.publish(expression)
        time.sleep(0.1)


def _subscribe(topic_prefix):
    """Print the first message of each test topic as JSON; exit 1 if one does not come."""
    import rclpy

    received = {}

    def on_audio(message):
        received['audio'] = {
            'sec': message.header.stamp.sec, 'nanosec': message.header.stamp.nanosec,
            'frame_id': message.header.frame_id,
            'data_hex': bytes(message.audio.data).hex(),
        }

    def on_expression(message):
        received['expression'] = {
            'sec': message.header.stamp.sec, 'nanosec': message.header.stamp.nanosec,
            'frame_id': message.header.frame_id, 'expression': message.expression,
            'valence': message.valence, 'arousal': message.arousal,
            'confidence': message.confidence,
        }

    rclpy.init()
    node = rclpy.create_node('interface_test_subscriber')
    node.create_subscription(AudioDataStamped, topic_prefix + AUDIO_SUFFIX, on_audio, 10)
    node.create_subscription(
        Expression, topic_prefix + EXPRESSION_SUFFIX, on_expression, 10)
    deadline = time.monotonic() + PEER_TIMEOUT_S
    while len(received) < 2 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    if len(received) < 2:
        sys.exit(f'received only {sorted(received)} within {PEER_TIMEOUT_S} s')
    print(json.dumps(received))


if __name__ == '__main__':
    peers = {'publish': _publish, 'subscribe': _subscribe}
    if len(sys.argv) != 3 or sys.argv[1] not in peers:
        sys.exit(f'usage: {sys.argv[0]} publish|subscribe TOPIC_PREFIX')
    peers[sys.argv[1]](sys.argv[2])
