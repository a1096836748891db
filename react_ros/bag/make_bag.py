"""
Generate a demo rosbag2 (MCAP): a talking speaker's camera images and microphone audio.

The video is a real face photo (skimage.data.astronaut, public domain) warped per frame for
head motion: slow sway, small turns and rolls, and nods that grow while the speaker talks. The
audio is real espeak-ng speech with pauses, so a bag has both talking and silence. Everything is
derived from the seed, and stamps start at a fixed epoch, so the same seed gives the same bytes.

Topics: /image (sensor_msgs/msg/Image rgb8), /audio_stamped
(audio_common_msgs/msg/AudioDataStamped, S16LE mono, 20 ms chunks; header stamp = first sample,
log time = chunk end, when a microphone would deliver it) and /audio_info
(audio_common_msgs/msg/AudioInfo, coding_format wave, once at the start).

With a robot turn, the robot speaks for a while: /robot_speaking (std_msgs/msg/Bool, latched
like a TTS node's state) goes false at the start, true for the turn, false after it. During the
turn the person is silent and the microphone hears the robot's own text-to-speech, as a real
robot's microphone would.
ROS-free: written with rosbags.
"""

from dataclasses import dataclass, field
import heapq
from pathlib import Path
import shutil
import time
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np
from react_ros.bag.msg_types import (
    AUDIO_DATA_TYPE, AUDIO_INFO_TYPE, AUDIO_TYPE, BOOL_TYPE, get_typestore, IMAGE_TYPE,
    publisher_qos_policy)
from react_ros.spec import AUDIO_SAMPLE_RATE, FPS
from react_ros.speech import speak_with_pauses, synthesize, to_s16le, Voice
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
import skimage.data
from tqdm import tqdm

IMAGE_TOPIC = '/image'
AUDIO_TOPIC = '/audio_stamped'
AUDIO_INFO_TOPIC = '/audio_info'
ROBOT_SPEAKING_TOPIC = '/robot_speaking'
CAMERA_FRAME = 'camera'
MICROPHONE_FRAME = 'microphone'

EPOCH_NS = 1_700_000_000 * 1_000_000_000
AUDIO_CHUNK_SAMPLES = 320  # 20 ms at 16 kHz
SAMPLE_FORMAT = 'S16LE'
CODING_FORMAT = 'wave'

SENTENCES = (
    'Last weekend I finally went hiking up the old mountain trail.',
    'The weather was perfect, sunny but not too hot.',
    'Halfway up we met a family of deer crossing the path.',
    'Honestly, I did not expect the view to be that beautiful.',
    'Then my phone died, so I have no pictures at all.',
    'Have you ever been up there yourself?',
    'We stopped at a small cafe on the way back down.',
    'Their apple pie is still the best I have ever had.',
    'I think I will go again next month with my sister.',
    'She keeps saying she is too busy, but I will convince her.',
    'Anyway, that was my weekend, how was yours?',
    'It is funny how a simple walk can clear your head.',
)

ROBOT_SENTENCE = 'That sounds like a lovely trip. I would like to see that mountain one day.'
ROBOT_VOICE = Voice(pitch=75, speed=170)
# The robot's loudspeaker as its own microphone hears it: quieter than the person in front.
ROBOT_LEVEL_AT_MICROPHONE = 0.6

# Where the astronaut's face sits in the source photo and in the output frame, and its scale:
# a webcam-like head-and-shoulders shot.
FACE_CENTER_SOURCE = (225.0, 120.0)
FACE_CENTER_FRAME = (0.5, 0.45)  # fraction of (width, height)
FACE_SCALE_PER_HEIGHT = 1.6 / 480.0


@dataclass
class DemoBagSummary:
    """What make_demo_bag wrote."""

    path: Path
    duration_s: float
    seed: int
    counts: Dict[str, int]
    size_bytes: int
    write_s: float
    compression: str
    speech_s: List[Tuple[float, float]] = field(default_factory=list)
    robot_turn_s: Optional[Tuple[float, float]] = None  # (start, end) of the robot's speech

    def describe(self) -> str:
        """Return a short human-readable report."""
        counts = ', '.join(f'{topic}: {count}' for topic, count in self.counts.items())
        talking = sum(end - start for start, end in self.speech_s)
        turn = ('' if self.robot_turn_s is None else
                '; robot speaks {:.1f}-{:.1f} s'.format(*self.robot_turn_s))
        return (f'{self.path}: {self.duration_s:g} s, seed {self.seed}, {counts}; '
                f'{self.size_bytes / 2**20:.1f} MiB ({self.compression}), '
                f'written in {self.write_s:.1f} s; speech {talking:.1f} s in '
                f'{len(self.speech_s)} utterances{turn}')


