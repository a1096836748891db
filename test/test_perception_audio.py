"""
Audio perception on real audio: espeak-ng speech, synthetic tones, resampled and gappy streams.

Covers voice activity against known speech and pause spans, the YIN pitch tracker, streaming
vs. offline equality (the shared feature function at the frame stamps), other sample rates,
gaps, restarts and bad input.
"""

import numpy as np
import pytest
from react_ros.errors import InputProblem
from react_ros.perception.audio import (
    AudioPerception, frame_pitch, HANGOVER_S, sequence_audio_perception, StreamResampler)
from react_ros.perception.audio_features import (
    frame_audio_features, frame_windows, sequence_audio_features, WINDOW_SAMPLES)
from react_ros.spec import AUDIO_SAMPLE_RATE, FPS
from react_ros.speech import speak_with_pauses, synthesize, Voice
from scipy.signal import resample_poly

RATE = AUDIO_SAMPLE_RATE
MALE = Voice('en-us', pitch=30, speed=160)
FEMALE = Voice('en-us+f3', pitch=70, speed=160)
PAUSE_S = 2.0


@pytest.fixture(scope='module')
def dialogue():
    """Speech, pause, speech, pause, speech, pause: (audio, speech sample ranges)."""
    audio, ranges = speak_with_pauses(
        [('The robot listens to what you say and nods along.', MALE),
         ('Then it waits quietly for a moment before it answers.', FEMALE),
         ('Short words now: one, two, three.', MALE)], [0.5, PAUSE_S, PAUSE_S])
    return np.concatenate([audio, np.zeros(int(PAUSE_S * RATE), np.float32)]), ranges


def frame_stamps(num_samples: int, rate: int = RATE) -> np.ndarray:
    """Return the 30 fps frame stamps covered by num_samples of audio."""
    return np.arange(int(num_samples / rate * FPS)) / FPS


def stream(perception: AudioPerception, audio: np.ndarray, rate: int, stamps: np.ndarray,
           seed: int = 0, jitter_s: float = 0.0, start_s: float = 0.0):
    """Push audio in random chunks; ask for each frame once its audio is in. Return the asks."""
    rng = np.random.default_rng(seed)
    observations, position, frame = [], 0, 0
    warnings = []
    while position < len(audio):
        size = int(rng.integers(80, 4000))
        stamp = start_s + position / rate + (rng.uniform(-jitter_s, jitter_s) if position else 0)
        warnings += perception.push(audio[position:position + size], stamp, rate)
        position += size
        while frame < len(stamps) and stamps[frame] <= perception.end_time:
            observations.append(perception.features_at(stamps[frame]))
            frame += 1
    return observations, warnings


def test_voice_activity_covers_speech_not_pauses(dialogue):
    audio, ranges = dialogue
    stamps = frame_stamps(len(audio))
    voice = sequence_audio_perception(audio, stamps).voice_active
    sample = np.round(stamps * RATE).astype(int)
    in_speech = np.zeros(len(stamps), bool)
    after_speech = np.full(len(stamps), np.inf)  # seconds since the last utterance ended
    for start, end in ranges:
        in_speech |= (sample > start) & (sample <= end)
        after = (sample - end) / RATE
        after_speech = np.where(after > 0, np.minimum(after_speech, after), after_speech)
    pause = ~in_speech & (sample > ranges[0][0])
    assert voice[in_speech].mean() >= 0.9
    assert voice[pause].mean() <= 0.1
    # The release after an utterance is bounded: webrtcvad's own plus the 0.1 s hangover.
    assert not voice[pause & (after_speech > 0.3)].any()


