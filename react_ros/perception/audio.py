"""
The speaker's audio per video frame: model features, voice activity and pitch.

Everything is computed from audio at the model's 16 kHz and is causal: a frame stamped t sees
only the samples before t.

- Features: `react_ros.perception.audio_features.frame_audio_features` of the 1024 samples
  before t, the one feature function of training, evaluation and the robot.
- Voice activity: webrtcvad on consecutive 10 ms blocks, mode 3. Mode 3 is the strictest of
  its four modes (fewest noise blocks called speech; it still marks all of espeak-ng speech),
  and 10 ms blocks are its finest timing, three per 30 fps video frame. webrtcvad calls a
  block speech or not; the gaps between words are silent blocks, so a frame is voice-active
  when a speech block ended within `HANGOVER_S` = 0.1 s before it. Measured on espeak-ng
  sentences with 1.5 s pauses: speech frames active 95.5% with no hangover, 99.6% with 0.1 s;
  frames active after a sentence ends grow by the hangover (webrtcvad itself adds ~0.1 s).
- Pitch: YIN (de Cheveigne and Kawahara, 2002) on the same 1024 samples, 60-500 Hz; 0 where
  YIN finds no period or the frame is not voice-active.

`AudioPerception` is the streaming form (chunks with stamps, any sample rate, gaps);
`sequence_audio_perception` the offline form over a whole recording. Both give the same
numbers for the same audio.
"""

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
import math

import numpy as np
from react_ros.errors import InputProblem
from react_ros.perception.audio_features import (
    frame_audio_features, frame_windows, to_model_rate, WINDOW_SAMPLES)
from react_ros.spec import AUDIO_SAMPLE_RATE, FLOAT_AUDIO_PEAK_LIMIT
from scipy.signal import resample_poly
import webrtcvad

VAD_MODE = 3
VAD_BLOCK_SAMPLES = AUDIO_SAMPLE_RATE // 100  # 10 ms
HANGOVER_S = 0.1
PITCH_MIN_HZ = 60.0
PITCH_MAX_HZ = 500.0
# YIN's threshold on the cumulative mean normalised difference. Above the paper's 0.1: a 47 ms
# window spans intonation changes that make speech less periodic than the threshold assumes.
# On espeak-ng voices, 0.15 found a pitch in 15-57% of voice-active frames, 0.25 in 37-66%,
# with the same 5-95% pitch range (no octave errors).
YIN_THRESHOLD = 0.25
# Windows quieter than this RMS (about -60 dBFS) have no pitch.
PITCH_MIN_RMS = 1e-3
# Chunks whose stamp is within this of where the stream was expected to continue are placed
# right after it (stamp jitter); further away starts a new run of audio (a gap, or a restart).
STAMP_TOLERANCE_S = 0.02
# A frame's window may lack this many samples at its end (a resampler's filter delay, about
# 1 ms) before it counts as having a gap.
GAP_TOLERANCE_SAMPLES = 32
BUFFER_SECONDS = 2.0
_TIME_EPSILON = 1e-5  # well under one sample: block ends and frame stamps compare equal
_PCM_SCALE = 32767.0


@dataclass(frozen=True)
class AudioNotice:
    """Something about a pushed chunk worth saying; problem is a short key for throttling."""

    problem: str
    text: str


# ---------------------------------------------------------------------------------------------
# Pitch