def plan_speech(duration_s: float, rng: np.random.Generator
                ) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
    """
    Speak random sentences with 0.5-2 s pauses until duration_s is filled.

    Returns exactly duration_s of float32 audio and the (start, end) sample range of each
    utterance (clipped to the track).
    """
    total = int(round(duration_s * AUDIO_SAMPLE_RATE))
    voice = Voice(pitch=int(rng.integers(35, 66)), speed=int(rng.integers(145, 181)))
    order = rng.permutation(len(SENTENCES))
    utterances, pauses = [], []
    # A short silent lead-in, so even a 2 s bag has silence and speech.
    planned_s = float(rng.uniform(0.3, 0.6))
    pauses.append(planned_s)
    while planned_s < duration_s:
        text = SENTENCES[order[len(utterances) % len(order)]]
        utterances.append((text, voice))
        planned_s += 0.04 * len(text)  # under-estimate of espeak-ng time: never too short
        pause = float(rng.uniform(0.5, 2.0))
        planned_s += pause
        pauses.append(pause)
    track, ranges = speak_with_pauses(utterances, pauses[:len(utterances)])
    track = np.concatenate([track, np.zeros(max(0, total - track.size), np.float32)])[:total]
    clipped = [(start, min(end, total)) for start, end in ranges if start < total]
    return track, clipped


def add_robot_turn(person: np.ndarray, speech_ranges: List[Tuple[int, int]],
                   turn_s: Tuple[float, float]
                   ) -> Tuple[np.ndarray, List[Tuple[int, int]], np.ndarray, Tuple[int, int]]:
    """
    Give the robot a turn: the person falls silent and the microphone hears the robot's TTS.

    turn_s is (start, duration) in seconds. Returns the person's track with the turn silenced,
    the person's utterance ranges outside the turn, the robot's speech as the microphone hears
    it (a track of the same length) and its (start, end) samples: the turn, as long as the
    robot's sentence lasts.
    """
    start = int(round(turn_s[0] * AUDIO_SAMPLE_RATE))
    end = min(person.size, start + int(round(turn_s[1] * AUDIO_SAMPLE_RATE)))
    quiet = person.copy()
    quiet[start:end] = 0.0
    outside = [piece for first, last in speech_ranges
               for piece in ((first, min(last, start)), (max(first, end), last))
               if piece[1] > piece[0]]
    sentence = synthesize(ROBOT_SENTENCE, ROBOT_VOICE)[:end - start]
    robot = np.zeros_like(person)
    robot[start:start + sentence.size] = ROBOT_LEVEL_AT_MICROPHONE * sentence
    return quiet, outside, robot, (start, start + sentence.size)


