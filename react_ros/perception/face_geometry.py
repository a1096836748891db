"""
Head pose and action-unit occurrences from the 468 face-mesh landmarks.

Head pose: cv2.solvePnP (SQPnP, a global solver: no mirror-flipped solutions) of eight mesh
landmarks that expressions barely move (nose tip, subnasale, nose bridge, inner and outer eye
corners, chin) against a generic 3D face, with a pinhole camera of focal length = frame width.
Angles follow the project's renderer (react_ros.render.face), in radians: positive rot_x
(pitch) nods the face down, positive rot_y (yaw) turns it toward the image's right, positive
rot_z (roll) tilts it clockwise on screen. Roll and yaw track well; absolute pitch carries a
bias from the generic model and the guessed focal length.

Action units: each frame gives a few scale-normalised geometric measures (MEASURE_NAMES) in an
eye-aligned frame (x along the outer eye corners, y down), divided by the 3D distance between
the outer eye corners (turning the head barely changes it). A NeutralBaseline averages them over
the first seconds a person is seen; an AU's signal is a weighted sum of measure deviations from
that baseline, mapped to an occurrence in [0, 1] by a linear ramp between an onset and a full
deviation (AU_RULES). The thresholds are in units of the eye-corner distance (about 9 cm on an
adult, so 0.01 is about 1 mm).
"""

import cv2
import numpy as np

from react_ros.spec import AU_NAMES

# Generic adult face in mm (anthropometric averages, 90 mm between the outer eye corners), camera
# axes: x to the image's right, y down, z away from the camera; origin at the nose tip. Only
# landmarks that expressions barely move (mouth corners and brows are left out; the chin moves
# with the jaw but anchors pitch).
POSE_LANDMARKS = (1, 2, 168, 33, 263, 133, 362, 152)
POSE_MODEL_POINTS = 90.0 * np.array([
    [0.0, 0.0, 0.0],        # nose tip
    [0.0, 0.17, 0.20],      # subnasale
    [0.0, -0.48, 0.25],     # nose bridge between the eyes
    [-0.5, -0.41, 0.40],    # outer eye corner, image left
    [0.5, -0.41, 0.40],     # outer eye corner, image right
    [-0.175, -0.40, 0.28],  # inner eye corner, image left
    [0.175, -0.40, 0.28],   # inner eye corner, image right
    [0.0, 0.78, 0.22],      # chin
])
# Camera z points away from the viewer, the renderer's toward it: conjugating by this flip
# turns a camera-frame rotation into the renderer's.
_FLIP_Z = np.diag([1.0, 1.0, -1.0])

# Mesh landmark indices; pairs are (image left, image right) = (subject's right, left).
_EYE_OUTER = (33, 263)
_EYE_INNER = (133, 362)
_LID_UPPER = (159, 386)
_LID_LOWER = (145, 374)
_BROW_INNER = ((107, 55), (336, 285))
_BROW_OUTER = ((70, 105), (300, 334))
_NOSE_WING = (129, 358)
_CHEEK = (50, 280)
_MOUTH_CORNER = (61, 291)
_NOSE_TIP, _SUBNASALE = 1, 2
_LIP_UPPER_OUTER, _LIP_UPPER_INNER, _LIP_LOWER_INNER, _LIP_LOWER_OUTER = 0, 13, 14, 17
_CHIN = 152

MEASURE_NAMES = (
    'inner_brow_height',  # inner brow above the inner eye corners
    'outer_brow_height',  # outer brow above the outer eye corners
    'brow_gap',           # horizontal gap between the inner brows
    'eye_opening',        # upper to lower lid
    'lower_lid_height',   # eye-corner line minus lower lid (rises with the lid)
    'cheek_height',       # eye-corner line minus cheek point (rises with the cheek)
    'nose_wing_distance',  # inner eye corner to nose wing
    'upper_lip_distance',  # subnasale to upper lip
    'mouth_width',        # mouth corner to mouth corner
    'corner_lift',        # mouth corners above the lip centre line
    'corner_asymmetry',   # image-left corner lift minus image-right corner lift
    'lip_thickness',      # red margin: outer to inner, upper plus lower lip
    'lip_gap',            # inner upper lip to inner lower lip
    'jaw_length',         # nose tip to chin
    'chin_height',        # lower lip to chin
)
_M = {name: index for index, name in enumerate(MEASURE_NAMES)}

