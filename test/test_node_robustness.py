"""
The nodes survive what would stop them, and follow the robot's turns, in this process over DDS.

reaction_node's watchdog: a worker thread that ends is reported on /diagnostics as ERROR with
the reason and restarted, and the node answers frames again. face_display_node: coefficients
it cannot draw are skipped with a warning, and the next good ones are drawn.

The robot's turn: robot_speaking fades the reaction to neutral and the microphone's audio
reaches the speaker encoder as silence meanwhile. The fault is injected into the node's own
session (no frame reaches that code path otherwise:
every per-frame failure is caught inside the worker); the middleware is real.
"""

from contextlib import contextmanager
import threading
import time

from audio_common_msgs.msg import AudioDataStamped
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import numpy as np
import pytest
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from react_ros.spec import CHANNEL_NAMES, NEUTRAL_FRAME
from react_ros.support.harness import wait_until
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool

NAMESPACE = '/watchdog_test'


@contextmanager
def active_reaction_node(*parameters: Parameter):
    """Yield an active ReactionNode (untrained networks, 0.2 s diagnostics) spinning here."""
    from react_ros.nodes.reaction_node import ReactionNode

    node = ReactionNode(namespace=NAMESPACE, parameter_overrides=[
        Parameter('model_path', value='untrained'), Parameter('diagnostics_period_s', value=0.2),
        Parameter('animatronic_config', value='none'), *parameters])
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        yield node
    finally:
        node.trigger_deactivate()
        executor.shutdown()
        node.destroy_node()


@pytest.fixture
def node_in_process(ros_node):
    with active_reaction_node() as node:
        yield node


def test_diagnostics_keep_coming_on_sim_time_without_a_clock(ros_node):
    """use_sim_time with no /clock publisher (a bag played without --clock): still reported."""
    reports = []
    sub = ros_node.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: reports.extend(s for s in msg.status if NAMESPACE[1:] in s.name), 10)
    try:
        with active_reaction_node(Parameter('use_sim_time', value=True)) as node:
            assert node.get_clock().now().nanoseconds == 0  # sim time, and no /clock
            assert wait_until(lambda: len(reports) >= 3, 10), reports
    finally:
        ros_node.destroy_subscription(sub)


def test_a_dead_worker_is_reported_and_restarted(node_in_process, ros_node):
    node = node_in_process
    statuses, answered = [], []
    subs = [ros_node.create_subscription(
                DiagnosticArray, '/diagnostics',
                lambda msg: statuses.extend(s for s in msg.status if NAMESPACE[1:] in s.name
                                            or s.name.startswith('reaction_node')), 10),
            ros_node.create_subscription(JointState, f'{NAMESPACE}/reaction/coefficients',
                                         lambda msg: answered.append(msg), 100)]
    image_pub = ros_node.create_publisher(Image, f'{NAMESPACE}/image', qos_profile_sensor_data)
    frame = Image(height=120, width=160, encoding='rgb8', step=480,
                  data=np.zeros((120, 160, 3), np.uint8).tobytes())

    def send(count):
        for _ in range(count):
            frame.header.stamp = ros_node.get_clock().now().to_msg()
            image_pub.publish(frame)
            wait_until(lambda: False, 1 / 30)

    try:
        assert wait_until(lambda: image_pub.get_subscription_count() > 0, 10)
        session = node._session
        original = session.take_frame
        calls = []

        def fails_once(stopped):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError('injected fault')
            return original(stopped)

        session.take_frame = fails_once
        send(2)  # the worker returns from the original wait, then calls fails_once and dies
        assert wait_until(lambda: any(
            s.level == DiagnosticStatus.ERROR and 'RuntimeError: injected fault' in s.message
            for s in statuses), 5), [(s.level, s.message) for s in statuses]
        restarts = {kv.key: kv.value for kv in statuses[-1].values}['worker_restarts']
        assert restarts == '1'
        before = len(answered)
        send(20)
        assert wait_until(lambda: len(answered) - before >= 19, 5), len(answered) - before
    finally:
        for sub in subs:
            ros_node.destroy_subscription(sub)
        ros_node.destroy_publisher(image_pub)


