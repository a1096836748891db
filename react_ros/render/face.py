"""
A friendly 2D cartoon face drawn from one listener frame.

render_face() turns the 83 channels of a listener frame (react_ros.spec) into an RGB image: the
action units shape brows, lids, nose and mouth, valence tints the cheeks and bends the mouth,
arousal opens the eyes, the head rotation turns the whole layout and the most likely expression
is written in a corner. It needs only numpy and OpenCV, so nodes and offline tools share it.

Head rotation follows the renderer's own convention (radians): positive rot_x (pitch) nods the
face down, positive rot_y (yaw) turns it toward the image's right, positive rot_z (roll) tilts it
clockwise on screen. Features sit on an ellipsoid and are turned in 3D, then projected
orthographically, so yaw slides them sideways and squashes the far side.
"""

import functools

import cv2
import numpy as np

from react_ros import spec

MIN_SIZE = 64
# All layout numbers below are pixels on a 480x480 canvas, scaled to the requested size.
REFERENCE_SIZE = 480.0

# Colours (RGB).
BACKGROUND_TOP = (214, 232, 246)
BACKGROUND_BOTTOM = (246, 238, 226)
SKIN = (250, 213, 181)
SKIN_SHADOW = (214, 160, 128)
SKIN_LINE = (150, 95, 70)
HAIR = (92, 60, 45)
SHIRT = (84, 160, 160)
BLUSH = (242, 118, 128)
PALE = (188, 196, 222)
SCLERA = (252, 252, 250)
IRIS = (86, 122, 160)
PUPIL = (28, 26, 34)
LASH = (52, 34, 30)
BROW = (88, 58, 44)
LIP = (206, 98, 104)
MOUTH_INSIDE = (96, 30, 42)
TEETH = (252, 250, 244)
TONGUE = (222, 112, 118)
TEXT = (60, 66, 80)

# Head: centre of the canvas-level head ellipse and its radii.
HEAD_CENTER = np.array([240.0, 238.0])
HEAD_RADII = (158.0, 192.0)
# The ellipsoid the features lie on (x, y, depth radii). It matches the head outline so turned
# features stay inside the silhouette; its depth sets how far yaw and pitch move them.
FACE_ELLIPSOID = (160.0, 196.0, 135.0)
# Share of the feature motion the head outline follows when the head turns or nods.
OUTLINE_FOLLOW = 0.15

EYE_X, EYE_Y, EYE_HALF_WIDTH = 60.0, -8.0, 29.0
UPPER_LID_OPEN, LOWER_LID_OPEN = 18.0, 12.0
IRIS_RADIUS, PUPIL_RADIUS = 14.0, 6.5
BROW_INNER_X, BROW_MID_X, BROW_OUTER_X, BROW_Y = 24.0, 58.0, 94.0, -50.0
NOSE_Y = 48.0
MOUTH_Y, MOUTH_HALF_WIDTH = 100.0, 44.0
CHEEK_X, CHEEK_Y = 96.0, 50.0

# Fixed-point sub-pixel coordinates for OpenCV drawing (smooth anti-aliased curves).
SHIFT_BITS = 4
FIXED_ONE = 1 << SHIFT_BITS

_SPAN = np.linspace(-1.0, 1.0, 25)  # sample positions across a feature, corner to corner
_ANGLES = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
_UNIT_CIRCLE = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)  # (64, 2)


def render_face(frame: np.ndarray, size: int = 480) -> np.ndarray:
    """
    Draw the cartoon listener face for one frame.

    frame: (83,) listener frame in the react_ros.spec layout. Values are clamped into the
    channel ranges; NaN counts as the channel's neutral value.
    size: edge of the square image in pixels (at least MIN_SIZE).
    Returns a (size, size, 3) uint8 RGB image.
    """
    channels = dict(zip(spec.CHANNEL_NAMES, _clean_frame(frame).tolist()))
    if int(size) != size or size < MIN_SIZE:
        raise ValueError(f'size must be an integer >= {MIN_SIZE}, got {size!r}')
    size = int(size)
    image = _background(size).copy()
    painter = _Painter(image, channels)
    _draw_body(painter)
    _draw_head(painter, channels)
    for side in (-1.0, 1.0):
        _draw_eye(painter, channels, side)
        _draw_cheek(painter, channels, side)
        _draw_brow(painter, channels, side)
    _draw_brow_knit(painter, channels)
    _draw_nose(painter, channels)
    _draw_mouth(painter, channels)
    _draw_label(image, channels)
    return image


