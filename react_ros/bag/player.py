"""
Replay a rosbag2 into DDS with its original timing (an rclpy stand-in for ros2 bag play).

Messages are published as the serialized bytes stored in the bag, paced with
time.perf_counter. With restamp, header stamps are shifted so they look live: stamp' =
play start wall time + (stamp - bag start) / rate, patched in the CDR bytes for every type whose
first field is a std_msgs/Header. Each further loop's stamps are shifted by the bag's length,
so with restamp they stay live on every loop; repeat_stamps republishes the first loop's stamps
instead (they jump backwards at each loop, which consumers must handle; this player's default
before 2026-12, when live consumers saw a latency growing by the bag's length per loop).
Needs the generated Python message packages for the bag's types.
"""

from dataclasses import dataclass, field
import importlib
from pathlib import Path
import threading
import time
from typing import Dict, Iterable, List, Optional, Sequence

from builtin_interfaces.msg import Time
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from react_ros.bag.msg_types import (
    publisher_qos_policy, read_header_stamp, write_header_stamp)
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosReliability
from rosbags.rosbag2 import Reader
from rosgraph_msgs.msg import Clock

HEADER_FIELD_TYPE = 'std_msgs/Header'  # how generated classes name it in _fields_and_field_types
# After the last publish, keep the publishers this long so reliable readers get every message.
LINGER_S = 0.5
# /clock as rclcpp::ClockQoS, which use_sim_time subscribers (rclpy's TimeSource) match.
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
# After every publisher has matched a subscriber, give the readers' side time to match too.
MATCH_SETTLE_S = 0.3


def publisher_qos(msgtype: str, offered: Sequence[Qos] = ()) -> QoSProfile:
    """
    Return the QoS to republish a bag's topic with, as ros2 bag play chooses it.

    The first of the recording's offered_qos_profiles when the bag has them (a transient-local
    audio_info stays latched), else msg_types.publisher_qos_policy for the type.
    """
    qos = offered[0] if offered else publisher_qos_policy(msgtype)
    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.history == QosHistory.KEEP_ALL
        else HistoryPolicy.KEEP_LAST,
        depth=max(qos.depth, 1),
        reliability=ReliabilityPolicy.BEST_EFFORT
        if qos.reliability == QosReliability.BEST_EFFORT else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if qos.durability == QosDurability.TRANSIENT_LOCAL else DurabilityPolicy.VOLATILE)


def message_class(msgtype: str):
    """Import the generated Python class for a type name like 'sensor_msgs/msg/Image'."""
    package, kind, name = msgtype.split('/')
    try:
        module = importlib.import_module(f'{package}.{kind}')
        return getattr(module, name)
    except (ImportError, AttributeError) as error:
        raise RuntimeError(f'cannot publish {msgtype}: no generated Python type '
                           f'{package}.{kind}.{name} ({error}); build and install the '
                           f'{package} interface package') from error


def has_leading_header(msg_class) -> bool:
    """Tell whether the first field of a generated message class is a std_msgs/Header."""
    field_types = list(msg_class.get_fields_and_field_types().values())
    return bool(field_types) and field_types[0] == HEADER_FIELD_TYPE


def output_topic(topic: str, remap_prefix: str) -> str:
    """Return topic under remap_prefix ('' keeps it; '/robot' makes '/image' '/robot/image')."""
    if not remap_prefix:
        return topic
    if not remap_prefix.startswith('/'):
        raise ValueError(f'remap prefix must start with "/", got {remap_prefix!r}')
    return remap_prefix.rstrip('/') + topic


@dataclass
class PlayStats:
    """What one play_bag call published and how closely it kept the bag's timing."""

    published: Dict[str, int] = field(default_factory=dict)
    loops_done: int = 0
    wall_s: float = 0.0
    timing_error_p50_ms: float = 0.0
    timing_error_p99_ms: float = 0.0
    timing_error_max_ms: float = 0.0
    stopped_early: bool = False

    def describe(self) -> str:
        """Return a one-line summary."""
        counts = ', '.join(f'{topic}: {count}' for topic, count in self.published.items())
        return (f'published {counts} in {self.loops_done} loop(s), {self.wall_s:.2f} s; '
                f'timing error p50 {self.timing_error_p50_ms:.2f} ms, '
                f'p99 {self.timing_error_p99_ms:.2f} ms, max {self.timing_error_max_ms:.2f} ms'
                + ('; stopped early' if self.stopped_early else ''))


