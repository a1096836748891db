"""audio_capture_node over real DDS, capturing from an ALSA file device (no sound card needed)."""

import threading

from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
import numpy as np
import pytest
from rcl_interfaces.msg import Log
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from react_ros.nodes.audio_capture_node import INFO_PERIOD_S
from react_ros.support.harness import NodeProcess, ROSOUT_QOS, wait_until

ALSA_FILE_DEVICE = """
</usr/share/alsa/alsa.conf>
pcm.react_test_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
"""


@pytest.fixture
def recorded_speech(tmp_path):
    """Write a raw S16LE file and an ALSA config exposing it as device react_test_file."""
    rng = np.random.default_rng(3)
    samples = rng.integers(-20000, 20000, 16000 * 30).astype('<i2')
    infile = tmp_path / 'speech.raw'
    samples.tofile(infile)
    config = tmp_path / 'asound.conf'
    config.write_text(ALSA_FILE_DEVICE.format(infile=infile))
    return samples, config


def collect(node, msg_type, topic, qos):
    received, lock = [], threading.Lock()

    def keep(msg):
        with lock:
            received.append(msg)
    return received, node.create_subscription(msg_type, topic, keep, qos)


def test_captured_chunks_carry_the_device_audio_in_order(ros_node, ros_env, tmp_path,
                                                         recorded_speech):
    """Check chunks on audio_stamped and audio, and audio_info re-sent as audio_capture does."""
    samples, config = recorded_speech
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE)
    volatile = QoSProfile(depth=1, durability=DurabilityPolicy.VOLATILE,
                          reliability=ReliabilityPolicy.RELIABLE)
    chunks, audio_sub = collect(ros_node, AudioDataStamped, 'audio_stamped', 200)
    unstamped, unstamped_sub = collect(ros_node, AudioData, 'audio', 200)
    infos, info_sub = collect(ros_node, AudioInfo, 'audio_info', latched)
    volatile_infos, volatile_sub = collect(ros_node, AudioInfo, 'audio_info', volatile)
    env = dict(ros_env, ALSA_CONFIG_PATH=str(config))
    process = NodeProcess(['react_ros.nodes.audio_capture_node', '--ros-args',
                           '-p', 'device:=react_test_file', '-p', 'chunk_ms:=20'],
                          env, tmp_path / 'capture.log')
    try:
        assert wait_until(lambda: len(chunks) >= 40 and len(unstamped) >= 40, 30), \
            process.output()
        # The latched first announcement, then the periodic one a volatile subscriber gets too
        # (three periods: one full-suite CI run saw a single re-send in one period + 5 s).
        assert wait_until(lambda: len(infos) >= 2 and volatile_infos, 3 * INFO_PERIOD_S), \
            (len(infos), len(volatile_infos))
    finally:
        assert process.stop() == 0, process.output()
        for sub in (audio_sub, unstamped_sub, info_sub, volatile_sub):
            ros_node.destroy_subscription(sub)
    info = infos[-1]
    assert (info.sample_rate, info.channels, info.sample_format, info.coding_format) == \
        (16000, 1, 'S16LE', 'wave')
    # Each chunk goes out on both topics, as audio_capture publishes it.
    assert {bytes(c.data) for c in unstamped} & {bytes(c.audio.data) for c in chunks}
    first = chunks[:40]
    assert all(len(c.audio.data) == 640 for c in first)  # 20 ms x 2 bytes
    # The ALSA file device is not paced: it delivers the file faster than real time, so chunks
    # of the burst before discovery or beyond the queue depth are not seen. Every chunk that
    # arrives must be a whole 20 ms slice of the device audio.
    offsets = {samples[i:i + 320].tobytes(): i for i in range(0, len(samples), 320)}
    positions = [offsets.get(bytes(c.audio.data)) for c in first]
    assert None not in positions, 'a chunk holds audio that is not from the device'
    stamps = [c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in first]
    assert all(b >= a for a, b in zip(stamps, stamps[1:]))


def test_missing_device_warns_and_keeps_running(ros_node, ros_env, tmp_path):
    warnings = []
    sub = ros_node.create_subscription(
        Log, '/rosout', lambda m: warnings.append(m.msg) if m.level >= Log.WARN else None,
        ROSOUT_QOS)
    process = NodeProcess(['react_ros.nodes.audio_capture_node', '--ros-args',
                           '-p', 'device:=no_such_microphone'], ros_env, tmp_path / 'c.log')
    try:
        assert wait_until(lambda: any('no_such_microphone' in w for w in warnings), 30), \
            process.output()
        assert process.running()
    finally:
        assert process.stop() == 0, process.output()
        ros_node.destroy_subscription(sub)
