"""
ReactionSession without ROS: frame selection, stamp restarts, audio waits, silence, statistics.

A recording stand-in replaces the pipeline, so each test sees exactly what the session asked of
it; clocks are injected where a test needs time to pass without waiting for it.
"""

import math
import threading
import time
from types import SimpleNamespace

import numpy as np
from react_ros.errors import InputProblem
from react_ros.session import ReactionSession, STAMPED_AUDIO_PREFERENCE_S

RATE = 16000
FRAME = np.zeros((4, 4, 3), np.uint8)
UNREADABLE = np.zeros((1, 1, 3), np.uint8)  # the stand-in pipeline rejects this frame


class RecordingPipeline:
    """Records the session's calls; audio_end_time follows the pushed audio, as the real one."""

    def __init__(self):
        self.calls = []
        self.audio_end_time = float('-inf')
        self.audio_end_at_step = []
        self.problems = ()

    def reset(self, seed):
        self.calls.append(('reset', seed))
        self.audio_end_time = float('-inf')

    def restart_stream(self, seed):
        self.calls.append(('restart_stream', seed))

    def push_audio(self, samples, stamp, sample_rate=RATE):
        self.audio_end_time = stamp + len(samples) / sample_rate
        return [f'{len(samples)} samples']

    def step(self, rgb, stamp):
        if rgb is UNREADABLE:
            raise InputProblem('size', 'frame too small')
        self.calls.append(('step', stamp))
        self.audio_end_at_step.append(self.audio_end_time)
        return SimpleNamespace(stamp=stamp, speaker=SimpleNamespace(problems=self.problems))


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def make_session(audio_wait_s=0.04, silence_warning_s=2.0, **clocks):
    # The tests' frame stamps lie around 1 s: a stamp clock there keeps them live.
    clocks.setdefault('stamp_clock', FakeClock(1.2))
    pipeline = RecordingPipeline()
    warned = []
    seeds = iter(range(100, 200))
    session = ReactionSession(
        pipeline, lambda: next(seeds), lambda problem, text: warned.append((problem, text)),
        audio_topic='/audio', audio_wait_s=audio_wait_s, silence_warning_s=silence_warning_s,
        **clocks)
    return session, pipeline, warned


def audio(seconds):
    return np.zeros(int(seconds * RATE), np.float32)


def timed_process(session, stamp, published=None):
    started = time.monotonic()
    session.process(FRAME, stamp, (published if published is not None else []).append)
    return time.monotonic() - started


def test_stamp_going_backwards_restarts_the_stream_and_keeps_perception():
    session, pipeline, warned = make_session()
    published = []
    for stamp in (1.0, 1.1, 0.5, 0.6):
        session.process(FRAME, stamp, published.append)
    assert [reaction.stamp for reaction in published] == [1.0, 1.1, 0.5, 0.6]
    # The stream restarts before the frame that went back, and only then; perception stays.
    assert pipeline.calls == [('step', 1.0), ('step', 1.1), ('restart_stream', 100),
                              ('step', 0.5), ('step', 0.6)]
    assert warned == [('image_stamp', 'image stamp went backwards by 0.600 s (bag loop or '
                       'restarted camera?): starting a new reaction stream')]


def test_start_over_resets_perception_drops_the_waiting_frame_and_forgets_the_stamp():
    session, pipeline, warned = make_session(audio_wait_s=5.0)
    session.push_audio(audio(0.5), 0.0, RATE)
    session.process(FRAME, 0.4, [].append)
    session.offer_frame('left over')
    session.start_over()
    assert pipeline.calls[-1] == ('reset', 100)
    assert session.take_frame(lambda: True) is None
    # No restart for an earlier stamp, and no audio wait until audio arrives again.
    assert timed_process(session, 0.1) < 1.0
    assert pipeline.calls[-1] == ('step', 0.1) and not warned


