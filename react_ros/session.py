"""
What reaction_node decides between its callbacks and the pipeline, free of ROS.

Camera frames are offered as they arrive and one worker takes the newest (older unprocessed
frames are dropped and counted). Audio comes stamped, or unstamped (placed by arrival, used
only while no stamped audio comes). Before a frame is processed, the session waits briefly for
audio chunks in flight up to its stamp, unless the microphone has been silent for a while;
a stamp that goes backwards starts a new reaction stream. Frames stamped far ahead of or
behind the node's clock are warned about and left out of the latency statistics. Every frame
or audio chunk that cannot be used goes through `reject`: counted, named in a throttled
warning and in the next report. The session keeps the statistics the node reports on
/diagnostics.
"""

import collections
from dataclasses import dataclass
import statistics
import threading
import time
from typing import Callable, Optional

from react_ros.errors import InputProblem
from react_ros.pipeline import ReactionFrame, ReactionPipeline

# Stamps are floats: a millisecond of slack stops rounding from costing an audio wait.
AUDIO_STAMP_SLACK_S = 1e-3
# A frame stamped more than this ahead of the node's clock has a wrong stamp (unsynchronised
# clocks, or sim time on one side only); it must not make the good frames after it look as if
# they went backwards.
FUTURE_STAMP_S = 0.5
# Frames stamped longer ago than this (a bag replayed without restamping, a stamp of 0) say
# nothing about the node's latency.
STALE_STAMP_S = 10.0
# audio_common's audio_capture publishes every chunk twice: stamped (AudioDataStamped) and
# unstamped (AudioData). Stamped audio wins; unstamped chunks are used only once no stamped one
# has come for this long (counted from start_over too, so the two never interleave).
STAMPED_AUDIO_PREFERENCE_S = 1.0
# An unstamped chunk is placed as ending when it arrived; within this of where the previous one
# ended, right after it, so that arrival jitter makes no gaps or restarts.
UNSTAMPED_JITTER_S = 0.1


@dataclass
class SessionReport:
    """The statistics of one diagnostics period (frame counts: since the session started)."""

    rate_hz: float  # frames processed per second over the period; 0 when none were
    latency_p50_ms: float  # frame stamp to published reaction, NaN without frames
    latency_max_ms: float
    compute_p50_ms: float  # the pipeline step alone
    frames_received: int
    frames_processed: int
    frames_dropped: int  # replaced by a newer frame before the worker took them
    bad_frames: int  # undecodable, rejected by the pipeline, or failed while processed
    bad_audio_chunks: int  # undecodable or rejected by perception
    frames_received_in_period: int
    input_problems: dict  # rejected frames and chunks this period, per problem key
    speaker_problems: dict  # what speaker perception lacked, frames per problem this period


