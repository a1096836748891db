"""
Show the listener reaction as a cartoon face.

Subscribes to reaction/coefficients (sensor_msgs/JointState: `name` holds listener channel names
from react_ros.spec, `position` their values) and publishes face/image (sensor_msgs/Image, rgb8)
drawn by react_ros.render.face.render_face, stamped like the coefficients it shows.
"""

import numpy as np
from rclpy.node import Node
from react_ros import spec
from react_ros.message_codecs import encode_rgb8
from react_ros.nodes.common import parameter_descriptor, run_node
from react_ros.render.face import MIN_SIZE, render_face
from sensor_msgs.msg import Image, JointState

MAX_IMAGE_SIZE = 2048
_CHANNEL_INDEX = {name: index for index, name in enumerate(spec.CHANNEL_NAMES)}


class FaceDisplayNode(Node):
    """Render every coefficients message into a face image."""

    def __init__(self, **kwargs):
        super().__init__('face_display_node', **kwargs)
        self.declare_parameter('image_size', 480, parameter_descriptor(
            'Edge of the square face image in pixels.', int_range=(MIN_SIZE, MAX_IMAGE_SIZE)))
        self.declare_parameter('frame_id', 'robot_face', parameter_descriptor(
            'frame_id written into the header of the published images.'))
        self.image_size = self.get_parameter('image_size').value
        self.frame_id = self.get_parameter('frame_id').value
        self.publisher = self.create_publisher(Image, 'face/image', 10)
        self.subscription = self.create_subscription(
            JointState, 'reaction/coefficients', self.coefficients_callback, 10)

    def coefficients_callback(self, msg: JointState) -> None:
        frame = self.frame_from_message(msg)
        if frame is None:
            return
        try:
            self.publish_face(frame, msg.header.stamp)
        except Exception as error:  # an exception here would stop the node's executor
            self.get_logger().warning(
                f'skipping coefficients the face cannot be drawn from: '
                f'{type(error).__name__}: {error}', throttle_duration_sec=5.0)

    def frame_from_message(self, msg: JointState):
        """Return the (83,) frame named by the message, or None (with a warning) if malformed."""
        if len(msg.name) != len(msg.position):
            self.get_logger().warning(
                f'skipping coefficients with {len(msg.name)} names but {len(msg.position)} '
                f'positions', throttle_duration_sec=5.0)
            return None
        unknown = [name for name in msg.name if name not in _CHANNEL_INDEX]
        if unknown:
            self.get_logger().warning(
                f'skipping coefficients with unknown channel names: {", ".join(unknown[:5])}',
                throttle_duration_sec=5.0)
            return None
        if not np.isfinite(msg.position).all():
            self.get_logger().warning('skipping coefficients with NaN or infinite positions',
                                      throttle_duration_sec=5.0)
            return None
        # Channels the message leaves out stay neutral.
        frame = spec.NEUTRAL_FRAME.copy()
        frame[[_CHANNEL_INDEX[name] for name in msg.name]] = msg.position
        return frame

    def publish_face(self, frame: np.ndarray, stamp) -> None:
        msg = Image(**encode_rgb8(render_face(frame, self.image_size)))
        msg.header.stamp = stamp
        msg.header.frame_id = self.frame_id
        self.publisher.publish(msg)


def main(args=None):
    """Run the node until Ctrl-C."""
    run_node(FaceDisplayNode, args)


if __name__ == '__main__':
    main()