def test_face_display_skips_coefficients_it_cannot_draw(ros_node):
    from react_ros.nodes.face_display_node import FaceDisplayNode

    node = FaceDisplayNode(namespace=NAMESPACE)
    faces = []
    sub = ros_node.create_subscription(Image, f'{NAMESPACE}/face/image', faces.append, 10)
    try:
        assert wait_until(lambda: node.publisher.get_subscription_count() > 0, 10)
        bad = JointState(name=list(CHANNEL_NAMES), position=[float('nan')] * len(CHANNEL_NAMES))
        node.coefficients_callback(bad)  # would raise inside the executor without the check
        good = JointState(name=list(CHANNEL_NAMES), position=[0.0] * len(CHANNEL_NAMES))
        node.coefficients_callback(good)
        assert wait_until(lambda: len(faces) == 1, 5), len(faces)
    finally:
        ros_node.destroy_subscription(sub)
        node.destroy_node()


def test_the_robot_turn_fades_to_neutral_and_silences_its_own_voice(ros_node):
    coefficients, pushed = [], []  # (receive time, values); (push time, peak of the samples)
    sub = ros_node.create_subscription(
        JointState, f'{NAMESPACE}/reaction/coefficients',
        lambda msg: coefficients.append((time.monotonic(), np.array(msg.position))), 100)
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE)
    turn_pub = ros_node.create_publisher(Bool, f'{NAMESPACE}/robot_speaking', latched)
    image_pub = ros_node.create_publisher(Image, f'{NAMESPACE}/image', qos_profile_sensor_data)
    audio_pub = ros_node.create_publisher(AudioDataStamped, f'{NAMESPACE}/audio_stamped', 100)
    frame = Image(height=120, width=160, encoding='rgb8', step=480,
                  data=np.full((120, 160, 3), 90, np.uint8).tobytes())
    noise = np.random.default_rng(0)

    def send(seconds):
        """Camera frames at 30 fps, each after its 33 ms of loud audio (the robot's voice)."""
        for _ in range(round(seconds * 30)):
            stamp = ros_node.get_clock().now()
            audio = AudioDataStamped()
            audio.header.stamp = (stamp - Duration(nanoseconds=33_333_333)).to_msg()
            audio.audio.data = (noise.normal(0, 8000, 533).astype('<i2')).tobytes()
            audio_pub.publish(audio)
            frame.header.stamp = stamp.to_msg()
            image_pub.publish(frame)
            time.sleep(1 / 30)

    def received_after(start):
        return np.array([values for when, values in coefficients if when > start])

    with active_reaction_node(Parameter('turns.fade_s', value=0.2)) as node:
        original_push = node._session.push_audio

        def recording_push(samples, stamp, sample_rate):
            pushed.append((time.monotonic(), float(np.abs(samples).max())))
            return original_push(samples, stamp, sample_rate)

        node._session.push_audio = recording_push
        try:
            assert wait_until(lambda: image_pub.get_subscription_count() > 0
                              and turn_pub.get_subscription_count() > 0, 10)
            # No robot_speaking yet: reacting as ever, the person's audio heard.
            start = time.monotonic()
            send(0.5)
            assert wait_until(lambda: len(received_after(start)) >= 10, 5)
            assert np.abs(received_after(start) - NEUTRAL_FRAME).max() > 1e-3
            assert max(peak for when, peak in pushed if when > start) > 0.1

            turn_pub.publish(Bool(data=True))
            speaking_since = time.monotonic()
            send(1.0)
            # Faded out within fade_s (plus a frame in flight): exactly the neutral face.
            faded = received_after(speaking_since + 0.2 + 0.1)
            assert len(faded) >= 15, len(faded)
            np.testing.assert_allclose(faded, np.broadcast_to(NEUTRAL_FRAME, faded.shape),
                                       atol=1e-6)
            # The robot's own voice reached the encoder as silence.
            heard = [peak for when, peak in pushed if when > speaking_since + 0.05]
            assert heard and max(heard) == 0.0, heard[:5]

            turn_pub.publish(Bool(data=False))
            listening_since = time.monotonic()
            send(1.0)
            assert wait_until(lambda: len(received_after(listening_since + 0.5)) >= 5, 5)
            back = received_after(listening_since + 0.5)
            assert np.abs(back - NEUTRAL_FRAME).max(axis=1).min() > 1e-3  # reacting again
        finally:
            ros_node.destroy_subscription(sub)
            for publisher in (turn_pub, image_pub, audio_pub):
                ros_node.destroy_publisher(publisher)
