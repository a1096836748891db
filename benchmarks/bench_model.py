"""
Time the reaction model: online stream.step latency and offline generate throughput.

Part 1 feeds a stream (k samples, default 10) one frame at a time on ONE thread, as the
reaction node does, and times every step: p50, p99 and mean per run, over several runs of
`--frames` steps each after a warm-up (the table shows the median over runs of each figure).
Part 2 times `generate(..., online=False)` for `--frames` frames x k samples on `--threads`
threads (median of `--repeats` runs), once with the model's sampler (config.sampling_steps
DDIM steps) and once with a `--long-steps` (50) step sampler, and prints their ratio. Inputs
are random speaker features with the face missing on about 20 % of the frames; weights are
untrained (seed 0) unless --checkpoint is given: the time does not depend on the weights'
values.

    .venv/bin/python benchmarks/bench_model.py [--frames 750] [--k 10] [--repeats 3]

--package times another copy of the model package with the same interface (for example the
code before a change, copied elsewhere and put on PYTHONPATH). Last, the budgets of issue 11
(BUDGETS; the offline one for 750 frames x 10 samples) are checked: exit status 1 if one fails.
"""

import argparse
import importlib
import os
import platform
import statistics
import time

import numpy as np
import torch


# Issue 11: (what, limit); every figure must be at most its limit.
BUDGETS = {'step_p50': ('stream.step p50, k = 10, 1 thread (ms)', 3.0),
           'step_p99': ('stream.step p99, k = 10, 1 thread (ms)', 10.0),
           'offline': ('generate 750 frames x 10 samples (s)', 1.0),
           'parameters': ('parameters (millions)', 5.0)}


def percentile(values, fraction: float) -> float:
    """Return the fraction-quantile of values (linear interpolation)."""
    return float(np.quantile(np.asarray(values), fraction))


def speaker_inputs(frames: int, audio_dim: int, visual_dim: int, seed: int = 0) -> tuple:
    """Return random audio (T, A), visual (T, V) float32 and a face mask (T,) bool."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(frames, audio_dim)).astype(np.float32)
    visual = rng.normal(size=(frames, visual_dim)).astype(np.float32)
    return audio, visual, rng.random(frames) > 0.2


def time_stream(generator, inputs, k: int, runs: int, warmup: int) -> dict:
    """Time every stream.step; return the median over runs of p50, p99 and mean in ms."""
    audio, visual, mask = inputs
    stream = generator.stream(k=k, seed=0)
    for t in range(warmup):
        stream.step(audio[t], visual[t], bool(mask[t]))
    figures = []
    for _ in range(runs):
        stream.reset()
        times = []
        for t in range(len(audio)):
            start = time.perf_counter()
            stream.step(audio[t], visual[t], bool(mask[t]))
            times.append(1e3 * (time.perf_counter() - start))
        figures.append((percentile(times, 0.5), percentile(times, 0.99), float(np.mean(times)),
                        max(times)))
    return {name: statistics.median(run[index] for run in figures)
            for index, name in enumerate(('p50', 'p99', 'mean', 'max'))}


def time_generate(generator, inputs, k: int, repeats: int, steps) -> float:
    """Return the median seconds of offline generate over repeats (after one warm-up)."""
    audio, visual, mask = inputs
    generator.generate(audio[:20], visual[:20], mask[:20], k=k, sampling_steps=steps)
    seconds = []
    for repeat in range(repeats):
        start = time.perf_counter()
        generator.generate(audio, visual, mask, k=k, seed=repeat, sampling_steps=steps)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=750, help='frames per run')
    parser.add_argument('--k', type=int, default=10, help='samples per stream')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs of each part')
    parser.add_argument('--threads', type=int, default=2, help='torch threads for part 2')
    parser.add_argument('--long-steps', type=int, default=50, help='steps of the slow sampler')
    parser.add_argument('--long-repeats', type=int, default=1,
                        help='timed runs with the slow sampler')
    parser.add_argument('--checkpoint', help='a checkpoint to time instead of untrained weights')
    parser.add_argument('--package', default='react_ros.model.generator',
                        help='model package to import ReactionGenerator from')
    args = parser.parse_args()
    model = importlib.import_module(args.package)
    if args.checkpoint:
        generator = model.ReactionGenerator.from_checkpoint(args.checkpoint)
    else:
        generator = model.ReactionGenerator.untrained(seed=0)
    config = generator.config
    inputs = speaker_inputs(args.frames, config.audio_dim, config.visual_dim)
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    print(f'{args.package}: torch {torch.__version__}, {platform.processor() or "cpu"}, '
          f'{os.cpu_count()} cores, load average before: {load}')

    torch.set_num_threads(1)
    online = time_stream(generator, inputs, args.k, args.repeats, warmup=50)
    print(f'\nPart 1: stream.step, k={args.k}, {config.sampling_steps} DDIM steps, 1 thread, '
          f'{args.repeats} runs x {args.frames} steps (median over runs)')
    print('p50 ms  p99 ms  mean ms  max ms')
    print(f'{online["p50"]:6.2f}  {online["p99"]:6.2f}  {online["mean"]:7.2f}  '
          f'{online["max"]:6.2f}')

    torch.set_num_threads(args.threads)
    short = time_generate(generator, inputs, args.k, args.repeats, None)
    long = time_generate(generator, inputs, args.k, args.long_repeats, args.long_steps)
    print(f'\nPart 2: generate(online=False), {args.frames} frames x {args.k} samples, '
          f'{args.threads} threads (median of runs)')
    print('sampler          runs  seconds  ms/frame  ratio')
    for label, runs, seconds in ((f'{config.sampling_steps}-step DDIM', args.repeats, short),
                                 (f'{args.long_steps}-step DDIM', args.long_repeats, long)):
        print(f'{label:15s}  {runs:4d}  {seconds:7.2f}  {1e3 * seconds / args.frames:8.2f}  '
              f'{seconds / short:5.1f}')
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    print(f'\nload average after: {load}')
    return check_budgets(args, online, short, generator.num_parameters())


def check_budgets(args, online: dict, offline_seconds: float, parameters: int) -> int:
    """Print each budget of BUDGETS beside its figure; return 1 if one fails, else 0."""
    if (args.frames, args.k) != (750, 10):
        print('\nbudgets: not checked (they are for --frames 750 --k 10)')
        return 0
    figures = {'step_p50': online['p50'], 'step_p99': online['p99'],
               'offline': offline_seconds, 'parameters': parameters / 1e6}
    print('\nbudget                                      measured   limit')
    failed = 0
    for name, (what, limit) in BUDGETS.items():
        passed = figures[name] <= limit
        failed += not passed
        print(f'{what:42s}  {figures[name]:8.2f}  {limit:6.1f}  {"pass" if passed else "FAIL"}')
    return int(failed > 0)


if __name__ == '__main__':
    raise SystemExit(main())
