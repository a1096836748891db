"""
Where files live in the two REACT dataset layouts (one place, used by readers and writers).

REACT 2025 (MARS) layout, 30 fps, variable length; the synthetic corpus is written in it:

    ROOT/{split}/facial-attributes/{speaker,listener}/{session}/{clip}.csv   25 columns, header
    ROOT/{split}/coefficients/{speaker,listener}/{session}/{clip}.npy        (T, 58) float
    ROOT/{split}/audio/{speaker,listener}/{session}/{clip}.wav               mono or stereo
    ROOT/{split}/video-face-crop/{speaker,listener}/{session}/{clip}.mp4     (optional)

A speaker clip pairs with the listener clip of the same session and name; the appropriate
reactions to a speaker clip are all listener clips of its session.

REACT 2024 layout, 25 fps, 751 frames per clip:

    ROOT/data/{split}/{Video_files,Audio_files,Emotion,3D_FV_files}/<dataset>/<session...>/<clip>
    ROOT/data/{train,val}.csv        pair lists (speaker_path, listener_path)
    ROOT/data/neighbour_emotion_{split}.npy   appropriateness matrix (speaker half, then listener)
"""

SPLITS = ('train', 'val', 'test')
ROLES = ('speaker', 'listener')

# REACT 2025 (MARS)
MARS_FPS = 30.0
MARS_ATTRIBUTES = 'facial-attributes'
MARS_COEFFICIENTS = 'coefficients'
MARS_AUDIO = 'audio'
MARS_VIDEO = 'video-face-crop'

# REACT 2024
REACT2024_FPS = 25.0
REACT2024_FRAMES = 751
REACT2024_EMOTION = 'Emotion'
REACT2024_3DMM = '3D_FV_files'
REACT2024_AUDIO = 'Audio_files'
REACT2024_VIDEO = 'Video_files'
