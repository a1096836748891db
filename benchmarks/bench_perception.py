"""
Time the visual half of speaker perception per 640x480 frame, on one core.

Frames: skimage's astronaut (one face, resized to 480x480 and padded to 640x480), the same
frame with the face shifted a few pixels every frame (a moving speaker), two faces side by
side, a blank frame and skimage's coins stretched to 640x480 (no face, but textured: BlazeFace
finds nothing, so the Haar cascade fallback runs on one frame in five, and sees a false face
there that the mesh rejects). The one-face frame also runs with detector='haar' (the cascade
finds the face, then the mesh tracks it). For each, VisualPerception.process runs on --frames
frames after a warm-up and the table shows p50, p90 and mean milliseconds; a second table
splits the one-face frame into its stages (detection, mesh, expression network, pose + AU
geometry) and times one Haar cascade run (320 px wide) on the one-face and coins frames.
LiteRT runs with num_threads=1 and OpenCV with one thread.

    .venv/bin/python benchmarks/bench_perception.py [--frames 200]
"""

import argparse
import platform
import time

import cv2
import numpy as np
from react_ros.perception import face_geometry, face_models
from react_ros.perception.visual import VisualPerception
from skimage import data


def astronaut_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """Return skimage's astronaut resized to height x height, centred on a black frame."""
    face = cv2.resize(data.astronaut(), (height, height), interpolation=cv2.INTER_AREA)
    frame = np.zeros((height, width, 3), np.uint8)
    left = (width - height) // 2
    frame[:, left:left + height] = face
    return frame


def coins_frame() -> np.ndarray:
    """Return skimage's coins stretched to 640x480 RGB."""
    return cv2.resize(cv2.cvtColor(data.coins(), cv2.COLOR_GRAY2RGB), (640, 480))


def two_faces_frame() -> np.ndarray:
    """Return two half-size astronauts side by side in one 640x480 frame."""
    half = cv2.resize(data.astronaut(), (300, 300), interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[90:390, 10:310] = half
    frame[90:390, 330:630] = half
    return frame


def _time(call, frames: int, warmup: int = 10) -> np.ndarray:
    for _ in range(warmup):
        call(0)
    times = np.empty(frames)
    for index in range(frames):
        start = time.perf_counter()
        call(index)
        times[index] = time.perf_counter() - start
    return times * 1000.0


def _row(name: str, times: np.ndarray) -> str:
    return (f'{name:34s} {np.median(times):7.2f} {np.percentile(times, 90):7.2f} '
            f'{times.mean():7.2f}')


def main():
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=200, help='timed frames per case')
    args = parser.parse_args()
    cv2.setNumThreads(1)
    perception = VisualPerception(num_threads=1)
    haar_perception = VisualPerception(num_threads=1, detector='haar')
    one_face = astronaut_frame()
    shifts = [np.roll(one_face, (int(3 * np.sin(i / 5)), int(6 * np.sin(i / 7))), axis=(0, 1))
              for i in range(64)]
    two_faces = two_faces_frame()
    blank = np.zeros_like(one_face)
    coins = coins_frame()
    cases = [('one face (static)', perception, lambda i: one_face),
             ('one face (moving)', perception, lambda i: shifts[i % len(shifts)]),
             ('two faces', perception, lambda i: two_faces),
             ('no face (blank)', perception, lambda i: blank),
             ('no face (coins, Haar 1 in 5)', perception, lambda i: coins),
             ('one face (moving), detector=haar', haar_perception,
              lambda i: shifts[i % len(shifts)])]

    print(f'VisualPerception.process, 640x480 RGB, {args.frames} frames per case, '
          f'1 thread ({platform.processor() or platform.machine()})')
    print(f'{"case":34s} {"p50 ms":>7s} {"p90 ms":>7s} {"mean ms":>7s}  present/problem')
    for name, case_perception, frame_at in cases:
        case_perception.reset()
        times = _time(lambda i: case_perception.process(frame_at(i), i / 30.0), args.frames)
        observation = case_perception.process(frame_at(0), args.frames / 30.0)
        print(f'{_row(name, times)}  {observation.present}/{observation.problem or "-"}')

    detector = face_models.FaceDetector(num_threads=1)
    mesh = face_models.FaceMesh(num_threads=1)
    expression = face_models.ExpressionClassifier(num_threads=1)
    haar = face_models.HaarFaceDetector(detect_width=320)
    landmarks, _ = mesh(one_face, face_models.region_from_detection(detector(one_face)[0]))
    region = face_models.region_from_landmarks(landmarks)

    def classify(_):
        expression(expression.grey_crop(one_face, face_models.expression_region(landmarks)))

    def geometry(_):
        face_geometry.head_pose(landmarks, one_face.shape[:2])
        face_geometry.face_measures(landmarks)

    print('\nStages of the one-face frame')
    print(f'{"stage":34s} {"p50 ms":>7s} {"p90 ms":>7s} {"mean ms":>7s}')
    for name, call in (('BlazeFace full range (192x192)', lambda i: detector(one_face)),
                       ('face mesh (192x192 crop)', lambda i: mesh(one_face, region)),
                       ('fer expression (64x64 crop)', classify),
                       ('head pose + AU measures', geometry),
                       ('Haar cascade, one face (320 wide)', lambda i: haar(one_face)),
                       ('Haar cascade, coins (320 wide)', lambda i: haar(coins))):
        print(_row(name, _time(call, args.frames)))


if __name__ == '__main__':
    main()