def speaking_envelope(audio: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """Return per-frame speaking activity in [0, 1] (RMS, smoothed over about 0.3 s)."""
    frame_edges = np.round(np.arange(num_frames + 1) * AUDIO_SAMPLE_RATE / fps).astype(int)
    rms = np.array([np.sqrt(np.mean(np.square(audio[a:b]))) if b > a else 0.0
                    for a, b in zip(frame_edges[:-1], frame_edges[1:])])
    width = max(1, min(int(round(0.3 * fps)), num_frames))  # 'same' keeps num_frames values
    smooth = np.convolve(rms, np.ones(width) / width, mode='same')
    peak = smooth.max()
    return smooth / peak if peak > 0 else smooth


def head_motion(num_frames: int, fps: float, speaking: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """
    Return per-frame head motion (yaw, pitch, roll in degrees, sway x, sway y in pixels).

    Slow sums of sines with seed-random phases; turns, rolls and nods grow while speaking.
    """
    t = np.arange(num_frames) / fps  # (F,)

    def wave(amplitude: float, low_hz: float, high_hz: float) -> np.ndarray:
        return amplitude * np.sin(2 * np.pi * rng.uniform(low_hz, high_hz) * t
                                  + rng.uniform(0, 2 * np.pi))

    yaw = wave(5.0, 0.05, 0.12) + wave(2.0, 0.15, 0.3) + speaking * wave(4.0, 0.4, 0.8)
    pitch = wave(2.0, 0.05, 0.15) + speaking * wave(5.0, 1.2, 2.0)  # nods while talking
    roll = wave(3.0, 0.05, 0.15) + speaking * wave(2.0, 0.3, 0.6)
    sway_x = wave(14.0, 0.08, 0.2) + wave(4.0, 0.3, 0.5)
    sway_y = wave(5.0, 0.1, 0.25)
    return np.stack([yaw, pitch, roll, sway_x, sway_y], axis=1)  # (F, 5)


def warp_face(face: np.ndarray, motion: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    Warp the face photo into one width x height rgb8 frame for one row of head_motion.

    Affine approximation of a turning head: yaw and pitch shift the face and foreshorten it
    along their axis, roll rotates it about the face centre.
    """
    yaw, pitch, roll, sway_x, sway_y = motion
    scale = FACE_SCALE_PER_HEIGHT * height
    focal = 0.6 * height  # how far the face centre moves per radian of turn or nod
    yaw_rad, pitch_rad, roll_rad = np.radians([yaw, pitch, roll])
    center_x = FACE_CENTER_FRAME[0] * width + sway_x + focal * np.sin(yaw_rad)
    center_y = FACE_CENTER_FRAME[1] * height + sway_y + focal * np.sin(pitch_rad)
    # Foreshortening is exaggerated (cos of twice the angle) so small turns stay visible.
    foreshorten = np.diag([np.cos(2 * yaw_rad), np.cos(2 * pitch_rad)]) * scale
    rotation = np.array([[np.cos(roll_rad), -np.sin(roll_rad)],
                         [np.sin(roll_rad), np.cos(roll_rad)]])
    linear = rotation @ foreshorten
    offset = np.array([center_x, center_y]) - linear @ np.array(FACE_CENTER_SOURCE)
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float32)  # (2, 3)
    return cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def _stamp(typestore, stamp_ns: int):
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return typestore.types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)


def _header(typestore, stamp_ns: int, frame_id: str):
    header_type = typestore.types['std_msgs/msg/Header']
    return header_type(stamp=_stamp(typestore, stamp_ns), frame_id=frame_id)


def _image_messages(typestore, frames: Iterator[np.ndarray], fps: float
                    ) -> Iterator[Tuple[int, str, bytes]]:
    image_type = typestore.types[IMAGE_TYPE]
    for index, frame in enumerate(frames):
        stamp = EPOCH_NS + int(round(index * 1e9 / fps))
        height, width, _ = frame.shape
        message = image_type(header=_header(typestore, stamp, CAMERA_FRAME), height=height,
                             width=width, encoding='rgb8', is_bigendian=0, step=width * 3,
                             data=frame.reshape(-1))
        yield stamp, IMAGE_TOPIC, bytes(typestore.serialize_cdr(message, IMAGE_TYPE))


def _audio_messages(typestore, pcm: bytes) -> Iterator[Tuple[int, str, bytes]]:
    stamped_type = typestore.types[AUDIO_TYPE]
    data_type = typestore.types[AUDIO_DATA_TYPE]
    chunk_bytes = AUDIO_CHUNK_SAMPLES * 2
    chunk_ns = AUDIO_CHUNK_SAMPLES * 1_000_000_000 // AUDIO_SAMPLE_RATE
    for index in range(len(pcm) // chunk_bytes):
        first_sample_ns = EPOCH_NS + index * chunk_ns
        data = np.frombuffer(pcm, np.uint8, chunk_bytes, index * chunk_bytes)
        message = stamped_type(header=_header(typestore, first_sample_ns, MICROPHONE_FRAME),
                               audio=data_type(data=data))
        # Logged when the chunk's last sample is in: that is when a microphone delivers it.
        yield first_sample_ns + chunk_ns, AUDIO_TOPIC, bytes(
            typestore.serialize_cdr(message, AUDIO_TYPE))


def _audio_info_message(typestore) -> Tuple[int, str, bytes]:
    message = typestore.types[AUDIO_INFO_TYPE](
        channels=1, sample_rate=AUDIO_SAMPLE_RATE, sample_format=SAMPLE_FORMAT,
        bitrate=AUDIO_SAMPLE_RATE * 16, coding_format=CODING_FORMAT)
    return EPOCH_NS, AUDIO_INFO_TOPIC, bytes(typestore.serialize_cdr(message, AUDIO_INFO_TYPE))


def _robot_speaking_messages(typestore, turn_ns: Tuple[int, int]
                             ) -> Iterator[Tuple[int, str, bytes]]:
    bool_type = typestore.types[BOOL_TYPE]
    for log_ns, speaking in ((EPOCH_NS, False), (turn_ns[0], True), (turn_ns[1], False)):
        yield log_ns, ROBOT_SPEAKING_TOPIC, bytes(
            typestore.serialize_cdr(bool_type(data=speaking), BOOL_TYPE))


def _prepare_output(out_path: Path, overwrite: bool) -> None:
    if not out_path.exists():
        return
    if not overwrite:
        raise FileExistsError(f'{out_path} already exists; choose a new path or pass '
                              'overwrite=True (--overwrite) to replace it')
    is_bag = out_path.is_dir() and (out_path / 'metadata.yaml').is_file()
    if not is_bag:
        raise FileExistsError(f'{out_path} exists and is not a rosbag2 folder '
                              '(no metadata.yaml); refusing to delete it')
    shutil.rmtree(out_path)


def make_demo_bag(out_path, duration_s: float = 20.0, seed: int = 0, fps: float = FPS,
                  width: int = 640, height: int = 480, overwrite: bool = False,
                  compress: bool = True, progress: bool = True,
                  robot_turn: Optional[Tuple[float, float]] = None) -> DemoBagSummary:
    """
    Write a demo rosbag2 folder (MCAP storage, rosbag2 format version 9) at out_path.

    robot_turn (start_s, duration_s) adds the robot's turn (see the module docstring).

    compress stores MCAP chunks zstd-compressed (the only codec the rosbags writer has).
    Raises FileExistsError if out_path exists and overwrite is False.
    """
    out_path = Path(out_path)
    if duration_s <= 0:
        raise ValueError(f'duration_s must be > 0, got {duration_s}')
    if fps <= 0 or width <= 0 or height <= 0:
        raise ValueError(f'fps, width and height must be > 0, got {fps}, {width}, {height}')
    if duration_s < max(1.0 / fps, AUDIO_CHUNK_SAMPLES / AUDIO_SAMPLE_RATE):
        raise ValueError(f'duration_s {duration_s} is shorter than one image frame or one '
                         '20 ms audio chunk')
    if robot_turn is not None and not (
            robot_turn[0] >= 0 and robot_turn[1] > 0 and sum(robot_turn) <= duration_s):
        raise ValueError(f'robot turn (start {robot_turn[0]} s, {robot_turn[1]} s long) must '
                         f'lie inside the {duration_s} s bag')
    _prepare_output(out_path, overwrite)
    typestore = get_typestore()
    started = time.perf_counter()

    rng = np.random.default_rng(seed)
    person, speech_ranges = plan_speech(duration_s, rng)
    audio, robot_range = person, None
    if robot_turn is not None:
        person, speech_ranges, robot, robot_range = add_robot_turn(
            person, speech_ranges, robot_turn)
        audio = person + robot
    num_frames = int(np.floor(duration_s * fps + 1e-9))
    # The head moves with the person's own speech, not with the robot's heard through the mic.
    motion = head_motion(num_frames, fps, speaking_envelope(person, num_frames, fps), rng)
    face = np.ascontiguousarray(skimage.data.astronaut())
    frames = (warp_face(face, row, width, height) for row in motion)

    streams = [iter([_audio_info_message(typestore)]), _image_messages(typestore, frames, fps),
               _audio_messages(typestore, to_s16le(audio))]
    topics = [(AUDIO_INFO_TOPIC, AUDIO_INFO_TYPE), (IMAGE_TOPIC, IMAGE_TYPE),
              (AUDIO_TOPIC, AUDIO_TYPE)]
    if robot_range is not None:
        streams.append(_robot_speaking_messages(typestore, tuple(
            EPOCH_NS + sample * 1_000_000_000 // AUDIO_SAMPLE_RATE for sample in robot_range)))
        topics.append((ROBOT_SPEAKING_TOPIC, BOOL_TYPE))
    # Messages in log-time order; at equal times the order of the streams above wins.
    messages = heapq.merge(*streams, key=lambda message: message[0])
    total = 1 + num_frames + audio.size // AUDIO_CHUNK_SAMPLES + 3 * (robot_range is not None)

    writer = Writer(out_path, version=9, storage_plugin=StoragePlugin.MCAP)
    if compress:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    counts = {topic: 0 for topic, _ in topics}
    try:
        with writer:
            connections = {
                # With the QoS the live publishers offer, so ros2 bag play keeps audio_info
                # and robot_speaking latched and the images best effort.
                topic: writer.add_connection(topic, msgtype, typestore=typestore,
                                             offered_qos_profiles=[publisher_qos_policy(msgtype)])
                for topic, msgtype in topics}
            for log_ns, topic, raw in tqdm(messages, total=total, unit='msg',
                                           desc=f'make-bag {out_path.name}',
                                           disable=not progress):
                writer.write(connections[topic], log_ns, raw)
                counts[topic] += 1
    except BaseException:
        shutil.rmtree(out_path, ignore_errors=True)  # no half-written bag left behind
        raise

    size = sum(path.stat().st_size for path in out_path.iterdir())
    return DemoBagSummary(
        path=out_path, duration_s=duration_s, seed=seed, counts=counts, size_bytes=size,
        write_s=time.perf_counter() - started, compression='zstd' if compress else 'none',
        speech_s=[(start / AUDIO_SAMPLE_RATE, end / AUDIO_SAMPLE_RATE)
                  for start, end in speech_ranges],
        robot_turn_s=None if robot_range is None else tuple(
            sample / AUDIO_SAMPLE_RATE for sample in robot_range))