def frame_pitch(windows: np.ndarray, sample_rate: int = AUDIO_SAMPLE_RATE,
                min_hz: float = PITCH_MIN_HZ, max_hz: float = PITCH_MAX_HZ,
                threshold: float = YIN_THRESHOLD) -> np.ndarray:
    """
    Estimate the fundamental frequency of each window with YIN.

    windows: (..., N) float audio. The difference function compares the first N - max_lag
    samples with the window shifted by each lag up to max_lag = sample_rate / min_hz; the
    first local minimum of its cumulative mean normalised form below threshold, refined by a
    parabola, is the period. Returns (...) float32 Hz, 0 where no period is found.
    """
    windows = np.asarray(windows, dtype=np.float64)
    length = windows.shape[-1]
    max_lag = int(math.ceil(sample_rate / min_hz))
    min_lag = max(2, int(math.floor(sample_rate / max_hz)))
    span = length - max_lag  # samples compared at every lag
    if span < max_lag:
        raise ValueError(f'pitch windows of {length} samples are too short for {min_hz:g} Hz '
                         f'at {sample_rate} Hz (need {2 * max_lag})')
    flat = windows.reshape(-1, length)  # (B, N)
    flat = flat - flat.mean(axis=-1, keepdims=True)
    size = 1 << int(math.ceil(math.log2(length + span)))
    spectrum = np.fft.rfft(flat, size) * np.conj(np.fft.rfft(flat[:, :span], size))
    correlation = np.fft.irfft(spectrum, size)[:, :max_lag + 1]  # (B, L)
    energy = np.concatenate([np.zeros((len(flat), 1)), np.cumsum(flat ** 2, axis=-1)], axis=-1)
    lags = np.arange(max_lag + 1)
    shifted_energy = energy[:, lags + span] - energy[:, lags]  # (B, L)
    difference = np.maximum(shifted_energy[:, :1] + shifted_energy - 2.0 * correlation, 0.0)
    running_mean = np.cumsum(difference[:, 1:], axis=-1) / lags[1:]
    normalised = np.ones_like(difference)
    normalised[:, 1:] = difference[:, 1:] / np.maximum(running_mean, 1e-12)
    inner = normalised[:, min_lag:max_lag]  # lags min_lag .. max_lag - 1
    is_dip = ((inner < threshold) & (inner <= normalised[:, min_lag - 1:max_lag - 1])
              & (inner <= normalised[:, min_lag + 1:max_lag + 1]))
    found = is_dip.any(axis=-1)
    lag = min_lag + np.argmax(is_dip, axis=-1)  # first dip (meaningless where not found)
    rows = np.arange(len(flat))
    before, at, after = (normalised[rows, lag - 1], normalised[rows, lag],
                         normalised[rows, lag + 1])
    curvature = before - 2.0 * at + after
    shift = np.where(curvature > 1e-12, 0.5 * (before - after) / np.maximum(curvature, 1e-12),
                     0.0)
    loud = np.sqrt(np.mean(flat ** 2, axis=-1)) >= PITCH_MIN_RMS
    pitch = np.where(found & loud, sample_rate / (lag + np.clip(shift, -1.0, 1.0)), 0.0)
    return pitch.reshape(windows.shape[:-1]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Voice activity


class VoiceActivityDetector:
    """webrtcvad over a 16 kHz stream: one speech/non-speech decision per complete 10 ms block."""

    def __init__(self, mode: int = VAD_MODE):
        if mode not in (0, 1, 2, 3):
            raise ValueError(f'webrtcvad mode must be 0, 1, 2 or 3, got {mode}')
        self._vad = webrtcvad.Vad(mode)
        self._carry = np.zeros(0, np.float32)  # samples of the unfinished block

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Return one bool per 10 ms block completed by these samples."""
        samples = np.concatenate([self._carry, np.asarray(samples, np.float32)])
        blocks = len(samples) // VAD_BLOCK_SAMPLES
        self._carry = samples[blocks * VAD_BLOCK_SAMPLES:]
        pcm = np.round(np.clip(samples[:blocks * VAD_BLOCK_SAMPLES], -1.0, 1.0)
                       * _PCM_SCALE).astype('<i2').reshape(blocks, VAD_BLOCK_SAMPLES)
        return np.array([self._vad.is_speech(block.tobytes(), AUDIO_SAMPLE_RATE)
                         for block in pcm], dtype=bool)

    def restart_blocks(self):
        """Drop the unfinished block (the stream jumps: the next sample does not follow on)."""
        self._carry = np.zeros(0, np.float32)


def voice_active_at(speech_block_ends: np.ndarray, stamps: np.ndarray,
                    hangover_s: float = HANGOVER_S) -> np.ndarray:
    """
    Return whether each stamp is voice-active: a speech block ended within the hangover.

    speech_block_ends: sorted end times (s) of the 10 ms blocks webrtcvad called speech.
    """
    ends = np.asarray(speech_block_ends, dtype=np.float64)
    stamps = np.asarray(stamps, dtype=np.float64)
    block_s = VAD_BLOCK_SAMPLES / AUDIO_SAMPLE_RATE
    latest = np.searchsorted(ends, stamps + _TIME_EPSILON, side='right')
    earliest = np.searchsorted(ends, stamps - hangover_s - block_s + _TIME_EPSILON,
                               side='right')
    return latest > earliest


# ---------------------------------------------------------------------------------------------
# Offline: a whole recording


@dataclass
class AudioTrack:
    """Per-frame audio perception of a recording: features (T, 41), voice (T,), pitch (T,)."""

    features: np.ndarray
    voice_active: np.ndarray
    pitch_hz: np.ndarray


def sequence_audio_perception(audio: np.ndarray, frame_times: np.ndarray,
                              sample_rate: int = AUDIO_SAMPLE_RATE,
                              vad_mode: int = VAD_MODE,
                              hangover_s: float = HANGOVER_S) -> AudioTrack:
    """
    Compute features, voice activity and pitch for every frame of a recording.

    audio: (S,) mono samples starting at time 0, at sample_rate; frame_times: (T,) seconds.
    Equal to what AudioPerception gives for the same audio pushed as a stream.
    """
    audio = to_model_rate(np.asarray(audio, dtype=np.float32), sample_rate)
    frame_times = np.asarray(frame_times, dtype=np.float64)
    windows = frame_windows(audio, frame_times)  # (T, 1024)
    speech = VoiceActivityDetector(vad_mode).process(audio)
    block_ends = (np.flatnonzero(speech) + 1) * VAD_BLOCK_SAMPLES / AUDIO_SAMPLE_RATE
    voice = voice_active_at(block_ends, frame_times, hangover_s)
    pitch = np.where(voice, frame_pitch(windows), 0.0).astype(np.float32)
    return AudioTrack(frame_audio_features(windows), voice, pitch)


# ---------------------------------------------------------------------------------------------
# Streaming


class AudioBuffer:
    """
    The last few seconds of stamped 16 kHz audio, placed on a timeline by their stamps.

    Chunks are stamped with the time of their first sample. Gaps read as silence, so a frame
    whose audio has not arrived is processed as if the speaker were quiet.
    """

    def __init__(self, seconds: float = 2.0):
        self._chunks = deque()  # (start time s, samples)
        self._horizon = seconds

    @property
    def end_time(self) -> float:
        """Time just after the newest sample, or -inf when empty."""
        if not self._chunks:
            return float('-inf')
        start, samples = self._chunks[-1]
        return start + len(samples) / AUDIO_SAMPLE_RATE

    def append(self, start_time: float, samples: np.ndarray) -> bool:
        """
        Add a chunk; return False if its stamp jumped backwards (buffer cleared first).

        A backwards jump of more than one chunk means the source restarted (e.g. a bag loop):
        the old timeline no longer applies.
        """
        jumped_back = start_time < self.end_time - 0.1
        if jumped_back:
            self._chunks.clear()
        self._chunks.append((start_time, samples))
        while self._chunks and self._chunks[0][0] < start_time - self._horizon:
            self._chunks.popleft()
        return not jumped_back

    def window(self, end_time: float, n_samples: int = WINDOW_SAMPLES) -> np.ndarray:
        """Return the n_samples before end_time, zeros where no audio was received."""
        out = np.zeros(n_samples, np.float32)
        window_start = end_time - n_samples / AUDIO_SAMPLE_RATE
        for start, samples in reversed(self._chunks):
            chunk_end = start + len(samples) / AUDIO_SAMPLE_RATE
            if chunk_end <= window_start:
                break
            if start >= end_time:
                continue
            offset = int(round((start - window_start) * AUDIO_SAMPLE_RATE))
            lo, hi = max(offset, 0), min(offset + len(samples), n_samples)
            if lo < hi:
                out[lo:hi] = samples[lo - offset:hi - offset]
        return out

    def clear(self):
        """Forget all audio."""
        self._chunks.clear()


class StreamResampler:
    """
    Resample a chunked stream to 16 kHz, equal to resampling the whole stream at once.

    scipy's resample_poly filter reaches a few input samples past each output sample (about
    1 ms), so the outputs whose filter is not yet covered wait for the next chunk; a chunk is
    resampled with the input before it that the filter still needs.
    """

    def __init__(self, sample_rate: int):
        ratio = Fraction(AUDIO_SAMPLE_RATE, int(sample_rate))
        self.sample_rate = int(sample_rate)
        self._up, self._down = ratio.numerator, ratio.denominator
        # resample_poly's filter half-length in upsampled samples (no filter at 16 kHz)
        self._half_len = 0 if self._up == self._down else 10 * max(self._up, self._down)
        self._pending = np.zeros(0, np.float32)
        self._pending_start = 0  # input index of _pending[0], a multiple of _down
        self._emitted = 0  # output samples returned so far

    @property
    def emitted(self) -> int:
        """Return how many 16 kHz samples have been returned."""
        return self._emitted

    def process(self, samples: np.ndarray, final: bool = False) -> np.ndarray:
        """
        Return the 16 kHz samples that these input samples complete.

        final: the stream ends here; return the rest, as resampling it whole would.
        """
        pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        last_input = self._pending_start + len(pending) - 1
        if final:
            ready = -(-(last_input + 1) * self._up // self._down)  # ceil: resample_poly's count
        else:
            ready = (last_input * self._up - self._half_len) // self._down + 1
        out = np.zeros(0, np.float32)
        if ready > self._emitted:
            offset = self._pending_start * self._up // self._down
            resampled = resample_poly(pending, self._up, self._down)
            out = resampled[self._emitted - offset:ready - offset].astype(np.float32)
            self._emitted = ready
        # Keep the input from the left edge of the next output's filter (at a multiple of
        # _down, so outputs of the kept segment fall on the stream's output grid).
        keep_from = (self._emitted * self._down - self._half_len) // self._up
        keep_from = max(0, keep_from // self._down * self._down)
        if keep_from > self._pending_start:
            pending = pending[keep_from - self._pending_start:]
            self._pending_start = keep_from
        self._pending = pending
        return out


@dataclass
class AudioObservation:
    """The audio perception of one video frame."""

    features: np.ndarray  # (41,) float32, frame_audio_features of the window before the stamp
    voice_active: bool
    pitch_hz: float  # 0 when unvoiced or not voice-active
    gap: bool  # some of the window's audio never arrived (read as silence)
    problems: tuple  # 'no_audio' (none of the window arrived) or 'audio_gap'


class AudioPerception:
    """
    Streaming audio perception: push stamped chunks, ask for any frame stamp.

    A chunk is stamped with the time of its first sample. Chunks that follow on (within
    STAMP_TOLERANCE_S) form one run of audio; a later stamp leaves a gap, which reads as
    silence and sets the frame's gap flag; an earlier stamp means the source restarted (e.g. a
    bag loop) and clears everything. Audio at another rate is resampled to 16 kHz, said once
    per rate. push returns an `AudioNotice` for every restart and every chunk with NaN or
    infinite samples (callers throttle them). Not thread-safe: callers serialise push and
    features_at.
    """

    def __init__(self, vad_mode: int = VAD_MODE, hangover_s: float = HANGOVER_S,
                 buffer_s: float = BUFFER_SECONDS):
        self._vad_mode = vad_mode
        self._hangover_s = hangover_s
        self._buffer_s = buffer_s
        self._rates_announced = set()  # sample rates whose resampling push has reported
        self.gaps = 0  # how many times the stream jumped forward
        self.restarts = 0  # how many times it jumped backwards
        self._buffer = AudioBuffer(buffer_s)
        self.reset()

    def reset(self):
        """Forget all audio (a new interaction); recorded warnings and counts stay."""
        self._buffer.clear()
        self._vad = VoiceActivityDetector(self._vad_mode)
        self._resampler = None
        self._run_start = None  # stamp of the first sample of the current run
        self._run_input = 0  # input samples of the current run
        self._runs = deque()  # [start s, end s] of received 16 kHz audio
        self._speech_ends = deque()  # end times of 10 ms blocks webrtcvad called speech
        self._vad_blocks = 0  # VAD blocks completed in the current run

    def push(self, samples: np.ndarray, stamp: float,
             sample_rate: int = AUDIO_SAMPLE_RATE) -> list:
        """
        Add a chunk of mono float audio in [-1, 1] whose first sample is at stamp (seconds).

        (N, C) audio is averaged over channels. Returns the AudioNotices of this chunk
        (usually none). Raises InputProblem for unusable input, samples beyond
        spec.FLOAT_AUDIO_PEAK_LIMIT included.
        """
        samples = np.asarray(samples)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1 or samples.size == 0:
            raise InputProblem('audio_shape', f'audio must be (N,) or (N, channels) with N > 0, '
                                              f'got shape {np.shape(samples)}')
        if not np.issubdtype(samples.dtype, np.floating):
            raise InputProblem('audio_dtype', f'audio must be float in [-1, 1], got '
                                              f'{samples.dtype} (decode PCM with PcmFormat)')
        if not 4000 <= sample_rate <= 192000:
            raise InputProblem('sample_rate',
                               f'sample_rate {sample_rate} Hz is outside 4000..192000 Hz')
        if not math.isfinite(stamp):
            raise InputProblem('audio_stamp', f'audio stamp must be finite, got {stamp}')
        new = []
        samples = samples.astype(np.float32)
        if not np.isfinite(samples).all():
            samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
            new.append(AudioNotice('audio_nonfinite',
                                   'audio had NaN or infinite samples; read as 0'))
        peak = float(np.abs(samples).max())
        if peak > FLOAT_AUDIO_PEAK_LIMIT:
            raise InputProblem('audio_range', f'audio peaks at {peak:.3g}, far outside [-1, 1] '
                                              f'(accepted up to {FLOAT_AUDIO_PEAK_LIMIT:g})')
        if sample_rate != AUDIO_SAMPLE_RATE and sample_rate not in self._rates_announced:
            self._rates_announced.add(sample_rate)
            new.append(AudioNotice(f'audio_rate_{sample_rate}',
                                   f'audio at {sample_rate} Hz is resampled to '
                                   f'{AUDIO_SAMPLE_RATE} Hz'))
        new += self._place(samples, float(stamp), int(sample_rate))
        self._append_run_audio(self._resampler.process(samples))
        self._run_input += len(samples)
        return new

    def _place(self, samples: np.ndarray, stamp: float, sample_rate: int) -> list:
        """Continue the current run, or start a new one at stamp (gap, restart, new rate)."""
        if self._resampler is not None and self._resampler.sample_rate == sample_rate:
            expected = self._run_start + self._run_input / sample_rate
            if abs(stamp - expected) <= STAMP_TOLERANCE_S:
                return []
        new = []
        if self._resampler is not None:
            expected = self._run_start + self._run_input / self._resampler.sample_rate
            if stamp >= expected - STAMP_TOLERANCE_S:
                # The run ends: its last samples need no more input.
                self._append_run_audio(self._resampler.process(np.zeros(0), final=True))
            if stamp < expected - STAMP_TOLERANCE_S:
                self.restarts += 1
                new = [AudioNotice('audio_restart',
                                   f'audio stamps jumped backwards by {expected - stamp:.3f} s '
                                   '(bag loop or restarted source?): audio cleared')]
                self.reset()
            elif stamp > expected:
                self.gaps += 1
        self._resampler = StreamResampler(sample_rate)
        self._vad.restart_blocks()
        self._run_start, self._run_input, self._vad_blocks = stamp, 0, 0
        self._runs.append([stamp, stamp])
        return new

    def _append_run_audio(self, audio: np.ndarray):
        """Put 16 kHz samples of the current run on the timeline and run VAD on them."""
        if not len(audio):
            return
        start = self._run_start + (self._resampler.emitted - len(audio)) / AUDIO_SAMPLE_RATE
        end = start + len(audio) / AUDIO_SAMPLE_RATE
        self._buffer.append(start, audio)
        self._runs[-1][1] = end
        speech = self._vad.process(audio)
        block_ends = self._run_start + ((self._vad_blocks + 1 + np.flatnonzero(speech))
                                        * VAD_BLOCK_SAMPLES / AUDIO_SAMPLE_RATE)
        self._vad_blocks += len(speech)
        self._speech_ends.extend(block_ends.tolist())
        # The buffer keeps the chunks that start within buffer_s of the newest one.
        horizon = start - self._buffer_s
        while self._speech_ends and self._speech_ends[0] < horizon:
            self._speech_ends.popleft()
        while len(self._runs) > 1 and self._runs[0][1] < horizon:
            self._runs.popleft()
        self._runs[0][0] = max(self._runs[0][0], horizon)

    @property
    def end_time(self) -> float:
        """Time just after the newest 16 kHz sample received, or -inf before any audio."""
        return self._buffer.end_time

    def _missing_samples(self, stamp: float) -> int:
        """Return how many samples of the window ending at stamp were never received."""
        window_start = stamp - WINDOW_SAMPLES / AUDIO_SAMPLE_RATE
        covered = sum(max(0.0, min(end, stamp) - max(start, window_start))
                      for start, end in self._runs)
        return WINDOW_SAMPLES - int(round(covered * AUDIO_SAMPLE_RATE))

    def features_at(self, stamp: float) -> AudioObservation:
        """Return the audio perception of a video frame stamped stamp (seconds)."""
        window = self._buffer.window(stamp)
        missing = self._missing_samples(stamp)
        problems = ()
        if missing >= WINDOW_SAMPLES:
            problems = ('no_audio',)
        elif missing > GAP_TOLERANCE_SAMPLES:
            problems = ('audio_gap',)
        voice = bool(voice_active_at(np.fromiter(self._speech_ends, np.float64), [stamp],
                                     self._hangover_s)[0])
        pitch = float(frame_pitch(window)) if voice else 0.0
        return AudioObservation(frame_audio_features(window), voice, pitch, bool(problems),
                                problems)
