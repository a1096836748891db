"""
Camera frames: raw image bytes (sensor_msgs/Image fields) to (H, W, 3) uint8 RGB arrays.

What is seen in the frames (faces, the speaker's 28 visual features) is
react_ros.perception.visual's job; docs/perception.md describes it.
"""

import cv2
import numpy as np

from react_ros.errors import InputProblem

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
