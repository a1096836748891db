"""
Tests for the cartoon face renderer, the video helpers and face_display_node.

The node test runs the real node as a subprocess and talks to it over DDS on this machine only,
in the test session's domain (conftest.py: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

from pathlib import Path
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from react_ros import spec
from react_ros.render.face import render_face
from react_ros.render.video import side_by_side, VideoWriter
from react_ros.spec import NEUTRAL_FRAME

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_frame(**values) -> np.ndarray:
    frame = NEUTRAL_FRAME.copy()
    for name, value in values.items():
        frame[spec.channel_index(name)] = value
    return frame


SMILE = make_frame(AU6=0.9, AU12=1.0, AU25=0.4, valence=0.8, expr_neutral=0.0, expr_happy=0.9)


def test_render_face_shape_and_type():
    image = render_face(NEUTRAL_FRAME)
    assert image.shape == (480, 480, 3)
    assert image.dtype == np.uint8
    assert render_face(NEUTRAL_FRAME, size=200).shape == (200, 200, 3)


@pytest.mark.parametrize('shape', [(82,), (84,), (1, 83), (83, 1), ()])
def test_render_face_rejects_wrong_shape(shape):
    with pytest.raises(ValueError, match=r'\(83,\)'):
        render_face(np.zeros(shape))


@pytest.mark.parametrize('size', [10, 100.5, 0])
def test_render_face_rejects_bad_size(size):
    with pytest.raises(ValueError, match='size'):
        render_face(NEUTRAL_FRAME, size=size)


def test_nan_channels_render_as_neutral():
    nan_frame = np.full(spec.NUM_CHANNELS, np.nan)
    np.testing.assert_array_equal(render_face(nan_frame), render_face(NEUTRAL_FRAME))
    partly_nan = SMILE.copy()
    partly_nan[spec.channel_index('rot_y')] = np.nan
    np.testing.assert_array_equal(render_face(partly_nan), render_face(SMILE))


def test_out_of_range_values_are_clamped():
    too_much = make_frame(AU12=7.0, valence=-np.inf, rot_z=100.0)
    at_limits = make_frame(AU12=1.0, valence=-1.0, rot_z=np.pi / 2)
    np.testing.assert_array_equal(render_face(too_much), render_face(at_limits))


@pytest.mark.parametrize('channels', [
    {'AU12': 1.0}, {'AU26': 1.0}, {'AU4': 1.0}, {'AU1': 1.0, 'AU2': 1.0}, {'AU9': 1.0},
    {'AU15': 1.0}, {'rot_x': 0.3}, {'rot_y': 0.4}, {'rot_z': 0.3}, {'valence': 1.0},
])
def test_each_driver_changes_the_face(channels):
    neutral = render_face(NEUTRAL_FRAME).astype(np.int16)
    changed = render_face(make_frame(**channels)).astype(np.int16)
    changed_pixels = np.any(np.abs(changed - neutral) > 30, axis=2).sum()
    assert changed_pixels > 100, f'{channels} changed only {changed_pixels} pixels'


def test_side_by_side_scales_to_height_and_labels():
    left = np.full((240, 320, 3), 40, np.uint8)
    right = np.full((100, 100, 3), 200, np.uint8)
    joined = side_by_side(left, right, height=480)
    assert joined.shape == (480, 640 + 480, 3)
    assert joined.dtype == np.uint8
    plain = side_by_side(left, right, height=480, labels=None)
    assert np.all(plain[:, :640] == 40) and np.all(plain[:, 640:] == 200)
    assert np.any(joined != plain), 'labels were not drawn'


def test_side_by_side_rejects_non_rgb():
    with pytest.raises(ValueError, match='right_rgb'):
        side_by_side(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match='left_rgb'):
        side_by_side(np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 3), np.uint8))


def read_video(path: Path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_video_writer_round_trip(tmp_path):
    path = tmp_path / 'nested' / 'dir' / 'demo.mp4'
    faces = [render_face(make_frame(AU12=i / 9.0), size=160) for i in range(10)]
    with VideoWriter(path, fps=30.0) as video:
        for face in faces:
            video.write(side_by_side(face, face, height=160))
    assert video.frames_written == 10
    frames = read_video(path)
    assert len(frames) == 10
    assert frames[0].shape == (160, 320, 3)
    # Lossy codec, but the decoded frame must still look like what was written (BGR order).
    decoded_rgb = cv2.cvtColor(frames[-1], cv2.COLOR_BGR2RGB).astype(np.float64)
    assert np.mean(np.abs(decoded_rgb - side_by_side(faces[-1], faces[-1], 160))) < 8.0


def test_video_writer_overwrite_and_size_checks(tmp_path):
    path = tmp_path / 'clip.mp4'
    frame = np.zeros((64, 96, 3), np.uint8)
    with VideoWriter(path) as video:
        video.write(frame)
        with pytest.raises(ValueError, match='differs from the first frame'):
            video.write(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(FileExistsError):
        VideoWriter(path, overwrite=False)
    with VideoWriter(path) as video:
        for _ in range(3):
            video.write(frame)
    assert len(read_video(path)) == 3


def test_video_writer_pads_odd_sizes(tmp_path):
    path = tmp_path / 'odd.mp4'
    with VideoWriter(path) as video:
        for _ in range(2):
            video.write(np.full((101, 163, 3), 90, np.uint8))
    frames = read_video(path)
    assert len(frames) == 2 and frames[0].shape == (102, 164, 3)


@pytest.fixture
def face_display_process(ros_env):
    process = subprocess.Popen(
        [sys.executable, '-m', 'react_ros.nodes.face_display_node',
         '--ros-args', '-p', 'image_size:=240', '-p', 'frame_id:=test_face'],
        cwd=REPO_ROOT, env=dict(ros_env, PYTHONUNBUFFERED='1'),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def wait_until(condition, timeout_s: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f'face_display_node exited early:\n{process.stdout.read()}')
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.05)


def joint_state(frame: np.ndarray, stamp_sec: int, names=spec.CHANNEL_NAMES):
    from sensor_msgs.msg import JointState
    msg = JointState()
    msg.header.stamp.sec = stamp_sec
    msg.name = list(names)
    msg.position = [float(frame[spec.channel_index(name)]) for name in names]
    return msg


def test_face_display_node_end_to_end(ros_node, face_display_process):
    from sensor_msgs.msg import Image, JointState

    received = {}
    publisher = ros_node.create_publisher(JointState, 'reaction/coefficients', 10)
    subscription = ros_node.create_subscription(
        Image, 'face/image', lambda msg: received.setdefault(msg.header.stamp.sec, msg), 10)
    try:
        # Both directions matched: the images of the first messages are not lost to a face/image
        # publisher that has not yet matched this subscription (seen on a loaded CI machine).
        wait_until(lambda: (publisher.get_subscription_count() > 0
                            and subscription.get_publisher_count() > 0),
                   30.0, 'discovery of face_display_node', face_display_process)
        unknown = joint_state(NEUTRAL_FRAME, 1)
        unknown.name[0] = 'not_a_channel'
        mismatched = joint_state(NEUTRAL_FRAME, 2)
        mismatched.position = mismatched.position[:-1]
        only_smile_channels = ('AU6', 'AU12', 'AU25', 'valence')
        messages = [unknown, mismatched,
                    joint_state(NEUTRAL_FRAME, 10),
                    joint_state(SMILE, 11),
                    joint_state(SMILE, 12, names=spec.CHANNEL_NAMES[::-1]),
                    joint_state(SMILE, 13, names=only_smile_channels)]
        # Sent again every second until drawn: that each side sees the other's endpoint does
        # not mean the other already sends to it (a CI run lost the first images).
        deadline = time.monotonic() + 20.0
        while not {10, 11, 12, 13} <= received.keys():
            assert time.monotonic() < deadline, 'timed out waiting for face images'
            assert face_display_process.poll() is None, 'face_display_node exited early'
            for msg in messages:
                publisher.publish(msg)
            time.sleep(1.0)
    finally:
        ros_node.destroy_subscription(subscription)
        ros_node.destroy_publisher(publisher)

    # Reliable, in-order delivery: the malformed messages went first, so they were skipped.
    assert sorted(received) == [10, 11, 12, 13]
    images = {}
    for stamp, msg in received.items():
        assert (msg.height, msg.width, msg.encoding, msg.step) == (240, 240, 'rgb8', 720)
        assert msg.header.frame_id == 'test_face'
        images[stamp] = np.frombuffer(msg.data, np.uint8).reshape(240, 240, 3)
    np.testing.assert_array_equal(images[10], render_face(NEUTRAL_FRAME, 240))
    np.testing.assert_array_equal(images[11], render_face(SMILE, 240))
    np.testing.assert_array_equal(images[12], images[11])  # reordered names map by name
    smile_difference = np.abs(images[11].astype(np.int16) - images[10].astype(np.int16))
    assert np.count_nonzero(smile_difference.max(axis=2) > 30) > 100
    # A message naming only some channels leaves the rest neutral.
    partial = make_frame(**{name: SMILE[spec.channel_index(name)] for name in only_smile_channels})
    np.testing.assert_array_equal(images[13], render_face(partial, 240))

    face_display_process.send_signal(signal.SIGINT)
    output, _ = face_display_process.communicate(timeout=15)
    assert face_display_process.returncode == 0, output
    assert 'unknown channel names: not_a_channel' in output
    assert f'{spec.NUM_CHANNELS} names but {spec.NUM_CHANNELS - 1} positions' in output


def test_speaker_perception_overlay_marks_the_face_or_names_the_problem():
    from react_ros.perception.visual import VisualObservation
    from react_ros.render.overlay import draw_speaker_perception
    frame = np.full((240, 320, 3), 128, np.uint8)
    features = np.zeros(28, np.float32)
    features[spec.EXPRESSION_SLICE.start + spec.EXPRESSION_NAMES.index('happy')] = 1.0
    seen = VisualObservation(features, True, '', 1, (100.0, 60.0, 200.0, 180.0), True)
    landmarks = np.tile([[150.0, 120.0, 0.0]], (468, 1))
    drawn = draw_speaker_perception(frame, seen, landmarks)
    assert drawn.shape == frame.shape and (frame == 128).all()  # the input is not drawn on
    assert (drawn[60, 100:200] != 128).any() and (drawn[120, 150] != 128).any()  # box, mesh
    absent = VisualObservation(np.zeros(28, np.float32), False, 'blurred', 1, None, False)
    assert (draw_speaker_perception(frame, absent)[:30] != 128).any()  # the problem line
