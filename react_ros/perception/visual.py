"""
The visual half of speaker perception: camera RGB frames to the model's 28 speaker features.

Per frame: BlazeFace finds the faces (OpenCV's Haar cascade when BlazeFace finds none and no
face is tracked, every few frames, or always when BlazeFace cannot be loaded); the target
speaker is the face overlapping the previous target, else the largest, most central one; the
face mesh runs on a region tracked from the previous frame's landmarks (or the detection's, for
a new target); head pose and AU occurrences come from the landmarks (face_geometry), expression
probabilities from fer's network, valence and arousal from both. docs/perception.md documents
every value.
"""

from dataclasses import dataclass
import logging

import cv2
import numpy as np

from react_ros import spec
from react_ros.errors import InputProblem
from react_ros.perception import face_geometry, face_models

FEATURE_NAMES = spec.ATTRIBUTE_NAMES + spec.ROTATION_NAMES
assert len(FEATURE_NAMES) == spec.SPEAKER_VISUAL_DIM

# fer label -> REACT expression (spec.EXPRESSION_NAMES); fer has no contempt.
FER_TO_REACT = {'angry': 'anger', 'disgust': 'disgust', 'fear': 'fear', 'happy': 'happy',
                'sad': 'sad', 'surprise': 'surprise', 'neutral': 'neutral'}
_FER_COLUMNS = [spec.EXPRESSION_NAMES.index(FER_TO_REACT[label])
                for label in face_models.FER_LABELS]
# At most this much probability moves to contempt on a fully one-sided mouth corner raise.
CONTEMPT_SHARE = 0.5

# Russell circumplex coordinates (valence, arousal) of each REACT expression.
CIRCUMPLEX = {'neutral': (0.0, 0.0), 'happy': (0.8, 0.4), 'sad': (-0.6, -0.4),
              'surprise': (0.3, 0.8), 'fear': (-0.6, 0.7), 'disgust': (-0.7, 0.3),
              'anger': (-0.6, 0.6), 'contempt': (-0.5, 0.2)}
_CIRCUMPLEX = np.array([CIRCUMPLEX[name] for name in spec.EXPRESSION_NAMES])  # (8, 2)
# AU intensity terms: smiles raise valence, frowns lower it; brow raise and open mouth/lids
# tightening raise arousal.
VALENCE_AU_GAIN = 0.2
AROUSAL_AU_GAIN = 0.3
_AU = {name: index for index, name in enumerate(spec.AU_NAMES)}
_AROUSAL_AUS = [_AU[name] for name in ('AU1', 'AU2', 'AU7', 'AU25', 'AU26')]

# The tracked mesh region moves only when the landmarks' region drifts past these: centre by a
# fraction of its side, side by a log-ratio, angle in radians.
REGION_MOVE = 0.03
REGION_RESIZE = 0.05
REGION_TURN = np.radians(2.0)

PROBLEMS = ('no_face', 'tiny_face', 'profile', 'blurred', 'landmarks_failed')
DETECTORS = ('blazeface', 'haar')

_LOG = logging.getLogger(__name__)


class VisualInputError(InputProblem):
    """A camera frame that is not an (H, W, 3) uint8 RGB image, or a bad timestamp."""


@dataclass
class VisualObservation:
    """One frame's speaker visual features and whether they can be trusted."""

    features: np.ndarray  # (28,) float32, FEATURE_NAMES order; zeros when not present
    present: bool         # True only when the features are trustworthy
    problem: str          # '' when fine, else one of PROBLEMS
    faces: int            # number of faces detected (or 1 when the target was only tracked)
    box: tuple            # target face (x0, y0, x1, y1) in pixels, or None
    calibrated: bool      # neutral baseline collected


def expression_probabilities(fer_probabilities: np.ndarray, contempt: float) -> np.ndarray:
    """Map fer's (7,) probabilities and a [0, 1] contempt cue to (8,) REACT probabilities."""
    react = np.zeros(len(spec.EXPRESSION_NAMES))
    react[_FER_COLUMNS] = fer_probabilities / fer_probabilities.sum()
    share = CONTEMPT_SHARE * contempt
    react *= 1.0 - share
    react[spec.EXPRESSION_NAMES.index('contempt')] += share
    return react


