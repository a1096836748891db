"""
Running the nodes as separate processes and driving them over DDS (demo and tests).

Everything here talks to the nodes the way another ROS program would: processes, topics and the
lifecycle services. Every process gets the DDS environment from react_ros.bag.dds_environment
(loopback discovery, its own domain).
"""

from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from react_ros.bag.make_bag import (
    AUDIO_INFO_TOPIC, AUDIO_TOPIC, IMAGE_TOPIC, ROBOT_SPEAKING_TOPIC)
from rosbags.rosbag2 import Reader

# /rosout is published transient local: this QoS also receives what a node logged before the
# subscriber discovered it.
ROSOUT_QOS = QoSProfile(depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                        reliability=ReliabilityPolicy.RELIABLE)


def wait_until(condition: Callable[[], bool], timeout_s: float, period_s: float = 0.02) -> bool:
    """Poll condition until it holds or timeout_s passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period_s)
    return condition()


class NodeProcess:
    """A `python -m MODULE ...` child process with its output in a log file."""

    def __init__(self, module_args: List[str], env: Dict[str, str], log_path: Path):
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, 'w')
        self.process = subprocess.Popen([sys.executable, '-u', '-m', *module_args], env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def running(self) -> bool:
        """Whether the process has not exited."""
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> int:
        """Interrupt (as Ctrl-C would), kill if it hangs; return the exit code."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def output(self) -> str:
        """Everything the process printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors='replace')


class LifecycleClient:
    """
    Calls a lifecycle node's change_state/get_state services (a spinning node required).

    A node that just exited leaves its services in the DDS graph for a while, so
    wait_for_service can succeed before the new server's endpoints have matched and a request
    sent then is lost. Hence readiness means an answered get_state, and a transition whose
    answer does not come is checked against the node's state before it is asked again.
    """

    TRANSITIONS = {
        'configure': (Transition.TRANSITION_CONFIGURE, 'inactive'),
        'activate': (Transition.TRANSITION_ACTIVATE, 'active'),
        'deactivate': (Transition.TRANSITION_DEACTIVATE, 'inactive'),
        'cleanup': (Transition.TRANSITION_CLEANUP, 'unconfigured'),
        'shutdown': (Transition.TRANSITION_ACTIVE_SHUTDOWN, 'finalized'),
    }
    ATTEMPT_S = 5.0

    def __init__(self, node: Node, target: str):
        self._node = node
        self._change = node.create_client(ChangeState, f'/{target}/change_state')
        self._get = node.create_client(GetState, f'/{target}/get_state')
        self._target = target

    def _call(self, client, request, timeout_s):
        future = client.call_async(request)
        if not wait_until(future.done, timeout_s):
            client.remove_pending_request(future)
            raise TimeoutError(f'{self._target}: no answer from {client.srv_name} '
                               f'within {timeout_s} s')
        return future.result()

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until the target answers get_state."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.state(self.ATTEMPT_S)
                return True
            except TimeoutError:
                continue
        return False

    def change(self, transition: str, timeout_s: float = 30.0) -> bool:
        """Request a transition by name; return whether the node reached its goal state."""
        transition_id, goal = self.TRANSITIONS[transition]
        request = ChangeState.Request()
        request.transition.id = transition_id
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                return self._call(self._change, request, self.ATTEMPT_S).success
            except TimeoutError:
                if self._settled_state(deadline) == goal:
                    return True
        return False

    def _settled_state(self, deadline: float) -> str:
        """Poll the state until it is not a transition in progress ('configuring', ...)."""
        state = ''
        while time.monotonic() < deadline:
            try:
                state = self.state(self.ATTEMPT_S)
            except TimeoutError:
                continue
            if not state.endswith('ing'):
                break
            time.sleep(0.1)
        return state

    def state(self, timeout_s: float = 10.0) -> str:
        """Return the target's current state label, e.g. 'active'."""
        return self._call(self._get, GetState.Request(), timeout_s).current_state.label

    def destroy(self):
        """Remove the service clients from the node."""
        self._node.destroy_client(self._change)
        self._node.destroy_client(self._get)


def start_nodes(env: Dict[str, str], params_file: str, log_dir: Path) -> List[NodeProcess]:
    """Start reaction_node and face_display_node as separate processes, as the launch file does."""
    return [NodeProcess([f'react_ros.nodes.{name}', '--ros-args', '--params-file',
                         str(params_file)], env, Path(log_dir) / f'{name}.log')
            for name in ('reaction_node', 'face_display_node')]


def play(bag: Path, env: Dict[str, str], log_dir: Path, timeout_s: float = 600.0) -> str:
    """
    Replay a demo bag's camera and microphone topics from a player process; return its summary.

    A bag with a robot turn plays its robot_speaking too. The player has a process of its own:
    one Python process that both plays and receives large images stalled the image flow for
    1-2 s at a time.
    """
    topics = [IMAGE_TOPIC, AUDIO_TOPIC, AUDIO_INFO_TOPIC]
    with Reader(bag) as reader:
        if ROBOT_SPEAKING_TOPIC in {connection.topic for connection in reader.connections}:
            topics.append(ROBOT_SPEAKING_TOPIC)
    player = NodeProcess(['react_ros', 'play', str(bag), '--topics', *topics,
                          '--wait-subscribers', '60'], env, Path(log_dir) / 'player.log')
    try:
        code = player.process.wait(timeout_s)
    finally:
        player.stop()
    if code != 0:
        raise RuntimeError(f'the bag player failed ({code}):\n{player.output()[-2000:]}')
    return player.output().strip().splitlines()[-1]


def bring_up(client: LifecycleClient, timeout_s: float = 60.0):
    """Configure and activate a lifecycle node, raising if either step fails."""
    if not client.wait_ready(timeout_s):
        raise TimeoutError('reaction_node lifecycle services did not appear')
    for transition in ('configure', 'activate'):
        if not client.change(transition, timeout_s):
            raise RuntimeError(f'reaction_node refused to {transition}')
