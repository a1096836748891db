"""
reaction_node: camera + microphone in, the listener's facial reaction out, frame by frame.

A lifecycle node. Configure loads the model and creates the topics; activate starts a worker
thread that always processes the newest camera frame (older unprocessed frames are dropped and
counted) with the audio received up to that frame's stamp. That policy is react_ros.session's;
this node converts messages, publishes and reports.

No input stops it: a frame or audio chunk that cannot be used, whatever the exception, is
skipped, counted and named in a throttled warning and on /diagnostics; should the worker
thread end anyway, /diagnostics goes ERROR with the reason and the worker is restarted.
Parameters read at configure are checked when set and say that they apply at the next
configure.
"""

import dataclasses
import functools
from pathlib import Path
import random
import threading
import time
from typing import Optional

from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from hri_msgs.msg import Expression, FacialActionUnits
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from react_ros.animatronic import AnimatronicMapper
from react_ros.backends.loader import load_model, UNTRAINED
from react_ros.backends.selection import BACKENDS
from react_ros.backends.tensorrt_backend import PRECISIONS
from react_ros.errors import InputProblem
from react_ros.message_codecs import decode_image, PcmFormat
from react_ros.nodes.common import (format_problem_counts, parameter_descriptor,
                                    PIPELINE_STATUS, run_node, stamp_to_seconds)
from react_ros.perception.speaker import SpeakerPerception
from react_ros.perception.visual import VisualPerception
from react_ros.pipeline import (ReactionFrame, ReactionPipeline, ThrottledWarnings,
                                top_expression)
from react_ros.resources import default_config_path
from react_ros.session import ReactionSession
from react_ros.spec import (AFFECT_SLICE, AU_NUMBERS, AU_SLICE, CHANNEL_NAMES,
                            scale_expressiveness)
from react_ros.turns import RobotTurn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray
import torch

# REACT's 8 expression classes as hri_msgs/Expression constants. hri_msgs has no 'contempt';
# SKEPTICAL is its closest (one-sided, disapproving) expression.
HRI_EXPRESSIONS = {
    'neutral': Expression.NEUTRAL,
    'happy': Expression.HAPPY,
    'sad': Expression.SAD,
    'surprise': Expression.SURPRISED,
    'fear': Expression.SCARED,
    'disgust': Expression.DISGUSTED,
    'anger': Expression.ANGRY,
    'contempt': Expression.SKEPTICAL,
}


