"""Message codecs: PCM audio and camera image decoding, face image encoding and their errors."""

import cv2
import numpy as np
import pytest
from react_ros.errors import InputProblem
from react_ros.message_codecs import decode_image, encode_rgb8, ImageFormatError, PcmFormat
from react_ros.perception.audio_features import to_model_rate
import skimage.data

RATE = 16000


def tone(hz, seconds, rate=RATE):
    """Return a sine tone at amplitude 0.5."""
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32)


@pytest.mark.parametrize('sample_format, dtype, scale', [
    ('S16LE', '<i2', 32767), ('S32LE', '<i4', 2**31 - 1), ('F32LE', '<f4', 1.0)])
def test_pcm_decoding_downmixes_and_scales(sample_format, dtype, scale):
    stereo = np.array([[scale, 0], [0, -scale]] * 160, dtype=dtype)
    mono = PcmFormat(16000, 2, sample_format).to_mono(stereo.tobytes())
    np.testing.assert_allclose(mono[:2], [0.5, -0.5], atol=1e-4)


def test_pcm_at_44khz_resamples_to_the_model_rate():
    audio = (tone(440, 1.0, rate=44100) * 32767).astype('<i2')
    decoded = to_model_rate(PcmFormat(44100, 1, 'S16LE').to_mono(audio.tobytes()), 44100)
    assert abs(len(decoded) - 16000) <= 1


@pytest.mark.parametrize('pcm, data, problem', [
    (PcmFormat(), b'', 'empty_audio'),
    (PcmFormat(), b'\x00\x01\x02', 'audio_size'),
])
def test_pcm_errors_name_the_problem(pcm, data, problem):
    with pytest.raises(InputProblem) as error:
        pcm.to_mono(data)
    assert error.value.problem == problem


@pytest.mark.parametrize('coding', ['mp3', 'MP3', 'opus', 'flac'])
def test_compressed_codings_are_refused_by_name(coding):
    pcm = PcmFormat(coding_format=coding)
    assert not pcm.is_pcm and pcm.encoding == coding
    with pytest.raises(InputProblem, match=f"coding_format '{coding}'") as error:
        pcm.to_mono(bytes(640))
    assert error.value.problem == 'coding'


@pytest.mark.parametrize('coding', ['wave', 'WAVE', 'pcm', ''])
def test_pcm_codings_decode(coding):
    pcm = PcmFormat(coding_format=coding)
    assert pcm.is_pcm and pcm.encoding == 'S16LE'
    assert pcm.to_mono(bytes(640)).shape == (320,)


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


def test_encoded_face_image_decodes_to_the_same_rgb():
    rgb = skimage.data.astronaut()[:240, :320].copy()
    fields = encode_rgb8(rgb)
    assert (fields['height'], fields['width'], fields['encoding'], fields['step']) == (
        240, 320, 'rgb8', 960)
    np.testing.assert_array_equal(
        decode_image(fields['width'], fields['height'], fields['encoding'], fields['step'],
                     fields['data'].tobytes()), rgb)