def test_pitch_of_tones_and_harmonics():
    time = np.arange(RATE) / RATE
    stamps = np.arange(3, 27) / FPS
    for f0 in (90.0, 150.0, 220.0, 400.0):
        harmonics = sum(0.6 ** k * np.sin(2 * np.pi * f0 * (k + 1) * time + k) for k in range(6))
        pitch = frame_pitch(frame_windows((0.3 * harmonics).astype(np.float32), stamps))
        assert np.all(np.abs(pitch / f0 - 1.0) < 0.02), (f0, pitch)
    assert np.all(frame_pitch(np.zeros((4, WINDOW_SAMPLES))) == 0)
    noise = np.random.default_rng(0).standard_normal((40, WINDOW_SAMPLES)) * 0.1
    assert (frame_pitch(noise) == 0).mean() >= 0.9


def test_pitch_of_speech_is_plausible():
    medians = []
    for voice in (MALE, FEMALE):
        audio = synthesize('How are you doing today, my friend?', voice)
        track = sequence_audio_perception(audio, frame_stamps(len(audio)))
        voiced = track.pitch_hz[track.pitch_hz > 0]
        assert len(voiced) >= 0.3 * track.voice_active.sum()
        assert np.all(track.pitch_hz[~track.voice_active] == 0)
        assert 60 <= np.percentile(voiced, 5) and np.percentile(voiced, 95) <= 500
        medians.append(np.median(voiced))
    assert 70 <= medians[0] <= 160 < medians[1] <= 350, medians


def test_streaming_equals_the_shared_feature_function(dialogue):
    audio, _ = dialogue
    stamps = frame_stamps(len(audio))
    perception = AudioPerception()
    observations, warnings = stream(perception, audio, RATE, stamps, jitter_s=0.004)
    assert warnings == [] and perception.gaps == 0
    asked = stamps[:len(observations)]
    assert len(asked) >= len(stamps) - 1
    expected = sequence_audio_features(audio, asked)
    np.testing.assert_array_equal(np.array([o.features for o in observations]), expected)
    offline = sequence_audio_perception(audio, asked)
    np.testing.assert_array_equal([o.voice_active for o in observations], offline.voice_active)
    np.testing.assert_allclose([o.pitch_hz for o in observations], offline.pitch_hz, rtol=1e-6)
    # Frame 0's window lies before the first sample: nothing arrived for it.
    assert observations[0].problems == ('no_audio',)
    assert all(o.problems == () for o in observations[2:])


@pytest.mark.parametrize('rate', [44100, 48000])
def test_other_rates_are_resampled_once_with_a_warning(rate):
    speech = synthesize('The quick brown fox jumps over the lazy dog.', MALE)
    native = resample_poly(speech, *{44100: (441, 160), 48000: (3, 1)}[rate]).astype(np.float32)
    stamps = frame_stamps(len(native), rate)
    perception = AudioPerception()
    observations, warnings = stream(perception, native, rate, stamps, seed=rate)
    # Said once per rate, not per chunk.
    assert [(n.problem, n.text) for n in warnings] == [
        (f'audio_rate_{rate}', f'audio at {rate} Hz is resampled to 16000 Hz')]
    features = np.array([o.features for o in observations])
    asked = stamps[:len(observations)]
    # The same audio resampled whole (chunking changes nothing) ...
    np.testing.assert_allclose(features, sequence_audio_features(native, asked, rate),
                               atol=1e-4)
    # ... and close to the 16 kHz original below 6.5 kHz (the resampling filter cuts above).
    original = sequence_audio_features(speech, asked)
    loud = original[:, -1] > np.log(1e-4)
    assert np.abs(features[loud, :36] - original[loud, :36]).max() < 0.05
    assert np.abs(features[loud, -1] - original[loud, -1]).max() < 0.05
    voice_16k = sequence_audio_perception(speech, asked).voice_active
    assert np.mean([o.voice_active for o in observations] == voice_16k) >= 0.95