def _clean_frame(frame) -> np.ndarray:
    values = np.asarray(frame, dtype=np.float64)
    if values.shape != (spec.NUM_CHANNELS,):
        raise ValueError(f'render_face expects one listener frame of shape '
                         f'({spec.NUM_CHANNELS},), got shape {values.shape}')
    values = np.where(np.isnan(values), spec.NEUTRAL_FRAME, values)
    return np.clip(values, spec.CHANNEL_RANGES[:, 0], spec.CHANNEL_RANGES[:, 1])


@functools.lru_cache(maxsize=4)
def _background(size: int) -> np.ndarray:
    blend = np.linspace(0.0, 1.0, size)[:, None, None]  # (size, 1, 1)
    top = np.array(BACKGROUND_TOP, dtype=np.float64)
    bottom = np.array(BACKGROUND_BOTTOM, dtype=np.float64)
    column = (1.0 - blend) * top + blend * bottom  # (size, 1, 3)
    image = np.repeat(column, size, axis=1).round().astype(np.uint8)
    image.setflags(write=False)
    return image


def _mix(color_a, color_b, amount: float) -> tuple:
    """Blend two colours; amount 0 gives color_a, 1 gives color_b."""
    amount = min(max(amount, 0.0), 1.0)
    return tuple(round(a + (b - a) * amount) for a, b in zip(color_a, color_b))


def _ellipse(center, radii) -> np.ndarray:
    return np.asarray(center) + _UNIT_CIRCLE * np.asarray(radii)  # (64, 2)


def _curve(xs, ys) -> np.ndarray:
    return np.stack([np.broadcast_to(xs, np.shape(ys)), ys], axis=1)  # (N, 2)


