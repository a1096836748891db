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
    """Calls a lifecycle node's change_state/get_state services (a spinning node required)."""

    TRANSITIONS = {
        'configure': Transition.TRANSITION_CONFIGURE,
        'activate': Transition.TRANSITION_ACTIVATE,
        'deactivate': Transition.TRANSITION_DEACTIVATE,
        'cleanup': Transition.TRANSITION_CLEANUP,
        'shutdown': Transition.TRANSITION_ACTIVE_SHUTDOWN,
    }

    def __init__(self, node: Node, target: str):
        self._change = node.create_client(ChangeState, f'/{target}/change_state')
        self._get = node.create_client(GetState, f'/{target}/get_state')
        self._target = target

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until the target's lifecycle services are reachable."""
        return (self._change.wait_for_service(timeout_sec=timeout_s)
                and self._get.wait_for_service(timeout_sec=timeout_s))

    def _call(self, client, request, timeout_s):
        future = client.call_async(request)
        if not wait_until(future.done, timeout_s):
            raise TimeoutError(f'{self._target}: no answer from {client.srv_name} '
                               f'within {timeout_s} s')
        return future.result()

    def change(self, transition: str, timeout_s: float = 30.0) -> bool:
        """Request a transition by name; return whether it succeeded."""
        request = ChangeState.Request()
        request.transition.id = self.TRANSITIONS[transition]
        return self._call(self._change, request, timeout_s).success

    def state(self, timeout_s: float = 10.0) -> str:
        """Return the target's current state label, e.g. 'active'."""
        return self._call(self._get, GetState.Request(), timeout_s).current_state.label


def start_nodes(env: Dict[str, str], params_file: str, log_dir: Path) -> List[NodeProcess]:
    """Start reaction_node and face_display_node as separate processes, as the launch file does."""
    return [NodeProcess([f'react_ros.nodes.{name}', '--ros-args', '--params-file',
                         str(params_file)], env, Path(log_dir) / f'{name}.log')
            for name in ('reaction_node', 'face_display_node')]


def play(bag: Path, env: Dict[str, str], log_dir: Path, timeout_s: float = 600.0) -> str:
    """
    Replay a demo bag's camera and microphone topics from a player process; return its summary.

    The player has a process of its own: one Python process that both plays and receives
    large images stalled the image flow for 1-2 s at a time.
    """
    player = NodeProcess(['react_ros.bag.player', str(bag), '--topics', '/image', '/audio',
                          '/audio_info', '--wait-subscribers', '60'], env,
                         Path(log_dir) / 'player.log')
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
