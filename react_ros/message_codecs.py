"""
The bytes of ROS messages to arrays and back, free of ROS: the nodes copy fields in and out.

- Microphone audio (audio_common_msgs/AudioInfo + AudioData): `PcmFormat` decodes interleaved
  PCM bytes to mono float audio, and refuses compressed codings (audio_capture's default mp3).
- Camera frames (sensor_msgs/Image fields): `decode_image` to (H, W, 3) uint8 RGB, raising
  `ImageFormatError` for fields that do not describe a decodable frame.
- Rendered faces: `encode_rgb8` gives the sensor_msgs/Image fields of an RGB array.

What is heard and seen in them is react_ros.perception's job; docs/perception.md describes it.
"""

import array
from dataclasses import dataclass

import cv2
import numpy as np
from react_ros.errors import InputProblem
from react_ros.spec import AUDIO_SAMPLE_RATE, FLOAT_AUDIO_PEAK_LIMIT

# encoding -> (channels, conversion to RGB)
_ENCODINGS = {
    'rgb8': (3, None),
    'bgr8': (3, cv2.COLOR_BGR2RGB),
    'mono8': (1, cv2.COLOR_GRAY2RGB),
    'yuv422': (2, cv2.COLOR_YUV2RGB_UYVY),  # ROS yuv422 is UYVY
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


@dataclass
class PcmFormat:
    """How raw audio bytes are laid out (the fields of audio_common_msgs/AudioInfo we use)."""

    sample_rate: int = AUDIO_SAMPLE_RATE
    channels: int = 1
    sample_format: str = 'S16LE'
    coding_format: str = 'wave'

    _DTYPES = {'S16LE': ('<i2', 32768.0), 'S32LE': ('<i4', 2147483648.0), 'F32LE': ('<f4', 1.0)}
    FORMATS = tuple(_DTYPES)
    # coding_format values meaning uncompressed samples, compared lower-case. audio_capture
    # says 'wave' (or 'mp3'); '' is an AudioInfo that leaves the field unset.
    PCM_CODINGS = ('wave', 'wav', 'pcm', 'raw', '')

    @property
    def is_pcm(self) -> bool:
        """Whether coding_format announces uncompressed samples."""
        return self.coding_format.lower() in self.PCM_CODINGS

    @property
    def encoding(self) -> str:
        """Name the layout in problem keys: the sample format, or the compressed coding."""
        return self.sample_format if self.is_pcm else self.coding_format

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

    def to_mono(self, data: bytes) -> np.ndarray:
        """Decode interleaved PCM bytes into mono float32 audio at self.sample_rate."""
        if not self.is_pcm:
            raise InputProblem('coding',
                               f'coding_format {self.coding_format!r} is compressed audio: only '
                               'wave/PCM is decoded (audio_capture: set format:=wave)')
        dtype, scale = self._DTYPES[self.sample_format]
        frame_bytes = np.dtype(dtype).itemsize * self.channels
        if len(data) == 0:
            raise InputProblem('empty_audio', 'empty audio chunk')
        if len(data) % frame_bytes:
            raise InputProblem('audio_size',
                               f'audio chunk of {len(data)} bytes is not a whole number of '
                               f'{self.channels}-channel {self.sample_format} frames '
                               f'({frame_bytes} bytes each)')
        samples = np.frombuffer(data, dtype=dtype).astype(np.float32)
        if self.sample_format == 'F32LE':
            _check_float_samples(samples)
        else:
            samples /= scale
        return samples.reshape(-1, self.channels).mean(axis=1)


def _check_float_samples(samples: np.ndarray):
    """Raise InputProblem for F32LE samples that are not audio (non-finite, far beyond 1)."""
    finite = np.isfinite(samples)
    if not finite.all():
        raise InputProblem('audio_nonfinite',
                           f'F32LE audio chunk has {np.count_nonzero(~finite)} NaN or infinite '
                           f'of {samples.size} samples (other bytes announced as F32LE?)')
    peak = float(np.abs(samples).max())
    if peak > FLOAT_AUDIO_PEAK_LIMIT:
        raise InputProblem('audio_range',
                           f'F32LE audio chunk peaks at {peak:.3g}, outside the format range '
                           f'[-1, 1] beyond the {FLOAT_AUDIO_PEAK_LIMIT:g} accepted '
                           '(S32LE or S16LE bytes announced as F32LE?)')


class ImageFormatError(InputProblem):
    """An image whose fields do not describe a decodable frame."""


def decode_image(width: int, height: int, encoding: str, step: int, data: bytes) -> np.ndarray:
    """Return the frame as (height, width, 3) uint8 RGB, or raise ImageFormatError."""
    if encoding not in _ENCODINGS:
        raise ImageFormatError('encoding', f'unsupported encoding {encoding!r}; '
                               f'supported: {", ".join(SUPPORTED_ENCODINGS)}')
    if width <= 0 or height <= 0:
        raise ImageFormatError('size', f'zero-size image ({width}x{height})')
    channels, to_rgb = _ENCODINGS[encoding]
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageFormatError('step', f'step {step} is smaller than width*channels = {row_bytes} '
                               f'for {encoding}')
    if len(data) != step * height:
        raise ImageFormatError('data_size', f'data has {len(data)} bytes, expected step*height = '
                               f'{step}*{height} = {step * height}')
    if encoding == 'yuv422' and width % 2:
        # UYVY packs two pixels in four bytes; OpenCV refuses odd widths.
        raise ImageFormatError('yuv422_width', f'yuv422 (UYVY) needs an even width, got {width}')
    rows = np.frombuffer(data, np.uint8).reshape(height, step)[:, :row_bytes]
    pixels = rows.reshape(height, width, channels)
    if to_rgb is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), to_rgb)


def encode_rgb8(rgb: np.ndarray) -> dict:
    """Return the sensor_msgs/Image fields (all but the header) of an (H, W, 3) uint8 image."""
    height, width = rgb.shape[:2]
    return {'height': height, 'width': width, 'encoding': 'rgb8', 'is_bigendian': 0,
            'step': width * 3,
            # An array.array is copied into the message 10x faster than bytes.
            'data': array.array('B', rgb.tobytes())}