def test_newest_frame_wins_and_a_stopped_worker_is_woken():
    session, _, _ = make_session()
    for frame in ('first', 'second', 'third'):
        session.offer_frame(frame)
    assert session.take_frame(lambda: False) == 'third'
    stop = threading.Event()
    taken = []
    worker = threading.Thread(target=lambda: taken.append(session.take_frame(stop.is_set)))
    worker.start()
    time.sleep(0.05)
    assert worker.is_alive()  # waiting for a frame
    stop.set()
    session.wake()
    worker.join(2.0)
    assert not worker.is_alive() and taken == [None]


def test_audio_wait_ends_when_audio_reaches_the_stamp():
    session, pipeline, _ = make_session(audio_wait_s=3.0)
    assert session.push_audio(audio(1.0), 0.0, RATE) == ['16000 samples']
    late = threading.Timer(0.2, session.push_audio, (audio(0.5), 1.0, RATE))
    late.start()
    waited = timed_process(session, 1.5)
    late.join()
    assert 0.15 < waited < 2.0
    assert pipeline.audio_end_at_step == [1.5]  # the frame saw the late chunk


def test_audio_wait_gives_up_after_audio_wait_s():
    session, pipeline, warned = make_session(audio_wait_s=0.3)
    session.push_audio(audio(1.0), 0.0, RATE)
    # Audio that already reaches the stamp (within a millisecond) costs no wait.
    assert timed_process(session, 1.0005) < 0.2
    waited = timed_process(session, 1.5)
    assert 0.25 < waited < 2.0
    assert pipeline.calls == [('step', 1.0005), ('step', 1.5)]
    assert pipeline.audio_end_at_step == [1.0, 1.0] and not warned


def test_no_audio_wait_before_any_audio():
    session, pipeline, _ = make_session(audio_wait_s=5.0)
    assert timed_process(session, 1.0) < 1.0
    assert pipeline.calls == [('step', 1.0)]


def test_silence_warning_after_silence_warning_s_reacts_without_waiting():
    clock = FakeClock()
    session, pipeline, warned = make_session(audio_wait_s=0.3, silence_warning_s=2.0,
                                             clock=clock)
    session.push_audio(audio(1.0), 0.0, RATE)
    clock.now = 1.9
    assert timed_process(session, 1.5) > 0.25  # still waits for audio in flight
    assert not warned
    clock.now = 2.5
    assert timed_process(session, 1.6) < 0.2
    assert warned == [('silence', 'no audio on /audio for 2.5 s: reacting as to silence')]
    assert [call[1] for call in pipeline.calls] == [1.5, 1.6]


def test_report_counts_frames_rate_latency_and_speaker_problems():
    clock, stamp_clock = FakeClock(), FakeClock()
    session, pipeline, warned = make_session(clock=clock, stamp_clock=stamp_clock)
    for frame in range(4):
        session.offer_frame(frame)
    session.take_frame(lambda: False)  # three of the four were replaced before this
    session.offer_frame('another')
    session.reject('image', 'image_encoding:32FC1', 'unsupported encoding')
    stamp_clock.now = 0.0
    session.process(UNREADABLE, 0.0, [].append)
    session.reject('audio', 'audio_range:F32LE', 'audio chunk peaks at 1e+30')
    assert [problem for problem, _ in warned] == ['image_encoding:32FC1', 'image_size',
                                                  'audio_range:F32LE']
    assert warned[1][1] == 'dropping image frame: frame too small'
    # Five frames: two long before the report, three within its period; 10-50 ms late.
    pipeline.problems = ('no_face',)
    for index, (when, latency) in enumerate(
            [(0.0, 0.04), (0.1, 0.05), (9.3, 0.01), (9.5, 0.03), (9.8, 0.02)]):
        clock.now, stamp = when, 10.0 + index / 30
        stamp_clock.now = stamp + latency
        if index == 4:
            pipeline.problems = ('no_face', 'audio_gap')
        session.process(FRAME, stamp, [].append)
    clock.now = 10.0
    report = session.report(period_s=1.0)
    assert report.rate_hz == 3.0
    assert math.isclose(report.latency_p50_ms, 30.0, abs_tol=1e-6)
    assert math.isclose(report.latency_max_ms, 50.0, abs_tol=1e-6)
    assert report.compute_p50_ms >= 0.0
    assert (report.frames_received, report.frames_processed, report.frames_dropped,
            report.bad_frames, report.bad_audio_chunks) == (5, 5, 3, 2, 1)
    assert report.frames_received_in_period == 5
    assert report.input_problems == {'image_encoding:32FC1': 1, 'image_size': 1,
                                     'audio_range:F32LE': 1}
    assert report.speaker_problems == {'no_face': 5, 'audio_gap': 1}
    # A period without frames: no rate, no latency, no problems; the counts stay.
    clock.now = 12.0
    quiet = session.report(period_s=1.0)
    assert quiet.rate_hz == 0.0 and math.isnan(quiet.latency_p50_ms)
    assert math.isnan(quiet.latency_max_ms) and math.isnan(quiet.compute_p50_ms)
    assert quiet.speaker_problems == {} and quiet.frames_processed == 5
    assert quiet.input_problems == {} and quiet.frames_received_in_period == 0
    assert quiet.bad_frames == 2  # counts since the start stay