# AU -> (signal weights per measure deviation, onset, full). Occurrence is
# clip((signal - onset) / (full - onset), 0, 1).
AU_RULES = {
    'AU1': ({'inner_brow_height': 1.0}, 0.02, 0.08),                      # inner brow raiser
    'AU2': ({'outer_brow_height': 1.0}, 0.02, 0.08),                      # outer brow raiser
    'AU4': ({'inner_brow_height': -0.5, 'brow_gap': -0.5}, 0.01, 0.05),  # brow lowerer
    'AU6': ({'lower_lid_height': 0.5, 'cheek_height': 0.5}, 0.01, 0.04),  # cheek raiser
    'AU7': ({'eye_opening': -1.0}, 0.01, 0.035),                          # lid tightener
    'AU9': ({'nose_wing_distance': -1.0}, 0.01, 0.04),                    # nose wrinkler
    'AU10': ({'upper_lip_distance': -1.0}, 0.01, 0.04),                   # upper lip raiser
    'AU12': ({'corner_lift': 1.0, 'mouth_width': 0.5}, 0.015, 0.06),      # lip corner puller
    'AU14': ({'mouth_width': 1.0, 'corner_lift': -1.0}, 0.02, 0.06),      # dimpler
    'AU15': ({'corner_lift': -1.0}, 0.01, 0.04),                          # lip corner depressor
    'AU17': ({'chin_height': -1.0}, 0.015, 0.05),                         # chin raiser
    'AU23': ({'lip_thickness': -0.5, 'mouth_width': -0.5}, 0.01, 0.04),  # lip tightener
    'AU24': ({'lip_thickness': -1.0, 'lip_gap': -1.0}, 0.01, 0.04),      # lip pressor
    'AU25': ({'lip_gap': 1.0}, 0.02, 0.06),                               # lips part
    'AU26': ({'jaw_length': 1.0}, 0.04, 0.15),                            # jaw drop
}
# A blink is not lid tightening: below this fraction of the neutral opening AU7 is 0.
BLINK_FRACTION = 0.3
# Contempt's geometric cue: one mouth corner raised (unilateral AU12/AU14).
CONTEMPT_ONSET, CONTEMPT_FULL = 0.015, 0.05


def _rule_matrix():
    weights = np.zeros((len(AU_NAMES), len(MEASURE_NAMES)))
    onset = np.empty(len(AU_NAMES))
    full = np.empty(len(AU_NAMES))
    for row, name in enumerate(AU_NAMES):
        terms, onset[row], full[row] = AU_RULES[name]
        for measure, weight in terms.items():
            weights[row, _M[measure]] = weight
    return weights, onset, full


_AU_WEIGHTS, _AU_ONSET, _AU_FULL = _rule_matrix()  # (15, M), (15,), (15,)


def ramp(signal, onset: float, full: float):
    """Map a signal to [0, 1]: 0 up to onset, linear to 1 at full."""
    return np.clip((np.asarray(signal) - onset) / (full - onset), 0.0, 1.0)


