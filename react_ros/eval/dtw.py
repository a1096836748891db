"""
Dynamic time warping, batched and vectorised, with tslearn's definition.

REACT's FRDist calls `tslearn.metrics.dtw`: the square root of the smallest sum, over monotone
alignment paths with steps (1, 0), (0, 1) and (1, 1) and no window constraint, of the squared
Euclidean distances between aligned frames. This module computes the same number for many pairs
at once without a compiled loop:

- the local costs of a batch of B pairs come from one matrix product of augmented frames
  ([x, |x|^2, 1] . [-2y, 1, |y|^2] = |x - y|^2), laid out (T, U, B) so that the B pairs of a
  cell are adjacent in memory;
- the recursion walks the anti-diagonals of the cost matrix (every cell of one anti-diagonal
  depends only on the two before it), each step three numpy operations over all cells of the
  diagonal and all B pairs;
- batches run on a thread pool: numpy releases the GIL inside these operations.
"""

from concurrent.futures import ThreadPoolExecutor
import os
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

# Pairs per batch: 48 pairs of 750 x 750 frames keep the float32 cost block near 100 MB.
DEFAULT_BATCH_SIZE = 48
# Rows of the cost matrix produced per matrix product, so each transposed block stays in cache.
_COST_ROW_BLOCK = 32


def dtw_distances(x, y, *, dtype=np.float32, batch_size=DEFAULT_BATCH_SIZE, workers=None):
    """
    Return the DTW distance of each pair (x[p], y[p]).

    x is (P, T, D) and y is (P, U, D); the result is (P,) float64. dtype is the precision of
    the costs and the recursion: float32 (default, about 2x faster) agrees with tslearn to
    about 1e-6 relative, float64 to rounding.
    """
    x = _as_sequences(x, 'x')
    y = _as_sequences(y, 'y')
    if len(x) != len(y):
        raise ValueError(f'x holds {len(x)} sequences but y holds {len(y)}; pairs need both')
    index = np.arange(len(x))
    return dtw_pairs(x, y, index, index, dtype=dtype, batch_size=batch_size, workers=workers)


def dtw_pairs(x_pool, y_pool, x_index, y_index, *, dtype=np.float32,
              batch_size=DEFAULT_BATCH_SIZE, workers=None):
    """
    Return the DTW distance between x_pool[x_index[p]] and y_pool[y_index[p]] for every p.

    x_pool is (A, T, D), y_pool is (C, U, D); the index arrays have one entry per pair. Pairs
    are gathered batch by batch, so a pool reused by many pairs is never copied whole.
    """
    x_pool = _as_sequences(x_pool, 'x_pool')
    y_pool = _as_sequences(y_pool, 'y_pool')
    if x_pool.shape[2] != y_pool.shape[2]:
        raise ValueError(f'frames have {x_pool.shape[2]} channels in x_pool but '
                         f'{y_pool.shape[2]} in y_pool')
    x_index = np.asarray(x_index, dtype=np.intp).reshape(-1)
    y_index = np.asarray(y_index, dtype=np.intp).reshape(-1)
    if len(x_index) != len(y_index):
        raise ValueError(f'{len(x_index)} x indices but {len(y_index)} y indices')
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f'dtype must be float32 or float64, not {dtype}')
    if batch_size < 1:
        raise ValueError(f'batch_size must be at least 1, not {batch_size}')
    workers = workers or os.cpu_count() or 1

    starts = range(0, len(x_index), batch_size)
    # One cost buffer per thread, reused by its batches: allocating ~100 MB per batch costs
    # as much as filling it.
    scratch = threading.local()
    buffer_size = x_pool.shape[1] * y_pool.shape[1] * min(batch_size, max(len(x_index), 1))

    def run(start):
        if getattr(scratch, 'buffer', None) is None:
            scratch.buffer = np.empty(buffer_size, dtype)
        stop = start + batch_size
        return _dtw_batch(x_pool[x_index[start:stop]], y_pool[y_index[start:stop]],
                          scratch.buffer)

    if workers == 1 or len(starts) <= 1:
        parts = [run(start) for start in starts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, starts))
    return np.concatenate(parts) if parts else np.zeros(0)