def test_future_and_stale_stamps_are_warned_and_kept_out_of_restarts_and_latency():
    stamp_clock = FakeClock(100.0)
    session, pipeline, warned = make_session(stamp_clock=stamp_clock)
    published = []
    # Good, one stamped 1000 s ahead, then good again: no restart, the good ones not blamed.
    for stamp in (99.9, 1100.0, 99.95, 99.99):
        session.process(FRAME, stamp, published.append)
    assert len(published) == 4
    assert [call for call in pipeline.calls if call[0] == 'restart_stream'] == []
    assert [problem for problem, _ in warned] == ['image_future_stamp']
    assert '1000.000 s ahead' in warned[0][1]
    # A stamp of 0 (unset) is reacted to, warned, and kept out of the latency.
    session.process(FRAME, 0.0, published.append)
    stale = dict(warned)['image_stale_stamp']
    assert '100.0 s behind' in stale and 'image_stamp' in dict(warned)  # and it went back
    report = session.report(period_s=1.0)
    assert report.frames_processed == 5
    assert report.latency_max_ms < 200.0, report  # the 3 live frames only
    session.reset_statistics()
    zeroed = session.report(period_s=1.0)
    assert (zeroed.frames_received, zeroed.frames_processed, zeroed.frames_dropped,
            zeroed.bad_frames) == (0, 0, 0, 0)


def test_unstamped_audio_waits_for_stamped_to_stop_then_is_placed_by_arrival():
    clock, stamp_clock = FakeClock(), FakeClock(100.0)
    session, pipeline, warned = make_session(clock=clock, stamp_clock=stamp_clock)
    session.start_over()
    assert not session.unstamped_audio_wanted()  # stamped audio may still come
    clock.now = STAMPED_AUDIO_PREFERENCE_S
    assert session.unstamped_audio_wanted()
    session.push_unstamped_audio(audio(0.02), RATE)
    assert pipeline.audio_end_time == 100.0  # ends when it arrived
    assert [problem for problem, _ in warned] == ['audio_unstamped']
    stamp_clock.now = 100.025  # 5 ms of arrival jitter: placed right after the last chunk
    session.push_unstamped_audio(audio(0.02), RATE)
    assert math.isclose(pipeline.audio_end_time, 100.02)
    stamp_clock.now = 101.0  # a real gap: placed by arrival again
    session.push_unstamped_audio(audio(0.02), RATE)
    assert pipeline.audio_end_time == 101.0
    session.push_audio(audio(0.02), 101.0, RATE)  # stamped audio is back and preferred
    assert warned[-1][0] == 'audio_stamped'
    assert not session.unstamped_audio_wanted()
    clock.now += STAMPED_AUDIO_PREFERENCE_S
    assert session.unstamped_audio_wanted()
