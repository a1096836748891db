"""
Time the audio perception path per second of audio: features, voice activity, pitch.

Offline (whole recording, react_ros.perception.audio.sequence_audio_perception) and streaming
(AudioPerception: 20 ms chunks pushed, one features_at per 30 fps frame) on espeak-ng speech
with pauses, at 16 kHz and at 48 kHz (resampled). Prints milliseconds of compute per second of
audio, median of several repeats.

    .venv/bin/python benchmarks/bench_audio_perception.py [--seconds 20] [--repeats 5]
"""

import argparse
import statistics
import time

import numpy as np
from react_ros.perception.audio import (
    AudioPerception, frame_pitch, sequence_audio_perception, VoiceActivityDetector)
from react_ros.perception.audio_features import frame_windows, sequence_audio_features
from react_ros.spec import AUDIO_SAMPLE_RATE, FPS
from react_ros.speech import speak_with_pauses, Voice
from scipy.signal import resample_poly

SENTENCES = ('The robot listens to what you say and nods along.',
             'Then it waits quietly for a moment before it answers.',
             'Short words now: one, two, three, four, five.')


def speech_track(seconds: float) -> np.ndarray:
    """Return about `seconds` of 16 kHz espeak-ng speech with 1 s pauses."""
    utterance, _ = speak_with_pauses([(text, Voice()) for text in SENTENCES], [1.0] * 3)
    repeats = int(np.ceil(seconds * AUDIO_SAMPLE_RATE / len(utterance)))
    return np.tile(utterance, repeats)[:int(seconds * AUDIO_SAMPLE_RATE)]


def stream(audio: np.ndarray, rate: int) -> None:
    """Push 20 ms chunks and ask for every frame, as the node would."""
    perception = AudioPerception()
    chunk = rate // 50
    frame = 0
    for start in range(0, len(audio), chunk):
        perception.push(audio[start:start + chunk], start / rate, rate)
        while (frame + 1) / FPS <= perception.end_time:
            perception.features_at(frame / FPS)
            frame += 1


def median_ms_per_s(run, seconds: float, repeats: int) -> float:
    """Return the median wall time of run() in ms per second of audio."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times) / seconds


def main():
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--seconds', type=float, default=20.0, help='audio length (s)')
    parser.add_argument('--repeats', type=int, default=5, help='repeats per row')
    args = parser.parse_args()
    audio = speech_track(args.seconds)
    audio_48k = resample_poly(audio, 3, 1).astype(np.float32)
    stamps = np.arange(int(args.seconds * FPS)) / FPS
    windows = frame_windows(audio, stamps)
    rows = [
        ('features only (sequence_audio_features)',
         lambda: sequence_audio_features(audio, stamps)),
        ('VAD only (webrtcvad mode 3, 10 ms)',
         lambda: VoiceActivityDetector().process(audio)),
        ('pitch only (YIN, every frame)', lambda: frame_pitch(windows)),
        ('offline all, 16 kHz', lambda: sequence_audio_perception(audio, stamps)),
        ('offline all, 48 kHz', lambda: sequence_audio_perception(audio_48k, stamps, 48000)),
        ('streaming all, 16 kHz, 20 ms chunks', lambda: stream(audio, AUDIO_SAMPLE_RATE)),
        ('streaming all, 48 kHz, 20 ms chunks', lambda: stream(audio_48k, 48000)),
    ]
    print(f'{args.seconds:g} s of espeak-ng speech, {len(stamps)} frames at {FPS:g} fps, '
          f'median of {args.repeats}')
    print(f'{"path":<42}{"ms per s of audio":>18}{"ms per frame":>14}')
    print('-' * 74)
    for name, run in rows:
        ms = median_ms_per_s(run, args.seconds, args.repeats)
        print(f'{name:<42}{ms:>18.2f}{ms / FPS:>14.3f}')


if __name__ == '__main__':
    main()
