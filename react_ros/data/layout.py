"""
Where files live in the two REACT dataset layouts (one place, used by readers and writers).

REACT 2025 (MARS) layout, 30 fps, variable length; the synthetic corpus is written in it
(upstream: reactmultimodalchallenge/baseline_react2025, README.md and dataset/react_2025.py):

    ROOT/{split}/facial-attributes/{speaker,listener}/{session}/{clip}.npy   (T, 25) float
        (upstream ships .npy; a .csv with a header row of the 25 attribute names also reads)
    ROOT/{split}/coefficients/{speaker,listener}/{session}/{clip}.npy        (T, 58) float
    ROOT/{split}/audio/{speaker,listener}/{session}/{clip}.wav               mono or stereo
    ROOT/{split}/video-face-crop/{speaker,listener}/{session}/{clip}.mp4     (not read)

A speaker clip pairs with the listener clip of the same session and name; the appropriate
reactions to a speaker clip are all listener clips of its session.

REACT 2024 layout, 25 fps, 751 frames per clip (upstream: baseline_react2024 README.md,
baseline_react2023 dataset.py and tool/matrix_split.py); ROOT may also be the data folder:

    ROOT/data/{split}/Emotion/<site>/<session>/<person>/<clip>.csv   25 columns, header row
    ROOT/data/{split}/3D_FV_files/<site>/<session>/<person>/<clip>.npy   (T, 58), may be (T, 1, 58)
    ROOT/data/{split}/Audio_files/<site>/<session>/<person>/<clip>.wav   44.1 kHz
    ROOT/data/{split}/Video_files/...                                    (not read)
    ROOT/data/{split}.csv        pair list: header ',speaker_path,listener_path', an index column
    ROOT/data/neighbour_emotion_{split}.npy   appropriateness matrix (speaker half, then listener)
"""

from react_ros import spec

SPLITS = ('train', 'val', 'test')
# Written at the root of a synthetic corpus (react_ros.data.synth): its listener clips are
# reactions, not speaker behaviour, so they are never mirrored into speakers by default.
SYNTH_MANIFEST = 'synth-corpus.json'
# Oracle draws of a synthetic corpus (react_ros.data.synth), beside the splits.
ORACLE_DIR = 'oracle'
ROLES = ('speaker', 'listener')
AUDIO_SUFFIX = '.wav'
COEFFICIENT_SUFFIX = '.npy'
CSV_SUFFIX = '.csv'
VIDEO_SUFFIX = '.mp4'

# The header names of the 25 attribute columns in REACT Emotion CSVs, in spec.ATTRIBUTE_NAMES
# order (readers also accept the spec names, e.g. 'expr_happy' for 'Happy').
REACT_ATTRIBUTE_COLUMNS = (spec.AU_NAMES + spec.AFFECT_NAMES
                           + tuple(name.capitalize() for name in spec.EXPRESSION_NAMES))

# REACT 2025 (MARS)
MARS_FPS = 30.0
MARS_ATTRIBUTES = 'facial-attributes'
MARS_COEFFICIENTS = 'coefficients'
MARS_AUDIO = 'audio'
MARS_VIDEO = 'video-face-crop'
MARS_ATTRIBUTE_SUFFIXES = ('.npy', CSV_SUFFIX)

# REACT 2024
REACT2024_FPS = 25.0
REACT2024_FRAMES = 751
REACT2024_DATA = 'data'
REACT2024_EMOTION = 'Emotion'
REACT2024_3DMM = '3D_FV_files'
REACT2024_AUDIO = 'Audio_files'
REACT2024_VIDEO = 'Video_files'
REACT2024_PAIR_COLUMNS = ('speaker_path', 'listener_path')
REACT2024_NEIGHBOURS = 'neighbour_emotion_{split}.npy'
# Some releases name the person folders of Emotion/ differently from the other modalities
# (upstream regnn/evaluation.py, replace_pid): site -> {person folder: Emotion person folder}.
REACT2024_EMOTION_PERSON_ALIASES = {
    'NoXI': {'Expert_video': 'P1', 'Novice_video': 'P2'},
    'RECOLA': {'P25': 'P1', 'P26': 'P2', 'P41': 'P1', 'P42': 'P2', 'P45': 'P1', 'P46': 'P2'},
}
