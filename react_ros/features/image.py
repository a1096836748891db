"""
Camera frames: raw image bytes to RGB arrays, and the face-presence visual input.

Until live perception of the speaker's facial attributes lands, the model's visual input is the
zero vector with a face-present flag from OpenCV's Haar detector.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from react_ros.errors import InputProblem
from react_ros.spec import SPEAKER_VISUAL_DIM

# encoding -> (channels, conversion to RGB)
_ENCODINGS = {
    'rgb8': (3, None),
    'bgr8': (3, cv2.COLOR_BGR2RGB),
    'mono8': (1, cv2.COLOR_GRAY2RGB),
    'yuv422': (2, cv2.COLOR_YUV2RGB_UYVY),  # ROS yuv422 is UYVY
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


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
    rows = np.frombuffer(data, np.uint8).reshape(height, step)[:, :row_bytes]
    pixels = rows.reshape(height, width, channels)
    if to_rgb is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), to_rgb)


@dataclass
class VisualInput:
    """The model's per-frame visual input: features and whether a face is visible."""

    features: np.ndarray  # (SPEAKER_VISUAL_DIM,)
    face_present: bool


class FacePresenceDetector:
    """OpenCV's frontal-face Haar cascade on a downscaled grey frame."""

    def __init__(self, detect_width: int = 320):
        path = cv2.data.haarcascades + 'haarcascade_frontalface_default.xml'
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f'could not load the Haar cascade {path}')
        self._detect_width = detect_width

    def __call__(self, rgb: np.ndarray) -> VisualInput:
        """Detect a face in an RGB frame."""
        scale = self._detect_width / rgb.shape[1]
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        faces = self._cascade.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=4,
                                               minSize=(20, 20))
        return VisualInput(np.zeros(SPEAKER_VISUAL_DIM, np.float32), len(faces) > 0)
