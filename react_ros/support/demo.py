"""
The demo bag through the running nodes over DDS, into out/demo.mp4 (`react-ros demo`).

1. builds out/demo_bag (20 s of speaker video and real speech, with a 3 s robot turn in the
   middle: robot_speaking true and the robot's own TTS in the microphone) if it is missing;
2. starts reaction_node and face_display_node as separate processes (as the launch file
   does) and brings reaction_node to active through its lifecycle services;
3. replays the bag with its original timing and records what crosses DDS;
4. writes out/demo.mp4 (speaker | rendered listener face) and prints a summary, with how far
   the face is from neutral while the robot speaks and while it listens.

Every process runs with loopback-only discovery in its own ROS domain.
"""

import os
from pathlib import Path
import random
import re
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import deserialize_message
from react_ros import spec
from react_ros.bag import dds_environment
from react_ros.bag.make_bag import AUDIO_TOPIC, make_demo_bag, ROBOT_SPEAKING_TOPIC
from react_ros.bag.msg_types import BOOL_TYPE, get_typestore, read_header_stamp
from react_ros.bag.recorder import BagRecorder
from react_ros.message_codecs import decode_image
from react_ros.nodes.common import pipeline_reports, speaker_problem_counts
from react_ros.perception.visual import VisualPerception
from react_ros.render.overlay import draw_speaker_perception
from react_ros.render.video import side_by_side, VideoWriter
from react_ros.resources import default_config_path
from react_ros.support.harness import bring_up, LifecycleClient, play, start_nodes, wait_until
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image, JointState
from tqdm import tqdm

IMAGE_TOPIC = '/image'
COEFFICIENTS_TOPIC = '/reaction/coefficients'
FACE_TOPIC = '/face/image'
DIAGNOSTICS_TOPIC = '/diagnostics'
STARTUP_TIMEOUT_S = 120.0
ROBOT_TURN_S = 3.0


def demo_robot_turn(duration_s: float):
    """Return the demo bag's robot turn (start, duration): 3 s from the middle, or shorter."""
    return 0.45 * duration_s, min(ROBOT_TURN_S, 0.2 * duration_s)


def run_demo(out_dir: Path, bag: Path = None, duration_s: float = 20.0, params_file=None,
             domain_id: int = None) -> int:
    """
    Run the whole demo; return the exit code.

    bag: the bag to replay (default: OUT_DIR/demo_bag, built with duration_s seconds if
    missing); params_file: the nodes' YAML (default config/react.yaml); domain_id: the ROS
    domain of this run (default: a random one in 1..100).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if bag is None:
        bag = out_dir / 'demo_bag'
        # A demo bag from before audio_stamped or the robot turn is rebuilt.
        metadata = _metadata(bag)
        topics = (AUDIO_TOPIC, ROBOT_SPEAKING_TOPIC)
        if not all(f'name: {topic}\n' in metadata for topic in topics):
            print(make_demo_bag(bag, duration_s=duration_s, overwrite=True,
                                robot_turn=demo_robot_turn(duration_s)).describe())
    # Before rclpy.init: this process and the node processes share one loopback-only domain.
    os.environ.update(dds_environment(domain_id or random.randint(1, 100)))
    session = record_session(bag, out_dir, params_file)
    turn_s = robot_turn_s(bag)
    summary = summarise(session, turn_s)
    write_video(session, out_dir / 'demo.mp4', turn_s)
    print(format_summary(summary, out_dir / 'demo.mp4'))
    return 0 if summary['frames_out'] > 0 else 1


def _metadata(bag: Path) -> str:
    """Return a bag's metadata.yaml text ('' when it has none)."""
    path = bag / 'metadata.yaml'
    return path.read_text() if path.is_file() else ''


