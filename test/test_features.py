"""Audio and image input handling: features, the audio timeline, decoding and its errors."""

import cv2
import numpy as np
import pytest
from react_ros.errors import InputProblem
from react_ros.features.audio import (AUDIO_FEATURE_DIM, AudioBuffer, frame_audio_features,
                                      PcmFormat, sequence_audio_features, WINDOW_SAMPLES)
from react_ros.features.image import decode_image, ImageFormatError
import skimage.data

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


@pytest.mark.parametrize('sample_format, dtype, scale', [
    ('S16LE', '<i2', 32767), ('S32LE', '<i4', 2**31 - 1), ('F32LE', '<f4', 1.0)])
def test_pcm_decoding_downmixes_and_scales(sample_format, dtype, scale):
    stereo = np.array([[scale, 0], [0, -scale]] * 160, dtype=dtype)
    mono = PcmFormat(16000, 2, sample_format).decode(stereo.tobytes())
    np.testing.assert_allclose(mono[:2], [0.5, -0.5], atol=1e-4)


def test_pcm_resamples_to_16khz():
    audio = (tone(440, 1.0, rate=44100) * 32767).astype('<i2')
    decoded = PcmFormat(44100, 1, 'S16LE').decode(audio.tobytes())
    assert abs(len(decoded) - 16000) <= 1


@pytest.mark.parametrize('pcm, data, problem', [
    (PcmFormat(), b'', 'empty_audio'),
    (PcmFormat(), b'\x00\x01\x02', 'audio_size'),
])
def test_pcm_errors_name_the_problem(pcm, data, problem):
    with pytest.raises(InputProblem) as error:
        pcm.decode(data)
    assert error.value.problem == problem


@pytest.mark.parametrize('pcm, problem', [
    (PcmFormat(sample_rate=0), 'sample_rate'),
    (PcmFormat(channels=0), 'channels'),
    (PcmFormat(sample_format='MP3'), 'sample_format'),
])
def test_invalid_formats_are_rejected(pcm, problem):
    with pytest.raises(InputProblem, match=problem.split('_')[-1]) as error:
        pcm.validate()
    assert error.value.problem == problem


def test_image_encodings_decode_to_the_same_rgb():
    rgb = skimage.data.astronaut()[:240, :320].copy()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    np.testing.assert_array_equal(decode_image(320, 240, 'rgb8', 960, rgb.tobytes()), rgb)
    np.testing.assert_array_equal(decode_image(320, 240, 'bgr8', 960, bgr.tobytes()), rgb)
    padded = np.zeros((240, 1000), np.uint8)  # step larger than the row: padding is skipped
    padded[:, :960] = rgb.reshape(240, 960)
    np.testing.assert_array_equal(decode_image(320, 240, 'rgb8', 1000, padded.tobytes()), rgb)
    grey = decode_image(320, 240, 'mono8', 320, rgb[..., 0].tobytes())
    assert grey.shape == (240, 320, 3) and (grey[..., 0] == rgb[..., 0]).all()
    uyvy = np.full((240, 640), 128, np.uint8)  # U=Y=V=128: mid grey
    assert abs(int(decode_image(320, 240, 'yuv422', 640, uyvy.tobytes()).mean()) - 128) <= 2


@pytest.mark.parametrize('width, height, encoding, step, size, problem, words', [
    (4, 4, 'rgba16', 32, 128, 'encoding', 'rgba16'),
    (0, 4, 'rgb8', 0, 0, 'size', 'zero-size'),
    (4, 4, 'rgb8', 8, 32, 'step', 'step 8'),
    (4, 4, 'rgb8', 12, 40, 'data_size', '40 bytes'),
])
def test_bad_images_raise_naming_the_problem(width, height, encoding, step, size, problem,
                                             words):
    with pytest.raises(ImageFormatError, match=words) as error:
        decode_image(width, height, encoding, step, bytes(size))
    assert error.value.problem == problem
