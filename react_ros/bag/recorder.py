"""
Record DDS topics as serialized bytes, into an MCAP rosbag2 or into memory.

Subscriptions are raw (no deserialization) with best effort, depth 100, volatile QoS, which
matches both reliable and best-effort publishers. The log time of a message is its receive time
on this node's clock. Topics are given with their types, or as names whose types are discovered
from the graph as publishers appear.
"""

from pathlib import Path
import threading
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from react_ros.bag.msg_types import get_typestore
from react_ros.bag.player import message_class
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

RECORD_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
DISCOVERY_PERIOD_S = 0.1


class BagRecorder(Node):
    """
    A node that records topics as serialized bytes.

    With out_path, messages go to a new MCAP rosbag2 there (finalised by close()); without it,
    they are kept in memory in `messages`: topic -> list of (receive time ns, bytes).
    """

    def __init__(self, topics: Union[Mapping[str, str], Sequence[str]],
                 out_path: Optional[Union[str, Path]] = None, *,
                 node_name: str = 'bag_recorder', compress: bool = False, **node_kwargs):
        """
        Subscribe to topics and start recording.

        topics maps topic -> type ('sensor_msgs/msg/Image'), or lists topic names whose
        types are discovered from the ROS graph (subscribed once a publisher appears).
        compress stores MCAP chunks zstd-compressed.
        """
        super().__init__(node_name, **node_kwargs)
        self._lock = threading.Lock()
        self._closed = False
        self.counts: Dict[str, int] = {}
        self.messages: Dict[str, List[Tuple[int, bytes]]] = {}
        self._topic_subscriptions = {}
        self._connections = {}
        self._writer = None
        self._discovery_timer = None
        if out_path is not None:
            self._typestore = get_typestore()
            self._writer = Writer(Path(out_path), version=9, storage_plugin=StoragePlugin.MCAP)
            if compress:
                self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
            self._writer.open()
        self._pending = [] if isinstance(topics, Mapping) else list(topics)
        try:
            if isinstance(topics, Mapping):
                for topic, msgtype in topics.items():
                    self._subscribe(topic, msgtype)
        except Exception:
            self.close()  # finalise the bag file rather than leave it half-written
            raise
        if self._pending:
            self._discovery_timer = self.create_timer(DISCOVERY_PERIOD_S, self._discover)

    def _discover(self) -> None:
        types = dict(self.get_topic_names_and_types())
        for topic in list(self._pending):
            if topic not in types:
                continue
            self._pending.remove(topic)
            if len(types[topic]) != 1:
                self.get_logger().error(f'{topic} has several types {types[topic]}; not recording')
                continue
            try:
                self._subscribe(topic, types[topic][0])
            except (RuntimeError, ValueError) as error:
                self.get_logger().error(f'not recording {topic}: {error}')
        if not self._pending:
            self._discovery_timer.cancel()

    def _subscribe(self, topic: str, msgtype: str) -> None:
        msg_class = message_class(msgtype)
        if self._writer is not None:
            if msgtype not in self._typestore.fielddefs:
                raise ValueError(f'cannot record {topic}: type {msgtype} is not in the rosbags '
                                 'typestore (react_ros.bag.msg_types.get_typestore)')
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self._typestore)
        self.counts[topic] = 0
        self.messages[topic] = []
        self._topic_subscriptions[topic] = self.create_subscription(
            msg_class, topic, lambda raw, topic=topic: self._receive(topic, raw), RECORD_QOS,
            raw=True)

    def _receive(self, topic: str, raw: bytes) -> None:
        receive_ns = self.get_clock().now().nanoseconds
        with self._lock:
            if self._closed:
                return
            if self._writer is not None:
                self._writer.write(self._connections[topic], receive_ns, raw)
            else:
                self.messages[topic].append((receive_ns, raw))
            self.counts[topic] += 1

    def close(self) -> Dict[str, int]:
        """Stop recording, finalise the bag (if any) and return the per-topic counts."""
        with self._lock:
            if self._closed:
                return dict(self.counts)
            self._closed = True
            if self._discovery_timer is not None:
                self.destroy_timer(self._discovery_timer)
            for subscription in self._topic_subscriptions.values():
                self.destroy_subscription(subscription)
            if self._writer is not None:
                self._writer.close()
        return dict(self.counts)

    def destroy_node(self):
        """Close the recording, then destroy the node."""
        self.close()
        super().destroy_node()