class ReactionSession:
    """
    Frame selection, audio waiting, stream restarts and statistics around a ReactionPipeline.

    Callbacks call offer_frame and push_audio (or push_unstamped_audio); one worker calls
    take_frame and process; a timer calls report. stream_seed() gives the seed of every new
    reaction stream; warn(problem, text) reports problems (a ThrottledWarnings). clock times the
    audio silence, the rate and the stamped-audio preference; stamp_clock is the clock of the
    frame stamps, for the latency and the placing of unstamped audio.
    """

    def __init__(self, pipeline: ReactionPipeline, stream_seed: Callable[[], int], warn, *,
                 audio_topic: str, audio_wait_s: float, silence_warning_s: float,
                 clock=time.monotonic, stamp_clock=time.time):
        self.pipeline = pipeline
        self._stream_seed = stream_seed
        self._warn = warn
        self._audio_topic = audio_topic
        self._audio_wait_s = audio_wait_s
        self._silence_warning_s = silence_warning_s
        self._clock = clock
        self._stamp_clock = stamp_clock
        self._frame_offered = threading.Condition()
        # Serialises the pipeline between the audio callback and the worker.
        self._audio_arrived = threading.Condition()
        self._pending = None
        self._last_stamp: Optional[float] = None
        self._last_audio_time: Optional[float] = None  # clock() when audio last arrived
        self._stamped_audio_time = clock()  # when stamped audio last came (or start_over)
        self._unstamped_end: Optional[float] = None  # where the last unstamped chunk ended
        self.reset_statistics()

    def start_over(self):
        """
        Start a new interaction: a new stream, and perception forgets the speaker.

        Also drops a frame still waiting from before and forgets the last frame stamp and when
        audio last arrived; statistics stay (reset_statistics clears them).
        """
        with self._audio_arrived:
            self.pipeline.reset(self._stream_seed())
            self._last_audio_time = None
            self._stamped_audio_time, self._unstamped_end = self._clock(), None
        with self._frame_offered:
            self._pending = None
        self._last_stamp = None

    def reset_statistics(self):
        """Zero the frame counts and forget the latencies, compute times and speaker problems."""
        self._frames_received = self._frames_processed = self._frames_dropped = 0
        self._bad_frames = self._bad_audio_chunks = self._period_received = 0
        self._input_problems = collections.Counter()
        self._latencies = []
        self._compute_times = []
        self._processed_times = []
        self._speaker_problems = collections.Counter()

    # Inputs ---------------------------------------------------------------------------------

    def offer_frame(self, frame):
        """Make frame the next to process, dropping an older one the worker has not taken."""
        with self._frame_offered:
            self._frames_received += 1
            self._period_received += 1
            if self._pending is not None:
                self._frames_dropped += 1
            self._pending = frame
            self._frame_offered.notify()

    def take_frame(self, stopped: Callable[[], bool]):
        """Wait for an offered frame and take it; return None if stopped() first."""
        with self._frame_offered:
            self._frame_offered.wait_for(lambda: self._pending is not None or stopped())
            frame, self._pending = self._pending, None
        return frame

    def wake(self):
        """Wake a worker waiting in take_frame, to check stopped()."""
        with self._frame_offered:
            self._frame_offered.notify_all()

    def push_audio(self, samples, stamp: float, sample_rate: int) -> list:
        """Add mono audio whose first sample is at stamp; return warnings new with it."""
        if self._unstamped_end is not None:
            self._warn('audio_stamped', 'stamped audio is back: unstamped chunks are ignored')
        self._stamped_audio_time, self._unstamped_end = self._clock(), None
        return self._push_audio(samples, stamp, sample_rate)

    def unstamped_audio_wanted(self) -> bool:
        """Whether no stamped audio has come for STAMPED_AUDIO_PREFERENCE_S (nor start_over)."""
        return self._clock() - self._stamped_audio_time >= STAMPED_AUDIO_PREFERENCE_S

    def push_unstamped_audio(self, samples, sample_rate: int) -> list:
        """
        Add mono audio without a stamp, as ending now on the stamp clock; return new warnings.

        For when unstamped_audio_wanted(): stamped audio, when it comes, is used instead.
        """
        duration = len(samples) / sample_rate
        start = self._stamp_clock() - duration
        if self._unstamped_end is None:
            self._warn('audio_unstamped',
                       f'no stamped audio for {STAMPED_AUDIO_PREFERENCE_S:g} s: using unstamped '
                       'chunks (audio_common_msgs/AudioData), timed by their arrival')
        elif abs(start - self._unstamped_end) <= UNSTAMPED_JITTER_S:
            start = self._unstamped_end
        self._unstamped_end = start + duration
        return self._push_audio(samples, start, sample_rate)

    def _push_audio(self, samples, stamp: float, sample_rate: int) -> list:
        with self._audio_arrived:
            warnings = self.pipeline.push_audio(samples, stamp, sample_rate)
            self._last_audio_time = self._clock()
            self._audio_arrived.notify_all()
        return warnings

    # Processing -----------------------------------------------------------------------------

    def reject(self, source: str, problem: str, text: str):
        """
        Count a frame (source 'image') or audio chunk ('audio') that cannot be used; warn why.

        problem keys the throttling and the report: give distinct problems distinct keys
        (e.g. the encoding), so one never hides another.
        """
        if source == 'image':
            self._bad_frames += 1
        else:
            self._bad_audio_chunks += 1
        self._input_problems[problem] += 1
        self._warn(problem, text)

    def process(self, rgb, stamp: float, publish: Callable[[ReactionFrame], None],
                describe: str = 'image frame'):
        """
        React to one decoded frame (H, W, 3) uint8 stamped in seconds; publish(reaction).

        describe names the frame in warnings (topic, encoding). An InputProblem of the
        pipeline rejects the frame; other exceptions are the caller's to handle.
        """
        age = self._stamp_clock() - stamp
        future = age < -FUTURE_STAMP_S
        if future:
            self._warn('image_future_stamp',
                       f'{describe} is stamped {-age:.3f} s ahead of the node clock '
                       '(unsynchronised clocks, or use_sim_time on one side only?): reacting, '
                       'but its stamp is not used for restarts or latency')
        elif age > STALE_STAMP_S:
            self._warn('image_stale_stamp',
                       f'{describe} is stamped {age:.1f} s behind the node clock (a bag '
                       'replayed without restamping, or an unset stamp?): reacting, latency '
                       'not counted')
        if not future:
            if self._last_stamp is not None and stamp < self._last_stamp:
                self._warn('image_stamp', f'image stamp went backwards by '
                           f'{self._last_stamp - stamp:.3f} s (bag loop or restarted camera?): '
                           'starting a new reaction stream')
                self.pipeline.restart_stream(self._stream_seed())
            self._last_stamp = stamp
        with self._audio_arrived:
            self._wait_for_audio(stamp)
            started = time.perf_counter()
            try:
                reaction = self.pipeline.step(rgb, stamp)
            except InputProblem as error:
                self.reject('image', f'image_{error.problem}', f'dropping {describe}: {error}')
                return
        self._compute_times.append(time.perf_counter() - started)
        self._speaker_problems.update(reaction.speaker.problems)
        publish(reaction)
        self._frames_processed += 1
        self._processed_times.append(self._clock())
        if -FUTURE_STAMP_S <= age <= STALE_STAMP_S:
            self._latencies.append(self._stamp_clock() - stamp)

    def _wait_for_audio(self, stamp: float):
        """Wait briefly for audio chunks in flight up to stamp; hold self._audio_arrived."""
        if self._last_audio_time is None:
            return
        silent_for = self._clock() - self._last_audio_time
        if silent_for > self._silence_warning_s:
            self._warn('silence', f'no audio on {self._audio_topic} for '
                       f'{silent_for:.1f} s: reacting as to silence')
        else:
            self._audio_arrived.wait_for(
                lambda: self.pipeline.audio_end_time >= stamp - AUDIO_STAMP_SLACK_S,
                timeout=self._audio_wait_s)

    # Statistics -----------------------------------------------------------------------------

    def report(self, period_s: float) -> SessionReport:
        """Return the statistics of the last period_s seconds and start the next period."""
        now = self._clock()
        self._processed_times = [t for t in self._processed_times if now - t <= period_s]
        latencies, self._latencies = self._latencies, []
        compute_times, self._compute_times = self._compute_times, []
        problems, self._speaker_problems = self._speaker_problems, collections.Counter()
        rejected, self._input_problems = self._input_problems, collections.Counter()
        received, self._period_received = self._period_received, 0
        return SessionReport(
            rate_hz=len(self._processed_times) / period_s,
            latency_p50_ms=_median_ms(latencies),
            latency_max_ms=1000 * max(latencies) if latencies else float('nan'),
            compute_p50_ms=_median_ms(compute_times),
            frames_received=self._frames_received,
            frames_processed=self._frames_processed,
            frames_dropped=self._frames_dropped,
            bad_frames=self._bad_frames,
            bad_audio_chunks=self._bad_audio_chunks,
            frames_received_in_period=received,
            input_problems=dict(rejected),
            speaker_problems=dict(problems))


def _median_ms(seconds: list) -> float:
    return 1000 * statistics.median(seconds) if seconds else float('nan')
