"""
Helpers for demo videos: put two RGB views side by side and write them to an mp4 file.

OpenCV (opencv-python-headless) does the encoding with the 'mp4v' codec, which its bundled
FFmpeg supports without extra system packages.
"""

import logging
from pathlib import Path

import cv2
import numpy as np

_LOG = logging.getLogger(__name__)

LABEL_COLOR = (255, 255, 255)
LABEL_SHADOW = (20, 20, 20)


def side_by_side(left_rgb: np.ndarray, right_rgb: np.ndarray, height: int = 480,
                 labels=('speaker', 'listener')) -> np.ndarray:
    """
    Join two RGB images into one frame of the given height, left view first.

    Each (H, W, 3) uint8 image is resized to `height` keeping its aspect ratio. `labels` is a
    pair of captions drawn in the top-left corner of each half, or None for no captions.
    Returns a (height, W_left + W_right, 3) uint8 RGB image.
    """
    if height < 16:
        raise ValueError(f'height must be at least 16 pixels, got {height}')
    if labels is not None and len(labels) != 2:
        raise ValueError(f'labels must be a pair of captions or None, got {labels!r}')
    halves = []
    for index, (name, image) in enumerate((('left_rgb', left_rgb), ('right_rgb', right_rgb))):
        half = _fit_height(_check_rgb(image, name), height)
        if labels is not None:
            _draw_caption(half, str(labels[index]))
        halves.append(half)
    return np.concatenate(halves, axis=1)


def _check_rgb(image, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'{name} must be an (H, W, 3) uint8 RGB image, got shape {image.shape} '
                         f'and dtype {image.dtype}')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f'{name} is empty: shape {image.shape}')
    return image


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    if image.shape[:2] == (height, width):
        return image.copy()
    shrinking = height < image.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _draw_caption(image: np.ndarray, text: str) -> None:
    scale = image.shape[0] / 480.0
    origin = (round(12 * scale), image.shape[0] - round(14 * scale))
    font_scale, thickness = 0.8 * scale, max(1, round(2 * scale))
    # A dark outline under the white text keeps it readable on any background.
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, LABEL_SHADOW,
                thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, LABEL_COLOR,
                thickness, cv2.LINE_AA)


class VideoWriter:
    """
    Write RGB frames to an mp4 file ('mp4v'), as a context manager.

    The frame size is taken from the first frame; later frames must match it (an odd width or
    height is padded by one repeated pixel, as the codec needs even sizes). Opening creates
    the parent folders; an existing file is removed when overwrite is True (the default, so a
    demo can be re-run; the replacement is logged) and refused with FileExistsError otherwise.

        with VideoWriter('out/demo.mp4', fps=30.0) as video:
            video.write(frame_rgb)
    """

    def __init__(self, path, fps: float = 30.0, overwrite: bool = True):
        if not fps > 0.0:
            raise ValueError(f'fps must be positive, got {fps}')
        self.path = Path(path)
        self.fps = float(fps)
        self.frames_written = 0
        self._writer = None
        self._frame_size = None
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f'{self.path} exists; pass overwrite=True to replace it')
            _LOG.info('replacing the existing video %s', self.path)
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> 'VideoWriter':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        frame = _check_rgb(frame_rgb, 'frame_rgb')
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._open(size)
        elif size != self._frame_size:
            raise ValueError(f'frame size {size[0]}x{size[1]} differs from the first frame '
                             f'{self._frame_size[0]}x{self._frame_size[1]} of {self.path}')
        # The mp4v encoder drops an odd last row or column: repeat it instead.
        pad_bottom, pad_right = frame.shape[0] % 2, frame.shape[1] % 2
        if pad_bottom or pad_right:
            frame = cv2.copyMakeBorder(frame, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; safe to call more than once."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        elif self.frames_written == 0:
            _LOG.warning('no frames were written, so %s was not created', self.path)

    def _open(self, size) -> None:
        even_size = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'), self.fps,
                                 even_size)
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV could not open {self.path} for mp4v video of size '
                               f'{even_size[0]}x{even_size[1]}')
        self._writer = writer
        self._frame_size = size
