"""
Clip arrays kept on disk and read per window, so a dataset's memory does not grow with its size.

`build_dataset(..., store=DIR)` (react_ros.data.dataset) writes every loaded clip's arrays as
.npy files under DIR and keeps `DiskArray`s in their place. Indexing a DiskArray by rows reads
those rows from the file (one open, seek and read), so a training window reads its frames and
nothing else stays resident. Not np.load(mmap_mode='r'): a mapping kept open adds every page
ever read to the process's memory, and mapping a file per window read windows 4x slower than
this (950 against 4,200 windows/s on the 150-session corpus; 7,200 in memory).

MARS alone is 2,856 sessions with clips over 20,000 frames; with a store, training holds the
windows of a batch and the window index, whatever the corpus.
"""

from dataclasses import replace
import hashlib
from pathlib import Path
import re

import numpy as np


class DiskArray:
    """A read-only array in a .npy file; indexing reads only the rows it selects (an ndarray)."""

    def __init__(self, path):
        self.path = Path(path)
        with open(self.path, 'rb') as stream:
            major, _ = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            self.shape, fortran_order, self.dtype = read_header(stream)
            self.offset = stream.tell()  # where the rows start
        if fortran_order or self.dtype.hasobject:
            raise ValueError(f'{self.path}: a DiskArray needs a C-ordered plain array')
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def write(cls, path, values: np.ndarray) -> 'DiskArray':
        """Save values to path (.npy) and return them on disk."""
        np.save(path, np.ascontiguousarray(values))
        return cls(path)

    @property
    def ndim(self) -> int:
        """Return the number of dimensions."""
        return len(self.shape)

    def __len__(self) -> int:
        """Return the number of rows."""
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """Return the selected values, read from the file (rows first, the rest in memory)."""
        rows, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(rows, slice) and rows.step in (None, 1):
            start, stop, _ = rows.indices(len(self))
            return self._read(start, max(start, stop))[(slice(None),) + rest]
        if isinstance(rows, (int, np.integer)):
            index = range(len(self))[rows]  # IndexError past the end, as numpy
            return self._read(index, index + 1)[(0,) + rest]
        return self._read(0, len(self))[key]  # fancy or stepped rows, Ellipsis: all of it

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Return rows [start, stop) from the file."""
        with open(self.path, 'rb') as stream:
            stream.seek(self.offset + start * self.row_bytes)
            data = stream.read((stop - start) * self.row_bytes)
        return np.frombuffer(bytearray(data), self.dtype).reshape((stop - start,) + self.shape[1:])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Return the whole array (for numpy functions given a DiskArray)."""
        values = self[...]
        return values if dtype is None else values.astype(dtype)

    def __repr__(self) -> str:
        """Return where the array lives and its shape."""
        return f'DiskArray({str(self.path)!r}, shape={self.shape}, dtype={self.dtype})'


def _file_stem(clip_id: str) -> str:
    """Return a file name for a clip id: readable, and unique though ids hold separators."""
    digest = hashlib.sha1(clip_id.encode()).hexdigest()[:10]
    return f'{re.sub(r"[^A-Za-z0-9._-]", "_", clip_id)[-80:]}-{digest}'


def store_arrays(record, names: tuple, folder: Path, clip_id: str):
    """
    Return a copy of a dataclass record whose per-frame array fields `names` are DiskArrays.

    Fields that are None stay None; one file per field, folder/STEM.FIELD.npy.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _file_stem(clip_id)
    return replace(record, **{
        name: DiskArray.write(folder / f'{stem}.{name}.npy', getattr(record, name))
        for name in names if getattr(record, name) is not None})
