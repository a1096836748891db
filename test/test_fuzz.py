"""
Fuzzing the ROS-free frame and audio paths that reaction_node runs (hypothesis).

Whatever arrives (any encoding, size, step and bytes of an image; audio chunks of every format
with random bytes and extreme values; stamps jumping both ways), every input ends in a
reaction or in a named InputProblem, never in another exception: the node would survive
another one too (it catches everything per frame), but it could not say what was wrong.
The decoders, perception, the real shipped model and the session run as in the node.
"""

from hypothesis import example, given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from react_ros.errors import InputProblem
from react_ros.message_codecs import decode_image, PcmFormat, SUPPORTED_ENCODINGS
from react_ros.model.generator import ReactionGenerator
from react_ros.pipeline import ReactionPipeline, ThrottledWarnings
from react_ros.resources import DEFAULT_MODEL, package_file
from react_ros.session import ReactionSession
from react_ros.spec import within_range

# Deterministic (the same examples on every run and machine), no example database in the tree.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ENCODINGS = st.sampled_from(SUPPORTED_ENCODINGS + ('32FC1', 'bgra8', 'yuv422_yuy2', '', 'RGB8'))
CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'yuv422': 2}
EXTREME_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
SAMPLE_FORMATS = st.sampled_from(PcmFormat.FORMATS + ('U8', 'S24LE', ''))


@st.composite
def image_fields(draw):
    """Return (width, height, encoding, step, data) of an Image, well-formed or not."""
    encoding = draw(ENCODINGS)
    width, height = draw(st.integers(0, 40)), draw(st.integers(0, 30))
    row = width * CHANNELS.get(encoding, 3)
    step = max(0, row + draw(st.sampled_from([0, 0, 0, 1, 3, -1, -row])))
    size = step * height + draw(st.sampled_from([0, 0, 0, 1, -1, -step]))
    data = draw(st.binary(min_size=max(0, size), max_size=max(0, size)))
    return width, height, encoding, step, data


@st.composite
def audio_chunks(draw):
    """Return (sample_rate, channels, sample_format, bytes) of an audio chunk."""
    sample_format = draw(SAMPLE_FORMATS)
    channels = draw(st.integers(0, 3))
    rate = draw(st.sampled_from([16000, 16000, 44100, 48000, 8000, 0, 1_000_000]))
    kind = draw(st.sampled_from(['random bytes', 'float values', 'odd size']))
    frames = draw(st.integers(0, 400))
    if kind == 'float values':
        values = draw(st.lists(EXTREME_FLOATS, min_size=frames * max(channels, 1),
                               max_size=frames * max(channels, 1)))
        data = np.asarray(values, '<f4').tobytes()
    else:
        extra = draw(st.integers(1, 3)) if kind == 'odd size' else 0
        size = frames * 4 * max(channels, 1) + extra
        data = draw(st.binary(min_size=size, max_size=size))
    return rate, channels, sample_format, data


@pytest.fixture(scope='module')
def session():
    """Build a ReactionSession around the shipped model, as reaction_node does (no ROS)."""
    generator = ReactionGenerator.from_checkpoint(package_file('models', DEFAULT_MODEL))
    problems = []
    built = ReactionSession(ReactionPipeline(generator, seed=0),
                            lambda: 0, ThrottledWarnings(problems.append, period_s=0.0),
                            audio_topic='audio', audio_wait_s=0.0, silence_warning_s=2.0,
                            stamp_clock=lambda: 100.0)
    built.problems = problems
    return built


def named(error: InputProblem) -> bool:
    return bool(error.problem) and bool(str(error))


@FUZZ
@given(fields=image_fields())
@example(fields=(641, 2, 'yuv422', 1282, bytes(1282 * 2)))  # odd width: OpenCV refuses it
def test_any_image_decodes_or_is_a_named_problem(fields):
    width, height, encoding, step, data = fields
    try:
        rgb = decode_image(width, height, encoding, step, data)
    except InputProblem as error:
        assert named(error)
        return
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8


@FUZZ
@given(chunk=audio_chunks())
@example(chunk=(16000, 1, 'F32LE', np.full(320, 1e30, '<f4').tobytes()))  # huge, finite
@example(chunk=(16000, 1, 'F32LE', (np.arange(320, dtype='<i4') << 20).tobytes()))  # S32LE
def test_any_audio_chunk_decodes_to_finite_audio_or_is_a_named_problem(chunk):
    rate, channels, sample_format, data = chunk
    pcm = PcmFormat(rate, channels, sample_format)
    try:
        pcm.validate()
        samples = pcm.to_mono(data)
    except InputProblem as error:
        assert named(error)
        return
    assert samples.dtype == np.float32 and np.isfinite(samples).all()
    assert np.abs(samples).max(initial=0.0) <= 4.0


OPERATIONS = st.lists(st.tuples(st.sampled_from(['image', 'audio']), image_fields(),
                                audio_chunks(),
                                st.sampled_from([0.033, 0.033, 0.0, -0.5, -90.0, 5.0, 1e6])),
                      min_size=1, max_size=8)


@FUZZ
@given(operations=OPERATIONS)
def test_every_frame_ends_in_a_reaction_or_a_named_problem(session, operations):
    stamp = 99.0
    published = []
    for kind, fields, chunk, step_s in operations:
        stamp = max(0.0, stamp + step_s)
        if kind == 'audio':
            rate, channels, sample_format, data = chunk
            pcm = PcmFormat(rate, channels, sample_format)
            try:
                pcm.validate()
                session.push_audio(pcm.to_mono(data), stamp, pcm.sample_rate)
            except InputProblem as error:
                assert named(error)
            continue
        try:
            rgb = decode_image(*fields)
        except InputProblem as error:
            assert named(error)
            continue
        before = (len(published), session.report(1.0).bad_frames)
        session.process(rgb, stamp, published.append)
        after = (len(published), session.report(1.0).bad_frames)
        # Exactly one of: a reaction was published, or the frame was counted as rejected.
        assert sum(a - b for a, b in zip(after, before)) == 1, (before, after)
    for reaction in published:
        assert within_range(reaction.values).all()