class ReactionNode(LifecycleNode):
    """Publishes one listener reaction frame per processed camera frame."""

    # What configure creates and cleanup destroys (the suffix says how).
    _ENTITIES = ('_coefficients_pub', '_expression_pub', '_facs_pub', '_diagnostics_pub',
                 '_animatronic_pub', '_image_sub', '_audio_sub', '_audio_stamped_sub',
                 '_audio_info_sub', '_robot_speaking_sub', '_diagnostics_timer')

    def __init__(self, **kwargs):
        super().__init__('reaction_node', **kwargs)
        self.declare_parameter('model_path', '', parameter_descriptor(
            "Model checkpoint (.pt). Empty: the package's models/reaction_synth.pt (trained on "
            "the synthetic corpus); 'untrained': fresh networks (for tests of the plumbing)."))
        self.declare_parameter('seed', -1, parameter_descriptor(
            'Seed of the reaction stream; -1 draws a new one at every activation.',
            int_range=(-1, 2**31 - 1)))
        self.declare_parameter('perception.calibration_s', 3.0, parameter_descriptor(
            "Seconds of the speaker's face averaged as their neutral baseline for the AU "
            'estimates (restarts with each new person or interaction).',
            float_range=(0.0, 60.0)))
        self.declare_parameter('perception.min_face_px', 40, parameter_descriptor(
            'Faces smaller than this (pixels) are too small to read: no visual features.',
            int_range=(16, 1000)))
        self.declare_parameter('backend', 'auto', parameter_descriptor(
            "Inference backend: 'auto' (TensorRT with a GPU, else ONNX Runtime, else "
            "PyTorch), 'tensorrt', 'onnxruntime' or 'torch'. An explicit backend that cannot "
            'run here fails configure, saying what is missing.'))
        self.declare_parameter('engines_dir', '', parameter_descriptor(
            "The model's ONNX export (react-ros export) and TensorRT plans. Empty: the "
            "package's engines/reaction_synth for the default model, else a per-checkpoint "
            'folder under ~/.cache/react_ros/engines, exported on first use.'))
        self.declare_parameter('tensorrt_precision', 'auto', parameter_descriptor(
            "TensorRT precision: 'auto' (fp16 where the GPU is fast at it), 'fp16', 'fp32'."))
        self.declare_parameter('torch_threads', 1, parameter_descriptor(
            'CPU threads for the networks (PyTorch and ONNX Runtime). One avoids contention '
            'with the other nodes; the per-frame step is too small to gain from more.',
            int_range=(1, 64)))
        self.declare_parameter('audio_wait_s', 0.04, parameter_descriptor(
            "How long to wait for audio up to a frame's stamp before treating it as silence.",
            float_range=(0.0, 0.5)))
        self.declare_parameter('audio.sample_rate', 16000, parameter_descriptor(
            'Microphone sample rate (Hz) until an audio_info message says otherwise.',
            int_range=(4000, 192000)))
        self.declare_parameter('audio.channels', 1, parameter_descriptor(
            'Microphone channel count until audio_info says otherwise.', int_range=(1, 32)))
        self.declare_parameter('audio.sample_format', 'S16LE', parameter_descriptor(
            'Microphone sample format (S16LE, S32LE, F32LE) until audio_info says otherwise.'))
        self.declare_parameter('silence_warning_s', 2.0, parameter_descriptor(
            'Warn when no audio has arrived for this long.', float_range=(0.1, 60.0)))
        self.declare_parameter('diagnostics_period_s', 1.0, parameter_descriptor(
            'Period of /diagnostics messages.', float_range=(0.1, 60.0)))
        self.declare_parameter('expressiveness', 1.0, parameter_descriptor(
            'How strongly the face reacts: 0 the neutral face, 1 the reactions as generated, '
            'up to 2 (twice their deviation from neutral, kept inside the channel ranges and '
            'joint limits). Applied at once to every output.', float_range=(0.0, 2.0)))
        self.declare_parameter('turns.fade_s', 0.2, parameter_descriptor(
            'While the robot speaks (robot_speaking true) the reaction fades to the neutral '
            'face over this long, and back in over this long when it stops.',
            float_range=(0.0, 2.0)))
        self.declare_parameter('turns.timeout_s', 30.0, parameter_descriptor(
            'A robot_speaking true not refreshed for this long is stale: the robot is taken to '
            'have stopped (warned), so a dead TTS node never blocks reacting.',
            float_range=(0.5, 600.0)))
        self.declare_parameter('animatronic_config', '', parameter_descriptor(
            "YAML mapping channels to controller joints. Empty: the package's "
            "config/animatronic.yaml. 'none' disables the animatronic output."))
        self._warn = ThrottledWarnings(self.get_logger().warning)
        self._worker: Optional[threading.Thread] = None
        self._worker_failure = ''  # why the worker last ended on its own ('' : it did not)
        self._worker_restarts = 0
        self._active = False
        self._generator = None
        self._session: Optional[ReactionSession] = None
        self._backend = ''
        self.add_on_set_parameters_callback(self._check_parameters)

    # Parameters -----------------------------------------------------------------------------

    # Parameters whose value is checked when set: name -> check(value) -> problem or ''.
    _CHECKS = {
        'backend': lambda value: '' if value in BACKENDS
        else f'must be one of {", ".join(BACKENDS)}',
        'tensorrt_precision': lambda value: '' if value in PRECISIONS
        else f'must be one of {", ".join(PRECISIONS)}',
        'audio.sample_format': lambda value: '' if value in PcmFormat.FORMATS
        else f'must be one of {", ".join(PcmFormat.FORMATS)}',
        'model_path': lambda value: _missing_file(value, ('', UNTRAINED)),
        'animatronic_config': lambda value: _missing_file(value, ('', 'none')),
        'engines_dir': lambda value: _unusable_folder(value),
    }
    # Parameters read while running (seed: at every new reaction stream; expressiveness: at
    # every frame); all others are read at configure.
    _LIVE = ('seed', 'expressiveness')

    def _check_parameters(self, parameters) -> SetParametersResult:
        """Refuse values that cannot work; say when a change waits for the next configure."""
        for parameter in parameters:
            check = self._CHECKS.get(parameter.name)
            problem = check(parameter.value) if check else ''
            if problem:
                return SetParametersResult(
                    successful=False, reason=f'{parameter.name} {parameter.value!r}: {problem}')
        deferred = [p.name for p in parameters if p.name not in self._LIVE]
        if deferred and self._generator is not None:
            reason = (f'{", ".join(deferred)} take effect at the next configure '
                      '(deactivate, cleanup, configure, activate)')
            self.get_logger().warning(f'parameters changed: {reason}')
            return SetParametersResult(successful=True, reason=reason)
        return SetParametersResult(successful=True)

    # Lifecycle -----------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and create publishers and subscriptions."""
        try:
            self._configure()
        except Exception as error:  # whatever failed, rclpy would swallow it: say what
            kind = '' if isinstance(error, (InputProblem, OSError)) else \
                f' ({type(error).__name__})'
            self.get_logger().error(f'configure failed: {error}{kind}')
            self._destroy_entities()
            return TransitionCallbackReturn.FAILURE
        return super().on_configure(state)

    def _configure(self):
        torch.set_num_threads(self.get_parameter('torch_threads').value)
        self._generator = self._load_generator()
        visual = VisualPerception(
            calibration_s=self.get_parameter('perception.calibration_s').value,
            min_face_px=self.get_parameter('perception.min_face_px').value)
        if visual.detector_problem:
            self.get_logger().warning(f'face detection falls back to OpenCV Haar cascades: '
                                      f'{visual.detector_problem}')
        pipeline = ReactionPipeline(self._generator, seed=0, perception=SpeakerPerception(visual))
        pipeline.warm_up()
        self._mapper = self._load_animatronic()

        # Every output topic is relative, so a namespace (one robot of several) moves them all;
        # at the root they are ros4hri's (REP-155) /robot_face/expression and /robot_face/facs,
        # the robot's own face. /diagnostics stays absolute, as diagnostic_updater's does: the
        # aggregator and rqt_robot_monitor listen there, and the status carries the node's full
        # name, so robots stay apart.
        self._coefficients_pub = self.create_lifecycle_publisher(
            JointState, 'reaction/coefficients', 100)
        self._expression_pub = self.create_lifecycle_publisher(
            Expression, 'robot_face/expression', 10)
        self._facs_pub = self.create_lifecycle_publisher(
            FacialActionUnits, 'robot_face/facs', 10)
        self._diagnostics_pub = self.create_lifecycle_publisher(
            DiagnosticArray, '/diagnostics', 10)
        self._animatronic_pub = None
        if self._mapper:
            self._animatronic_pub = self.create_lifecycle_publisher(
                Float64MultiArray, self._mapper.controller_topic, 10)

        self._image_sub = self.create_subscription(
            Image, 'image', self.on_image, qos_profile_sensor_data)
        # audio_common's topics and types: audio_capture publishes each chunk on both.
        self._audio_stamped_sub = self.create_subscription(
            AudioDataStamped, 'audio_stamped', self.on_audio_stamped, 100)
        self._audio_sub = self.create_subscription(AudioData, 'audio', self.on_audio, 100)
        # Volatile: matches audio_capture's volatile audio_info (re-sent every 5 s) and a
        # transient-local one alike; the last value received is kept.
        info_qos = QoSProfile(depth=1, durability=DurabilityPolicy.VOLATILE,
                              reliability=ReliabilityPolicy.RELIABLE)
        self._audio_info_sub = self.create_subscription(
            AudioInfo, 'audio_info', self.on_audio_info, info_qos)
        # On the steady clock: with use_sim_time and no /clock (a bag played without --clock),
        # a ROS-time timer would never fire and /diagnostics would fall silent.
        # Transient local, as TTS nodes latch their state: a late subscriber still learns it.
        self._robot_turn = RobotTurn(self.get_parameter('turns.fade_s').value,
                                     self.get_parameter('turns.timeout_s').value, time.monotonic)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._robot_speaking_sub = self.create_subscription(
            Bool, 'robot_speaking', self.on_robot_speaking, latched)
        self._diagnostics_timer = self.create_timer(
            self.get_parameter('diagnostics_period_s').value, self.publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME))

        self._pcm = PcmFormat(self.get_parameter('audio.sample_rate').value,
                              self.get_parameter('audio.channels').value,
                              self.get_parameter('audio.sample_format').value)
        self._pcm.validate()
        self._session = ReactionSession(
            pipeline, self._stream_seed, self._warn,
            audio_topic=f'{self._audio_stamped_sub.topic_name} or {self._audio_sub.topic_name}',
            audio_wait_s=self.get_parameter('audio_wait_s').value,
            silence_warning_s=self.get_parameter('silence_warning_s').value,
            stamp_clock=self._now_s)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start a new interaction with fresh statistics, and the processing thread."""
        self._start_over()
        self._session.reset_statistics()
        self._active = True
        self._worker_failure, self._worker_restarts = '', 0
        self._start_worker()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing; frames that arrive while inactive are ignored."""
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release topics and the model."""
        self._destroy_entities()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and release everything from any state."""
        self._stop_worker()
        if self._generator is not None:
            self._destroy_entities()
        return super().on_shutdown(state)

    def _start_worker(self):
        self._worker = threading.Thread(target=self._process_frames, daemon=True)
        self._worker.start()

    def _watch_worker(self):
        """Restart the worker if it ended while active; return why it ended ('' if alive)."""
        if not self._active or self._worker is None or self._worker.is_alive():
            return ''
        failure = self._worker_failure or 'it ended without an exception'
        self._worker_restarts += 1
        self.get_logger().error(f'the processing thread stopped ({failure}): restarting it '
                                f'(restart {self._worker_restarts})')
        self._start_worker()
        return failure

    def _stop_worker(self):
        self._active = False
        if self._session is not None:
            self._session.wake()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def _destroy_entities(self):
        """Destroy whatever configure created, also when it failed halfway."""
        destroyers = {'_pub': self.destroy_lifecycle_publisher,
                      '_sub': self.destroy_subscription, '_timer': self.destroy_timer}
        for name in self._ENTITIES:
            entity = getattr(self, name, None)
            if entity is not None:
                destroyers[name[name.rindex('_'):]](entity)
            setattr(self, name, None)
        self._generator = self._session = self._mapper = None

    def _load_generator(self):
        generator, choice = load_model(
            self.get_parameter('model_path').value, self.get_parameter('backend').value,
            self.get_parameter('engines_dir').value or None,
            self.get_parameter('torch_threads').value,
            self.get_parameter('tensorrt_precision').value, log=self.get_logger().info,
            warn=self.get_logger().warning)
        self._backend = choice.name
        return generator

    def _load_animatronic(self) -> Optional[AnimatronicMapper]:
        path = self.get_parameter('animatronic_config').value
        if path == 'none':
            return None
        return AnimatronicMapper.from_yaml(path or default_config_path('animatronic.yaml'))

    def _stream_seed(self) -> int:
        seed = self.get_parameter('seed').value
        return seed if seed >= 0 else random.randrange(2**31)

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _start_over(self):
        """Start a new interaction: forget the speaker, the stream, the last joint command."""
        self._session.start_over()
        if self._mapper:
            self._mapper.reset()

    # Inputs ---------------------------------------------------------------------------------

    def on_image(self, msg: Image):
        """Keep only the newest frame; the worker picks it up."""
        if self._active:
            self._session.offer_frame(msg)

    def on_audio_info(self, msg: AudioInfo):
        """
        Adopt the microphone's announced format, if it is one we can decode.

        A compressed coding_format (mp3) is adopted too: the chunks after it are rejected,
        not decoded as PCM.
        """
        announced = PcmFormat(msg.sample_rate, msg.channels, msg.sample_format,
                              msg.coding_format)
        try:
            if announced.is_pcm:
                announced.validate()
        except InputProblem as error:
            self._warn(f'audio_info_{error.problem}:{msg.sample_format}',
                       f'ignoring audio_info: {error}; keeping {self._pcm}')
            return
        if announced.is_pcm and announced.sample_rate != self._pcm.sample_rate:
            self._warn('audio_rate', f'audio_info announces {announced.sample_rate} Hz; '
                       "resampling to the model's 16000 Hz")
        self._pcm = announced

    def on_audio_stamped(self, msg: AudioDataStamped):
        """Decode a stamped chunk and place it on the audio timeline at its stamp."""
        self._take_audio(bytes(msg.audio.data), stamp_to_seconds(msg.header.stamp),
                         self._audio_stamped_sub.topic_name)

    def on_audio(self, msg: AudioData):
        """Decode an unstamped chunk, only while no stamped audio comes (it is preferred)."""
        if self._active and self._session.unstamped_audio_wanted():
            self._take_audio(bytes(msg.data), None, self._audio_sub.topic_name)

    def on_robot_speaking(self, msg: Bool):
        """Take the robot's turn state (its TTS speaking or not)."""
        self._robot_turn.update(msg.data)

    def _take_audio(self, data: bytes, stamp: Optional[float], topic: str):
        """
        Decode a chunk (stamp None: unstamped) and hand it to the session.

        While the robot speaks, its microphone hears the robot's own voice: the chunk goes on
        the timeline as silence, so the encoder never takes it for the person's.
        """
        if not self._active:
            return
        pcm = self._pcm
        try:
            samples = pcm.to_mono(data)
            if self._robot_turn.speaking():
                samples = np.zeros_like(samples)
            if stamp is None:
                notices = self._session.push_unstamped_audio(samples, pcm.sample_rate)
            else:
                notices = self._session.push_audio(samples, stamp, pcm.sample_rate)
        except InputProblem as error:
            self._session.reject('audio', f'audio_{error.problem}:{pcm.encoding}',
                                 f'dropping audio chunk on {topic} ({pcm}): {error}')
            return
        except Exception as error:  # an exception here would stop the whole executor
            self._session.reject('audio', f'audio_error:{type(error).__name__}',
                                 f'audio chunk on {topic} ({pcm}) failed: '
                                 f'{type(error).__name__}: {error}; skipped')
            return
        for notice in notices:
            self._warn(notice.problem, f'audio: {notice.text}')

    # Processing -----------------------------------------------------------------------------

    def _process_frames(self):
        """Process the newest frame, again and again; record why, should this ever end."""
        try:
            while self._active:
                msg = self._session.take_frame(lambda: not self._active)
                if msg is not None and self._active:
                    self._process(msg)
        except BaseException as error:  # the watchdog (diagnostics timer) reports and restarts
            self._worker_failure = f'{type(error).__name__}: {error}'
            self.get_logger().error(f'the processing thread failed: {self._worker_failure}')

    def _process(self, msg: Image):
        """React to one frame; any failure skips it with a warning naming what and why."""
        describe = (f'image frame on {self._image_sub.topic_name} '
                    f'({msg.encoding!r} {msg.width}x{msg.height})')
        try:
            rgb = decode_image(msg.width, msg.height, msg.encoding, msg.step, bytes(msg.data))
            self._session.process(rgb, stamp_to_seconds(msg.header.stamp),
                                  functools.partial(self.publish_reaction, msg.header),
                                  describe)
        except InputProblem as error:
            self._session.reject('image', f'image_{error.problem}:{msg.encoding}',
                                 f'dropping {describe}: {error}')
        except Exception as error:
            self._session.reject('image', f'image_error:{type(error).__name__}',
                                 f'{describe} failed: {type(error).__name__}: {error}; skipped')

    # Outputs --------------------------------------------------------------------------------

    def publish_reaction(self, header, reaction: ReactionFrame):
        """Publish one frame on every output topic, stamped like the camera frame."""
        gain = self.get_parameter('expressiveness').value * self._robot_turn.gain()
        if self._robot_turn.stale():
            self._warn('robot_speaking_stale',
                       f'{self._robot_speaking_sub.topic_name} said true but nothing came for '
                       f'{self._robot_turn.timeout_s:g} s (turns.timeout_s): reacting again')
        if gain != 1.0:
            values = scale_expressiveness(reaction.values, gain)
            expression, confidence = top_expression(values)
            reaction = dataclasses.replace(reaction, values=values, expression=expression,
                                           expression_confidence=confidence)
        self.publish_coefficients(header, reaction)
        self.publish_expression(header, reaction)
        self.publish_facs(header, reaction)
        if self._animatronic_pub is not None:
            self.publish_animatronic(header, reaction)

    def publish_coefficients(self, header, reaction: ReactionFrame):
        """Publish all 83 channels by name on reaction/coefficients."""
        msg = JointState(header=header, name=list(CHANNEL_NAMES))
        msg.position = reaction.values.astype(float).tolist()
        self._coefficients_pub.publish(msg)

    def publish_expression(self, header, reaction: ReactionFrame):
        """Publish the most probable expression, with valence and arousal."""
        valence, arousal = reaction.values[AFFECT_SLICE]
        self._expression_pub.publish(Expression(
            header=header, expression=HRI_EXPRESSIONS[reaction.expression],
            valence=float(valence), arousal=float(arousal),
            confidence=reaction.expression_confidence))

    def publish_facs(self, header, reaction: ReactionFrame):
        """
        Publish AU occurrences in the 99-slot arrays indexed by AU number.

        AUs the model does not estimate keep confidence 0; for the 15 it does, confidence is
        that of a Bernoulli occurrence, max(p, 1 - p).
        """
        occurrence = reaction.values[AU_SLICE].astype(float)
        msg = FacialActionUnits(header=header)
        intensity = np.zeros(len(msg.intensity))
        confidence = np.zeros(len(msg.confidence))
        intensity[list(AU_NUMBERS)] = occurrence
        confidence[list(AU_NUMBERS)] = np.maximum(occurrence, 1.0 - occurrence)
        msg.intensity, msg.confidence = intensity.tolist(), confidence.tolist()
        self._facs_pub.publish(msg)

    def publish_animatronic(self, header, reaction: ReactionFrame):
        """
        Publish joint commands for a ros2_control forward command controller.

        At most rate_hz of the animatronic config; the mapper limits every joint's range and
        velocity.
        """
        command = self._mapper.throttled_command(reaction.values, stamp_to_seconds(header.stamp))
        if command is not None:
            self._animatronic_pub.publish(Float64MultiArray(data=command.astype(float).tolist()))

    def publish_diagnostics(self):
        """
        Publish processing rate, stamp-to-publish latency, dropped and rejected input.

        ERROR while frames arrive but none are answered, or when the worker had to be
        restarted; WARN while input is rejected (naming the problems) or no frames come.
        """
        if not self._active:
            return
        worker_failure = self._watch_worker()
        report = self._session.report(self.get_parameter('diagnostics_period_s').value)
        problems = format_problem_counts(report.input_problems)
        values = {'backend': self._backend, **dataclasses.asdict(report),
                  'input_problems': problems,
                  'speaker_problems': format_problem_counts(report.speaker_problems),
                  'worker_restarts': self._worker_restarts,
                  'robot_speaking': self._robot_turn.speaking()}
        level, message = DiagnosticStatus.OK, 'reacting'
        if worker_failure:
            level = DiagnosticStatus.ERROR
            message = f'processing thread stopped ({worker_failure}); restarted'
        elif report.frames_received_in_period and not report.rate_hz:
            level = DiagnosticStatus.ERROR
            message = (f'{report.frames_received_in_period} frames arrived, none answered '
                       f'(rejected: {problems})')
        elif report.input_problems:
            level, message = DiagnosticStatus.WARN, f'rejecting input: {problems}'
        elif not report.rate_hz:
            level, message = DiagnosticStatus.WARN, 'no camera frames processed'
        elif self._robot_turn.speaking():
            message = 'robot speaking: listener reaction faded out'
        status = DiagnosticStatus(
            level=level, name=f'{self.get_fully_qualified_name()}: {PIPELINE_STATUS}',
            message=message,
            hardware_id='react_ros',
            values=[KeyValue(key=key, value=f'{value:.3f}' if isinstance(value, float)
                             else str(value)) for key, value in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(msg)


def _missing_file(value: str, special: tuple) -> str:
    """Return why value is neither one of the special values nor an existing file."""
    if value in special or Path(value).expanduser().is_file():
        return ''
    return f'no such file (or one of {", ".join(repr(v) for v in special)})'


def _unusable_folder(value: str) -> str:
    """Return why an export folder cannot be used ('' : empty, a folder, or creatable)."""
    path = Path(value).expanduser()
    if not value or path.is_dir() or (not path.exists() and path.parent.is_dir()):
        return ''
    return 'not a folder' if path.exists() else f'its parent {path.parent} does not exist'


def main(args=None):
    """Run the node, unconfigured: a launch file or a lifecycle client drives its states."""
    run_node(ReactionNode, args)


if __name__ == '__main__':
    main()