def record_session(bag: Path, out_dir: Path, params_file=None) -> dict:
    """Replay bag into the nodes (a child process); return what was recorded, per topic."""
    nodes = start_nodes(dict(os.environ), params_file or default_config_path('react.yaml'),
                        out_dir)
    rclpy.init()
    recorder = BagRecorder({IMAGE_TOPIC: 'sensor_msgs/msg/Image',
                            DIAGNOSTICS_TOPIC: 'diagnostic_msgs/msg/DiagnosticArray',
                            COEFFICIENTS_TOPIC: 'sensor_msgs/msg/JointState',
                            FACE_TOPIC: 'sensor_msgs/msg/Image'}, node_name='demo_recorder')
    executor = SingleThreadedExecutor()
    executor.add_node(recorder)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        print('waiting for the nodes to come up ...')
        bring_up(LifecycleClient(recorder, 'reaction_node'), STARTUP_TIMEOUT_S)
        if not wait_until(lambda: recorder.count_publishers(FACE_TOPIC) > 0, STARTUP_TIMEOUT_S):
            raise RuntimeError(f'face_display_node did not start; see {out_dir}')
        print(f'replaying {bag} ...')
        played = play(bag, dict(os.environ), out_dir)
        print(played)
        previous = -1
        while recorder.counts.get(FACE_TOPIC, 0) != previous:  # the last frames in flight
            previous = recorder.counts.get(FACE_TOPIC, 0)
            time.sleep(1.0)
    finally:
        for process in nodes:
            if process.stop() != 0:
                print(f'warning: a node exited with an error; see {process.log_path}')
        executor.shutdown()
        recorder.close()
        rclpy.try_shutdown()
    return {'messages': recorder.messages,
            'frames_played': int(re.search(rf'{IMAGE_TOPIC}: (\d+)', played).group(1))}


def robot_turn_s(bag: Path):
    """Return (start, end) of the bag's first robot turn in s from its start, or None."""
    typestore = get_typestore()
    with Reader(bag) as reader:
        connections = [c for c in reader.connections if c.topic == ROBOT_SPEAKING_TOPIC]
        changes = [(log_ns - reader.start_time, typestore.deserialize_cdr(raw, BOOL_TYPE).data)
                   for _, log_ns, raw in reader.messages(connections)]
    starts = [ns for ns, speaking in changes if speaking]
    ends = [ns for ns, speaking in changes if not speaking and starts and ns > starts[0]]
    return (starts[0] / 1e9, ends[0] / 1e9) if starts and ends else None


def face_deviations(reactions, origin_ns: int):
    """
    Return each reaction's (JointState) time and distance from the neutral face.

    times are in s from origin_ns; deviations are the mean |reaction - neutral face| over the
    AU and expression channels.
    """
    channels = spec.AU_NAMES + spec.EXPRESSION_CHANNELS
    times, deviations = [], []
    for msg in reactions:
        named = dict(zip(msg.name, msg.position))
        times.append((_stamp_ns(msg) - origin_ns) / 1e9)
        deviations.append(np.mean([abs(named[name] - spec.NEUTRAL_FRAME[spec.channel_index(
            name)]) for name in channels if name in named]))
    return np.array(times), np.array(deviations)


def turn_deviation(reactions, origin_ns: int, turn_s):
    """
    Mean face deviation from neutral during the robot turn and outside it, or None.

    The turn's first half is left out (the fade), and so is the second after it (the fade
    back and the model's answer to the person).
    """
    if turn_s is None or not reactions:
        return None
    times, deviations = face_deviations([msg for _, msg in reactions], origin_ns)
    start, end = turn_s
    during = deviations[(times >= (start + end) / 2) & (times < end)]
    outside = deviations[(times < start) | (times >= end + 1.0)]
    return float(np.mean(during)), float(np.mean(outside))


def _stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _decoded(session: dict, topic: str, msg_type):
    return [(received_ns, deserialize_message(raw, msg_type))
            for received_ns, raw in session['messages'].get(topic, [])]


