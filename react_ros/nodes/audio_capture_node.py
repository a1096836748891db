"""
audio_capture_node: the microphone, on audio_common's topics, as audio_capture publishes it.

Captures S16LE through PortAudio (sounddevice) and publishes every chunk twice, as
audio_common's audio_capture does: audio_common_msgs/AudioDataStamped on `audio_stamped`
(stamped with the time of its first sample) and AudioData on `audio`. The format goes out on
`audio_info` at start and every 5 s (transient local too, so late subscribers get it at once),
coding_format 'wave'. If the device cannot be opened the node says why and retries.
"""

import queue

from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from react_ros.nodes.common import parameter_descriptor, run_node
import sounddevice

SAMPLE_FORMAT = 'S16LE'
RETRY_PERIOD_S = 2.0
# audio_capture re-sends audio_info this often: volatile subscribers that start late get it.
INFO_PERIOD_S = 5.0


class AudioCaptureNode(Node):
    """Publishes microphone audio in fixed-size chunks."""

    def __init__(self, **kwargs):
        super().__init__('audio_capture_node', **kwargs)
        self.declare_parameter('device', '', parameter_descriptor(
            'PortAudio input device name or index; empty: the default device.'))
        self.declare_parameter('sample_rate', 16000, parameter_descriptor(
            'Capture rate in Hz.', int_range=(8000, 192000)))
        self.declare_parameter('channels', 1, parameter_descriptor(
            'Channels to capture.', int_range=(1, 8)))
        self.declare_parameter('chunk_ms', 20, parameter_descriptor(
            'Duration of one published chunk in milliseconds.', int_range=(5, 500)))
        self.declare_parameter('frame_id', 'microphone', parameter_descriptor(
            'frame_id of the published headers.'))
        self._rate = self.get_parameter('sample_rate').value
        self._channels = self.get_parameter('channels').value
        self._chunk = self._rate * self.get_parameter('chunk_ms').value // 1000
        self._frame_id = self.get_parameter('frame_id').value

        self._stamped_pub = self.create_publisher(AudioDataStamped, 'audio_stamped', 100)
        self._audio_pub = self.create_publisher(AudioData, 'audio', 100)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._info_pub = self.create_publisher(AudioInfo, 'audio_info', latched)
        self._chunks = queue.Queue()
        self._stream = None
        self._open_timer = self.create_timer(RETRY_PERIOD_S, self._open_stream)
        self._publish_timer = self.create_timer(self._chunk / self._rate / 2,
                                                self.publish_pending_chunks)
        self._info_timer = self.create_timer(INFO_PERIOD_S, self.publish_info)
        self._open_stream()
        self.publish_info()

    def _device(self):
        device = self.get_parameter('device').value
        return int(device) if device.isdigit() else (device or None)

    def _open_stream(self):
        if self._stream is not None:
            return
        try:
            self._stream = sounddevice.RawInputStream(
                samplerate=self._rate, channels=self._channels, dtype='int16',
                blocksize=self._chunk, device=self._device(), callback=self._on_block)
            self._stream.start()
        except (sounddevice.PortAudioError, ValueError) as error:
            self._stream = None
            self.get_logger().warning(
                f'cannot open audio input {self._device() or "(default)"}: {error}; '
                f'retrying every {RETRY_PERIOD_S:.0f} s. Input devices: '
                f'{[d["name"] for d in sounddevice.query_devices() if d["max_input_channels"]]}',
                throttle_duration_sec=30.0)
            return
        self._open_timer.cancel()
        self.get_logger().info(
            f'capturing {self._rate} Hz x {self._channels} ch from '
            f'{self._stream.device!r} in {self._chunk}-sample chunks')

    def _on_block(self, data, frames, time_info, status):
        # PortAudio's thread: only hand the block over, never block here.
        arrival = self.get_clock().now()
        self._chunks.put((arrival - Duration(nanoseconds=int(frames * 1e9 / self._rate)),
                          bytes(data), str(status) if status else ''))

    def publish_pending_chunks(self):
        """Publish every block the capture callback has handed over."""
        while True:
            try:
                first_sample_time, data, status = self._chunks.get_nowait()
            except queue.Empty:
                return
            if status:
                self.get_logger().warning(f'audio input: {status}', throttle_duration_sec=5.0)
            msg = AudioDataStamped(audio=AudioData(data=data))
            msg.header.stamp = first_sample_time.to_msg()
            msg.header.frame_id = self._frame_id
            self._stamped_pub.publish(msg)
            self._audio_pub.publish(msg.audio)

    def publish_info(self):
        """Announce the stream format (latched, and again every INFO_PERIOD_S)."""
        self._info_pub.publish(AudioInfo(
            channels=self._channels, sample_rate=self._rate, sample_format=SAMPLE_FORMAT,
            bitrate=self._rate * self._channels * 16, coding_format='wave'))

    def destroy_node(self):
        """Stop the capture stream before the node goes."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        super().destroy_node()


def main(args=None):
    """Run the node until Ctrl-C."""
    run_node(AudioCaptureNode, args)


if __name__ == '__main__':
    main()