class _Painter:
    """Places layout points on the canvas (turning them with the head) and draws them."""

    def __init__(self, image: np.ndarray, channels: dict):
        self.image = image
        self.scale = image.shape[0] / REFERENCE_SIZE
        pitch, yaw, roll = (channels[name] for name in spec.ROTATION_NAMES)
        cos_p, sin_p = np.cos(pitch), np.sin(pitch)
        cos_y, sin_y = np.cos(yaw), np.sin(yaw)
        cos_r, sin_r = np.cos(roll), np.sin(roll)
        nod = np.array([[1.0, 0.0, 0.0], [0.0, cos_p, sin_p], [0.0, -sin_p, cos_p]])
        turn = np.array([[cos_y, 0.0, sin_y], [0.0, 1.0, 0.0], [-sin_y, 0.0, cos_y]])
        self.tilt = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
        tilt_3d = np.eye(3)
        tilt_3d[:2, :2] = self.tilt
        self.rotation = tilt_3d @ turn @ nod
        depth = FACE_ELLIPSOID[2]
        self.head_center = HEAD_CENTER + OUTLINE_FOLLOW * depth * np.array([sin_y, sin_p])

    def on_face(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) face-layout points (relative to the head centre) onto the canvas."""
        radius_x, radius_y, radius_z = FACE_ELLIPSOID
        x, y = points[:, 0], points[:, 1]
        depth = radius_z * np.sqrt(np.clip(1.0 - (x / radius_x) ** 2 - (y / radius_y) ** 2,
                                           0.0, None))
        turned = np.stack([x, y, depth], axis=1) @ self.rotation.T  # (N, 3)
        return self._to_pixels(turned[:, :2] + self.head_center)

    def on_outline(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) head-outline points: they tilt with roll but keep their silhouette."""
        return self._to_pixels(points @ self.tilt.T + self.head_center)

    def on_canvas(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) points given directly on the reference canvas (the body)."""
        return self._to_pixels(points)

    def _to_pixels(self, points: np.ndarray) -> np.ndarray:
        return np.rint(points * (self.scale * FIXED_ONE)).astype(np.int32)

    def fill(self, pixels: np.ndarray, color) -> None:
        cv2.fillPoly(self.image, [pixels], color, cv2.LINE_AA, SHIFT_BITS)

    def stroke(self, pixels: np.ndarray, color, thickness: float, closed: bool = False) -> None:
        width = max(1, round(thickness * self.scale))
        cv2.polylines(self.image, [pixels], closed, color, width, cv2.LINE_AA, SHIFT_BITS)


def _draw_body(painter: _Painter) -> None:
    neck_top, neck_half_width = HEAD_CENTER[1] + 120.0, 46.0
    neck = np.array([[HEAD_CENTER[0] - neck_half_width, neck_top],
                     [HEAD_CENTER[0] + neck_half_width, neck_top],
                     [HEAD_CENTER[0] + neck_half_width + 6.0, REFERENCE_SIZE],
                     [HEAD_CENTER[0] - neck_half_width - 6.0, REFERENCE_SIZE]])
    painter.fill(painter.on_canvas(neck), SKIN_SHADOW)
    shoulders = _ellipse((HEAD_CENTER[0], REFERENCE_SIZE + 62.0), (205.0, 100.0))
    painter.fill(painter.on_canvas(shoulders), SHIRT)
    collar = _curve(HEAD_CENTER[0] + 52.0 * _SPAN,
                    REFERENCE_SIZE - 34.0 + 26.0 * (1.0 - _SPAN ** 2))
    painter.stroke(painter.on_canvas(collar), _mix(SHIRT, (0, 0, 0), 0.25), 4.0)


def _draw_head(painter: _Painter, c: dict) -> None:
    radius_x, radius_y = HEAD_RADII
    back_hair = _ellipse((0.0, -14.0), (radius_x + 12.0, radius_y + 6.0))
    back_hair = back_hair[back_hair[:, 1] < 30.0]
    painter.fill(painter.on_outline(back_hair), HAIR)
    # Ears sit behind the outline: the one on the far side of a head turn slides out of view.
    for side in (-1.0, 1.0):
        showing = min(max(1.0 - 1.6 * side * np.sin(c['rot_y']), 0.0), 1.4)
        if showing > 0.05:
            ear = painter.on_outline(_ellipse((side * (radius_x - 4.0), 14.0),
                                              (22.0 * showing, 30.0)))
            painter.fill(ear, SKIN)
            painter.stroke(ear, SKIN_SHADOW, 2.0, closed=True)
    head = _ellipse((0.0, 0.0), HEAD_RADII)
    # The jaw drops with AU26: stretch the lower half of the outline.
    head[:, 1] = np.where(head[:, 1] > 0.0, head[:, 1] * (1.0 + 0.07 * c['AU26']), head[:, 1])
    painter.fill(painter.on_outline(head), SKIN)
    painter.stroke(painter.on_outline(head), SKIN_SHADOW, 2.0, closed=True)
    # Fringe: the top of the head ellipse, closed by a soft wavy edge across the forehead.
    top = _ellipse((0.0, -4.0), (radius_x + 3.0, radius_y + 3.0))
    top = top[top[:, 1] < -95.0]
    top = top[np.argsort(np.arctan2(top[:, 1], top[:, 0]))]  # left to right over the crown
    edge_x = np.linspace(top[-1, 0], top[0, 0], 25)
    wave = np.abs(np.sin(2.5 * np.pi * edge_x / radius_x))
    edge_y = -112.0 + 18.0 * edge_x / radius_x - 10.0 * wave
    fringe = np.concatenate([top, _curve(edge_x, edge_y)])
    painter.fill(painter.on_outline(fringe), HAIR)


def _draw_eye(painter: _Painter, c: dict, side: float) -> None:
    widen = 0.45 * max(c['arousal'], 0.0) + 0.2 * (c['AU1'] + c['AU2'])
    narrow = (0.55 * c['AU7'] + 0.3 * c['AU6'] + 0.2 * c['AU4'] + 0.1 * c['AU9']
              + 0.3 * max(-c['arousal'], 0.0))
    upper_open = UPPER_LID_OPEN * min(max(1.0 + widen - narrow, 0.08), 1.7)
    # A raised cheek (AU6) pushes the lower lid up into a smiling crescent.
    lower_open = max(LOWER_LID_OPEN * (1.0 - 1.0 * c['AU6'] - 0.45 * c['AU7']),
                     -0.5 * upper_open)
    center_x = side * EYE_X
    arc = np.sqrt(1.0 - _SPAN ** 2)
    xs = center_x + EYE_HALF_WIDTH * _SPAN
    upper = EYE_Y - upper_open * arc
    lower = EYE_Y + lower_open * arc
    white = np.concatenate([_curve(xs, upper), _curve(xs, lower)[::-1]])
    painter.fill(painter.on_face(white), SCLERA)
    # The irises lean against the head turn so the face keeps looking at the viewer.
    gaze_x = -7.0 * np.sin(c['rot_y'])
    iris_center = (center_x + gaze_x, EYE_Y + 1.0)
    painter.fill(painter.on_face(_ellipse(iris_center, (IRIS_RADIUS, IRIS_RADIUS))), IRIS)
    painter.fill(painter.on_face(_ellipse(iris_center, (PUPIL_RADIUS, PUPIL_RADIUS))), PUPIL)
    glint = (iris_center[0] + 4.0, iris_center[1] - 5.0)
    painter.fill(painter.on_face(_ellipse(glint, (3.2, 3.2))), SCLERA)
    # Skin above and below the lids hides whatever part of the iris the lids cover.
    reach = IRIS_RADIUS + 6.0
    lid_top = EYE_Y - max(upper_open, reach)
    lid_bottom = EYE_Y + max(lower_open, reach)
    corners_x = [center_x + EYE_HALF_WIDTH + 1.0, center_x - EYE_HALF_WIDTH - 1.0]
    upper_skin = np.concatenate([_curve(xs, upper), _curve(corners_x, [lid_top, lid_top])])
    lower_skin = np.concatenate([_curve(xs, lower), _curve(corners_x, [lid_bottom] * 2)])
    painter.fill(painter.on_face(upper_skin), SKIN)
    painter.fill(painter.on_face(lower_skin), SKIN)
    painter.stroke(painter.on_face(_curve(xs, upper)), LASH, 3.5)
    painter.stroke(painter.on_face(_curve(xs, lower)), _mix(SKIN, SKIN_LINE, 0.45), 1.5)
    # Outer-corner lash flick and, for a Duchenne smile (AU6), crow's feet.
    outer_x = center_x + side * EYE_HALF_WIDTH
    flick = np.array([[outer_x - side * 6.0, EYE_Y - 0.55 * upper_open],
                      [outer_x + side * 4.0, EYE_Y - 0.3 * upper_open - 5.0]])
    painter.stroke(painter.on_face(flick), LASH, 2.5)
    if c['AU6'] > 0.1:
        crease = _mix(SKIN, SKIN_LINE, 0.6 * c['AU6'])
        for rise in (-7.0, 0.0, 7.0):
            line = np.array([[outer_x + side * 8.0, EYE_Y + rise * 0.5],
                             [outer_x + side * 17.0, EYE_Y + rise * 1.3]])
            painter.stroke(painter.on_face(line), crease, 1.5)


def _draw_cheek(painter: _Painter, c: dict, side: float) -> None:
    valence = c['valence']
    center = (side * CHEEK_X, CHEEK_Y - 9.0 * c['AU6'])
    radii = (28.0 * (1.0 + 0.15 * c['AU6']), 16.0 * (1.0 + 0.1 * c['AU6']))
    if valence >= 0.0:
        color = _mix(SKIN, BLUSH, 0.14 + 0.4 * valence + 0.25 * c['AU6'])
    else:
        color = _mix(SKIN, PALE, 0.5 * -valence)
    painter.fill(painter.on_face(_ellipse(center, radii)), color)


def _draw_brow(painter: _Painter, c: dict, side: float) -> None:
    raise_inner, raise_outer, lower = c['AU1'], c['AU2'], c['AU4']
    # AU4 pulls the inner ends down and together; with AU1 as well they tilt up (sadness).
    inner_drop = 16.0 * lower * (1.0 - raise_inner)
    inner = np.array([side * (BROW_INNER_X - 9.0 * lower),
                      BROW_Y - 24.0 * raise_inner - 4.0 * raise_outer + inner_drop])
    middle = np.array([side * BROW_MID_X,
                       BROW_Y - 7.0 - 9.0 * raise_inner - 12.0 * raise_outer + 6.0 * lower])
    outer = np.array([side * BROW_OUTER_X,
                      BROW_Y + 2.0 - 2.0 * raise_inner - 16.0 * raise_outer])
    # Quadratic curve through the three points (its control point makes it pass the middle).
    control = 2.0 * middle - 0.5 * (inner + outer)
    t = np.linspace(0.0, 1.0, 15)[:, None]  # (15, 1)
    centre_line = (1.0 - t) ** 2 * inner + 2.0 * (1.0 - t) * t * control + t ** 2 * outer
    half_thickness = 6.0 - 3.0 * t[:, 0]  # bold at the inner end, tapering outward
    top = centre_line - np.stack([np.zeros_like(half_thickness), half_thickness], axis=1)
    bottom = centre_line + np.stack([np.zeros_like(half_thickness), half_thickness], axis=1)
    painter.fill(painter.on_face(np.concatenate([top, bottom[::-1]])), BROW)


def _draw_brow_knit(painter: _Painter, c: dict) -> None:
    knit = c['AU4']
    if knit < 0.15:
        return
    crease = _mix(SKIN, SKIN_LINE, 0.75 * knit)
    for x in (-5.0, 5.0):
        line = np.array([[x, BROW_Y - 2.0], [x * 0.7, BROW_Y + 14.0]])
        painter.stroke(painter.on_face(line), crease, 2.0)


def _draw_nose(painter: _Painter, c: dict) -> None:
    wrinkle = c['AU9']
    tip_y = NOSE_Y - 5.0 * wrinkle
    xs = 15.0 * _SPAN
    base = _curve(xs, tip_y - 4.0 + 7.0 * (1.0 - _SPAN ** 2) ** 0.5)
    painter.stroke(painter.on_face(base), SKIN_SHADOW, 3.0)
    ridge = np.array([[7.0, 4.0], [9.0, tip_y - 18.0], [14.0, tip_y - 6.0]])
    painter.stroke(painter.on_face(ridge), _mix(SKIN, SKIN_SHADOW, 0.5), 2.0)
    if wrinkle > 0.1:
        crease = _mix(SKIN, SKIN_LINE, 0.7 * wrinkle)
        for y in (0.0, 8.0, 16.0):
            line = _curve(9.0 * _SPAN[::6], y + 3.0 * _SPAN[::6] ** 2)
            painter.stroke(painter.on_face(line), crease, 1.5)


def _draw_mouth(painter: _Painter, c: dict) -> None:
    half_width = MOUTH_HALF_WIDTH * (1.0 + 0.22 * c['AU12'] + 0.1 * c['AU14'] - 0.2 * c['AU23']
                                     - 0.1 * c['AU24'] - 0.12 * c['AU26'])
    # How far the corners (with a slight resting smile) and the lip centre rise, in pixels.
    corner_lift = 2.0 + 20.0 * c['AU12'] + 3.0 * c['AU14'] + 7.0 * c['valence'] - 16.0 * c['AU15']
    centre_lift = 6.0 * c['AU17'] + 2.0 * c['AU10']
    opening = 9.0 * c['AU25'] + 34.0 * c['AU26']
    upper_gap = 0.3 * opening + 7.0 * c['AU10']
    lower_gap = 0.7 * opening
    across = _SPAN ** 2
    open_profile = (1.0 - across) ** 0.7  # zero at the corners, widest at the centre
    lip_profile = (1.0 - across) ** 0.5
    xs = half_width * _SPAN
    middle = MOUTH_Y - centre_lift * (1.0 - across) - corner_lift * across
    upper_inner = middle - upper_gap * open_profile
    lower_inner = middle + lower_gap * open_profile
    press = 1.0 - 0.6 * c['AU24'] - 0.45 * c['AU23']
    cupids_bow = 1.0 - 0.3 * np.exp(-(_SPAN / 0.15) ** 2)
    upper_outer = upper_inner - 7.0 * press * lip_profile * cupids_bow
    lower_outer = lower_inner + 9.0 * press * lip_profile
    lips = np.concatenate([_curve(xs, upper_outer), _curve(xs, lower_outer)[::-1]])
    painter.fill(painter.on_face(lips), LIP)
    if upper_gap + lower_gap > 1.0:
        inside = np.concatenate([_curve(xs, upper_inner), _curve(xs, lower_inner)[::-1]])
        painter.fill(painter.on_face(inside), MOUTH_INSIDE)
        teeth_edge = np.minimum(upper_inner + 10.0 * open_profile, lower_inner)
        teeth = np.concatenate([_curve(xs, upper_inner), _curve(xs, teeth_edge)[::-1]])
        painter.fill(painter.on_face(teeth), TEETH)
        if lower_gap > 8.0:
            tongue_top = np.maximum(lower_inner - 0.4 * lower_gap * open_profile, teeth_edge)
            tongue = np.concatenate([_curve(xs, tongue_top), _curve(xs, lower_inner)[::-1]])
            painter.fill(painter.on_face(tongue), TONGUE)
        painter.stroke(painter.on_face(inside), _mix(LIP, MOUTH_INSIDE, 0.6), 1.5, closed=True)
    else:
        painter.stroke(painter.on_face(_curve(xs, middle)), _mix(LIP, MOUTH_INSIDE, 0.7), 2.0)
    corner_y = middle[0]
    _draw_mouth_creases(painter, c, half_width, corner_y)


def _draw_mouth_creases(painter: _Painter, c: dict, half_width: float, corner_y: float) -> None:
    """Smile lines from the nose wings, dimples (AU14) and the chin boss (AU17)."""
    fold = min(0.55 * c['AU12'] + 0.7 * c['AU10'] + 0.5 * c['AU9'], 1.0)
    dimple = c['AU14']
    for side in (-1.0, 1.0):
        if fold > 0.1:
            start = np.array([side * 24.0, NOSE_Y - 4.0])
            end = np.array([side * (half_width + 12.0), corner_y + 12.0])
            bend = 0.5 * (start + end) + np.array([side * 10.0, -2.0])
            line = np.stack([start, bend, end])
            painter.stroke(painter.on_face(line), _mix(SKIN, SKIN_LINE, 0.5 * fold), 2.0)
        if dimple > 0.1:
            x = side * (half_width + 7.0)
            mark = np.array([[x, corner_y - 6.0], [x + side * 3.0, corner_y], [x, corner_y + 6.0]])
            painter.stroke(painter.on_face(mark), _mix(SKIN, SKIN_LINE, 0.6 * dimple), 2.0)
    chin = c['AU17']
    if chin > 0.1:
        chin_y = MOUTH_Y + 38.0 + 30.0 * c['AU26']
        line = _curve(16.0 * _SPAN[::4], chin_y + 5.0 * _SPAN[::4] ** 2)
        painter.stroke(painter.on_face(line), _mix(SKIN, SKIN_LINE, 0.5 * chin), 2.0)


def _draw_label(image: np.ndarray, c: dict) -> None:
    scores = [c[name] for name in spec.EXPRESSION_CHANNELS]
    best = int(np.argmax(scores))
    text = f'{spec.EXPRESSION_NAMES[best]} {scores[best]:.2f}'
    scale = image.shape[0] / REFERENCE_SIZE
    origin = (round(14 * scale), round(30 * scale))
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, TEXT,
                max(1, round(2 * scale)), cv2.LINE_AA)