def summarise(session: dict, turn_s=None) -> dict:
    """
    Frames in/out, output rate, latency of the coefficients; backend and speaker problems.

    turn_s: the bag's robot turn (start, end) in s from its start, to compare the face's
    distance from neutral during the turn with the rest.
    """
    reactions = _decoded(session, COEFFICIENTS_TOPIC, JointState)
    # The stamps alone: decoding every camera image is write_video's work.
    camera = [read_header_stamp(raw) for _, raw in session['messages'].get(IMAGE_TOPIC, [])]
    reports = pipeline_reports(
        msg for _, msg in _decoded(session, DIAGNOSTICS_TOPIC, DiagnosticArray))
    problems = speaker_problem_counts(reports)
    frames_in = session['frames_played']
    latencies_ms = np.array([(received - _stamp_ns(msg)) / 1e6 for received, msg in reactions])
    stamps = np.array(sorted(_stamp_ns(msg) for _, msg in reactions)) / 1e9
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else float('nan')
    return {
        'frames_in': frames_in,
        'frames_out': len(reactions),
        'answered_pct': 100.0 * len(reactions) / max(frames_in, 1),
        'output_rate_hz': (len(stamps) - 1) / span if len(stamps) > 1 else 0.0,
        'latency_p50_ms': float(np.percentile(latencies_ms, 50)) if len(reactions) else np.nan,
        'latency_p99_ms': float(np.percentile(latencies_ms, 99)) if len(reactions) else np.nan,
        'face_images': len(session['messages'].get(FACE_TOPIC, [])),
        'backend': ', '.join(sorted({report.get('backend', '?') for report in reports})) or '?',
        'speaker_problems': ', '.join(f'{problem} on {count} frames' for problem, count
                                      in sorted(problems.items())) or 'none',
        'robot_turn_s': turn_s,
        'deviation_turn_listening': turn_deviation(reactions, min(camera, default=0), turn_s),
    }


def format_summary(summary: dict, video: Path) -> str:
    """Format the summary as a small table for the terminal."""
    rows = [('frames in (camera, as played)', f"{summary['frames_in']}"),
            ('frames out (reactions)', f"{summary['frames_out']} "
                                       f"({summary['answered_pct']:.1f} %)"),
            ('rendered face frames', f"{summary['face_images']}"),
            ('output rate', f"{summary['output_rate_hz']:.1f} Hz"),
            ('latency p50 (stamp -> received)', f"{summary['latency_p50_ms']:.1f} ms"),
            ('latency p99', f"{summary['latency_p99_ms']:.1f} ms"),
            ('inference backend', summary['backend']),
            ('speaker perception problems', summary['speaker_problems'])]
    if summary.get('deviation_turn_listening'):
        turn, listening = summary['deviation_turn_listening']
        rows.append(('robot turn (robot_speaking)', '{:.1f}-{:.1f} s'.format(
            *summary['robot_turn_s'])))
        rows.append(('face from neutral: turn | rest',
                     f'{turn:.3f} | {listening:.3f} (mean |AU, expression| deviation)'))
    rows.append(('video', str(video)))
    width = max(len(name) for name, _ in rows)
    return '\n'.join(['', 'react_ros demo', '-' * (width + 20)]
                     + [f'{name:<{width}}  {value}' for name, value in rows])


def _rgb(msg) -> np.ndarray:
    return decode_image(msg.width, msg.height, msg.encoding, msg.step, bytes(msg.data))


def write_video(session: dict, path: Path, turn_s=None):
    """
    Each camera frame beside the listener face rendered for it (or the last one before).

    turn_s: the bag's robot turn (start, end) in s from its start; its frames are captioned.
    """
    speaker = sorted(((_stamp_ns(m), m) for _, m in _decoded(session, IMAGE_TOPIC, Image)),
                     key=lambda item: item[0])
    origin = speaker[0][0] if speaker else 0
    faces = {_stamp_ns(m): m for _, m in _decoded(session, FACE_TOPIC, Image)}
    face_stamps = np.array(sorted(faces))
    blank = np.zeros((480, 480, 3), np.uint8)
    # The node's extractor, run again over the same frames, shows what the model was given.
    perception = VisualPerception()
    with VideoWriter(path, fps=30.0) as video:
        for stamp, frame in tqdm(speaker, desc='writing demo.mp4', unit='frame'):
            earlier = face_stamps[face_stamps <= stamp]
            face = _rgb(faces[earlier[-1]]) if len(earlier) else blank
            rgb = _rgb(frame)
            seen = draw_speaker_perception(rgb, perception.process(rgb, stamp / 1e9),
                                           perception.last_landmarks)
            speaking = turn_s is not None and turn_s[0] <= (stamp - origin) / 1e9 < turn_s[1]
            video.write(side_by_side(seen, face, labels=(
                'speaker (as perceived)', 'robot speaking' if speaking else 'robot listener')))
