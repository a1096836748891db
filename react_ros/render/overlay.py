"""
Draw what speaker perception read from a camera frame onto that frame (for demo videos).

The target face's mesh points and box, and one caption line: the top expression, valence and
arousal, the strongest action units and the head roll; or the problem when there are no
trustworthy features.
"""

import cv2
import numpy as np
from react_ros import spec

MESH_COLOR = (80, 220, 120)
ABSENT_COLOR = (230, 80, 60)
TEXT_COLOR = (255, 255, 255)
TEXT_SHADOW = (20, 20, 20)
_ROLL = spec.NUM_ATTRIBUTES + 2  # rot_z in the 28 speaker visual features


def _caption(features: np.ndarray) -> str:
    expressions = features[spec.EXPRESSION_SLICE]
    top = int(np.argmax(expressions))
    valence, arousal = features[spec.AFFECT_SLICE]
    aus = features[spec.AU_SLICE]
    strongest = [spec.AU_NAMES[index] for index in np.argsort(aus)[::-1][:3] if aus[index] >= 0.5]
    return (f'{spec.EXPRESSION_NAMES[top]} {expressions[top]:.2f}  V {valence:+.2f} '
            f'A {arousal:+.2f}  {" ".join(strongest) or "no AU"}  roll '
            f'{np.degrees(features[_ROLL]):+.0f} deg')


def draw_speaker_perception(rgb: np.ndarray, observation, landmarks=None) -> np.ndarray:
    """
    Return a copy of rgb (H, W, 3) uint8 with a VisualObservation drawn on it.

    landmarks: the target's (468, 3) mesh points in pixels (VisualPerception.last_landmarks),
    or None.
    """
    frame = rgb.copy()
    present = observation.present
    color = MESH_COLOR if present else ABSENT_COLOR
    if landmarks is not None:
        for x, y in np.round(landmarks[::3, :2]).astype(int):
            cv2.circle(frame, (int(x), int(y)), 1, color, -1, cv2.LINE_AA)
    if observation.box is not None:
        x0, y0, x1, y1 = (int(round(value)) for value in observation.box)
        cv2.rectangle(frame, (x0, y0), (x1, y1), color, 1, cv2.LINE_AA)
    text = _caption(observation.features) if present else f'no features: {observation.problem}'
    origin = (8, 20)  # top left: side_by_side captions the bottom left
    for thickness, shade in ((3, TEXT_SHADOW), (1, TEXT_COLOR)):
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, shade, thickness,
                    cv2.LINE_AA)
    return frame