def head_pose(landmarks: np.ndarray, frame_size) -> np.ndarray:
    """
    Return (3,) rot_x (pitch), rot_y (yaw), rot_z (roll) in radians from (468, 2+) landmarks.

    frame_size is (height, width). Returns NaNs when solvePnP fails.
    """
    height, width = frame_size
    camera = np.array([[width, 0.0, width / 2], [0.0, width, height / 2], [0.0, 0.0, 1.0]])
    image_points = np.ascontiguousarray(landmarks[POSE_LANDMARKS, :2], np.float64)
    ok, rotation_vector, _ = cv2.solvePnP(POSE_MODEL_POINTS, image_points, camera, None,
                                          flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return np.full(3, np.nan)
    rotation = _FLIP_Z @ cv2.Rodrigues(rotation_vector)[0] @ _FLIP_Z
    return rotation_to_angles(rotation)


def angles_to_rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Return the renderer's (3, 3) head rotation: tilt(roll) @ turn(yaw) @ nod(pitch)."""
    cos_p, sin_p = np.cos(pitch), np.sin(pitch)
    cos_y, sin_y = np.cos(yaw), np.sin(yaw)
    cos_r, sin_r = np.cos(roll), np.sin(roll)
    nod = np.array([[1.0, 0.0, 0.0], [0.0, cos_p, sin_p], [0.0, -sin_p, cos_p]])
    turn = np.array([[cos_y, 0.0, sin_y], [0.0, 1.0, 0.0], [-sin_y, 0.0, cos_y]])
    tilt = np.array([[cos_r, -sin_r, 0.0], [sin_r, cos_r, 0.0], [0.0, 0.0, 1.0]])
    return tilt @ turn @ nod


def rotation_to_angles(rotation: np.ndarray) -> np.ndarray:
    """Invert angles_to_rotation: (3, 3) -> (3,) pitch, yaw, roll."""
    yaw = -np.arcsin(np.clip(rotation[2, 0], -1.0, 1.0))
    roll = np.arctan2(rotation[1, 0], rotation[0, 0])
    pitch = -np.arctan2(rotation[2, 1], rotation[2, 2])
    return np.array([pitch, yaw, roll])


def camera_points(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Return POSE_MODEL_POINTS turned by a head pose, in camera axes (rows: POSE_LANDMARKS)."""
    rotation = _FLIP_Z @ angles_to_rotation(pitch, yaw, roll) @ _FLIP_Z
    return POSE_MODEL_POINTS @ rotation.T


def face_measures(landmarks: np.ndarray) -> np.ndarray:
    """Return the (len(MEASURE_NAMES),) scale-normalised measures of (468, 3) landmarks."""
    left, right = landmarks[_EYE_OUTER[0]], landmarks[_EYE_OUTER[1]]
    scale = max(float(np.linalg.norm(right - left)), 1e-6)  # 3D: barely changes with yaw
    angle = np.arctan2(right[1] - left[1], right[0] - left[0])
    cos, sin = np.cos(angle), np.sin(angle)
    to_face = np.array([[cos, sin], [-sin, cos]]) / scale
    points = (landmarks[:, :2] - (left[:2] + right[:2]) / 2) @ to_face.T  # (468, 2), y down
    x, y = points[:, 0], points[:, 1]

    def pair_mean(values, pair):
        return 0.5 * (values[pair[0]] + values[pair[1]])

    def group_y(groups):
        return np.array([y[list(group)].mean() for group in groups])

    inner_brow = group_y(_BROW_INNER)
    outer_brow = group_y(_BROW_OUTER)
    lip_centre = 0.5 * (y[_LIP_UPPER_INNER] + y[_LIP_LOWER_INNER])
    corner_lift = lip_centre - y[list(_MOUTH_CORNER)]  # (2,) positive: above the lip line
    eye_line = y[list(_EYE_OUTER) + list(_EYE_INNER)].mean()
    values = {
        'inner_brow_height': (y[list(_EYE_INNER)] - inner_brow).mean(),
        'outer_brow_height': (y[list(_EYE_OUTER)] - outer_brow).mean(),
        'brow_gap': abs(x[list(_BROW_INNER[1])].mean() - x[list(_BROW_INNER[0])].mean()),
        'eye_opening': (y[list(_LID_LOWER)] - y[list(_LID_UPPER)]).mean(),
        'lower_lid_height': eye_line - pair_mean(y, _LID_LOWER),
        'cheek_height': eye_line - pair_mean(y, _CHEEK),
        'nose_wing_distance': np.mean([np.hypot(x[a] - x[b], y[a] - y[b])
                                       for a, b in zip(_EYE_INNER, _NOSE_WING)]),
        'upper_lip_distance': y[_LIP_UPPER_OUTER] - y[_SUBNASALE],
        'mouth_width': x[_MOUTH_CORNER[1]] - x[_MOUTH_CORNER[0]],
        'corner_lift': corner_lift.mean(),
        'corner_asymmetry': corner_lift[0] - corner_lift[1],
        'lip_thickness': (y[_LIP_UPPER_INNER] - y[_LIP_UPPER_OUTER]
                          + y[_LIP_LOWER_OUTER] - y[_LIP_LOWER_INNER]),
        'lip_gap': max(y[_LIP_LOWER_INNER] - y[_LIP_UPPER_INNER], 0.0),
        'jaw_length': y[_CHIN] - y[_NOSE_TIP],
        'chin_height': y[_CHIN] - y[_LIP_LOWER_OUTER],
    }
    return np.array([values[name] for name in MEASURE_NAMES])


class NeutralBaseline:
    """
    The person's neutral measures: their mean over the first `duration_s` seconds of use.

    Frames are added only while collecting; the baseline is final once duration_s has passed
    since the first frame and at least min_frames were seen. Until then `measures` is the mean
    so far (so deviations start at zero rather than at a population guess).
    """

    def __init__(self, duration_s: float = 3.0, min_frames: int = 5):
        self.duration_s = duration_s
        self.min_frames = min_frames
        self.reset()

    def reset(self) -> None:
        """Forget the person."""
        self._sum = np.zeros(len(MEASURE_NAMES))
        self._count = 0
        self._start = None
        self.calibrated = False

    def update(self, measures: np.ndarray, stamp: float) -> None:
        """Add one frame's measures while still collecting."""
        if self.calibrated:
            return
        if self._start is None or stamp < self._start:  # a clock that jumped back restarts
            self._start = stamp
        self._sum += measures
        self._count += 1
        self.calibrated = (self._count >= self.min_frames
                           and stamp - self._start >= self.duration_s)

    @property
    def measures(self):
        """Return the neutral (M,) measures, or None before the first frame."""
        return self._sum / self._count if self._count else None


def au_occurrences(measures: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Return (15,) AU occurrences in [0, 1], spec.AU_NAMES order, from measure deviations."""
    deviation = measures - neutral
    occurrence = ramp(_AU_WEIGHTS @ deviation, _AU_ONSET, _AU_FULL)
    neutral_opening = neutral[_M['eye_opening']]
    if measures[_M['eye_opening']] < BLINK_FRACTION * neutral_opening:
        occurrence[AU_NAMES.index('AU7')] = 0.0
    # Pressed lips and a raised chin boss come with closed lips: opening the mouth moves the
    # lower lip away from the chin and would read as AU17.
    closed = 1.0 - occurrence[AU_NAMES.index('AU25')]
    occurrence[AU_NAMES.index('AU24')] *= closed
    occurrence[AU_NAMES.index('AU17')] *= closed
    return occurrence


def contempt_cue(measures: np.ndarray, neutral: np.ndarray) -> float:
    """Return [0, 1]: how far one mouth corner is raised over the other, beyond neutral."""
    index = _M['corner_asymmetry']
    return float(ramp(abs(measures[index] - neutral[index]), CONTEMPT_ONSET, CONTEMPT_FULL))