def _as_sequences(array, name):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(f'{name} must be (sequences, frames, channels), got shape {array.shape}')
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f'{name} has empty sequences or frames: shape {array.shape}')
    if not np.all(np.isfinite(array)):
        raise ValueError(f'{name} holds NaN or infinite values')
    return array


def _local_costs(x, y, buffer):
    """Return |x_i - y_j|^2 for a batch of pairs, laid out (T, U, B) at the start of buffer."""
    # Squared distances do not change under a common shift; removing each pair's mean frame
    # keeps |x|^2 and |y|^2 small, so the product form loses less to cancellation.
    centre = (x.sum(axis=1) + y.sum(axis=1)) / (x.shape[1] + y.shape[1])  # (B, D)
    x = x - centre[:, None]
    y = y - centre[:, None]
    ones_x = np.ones(x.shape[:2] + (1,))
    ones_y = np.ones(y.shape[:2] + (1,))
    dtype = buffer.dtype
    x_aug = np.concatenate([x, (x * x).sum(-1, keepdims=True), ones_x], -1).astype(dtype)
    y_aug = np.concatenate([-2.0 * y, ones_y, (y * y).sum(-1, keepdims=True)], -1).astype(dtype)
    y_aug_t = np.ascontiguousarray(y_aug.transpose(0, 2, 1))  # (B, D + 2, U)
    batch, frames_x, frames_y = x.shape[0], x.shape[1], y.shape[1]
    costs = buffer[:frames_x * frames_y * batch].reshape(frames_x, frames_y, batch)
    for row in range(0, frames_x, _COST_ROW_BLOCK):
        block = np.matmul(x_aug[:, row:row + _COST_ROW_BLOCK], y_aug_t)  # (B, rows, U)
        costs[row:row + _COST_ROW_BLOCK] = block.transpose(1, 2, 0)
    return costs


def _dtw_batch(x, y, buffer):
    """Return the DTW distances of a batch of pairs x (B, T, D), y (B, U, D)."""
    batch, frames_x, frames_y = x.shape[0], x.shape[1], y.shape[1]
    costs = _local_costs(x, y, buffer)  # (T, U, B)
    dtype = costs.dtype
    item = costs.itemsize
    # (T + U - 1, T, B) view: [d, i] is cell (i, d - i). Every index of the view stays inside
    # the buffer; only i in the valid range of diagonal d is ever read.
    diagonals = as_strided(costs, shape=(frames_x + frames_y - 1, frames_x, batch),
                           strides=(batch * item, (frames_y - 1) * batch * item, item))
    # Accumulated costs of the last three anti-diagonals, indexed by i + 1: row 0 stays
    # infinite and stands for the cells left of the matrix.
    acc = [np.full((frames_x + 1, batch), np.inf, dtype) for _ in range(3)]
    best = np.empty((frames_x, batch), dtype)
    acc[0][1] = costs[0, 0]
    for diag in range(1, frames_x + frames_y - 1):
        current, previous, before = acc[diag % 3], acc[(diag - 1) % 3], acc[(diag - 2) % 3]
        low, high = max(0, diag - frames_y + 1), min(diag, frames_x - 1)
        step = best[:high - low + 1]
        # predecessors of (i, j): (i - 1, j) and (i, j - 1) on the previous diagonal,
        # (i - 1, j - 1) on the one before.
        np.minimum(previous[low:high + 1], previous[low + 1:high + 2], out=step)
        np.minimum(step, before[low:high + 1], out=step)
        np.add(step, diagonals[diag, low:high + 1], out=current[low + 1:high + 2])
    last = acc[(frames_x + frames_y - 2) % 3][frames_x]
    # Rounding in the product form can leave a tiny negative total for near-identical pairs.
    return np.sqrt(np.maximum(last.astype(np.float64), 0.0))