def test_stream_resampler_equals_whole_resampling():
    audio = np.random.default_rng(1).standard_normal(44100).astype(np.float32)
    resampler = StreamResampler(44100)
    pieces = [resampler.process(chunk) for chunk in np.array_split(audio, 37)]
    streamed = np.concatenate(pieces)
    whole = resample_poly(audio, 160, 441)
    # Only the last few outputs wait for input that would follow; `final` gives them.
    assert len(whole) - 16 <= len(streamed) < len(whole)
    streamed = np.concatenate([streamed, resampler.process(np.zeros(0), final=True)])
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_gap_reads_as_silence_with_a_flag(dialogue):
    audio, _ = dialogue
    first, second = audio[:RATE], audio[RATE:3 * RATE]
    gap_s = 0.5
    perception = AudioPerception()
    perception.push(first, 0.0)
    perception.push(second, 1.0 + gap_s)
    assert perception.gaps == 1
    # What the stream means: the same audio with zeros where nothing arrived.
    timeline = np.concatenate([first, np.zeros(int(gap_s * RATE), np.float32), second])
    stamps = np.arange(3, int(3.4 * FPS)) / FPS
    expected = sequence_audio_features(timeline, stamps)
    silent = frame_audio_features(np.zeros(WINDOW_SAMPLES, np.float32))
    window_s = WINDOW_SAMPLES / RATE
    for stamp, row in zip(stamps, expected):
        seen = perception.features_at(stamp)
        np.testing.assert_allclose(seen.features, row, atol=1e-6)
        if 1.0 + window_s <= stamp <= 1.0 + gap_s:
            assert seen.problems == ('no_audio',) and seen.gap
            np.testing.assert_allclose(seen.features, silent, atol=1e-6)
            assert seen.pitch_hz == 0
            # webrtcvad's last blocks end at 1.0 s; the hangover holds 0.1 s past them.
            assert seen.voice_active == (stamp <= 1.0 + HANGOVER_S + 0.01)
        elif 1.0 < stamp < 1.0 + gap_s + window_s - 0.003:
            assert seen.problems == ('audio_gap',) and seen.gap
        elif stamp >= 1.0 + gap_s + window_s or stamp <= 1.0:
            assert seen.problems == () and not seen.gap


def test_restart_and_silence(dialogue):
    audio, _ = dialogue
    perception = AudioPerception()
    assert perception.features_at(1.0).problems == ('no_audio',)
    perception.push(audio[:RATE], 10.0)
    warnings = perception.push(audio[:RATE], 2.0)  # a bag loop
    assert perception.restarts == 1 and 'jumped backwards by 9.000 s' in warnings[0].text
    perception.push(audio[:RATE], 3.0)
    # Every restart is reported (callers throttle), not only the first.
    assert perception.push(audio[:RATE], 2.0)[0].problem == 'audio_restart'
    seen = perception.features_at(2.5)
    np.testing.assert_array_equal(seen.features, sequence_audio_features(audio[:RATE], [0.5])[0])
    quiet = AudioPerception()
    quiet.push(np.zeros(RATE, np.float32), 0.0)
    seen = quiet.features_at(0.5)
    assert seen.problems == () and not seen.voice_active and seen.pitch_hz == 0.0


def test_bad_input_is_named():
    perception = AudioPerception()
    cases = [(np.zeros((2, 2, 2), np.float32), 16000, 'audio_shape'),
             (np.zeros(0, np.float32), 16000, 'audio_shape'),
             (np.zeros(160, np.int16), 16000, 'audio_dtype'),
             (np.zeros(160, np.float32), 1000, 'sample_rate'),
             (np.full(160, 1e30, np.float32), 16000, 'audio_range')]
    for samples, rate, problem in cases:
        with pytest.raises(InputProblem) as error:
            perception.push(samples, 0.0, rate)
        assert error.value.problem == problem
    noisy = np.full(1600, np.nan, np.float32)
    assert 'NaN' in perception.push(noisy, 0.0)[0].text
    assert perception.push(noisy, 0.1)[0].problem == 'audio_nonfinite'  # again, not once
    assert np.isfinite(perception.features_at(0.1).features).all()