class TopicPublishers:
    """Publishers of one node, created on first use per (topic, type)."""

    def __init__(self, node: Node):
        """Create an empty set of publishers on node."""
        self.node = node
        self._publishers = {}
        self._leading_header = {}

    def get(self, topic: str, msgtype: str, offered: Sequence[Qos] = ()):
        """
        Return (publisher, whether the type starts with a Header) for a topic.

        offered: the bag's offered QoS profiles for it, used when the publisher is created.
        """
        key = (topic, msgtype)
        if key not in self._publishers:
            msg_class = message_class(msgtype)
            self._publishers[key] = self.node.create_publisher(
                msg_class, topic, publisher_qos(msgtype, offered))
            self._leading_header[key] = has_leading_header(msg_class)
        return self._publishers[key], self._leading_header[key]

    def wait_for_subscribers(self, timeout_s: float, stop: threading.Event) -> bool:
        """Wait until every publisher has a subscriber; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not stop.is_set():
            if all(pub.get_subscription_count() > 0 for pub in self._publishers.values()):
                stop.wait(MATCH_SETTLE_S)
                return True
            stop.wait(0.02)
        return False

    def destroy(self) -> None:
        """Destroy all publishers."""
        for publisher in self._publishers.values():
            self.node.destroy_publisher(publisher)
        self._publishers.clear()
        self._leading_header.clear()


class BagPlayer(Node):
    """A node that replays bags; its publishers stay alive between plays."""

    def __init__(self, node_name: str = 'bag_player', **node_kwargs):
        """Create the node (rclpy must be initialised)."""
        super().__init__(node_name, **node_kwargs)
        self.topic_publishers = TopicPublishers(self)

    def play(self, path, **options) -> PlayStats:
        """Replay the bag at path; options as for play_bag."""
        return play_bag(path, self, **options)


def _select_connections(reader: Reader, topics: Optional[Iterable[str]]) -> List:
    if topics is None:
        return list(reader.connections)
    wanted = set(topics)
    available = {connection.topic for connection in reader.connections}
    missing = wanted - available
    if missing:
        raise ValueError(f'topics {sorted(missing)} are not in the bag; it has '
                         f'{sorted(available)}')
    return [connection for connection in reader.connections if connection.topic in wanted]


def play_bag(path, node: Optional[Node] = None, *, rate: float = 1.0, restamp: bool = True,
             loops: int = 1, repeat_stamps: bool = False, topics: Optional[Iterable[str]] = None,
             remap_prefix: str = '', wait_for_subscribers_s: float = 0.0, clock: bool = False,
             stop: Optional[threading.Event] = None) -> PlayStats:
    """
    Publish the messages of the rosbag2 at path with their recorded timing; block until done.

    Runs in the calling thread, so it can share a node that the caller's executor spins
    elsewhere. Without node, a temporary BagPlayer is created (rclpy must be initialised).
    rate: speed factor. restamp: shift header stamps to the wall clock. loops: times to play.
    repeat_stamps: every loop republishes the first loop's stamps (they jump back) instead of
    shifting each loop's by the bag length.
    topics: only these topics. remap_prefix: publish '/image' as prefix + '/image'.
    wait_for_subscribers_s: wait up to this long until every topic has a subscriber.
    clock: publish /clock (rosgraph_msgs/Clock) with the playback time before every message,
    as `ros2 bag play --clock` does, for nodes on use_sim_time; it follows the (re)stamps.
    stop: an Event that ends playback early.
    """
    if rate <= 0:
        raise ValueError(f'rate must be > 0, got {rate}')
    if loops < 1:
        raise ValueError(f'loops must be >= 1, got {loops}')
    if not Path(path, 'metadata.yaml').is_file():
        raise FileNotFoundError(f'{path} is not a rosbag2 folder (no metadata.yaml)')
    stop = stop or threading.Event()
    own_node = node is None
    if own_node:
        if not rclpy.ok():
            raise RuntimeError('rclpy is not initialised; call rclpy.init() or pass a node')
        node = BagPlayer()
    publishers = node.topic_publishers if isinstance(node, BagPlayer) else TopicPublishers(node)
    clock_pub = node.create_publisher(Clock, '/clock', CLOCK_QOS) if clock else None
    try:
        with Reader(path) as reader:
            connections = _select_connections(reader, topics)
            for connection in connections:
                publishers.get(output_topic(connection.topic, remap_prefix),
                               connection.msgtype, connection.ext.offered_qos_profiles)
            if wait_for_subscribers_s > 0 and not publishers.wait_for_subscribers(
                    wait_for_subscribers_s, stop):
                node.get_logger().warning(
                    f'not every topic had a subscriber after {wait_for_subscribers_s} s; '
                    'playing anyway')
            stats = _play(reader, connections, publishers, rate=rate, restamp=restamp,
                          loops=loops, repeat_stamps=repeat_stamps, remap_prefix=remap_prefix,
                          clock_pub=clock_pub, stop=stop, context=node.context)
        stop.wait(LINGER_S)
    finally:
        if clock_pub is not None:
            node.destroy_publisher(clock_pub)
        if not isinstance(node, BagPlayer):
            publishers.destroy()
        if own_node:
            node.destroy_node()
    return stats


def _play(reader: Reader, connections: List, publishers: TopicPublishers, *, rate: float,
          restamp: bool, loops: int, repeat_stamps: bool, remap_prefix: str, clock_pub,
          stop: threading.Event, context) -> PlayStats:
    bag_start = reader.start_time
    loop_ns = max(reader.end_time - 1 - bag_start, 1)  # last message lands where loop 2 starts
    stats = PlayStats(published={output_topic(connection.topic, remap_prefix): 0
                                 for connection in connections})
    lateness_s: List[float] = []
    start_perf = time.perf_counter()
    start_wall_ns = time.time_ns()
    for loop in range(loops):
        loop_shift_ns = 0 if repeat_stamps else loop * loop_ns
        for connection, log_ns, raw in reader.messages(connections=connections):
            target = start_perf + (loop * loop_ns + log_ns - bag_start) / rate / 1e9
            remaining = target - time.perf_counter()
            if remaining > 0:
                stop.wait(remaining)
            if stop.is_set() or not context.ok():
                stats.stopped_early = True
                break
            if clock_pub is not None:
                now_ns = _playback_time(log_ns + loop_shift_ns, restamp, bag_start,
                                        start_wall_ns, rate)
                clock_pub.publish(Clock(clock=Time(sec=now_ns // 1_000_000_000,
                                                   nanosec=now_ns % 1_000_000_000)))
            topic = output_topic(connection.topic, remap_prefix)
            publisher, leading_header = publishers.get(topic, connection.msgtype)
            payload = _shift_stamp(raw, leading_header, restamp, loop_shift_ns, bag_start,
                                   start_wall_ns, rate)
            publisher.publish(payload)
            lateness_s.append(time.perf_counter() - target)
            stats.published[topic] += 1
        if stats.stopped_early:
            break
        stats.loops_done += 1
    stats.wall_s = time.perf_counter() - start_perf
    if lateness_s:
        lateness_ms = np.asarray(lateness_s) * 1e3
        stats.timing_error_p50_ms = float(np.percentile(lateness_ms, 50))
        stats.timing_error_p99_ms = float(np.percentile(lateness_ms, 99))
        stats.timing_error_max_ms = float(lateness_ms.max())
    return stats


def _playback_time(bag_ns: int, restamp: bool, bag_start: int, start_wall_ns: int,
                   rate: float) -> int:
    """Map a (loop-shifted) bag time to the time it is played as: live with restamp."""
    if not restamp:
        return bag_ns
    return start_wall_ns + int(round((bag_ns - bag_start) / rate))


def _shift_stamp(raw, leading_header: bool, restamp: bool, loop_shift_ns: int, bag_start: int,
                 start_wall_ns: int, rate: float) -> bytes:
    if not leading_header or not (restamp or loop_shift_ns):
        return bytes(raw)
    payload = bytearray(raw)
    write_header_stamp(payload, _playback_time(read_header_stamp(payload) + loop_shift_ns,
                                               restamp, bag_start, start_wall_ns, rate))
    return bytes(payload)


def play_in_own_context(path, ros_args=(), **options) -> PlayStats:
    """
    Play a bag as play_bag does, in an rclpy context of its own (a player process).

    ros_args: `--ros-args ...` for the player node (remaps of the bag's topics, parameters).
    """
    rclpy.init(args=list(ros_args))
    try:
        return play_bag(path, **options)
    finally:
        rclpy.try_shutdown()
