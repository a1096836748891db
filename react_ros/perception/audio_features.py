"""
The model's audio features per video frame: log-mel spectrum and log energy.

One function, `frame_audio_features`, turns the audio window that ends at a video frame into the
model's audio input; training, evaluation and the live node all call it, so the features a model
was trained on are the features it sees on the robot. `frame_windows` cuts those windows out of
a whole recording, for every offline path.
"""

from fractions import Fraction

import numpy as np
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
    return frame_audio_features(frame_windows(audio, frame_times))


def frame_windows(audio: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
    """Return the (T, 1024) 16 kHz windows ending at the frame times, zeros outside the audio."""
    padded = np.concatenate([np.zeros(WINDOW_SAMPLES, np.float32), audio,
                             np.zeros(WINDOW_SAMPLES, np.float32)])
    ends = np.round(np.asarray(frame_times) * AUDIO_SAMPLE_RATE).astype(np.int64)
    ends = np.clip(ends, 0, len(audio)) + WINDOW_SAMPLES
    return padded[ends[:, None] - WINDOW_SAMPLES + np.arange(WINDOW_SAMPLES)]


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample mono audio to the model's 16 kHz (polyphase, no-op at 16 kHz)."""
    if sample_rate == AUDIO_SAMPLE_RATE:
        return audio
    ratio = Fraction(AUDIO_SAMPLE_RATE, int(sample_rate))
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
