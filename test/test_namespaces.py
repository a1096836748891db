"""
Two robots on one DDS domain: reaction_node in /r1 and in /r2, each reacting to its own camera.

Both run from a parameter file keyed `/**/reaction_node` (as config/react.yaml is), started with
`__ns:=` as the launch file's namespace argument starts them. `react-ros run` and `react-ros
play` take the same `--ros-args` (namespace, remaps).
"""

import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from hri_msgs.msg import Expression
import pytest
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import qos_profile_sensor_data
from react_ros.bag.make_bag import IMAGE_TOPIC, make_demo_bag
from react_ros.nodes.common import PIPELINE_STATUS
from react_ros.resources import default_config_path
from react_ros.support.harness import bring_up, LifecycleClient, NodeProcess, wait_until
from sensor_msgs.msg import Image, JointState
import skimage.data

ROBOTS = ('/r1', '/r2')
FRAMES_EACH = 40
# Differs from the declared default (0.04): proves the `/**/` file reached the namespaced node.
AUDIO_WAIT_S = 0.05


class Robot:
    """One namespace's camera publisher and the reaction topics it should answer on."""

    def __init__(self, node, namespace):
        self.namespace = namespace
        self.image_pub = node.create_publisher(Image, f'{namespace}/image',
                                               qos_profile_sensor_data)
        self.sent, self.answered, self.expressions = [], [], []
        self._lock = threading.Lock()
        self._subs = [
            node.create_subscription(JointState, f'{namespace}/reaction/coefficients',
                                     self._keep(self.answered, stamp=True), 100),
            node.create_subscription(Expression, f'{namespace}/robot_face/expression',
                                     self._keep(self.expressions), 100)]
        self._node = node

    def _keep(self, into, stamp=False):
        def callback(msg):
            with self._lock:
                into.append(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                            if stamp else msg)
        return callback

    def publish(self, frame: Image):
        stamp = self._node.get_clock().now()
        frame.header.stamp = stamp.to_msg()
        self.image_pub.publish(frame)
        self.sent.append(stamp.nanoseconds)

    def answered_stamps(self) -> set:
        with self._lock:
            return set(self.answered)

    def close(self):
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._node.destroy_publisher(self.image_pub)


@pytest.fixture(scope='module')
def robots(ros_node, ros_env, tmp_path_factory):
    """Yield a Robot per namespace, its reaction_node configured and active."""
    folder = tmp_path_factory.mktemp('namespaces')
    params = folder / 'react.yaml'
    shipped = default_config_path('react.yaml').read_text()
    params.write_text(shipped.replace('audio_wait_s: 0.04', f'audio_wait_s: {AUDIO_WAIT_S}'))
    assert params.read_text() != shipped
    processes = [NodeProcess(['react_ros.nodes.reaction_node', '--ros-args', '-r',
                              f'__ns:={namespace}', '--params-file', str(params)],
                             ros_env, folder / f'{namespace[1:]}.log') for namespace in ROBOTS]
    clients = [LifecycleClient(ros_node, f'{namespace[1:]}/reaction_node')
               for namespace in ROBOTS]
    robots = [Robot(ros_node, namespace) for namespace in ROBOTS]
    try:
        for client in clients:
            bring_up(client)
        for robot in robots:
            assert wait_until(lambda: robot.image_pub.get_subscription_count() == 1, 10)
        yield robots
    finally:
        for client, robot in zip(clients, robots):
            client.destroy()
            robot.close()
        for process in processes:
            assert process.stop() == 0, process.output()


def test_each_robot_reacts_to_its_own_camera_only(robots, ros_node):
    face = cv2.resize(skimage.data.astronaut(), (640, 480))
    for _ in range(FRAMES_EACH):
        for robot in robots:
            robot.publish(Image(height=480, width=640, encoding='rgb8', step=640 * 3,
                                data=face.tobytes()))
            time.sleep(1 / 30)
    for robot in robots:
        sent = set(robot.sent)
        assert wait_until(lambda: len(robot.answered_stamps() & sent) >= 0.9 * len(sent), 10), \
            (robot.namespace, len(robot.answered_stamps() & sent))
        # Nothing answered that this robot's camera did not send.
        assert robot.answered_stamps() <= sent, robot.namespace
        assert robot.expressions, f'no {robot.namespace}/robot_face/expression'
    # The hri topics moved into the namespaces too. (Waited for: nodes of earlier tests that
    # published there may linger in the graph for a moment.)
    for topic in ('/robot_face/expression', '/robot_face/facs', '/reaction/coefficients'):
        assert wait_until(lambda: ros_node.count_publishers(topic) == 0, 10), topic


def test_both_robots_report_on_the_one_diagnostics_topic(robots, ros_node):
    names = set()
    sub = ros_node.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: names.update(status.name for status in msg.status), 10)
    try:
        expected = {f'{namespace}/reaction_node: {PIPELINE_STATUS}' for namespace in ROBOTS}
        assert wait_until(lambda: expected <= set(names), 10), names
    finally:
        ros_node.destroy_subscription(sub)


@pytest.mark.parametrize('namespace', ROBOTS)
def test_the_any_namespace_parameter_file_applies(robots, ros_node, namespace):
    client = AsyncParameterClient(ros_node, f'{namespace}/reaction_node')
    assert client.wait_for_services(10)
    future = client.get_parameters(['audio_wait_s'])
    assert wait_until(future.done, 10)
    assert future.result().values[0].double_value == AUDIO_WAIT_S


def test_react_ros_run_and_play_take_ros_arguments(ros_node, ros_env, tmp_path):
    bag = tmp_path / 'bag'
    make_demo_bag(bag, duration_s=2.0, progress=False)
    run = NodeProcess(['react_ros', 'run', '--no-microphone', '--ros-args', '-r',
                       '__ns:=/r3'], ros_env, tmp_path / 'run.log')
    robot = Robot(ros_node, '/r3')
    try:
        assert wait_until(lambda: ros_node.count_publishers('/r3/reaction/coefficients') == 1
                          and ros_node.count_publishers('/r3/face/image') == 1, 90), \
            run.output()
        player = NodeProcess(['react_ros', 'play', str(bag), '--topics', IMAGE_TOPIC,
                              '--wait-subscribers', '30', '--ros-args', '-r',
                              f'{IMAGE_TOPIC}:=/r3/image'], ros_env, tmp_path / 'player.log')
        assert player.process.wait(60) == 0, player.output()
        player.stop()
        # 60 frames; one process shares its GIL with the face display (>= 80 % elsewhere).
        assert wait_until(lambda: len(robot.answered_stamps()) >= 30, 10), \
            (len(robot.answered_stamps()), run.output()[-2000:])
    finally:
        robot.close()
        assert run.stop() == 0, run.output()
