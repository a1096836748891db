"""DiskArray: indexing a stored array reads the same values as indexing the array itself."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from react_ros.data.clip_store import DiskArray, store_arrays
from react_ros.data.dataset import Clip, CLIP_ARRAYS

ROWS = 7


def _keys():
    bound = st.integers(-ROWS - 2, ROWS + 2) | st.none()
    rows = (st.builds(slice, bound, bound) | st.builds(slice, bound, bound, st.integers(1, 3))
            | st.integers(-ROWS, ROWS - 1) | st.just(Ellipsis)
            | st.lists(st.integers(-ROWS, ROWS - 1), max_size=4).map(
                lambda rows: np.array(rows, np.intp)))
    column = st.integers(0, 2) | st.builds(slice, st.integers(0, 3) | st.none())
    return rows | st.tuples(rows, column)


@settings(max_examples=200, deadline=None)
@given(key=_keys())
def test_indexing_reads_what_numpy_selects(tmp_path_factory, key):
    values = np.arange(ROWS * 3, dtype=np.float32).reshape(ROWS, 3)
    stored = DiskArray.write(tmp_path_factory.mktemp('store') / 'a.npy', values)
    np.testing.assert_array_equal(stored[key], values[key])


def test_shape_length_and_numpy_conversion(tmp_path):
    values = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    stored = DiskArray.write(tmp_path / 'a.npy', values)
    assert (stored.shape, stored.dtype, stored.ndim, len(stored)) == ((5, 4), np.float32, 2, 5)
    np.testing.assert_array_equal(np.asarray(stored), values)
    with pytest.raises(IndexError):
        stored[5]
    flags = DiskArray.write(tmp_path / 'b.npy', values[:, 0] > 0)
    np.testing.assert_array_equal(flags[1:4], values[1:4, 0] > 0)


def test_a_clip_is_stored_field_by_field_under_distinct_names(tmp_path):
    attributes = np.ones((3, 25), np.float32)
    first = store_arrays(Clip('a/b', 30.0, attributes), CLIP_ARRAYS, tmp_path, 'a/b')
    second = store_arrays(Clip('a_b', 30.0, attributes * 2), CLIP_ARRAYS, tmp_path, 'a_b')
    assert first.mm is None and first.audio is None and first.clip_id == 'a/b'
    assert first.attributes.path != second.attributes.path
    np.testing.assert_array_equal(second.attributes[:], attributes * 2)
    assert len(list(tmp_path.iterdir())) == 2
