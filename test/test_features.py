"""The model's audio features and the streaming audio timeline they are computed from."""

import numpy as np
from react_ros.perception.audio import AudioBuffer
from react_ros.perception.audio_features import (AUDIO_FEATURE_DIM, frame_audio_features,
                                                 sequence_audio_features, WINDOW_SAMPLES)

RATE = 16000


def tone(hz, seconds, rate=RATE):
    """Return a sine tone at amplitude 0.5."""
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32)


def test_tone_energy_lands_in_the_matching_mel_band():
    low = frame_audio_features(tone(300, 1)[-WINDOW_SAMPLES:])
    high = frame_audio_features(tone(3000, 1)[-WINDOW_SAMPLES:])
    assert low.shape == (AUDIO_FEATURE_DIM,)
    assert np.argmax(low[:-1]) < np.argmax(high[:-1])
    silence = frame_audio_features(np.zeros(WINDOW_SAMPLES))
    assert silence[-1] < low[-1] - 10  # log energy


def test_streaming_buffer_matches_whole_sequence_features():
    audio = tone(440, 1.0) * np.linspace(0, 1, RATE, dtype=np.float32)
    frame_times = np.arange(1, 30) / 30.0
    offline = sequence_audio_features(audio, frame_times)
    buffer = AudioBuffer()
    for start in range(0, RATE, 320):  # 20 ms chunks stamped with their first sample
        buffer.append(start / RATE, audio[start:start + 320])
    online = np.stack([frame_audio_features(buffer.window(t)) for t in frame_times])
    np.testing.assert_allclose(online, offline, atol=1e-4)


def test_missing_audio_reads_as_silence_and_backwards_stamps_clear_the_buffer():
    buffer = AudioBuffer()
    assert buffer.append(10.0, np.ones(320, np.float32))
    window = buffer.window(10.04, 1280)
    assert window[:-640].sum() == 0 and window[-640:-320].sum() == 320
    assert not buffer.append(2.0, np.ones(320, np.float32))  # a bag loop
    assert buffer.window(10.04).sum() == 0
