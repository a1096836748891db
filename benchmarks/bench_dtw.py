"""
Time react_ros's vectorised DTW against tslearn's on the same pairs, and FRDist at full size.

Part 1 draws random pairs of REACT-length sequences (750 frames) for each FRDist attribute
group (15 AUs, 2 affect, 8 expressions), computes their DTW with tslearn.metrics.dtw (what
the challenge calls) and with react_ros.eval.dtw_distances, and prints the median time of
several repeats, the speed ratio and the largest absolute difference.

Part 2 times react_ros.eval.frdist at challenge size: 100 inputs x 10 samples x 10 appropriate
reactions x 750 frames (30,000 DTWs), and the tslearn time that size implies (its per-pair
time from part 1, times the pairs).

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python benchmarks/bench_dtw.py [--pairs 96] [--repeats 3] [--no-full]
"""

import argparse
import statistics
import sys
import time

import numpy as np

from react_ros.eval import dtw_distances, frdist
from react_ros.spec import AFFECT_SLICE, AU_SLICE, EXPRESSION_SLICE, NUM_ATTRIBUTES

GROUPS = (('AUs', AU_SLICE), ('affect', AFFECT_SLICE), ('expressions', EXPRESSION_SLICE))


def main():
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pairs', type=int, default=96, help='pairs per group (part 1)')
    parser.add_argument('--frames', type=int, default=750, help='frames per sequence')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs per method')
    parser.add_argument('--no-full', action='store_true', help='skip the full-size FRDist')
    args = parser.parse_args()
    try:
        from tslearn.metrics import dtw as tslearn_dtw
        import tslearn
    except ImportError:
        sys.exit('tslearn is not installed: .venv/bin/pip install -r requirements-bench.txt')

    rng = np.random.default_rng(0)
    x = _reaction_like(rng, args.pairs, args.frames)
    y = _reaction_like(rng, args.pairs, args.frames)
    # numba compiles tslearn's DTW on its first call; keep that out of the timings.
    tslearn_dtw(x[0, :5, :2], y[0, :5, :2])

    print(f'Part 1: {args.pairs} pairs x {len(GROUPS)} groups of {args.frames} x '
          f'{args.frames} frames, median of {args.repeats} runs '
          f'(tslearn {tslearn.__version__}, numpy {np.__version__})')
    methods = {
        'tslearn.metrics.dtw (loop)': lambda a, b: np.array(
            [tslearn_dtw(p, q) for p, q in zip(a, b)]),
        'react_ros float32, 1 thread': lambda a, b: dtw_distances(a, b, workers=1),
        'react_ros float32, 2 threads': lambda a, b: dtw_distances(a, b, workers=2),
        'react_ros float64, 2 threads': lambda a, b: dtw_distances(a, b, dtype=np.float64,
                                                                   workers=2),
    }
    seconds, results = {}, {}
    for name, method in methods.items():
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results[name] = np.concatenate([method(x[..., group], y[..., group])
                                            for _, group in GROUPS])
            runs.append(time.perf_counter() - start)
        seconds[name] = statistics.median(runs)
    reference = 'tslearn.metrics.dtw (loop)'
    dtws = args.pairs * len(GROUPS)
    rows = [('method', 'median s', 'DTW/s', 'speed-up', 'max |diff|', 'max rel diff')]
    for name in methods:
        diff = np.abs(results[name] - results[reference])
        rows.append((name, f'{seconds[name]:.3f}', f'{dtws / seconds[name]:.0f}',
                     f'{seconds[reference] / seconds[name]:.1f}x', f'{diff.max():.2e}',
                     f'{(diff / results[reference]).max():.2e}'))
    _print_table(rows)

    if args.no_full:
        return
    inputs, samples, reactions = 100, 10, 10
    predictions = _reaction_like(rng, inputs * samples, args.frames).reshape(
        inputs, samples, args.frames, NUM_ATTRIBUTES)
    appropriate = list(_reaction_like(rng, inputs * reactions, args.frames).reshape(
        inputs, reactions, args.frames, NUM_ATTRIBUTES))
    start = time.perf_counter()
    value = frdist(predictions, appropriate)
    elapsed = time.perf_counter() - start
    pairs = inputs * samples * reactions
    tslearn_estimate = seconds[reference] / args.pairs * pairs
    print(f'\nPart 2: FRDist at full size, {inputs} inputs x {samples} samples x {reactions} '
          f'reactions x {args.frames} frames = {pairs * len(GROUPS)} DTWs')
    _print_table([
        ('method', 'seconds', 'FRDist'),
        ('react_ros frdist (float32, all cores)', f'{elapsed:.1f}', f'{value:.3f}'),
        ('tslearn loop, estimated from part 1', f'{tslearn_estimate:.0f}', '-'),
    ])


def _reaction_like(rng, count, frames):
    """Return smooth random attribute sequences in [0, 1], (count, frames, 25)."""
    steps = rng.standard_normal((count, frames, NUM_ATTRIBUTES)) * 0.05
    return 1.0 / (1.0 + np.exp(-np.cumsum(steps, axis=1)))


def _print_table(rows):
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print('  '.join([row[0].ljust(widths[0])]
                        + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]))
        if index == 0:
            print('-' * (sum(widths) + 2 * (len(widths) - 1)))


if __name__ == '__main__':
    main()
