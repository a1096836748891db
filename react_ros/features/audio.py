"""
Audio features per video frame, and the streaming audio buffer the nodes fill.

One function, `frame_audio_features`, turns the audio window that ends at a video frame into the
model's audio input; training, evaluation and the live node all call it, so the features a model
was trained on are the features it sees on the robot.
"""

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from react_ros.errors import InputProblem
from react_ros.spec import AUDIO_SAMPLE_RATE
from scipy.signal import resample_poly

N_FFT = 512
WIN_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms
N_MELS = 40
# Each video frame sees the last 64 ms of audio: two 30 fps frame periods, so consecutive frames
# overlap and a frame never depends on audio after its own stamp.
WINDOW_SAMPLES = 1024
AUDIO_FEATURE_DIM = N_MELS + 1  # log-mel bands + log energy
_LOG_FLOOR = 1e-6


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(sample_rate=AUDIO_SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS,
                   fmin=20.0, fmax=None) -> np.ndarray:
    """Return HTK-style triangular mel filters, (n_mels, n_fft // 2 + 1)."""
    fmax = fmax or sample_rate / 2
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (fft_hz - lower) / (centre - lower)
    falling = (upper - fft_hz) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


_MEL = mel_filterbank()
_WINDOW = np.hanning(WIN_LENGTH + 1)[:-1].astype(np.float32)


def frame_audio_features(windows: np.ndarray) -> np.ndarray:
    """
    Turn audio windows into per-frame features.

    windows: (..., WINDOW_SAMPLES) float audio in [-1, 1] at 16 kHz, the samples just before
    each video frame's stamp. Returns (..., AUDIO_FEATURE_DIM) float32: the mean log-mel
    spectrum over the window's STFT frames, then the window's log RMS energy.
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.shape[-1] != WINDOW_SAMPLES:
        raise ValueError(f'audio windows must be (..., {WINDOW_SAMPLES}), got {windows.shape}')
    n_frames = 1 + (WINDOW_SAMPLES - WIN_LENGTH) // HOP_LENGTH
    starts = np.arange(n_frames) * HOP_LENGTH
    frames = windows[..., starts[:, None] + np.arange(WIN_LENGTH)] * _WINDOW  # (..., F, W)
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=-1)) ** 2  # (..., F, N_FFT/2+1)
    log_mel = np.log(power @ _MEL.T + _LOG_FLOOR).mean(axis=-2)  # (..., N_MELS)
    log_energy = np.log(np.mean(windows ** 2, axis=-1, keepdims=True) + _LOG_FLOOR)
    return np.concatenate([log_mel, log_energy], axis=-1).astype(np.float32)


def sequence_audio_features(audio: np.ndarray, frame_times: np.ndarray,
                            sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """
    Compute features for every video frame of a whole recording.

    audio: (S,) mono samples starting at time 0; frame_times: (T,) frame stamps in seconds.
    Returns (T, AUDIO_FEATURE_DIM), identical to what the streaming node computes.
    """
    audio = to_model_rate(np.asarray(audio, dtype=np.float32), sample_rate)
    padded = np.concatenate([np.zeros(WINDOW_SAMPLES, np.float32), audio,
                             np.zeros(WINDOW_SAMPLES, np.float32)])
    ends = np.round(np.asarray(frame_times) * AUDIO_SAMPLE_RATE).astype(np.int64)
    ends = np.clip(ends, 0, len(audio)) + WINDOW_SAMPLES
    windows = padded[ends[:, None] - WINDOW_SAMPLES + np.arange(WINDOW_SAMPLES)]
    return frame_audio_features(windows)


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample mono audio to the model's 16 kHz (polyphase, no-op at 16 kHz)."""
    if sample_rate == AUDIO_SAMPLE_RATE:
        return audio
    ratio = Fraction(AUDIO_SAMPLE_RATE, int(sample_rate))
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)


@dataclass
class PcmFormat:
    """How raw audio bytes are laid out (the fields of audio_common_msgs/AudioInfo we use)."""

    sample_rate: int = AUDIO_SAMPLE_RATE
    channels: int = 1
    sample_format: str = 'S16LE'

    _DTYPES = {'S16LE': ('<i2', 32768.0), 'S32LE': ('<i4', 2147483648.0), 'F32LE': ('<f4', 1.0)}

    def validate(self):
        """Raise InputProblem naming the field if this format cannot be decoded."""
        if self.sample_format not in self._DTYPES:
            raise InputProblem('sample_format',
                               f'unsupported sample_format {self.sample_format!r}; '
                               f'supported: {", ".join(self._DTYPES)}')
        if not 4000 <= self.sample_rate <= 192000:
            raise InputProblem('sample_rate',
                               f'sample_rate {self.sample_rate} Hz is outside 4000..192000 Hz')
        if not 1 <= self.channels <= 32:
            raise InputProblem('channels', f'channels {self.channels} is outside 1..32')

    def decode(self, data: bytes) -> np.ndarray:
        """Decode interleaved PCM bytes into mono float32 audio at the model's rate."""
        return to_model_rate(self.to_mono(data), self.sample_rate)

    def to_mono(self, data: bytes) -> np.ndarray:
        """Decode interleaved PCM bytes into mono float32 audio at self.sample_rate."""
        dtype, scale = self._DTYPES[self.sample_format]
        frame_bytes = np.dtype(dtype).itemsize * self.channels
        if len(data) == 0:
            raise InputProblem('empty_audio', 'empty audio chunk')
        if len(data) % frame_bytes:
            raise InputProblem('audio_size',
                               f'audio chunk of {len(data)} bytes is not a whole number of '
                               f'{self.channels}-channel {self.sample_format} frames '
                               f'({frame_bytes} bytes each)')
        samples = np.frombuffer(data, dtype=dtype).astype(np.float32) / scale
        return samples.reshape(-1, self.channels).mean(axis=1)


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
