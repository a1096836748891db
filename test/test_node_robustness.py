"""
The nodes survive what would stop them, in this process over real DDS.

reaction_node's watchdog: a worker thread that ends is reported on /diagnostics as ERROR with
the reason and restarted, and the node answers frames again. face_display_node: coefficients
it cannot draw are skipped with a warning, and the next good ones are drawn.

The fault is injected into the node's own session (no frame reaches that code path otherwise:
every per-frame failure is caught inside the worker); the middleware is real.
"""

from contextlib import contextmanager
import threading

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from react_ros.spec import CHANNEL_NAMES
from react_ros.support.harness import wait_until
from sensor_msgs.msg import Image, JointState

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