def valence_arousal(expressions: np.ndarray, aus: np.ndarray) -> np.ndarray:
    """
    Return (2,) valence, arousal in [-1, 1].

    The expression-weighted circumplex point, plus AU intensity terms:
    valence += VALENCE_AU_GAIN * (AU12 - (AU4 + AU15) / 2),
    arousal += AROUSAL_AU_GAIN * mean(AU1, AU2, AU7, AU25, AU26).
    """
    valence, arousal = expressions @ _CIRCUMPLEX
    valence += VALENCE_AU_GAIN * (aus[_AU['AU12']] - 0.5 * (aus[_AU['AU4']] + aus[_AU['AU15']]))
    arousal += AROUSAL_AU_GAIN * aus[_AROUSAL_AUS].mean()
    return np.clip([valence, arousal], -1.0, 1.0)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian of a grey face crop: low means blurred."""
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _landmark_box(landmarks: np.ndarray) -> np.ndarray:
    return np.concatenate([landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)])


class VisualPerception:
    """
    Camera frames of one speaker to VisualObservations, frame by frame.

    calibration_s: seconds of usable frames averaged into the person's neutral baseline.
    min_face_px: a face whose landmark box is smaller on its longer side is 'tiny_face'.
    max_yaw_deg: a face turned further is 'profile'.
    min_sharpness: Laplacian variance of the 64x64 grey face crop below which it is 'blurred'.
    min_presence: face-mesh presence score below which the landmarks are not trusted.
    num_threads: LiteRT threads per network.
    detector: 'blazeface' (Haar cascade as fallback) or 'haar' (the cascade only).
    haar_width: the frame is shrunk to this width for the cascade.
    haar_interval: while no face is found, the cascade runs on one frame in this many.

    `detector` is the detector in use: 'haar' also when BlazeFace could not be loaded, with the
    reason in `detector_problem` ('' otherwise), logged once as a warning.
    """

    def __init__(self, calibration_s: float = 3.0, min_face_px: int = 40,
                 max_yaw_deg: float = 45.0, min_sharpness: float = 60.0,
                 min_presence: float = 0.5, num_threads: int = 1, detector: str = 'blazeface',
                 haar_width: int = 320, haar_interval: int = 5):
        if detector not in DETECTORS:
            raise ValueError(f'detector must be one of {DETECTORS}, got {detector!r}')
        if haar_interval < 1:
            raise ValueError(f'haar_interval must be >= 1 frame, got {haar_interval}')
        self.min_face_px = min_face_px
        self.max_yaw = np.radians(max_yaw_deg)
        self.min_sharpness = min_sharpness
        self.min_presence = min_presence
        self.detector = detector
        self.detector_problem = ''
        self._blazeface = None
        if detector == 'blazeface':
            try:
                self._blazeface = face_models.FaceDetector(num_threads=num_threads)
            except (OSError, ValueError, RuntimeError) as error:
                self.detector = 'haar'
                self.detector_problem = (f'BlazeFace could not be loaded ({error}); detecting '
                                         f'faces with the Haar cascade only')
                _LOG.warning(self.detector_problem)
        self._haar = face_models.HaarFaceDetector(detect_width=haar_width,
                                                  min_face_px=min_face_px)
        self._haar_interval = haar_interval
        self._mesh = face_models.FaceMesh(num_threads=num_threads)
        self._expression = face_models.ExpressionClassifier(num_threads=num_threads)
        self._baseline = face_geometry.NeutralBaseline(calibration_s)
        self.reset()

    def reset(self) -> None:
        """Forget the tracked face and the neutral baseline (a new person or interaction)."""
        self._baseline.reset()
        self._target_box = None   # (4,) last target, preferred in the next frame
        self._landmarks = None    # (468, 3) last good landmarks, the next mesh region
        self._region = None       # the mesh's last input region
        self._haar_wait = 0       # frames still to skip before the next cascade run

    @property
    def last_landmarks(self):
        """Return the target's (468, 3) landmarks (x, y pixels, relative z) of the last frame."""
        return self._landmarks

    def process(self, rgb: np.ndarray, stamp: float) -> VisualObservation:
        """Return the observation of one (H, W, 3) uint8 RGB frame taken at `stamp` seconds."""
        _check_frame(rgb, stamp)
        detections, unconfirmed = self._detect(rgb)
        target = self._choose_target(detections, rgb.shape)
        tracking = self._landmarks is not None and (
            target is None  # the detector missed a face the mesh may still follow
            or face_models.box_iou(self._target_box, target.box[None])[0] > 0.3)
        if tracking:
            region = self._tracked_region(face_models.region_from_landmarks(self._landmarks))
        elif target is not None:
            region = self._region = face_models.region_from_detection(target)
        else:
            return self._absent('no_face', 0, None)
        faces = max(len(detections), 1)

        landmarks, presence = self._mesh(rgb, region)
        if presence < self.min_presence or not np.isfinite(landmarks).all():
            self._landmarks = None
            if unconfirmed:  # a cascade box the mesh does not see a face in
                return self._absent('no_face', 0, None)
            box = None if target is None else tuple(float(v) for v in target.box)
            return self._absent('no_face' if target is None else 'landmarks_failed',
                                len(detections), box)
        self._landmarks = landmarks
        self._haar_wait = 0  # a lost face is searched for at once
        box_array = _landmark_box(landmarks)
        self._target_box = box_array
        box = tuple(float(v) for v in box_array)

        if max(box_array[2] - box_array[0], box_array[3] - box_array[1]) < self.min_face_px:
            return self._absent('tiny_face', faces, box)
        rotation = face_geometry.head_pose(landmarks, rgb.shape[:2])
        if not np.isfinite(rotation).all():
            return self._absent('landmarks_failed', faces, box)
        if abs(rotation[1]) > self.max_yaw:
            return self._absent('profile', faces, box)
        grey = self._expression.grey_crop(rgb, face_models.expression_region(landmarks))
        if sharpness(grey) < self.min_sharpness:
            return self._absent('blurred', faces, box)

        measures = face_geometry.face_measures(landmarks)
        self._baseline.update(measures, stamp)
        neutral = self._baseline.measures
        aus = face_geometry.au_occurrences(measures, neutral)
        expressions = expression_probabilities(
            self._expression(grey), face_geometry.contempt_cue(measures, neutral))
        features = np.concatenate([aus, valence_arousal(expressions, aus), expressions,
                                   np.clip(rotation, -np.pi / 2, np.pi / 2)])
        return VisualObservation(features.astype(np.float32), True, '', faces, box,
                                 self._baseline.calibrated)

    def _detect(self, rgb: np.ndarray):
        """
        Return (detections, whether they are Haar boxes the mesh has yet to confirm).

        The cascade runs only when BlazeFace (if loaded) finds nothing and no face is tracked,
        and then on one frame in haar_interval, since it costs several BlazeFace runs.
        """
        if self._blazeface is not None:
            detections = self._blazeface(rgb)
            if detections:
                return detections, False
        if self._landmarks is not None:  # the mesh follows the tracked face
            return [], False
        if self._haar_wait > 0:
            self._haar_wait -= 1
            return [], False
        self._haar_wait = self._haar_interval - 1
        detections = self._haar(rgb)
        return detections, bool(detections)

    def _tracked_region(self, proposed):
        """
        Return the mesh region: the previous one while the face stays well inside it.

        Re-deriving the region from every frame's landmarks feeds landmark noise back into the
        crop and makes a still face jitter; moving it only past small tolerances keeps a still
        face's crop, and so its features, fixed.
        """
        previous = self._region
        if (previous is None
                or np.hypot(*(proposed.centre - previous.centre)) > REGION_MOVE * previous.size
                or abs(np.log(proposed.size / previous.size)) > REGION_RESIZE
                or abs(proposed.angle - previous.angle) > REGION_TURN):
            self._region = proposed
        return self._region

    def _choose_target(self, detections: list, shape):
        """Return the detection overlapping the last target, else the largest most central."""
        if not detections:
            return None
        boxes = np.array([detection.box for detection in detections])  # (N, 4)
        if self._target_box is not None:
            overlap = face_models.box_iou(self._target_box, boxes)
            if overlap.max() > 0.3:
                return detections[int(overlap.argmax())]
        height, width = shape[:2]
        side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        off_centre = np.hypot((centre[:, 0] - width / 2) / width,
                              (centre[:, 1] - height / 2) / height)  # 0 .. ~0.7
        return detections[int(np.argmax(side * (1.0 - off_centre)))]

    def _absent(self, problem: str, faces: int, box) -> VisualObservation:
        if problem == 'no_face':
            self._landmarks = None
        return VisualObservation(np.zeros(spec.SPEAKER_VISUAL_DIM, np.float32), False, problem,
                                 faces, box, self._baseline.calibrated)


def _check_frame(rgb, stamp) -> None:
    if not isinstance(rgb, np.ndarray):
        raise VisualInputError('image_type', f'frame must be a numpy array, got '
                               f'{type(rgb).__name__}')
    if rgb.dtype != np.uint8:
        raise VisualInputError('image_dtype', f'frame must be uint8 RGB, got dtype {rgb.dtype}')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise VisualInputError('image_shape', f'frame must be (H, W, 3) RGB with H, W >= 8, '
                               f'got shape {rgb.shape}')
    if not isinstance(stamp, (int, float, np.number)) or not np.isfinite(stamp):
        raise VisualInputError('stamp', f'stamp must be finite seconds, got {stamp!r}')
