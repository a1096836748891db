"""
Time the online reaction step on each inference backend: PyTorch, ONNX Runtime, TensorRT.

One `stream.step` (k samples, the model's DDIM steps) per frame, as the reaction node runs
it (k = 1) and REACT evaluation does (k = 10), for every backend this machine has, on 1 and
2 CPU threads for the CPU backends. The backends take turns in rounds (each round times
`--frames` steps of each configuration), so a slow spell of a shared machine hits all of
them alike; the table shows p50 / p99 over all rounds and the p50 ratio to PyTorch on one
thread. On a CUDA machine it adds PyTorch CUDA (eager), ONNX Runtime's CUDA provider when
the installed build has it, and TensorRT when it imports.

    .venv/bin/python benchmarks/bench_backends.py [--k 1 10] [--frames 300] [--rounds 5]
        [--checkpoint models/reaction_synth.pt] [--engines engines/reaction_synth]
"""

import argparse
import platform
import time

from bench_model import speaker_inputs  # the same random speaker as the model benchmark
import numpy as np
from react_ros.backends.loader import ensure_export, GraphGenerator
from react_ros.backends.onnxruntime_backend import OnnxRuntimeRunner
from react_ros.backends.selection import Availability
from react_ros.model.generator import ReactionGenerator
import torch


class Configuration:
    """One backend set-up to time: a generator and the threads it runs on."""

    def __init__(self, label: str, generator, threads: int = None, synchronise=None):
        self.label = label
        self.generator = generator
        self.threads = threads
        self.synchronise = synchronise or (lambda: None)
        self.times = {}  # k -> step times (s)

    def run(self, inputs, k: int, warmup: int = 20) -> None:
        """Time one round: a fresh stream, warm-up frames, then every step."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        audio, visual, mask = inputs
        stream = self.generator.stream(k, seed=0)
        for t in range(warmup):
            stream.step(audio[t], visual[t], bool(mask[t]))
        for t in range(warmup, len(audio)):
            started = time.perf_counter()
            stream.step(audio[t], visual[t], bool(mask[t]))
            self.synchronise()
            self.times.setdefault(k, []).append(time.perf_counter() - started)


def configurations(cpu, checkpoint, engines, available: Availability) -> list:
    """Return every configuration this machine can run; cpu: the checkpoint on PyTorch CPU."""
    manifest = ensure_export(checkpoint, engines, log=lambda text: None)
    found = []
    for threads in (1, 2):
        found.append(Configuration(f'torch CPU, {threads} thread(s)', cpu, threads))
        if available.onnxruntime:
            runner = OnnxRuntimeRunner(manifest, threads, use_gpu=False)
            found.append(Configuration(f'onnxruntime CPU, {threads} thread(s)',
                                       GraphGenerator(runner, manifest), 1))
    if available.cuda:
        gpu = ReactionGenerator.from_checkpoint(checkpoint, device='cuda')
        found.append(Configuration('torch CUDA (eager)', gpu, 1, torch.cuda.synchronize))
        if available.onnxruntime:
            runner = OnnxRuntimeRunner(manifest, 1, use_gpu=True)
            if runner.providers[0] != 'CPUExecutionProvider':
                found.append(Configuration(f'onnxruntime {runner.providers[0]}',
                                           GraphGenerator(runner, manifest), 1))
        if available.tensorrt:
            from react_ros.backends.tensorrt_backend import TensorRTRunner
            found.append(Configuration('tensorrt (auto precision)',
                                       GraphGenerator(TensorRTRunner(manifest), manifest), 1,
                                       torch.cuda.synchronize))
    return found


def main(argv=None) -> int:
    """Time every configuration in rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--k', type=int, nargs='+', default=[1, 10],
                        help='samples per step (the node runs 1, REACT evaluation 10)')
    parser.add_argument('--frames', type=int, default=300, help='steps per round (+20 warm-up)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--checkpoint', default='models/reaction_synth.pt')
    parser.add_argument('--engines', default='engines/reaction_synth',
                        help="the checkpoint's ONNX export (exported there if missing)")
    args = parser.parse_args(argv)
    available = Availability.probe()
    cpu = ReactionGenerator.from_checkpoint(args.checkpoint)
    found = configurations(cpu, args.checkpoint, args.engines, available)
    inputs = speaker_inputs(args.frames + 20, cpu.config.audio_dim, cpu.config.visual_dim)
    for _ in range(args.rounds):
        for k in args.k:
            for configuration in found:
                configuration.run(inputs, k)
    print(f'online step, {args.rounds} rounds x {args.frames} steps per configuration and k; '
          f'{platform.processor() or platform.machine()}, torch {torch.__version__}')
    print(f'{"backend":36} {"k":>3} {"p50 ms":>8} {"p99 ms":>8} {"p50 vs torch 1 thread":>22}')
    for k in args.k:
        baseline = float(np.median(found[0].times[k]))
        for configuration in found:
            times = np.asarray(configuration.times[k])
            print(f'{configuration.label:36} {k:3d} {1000 * np.median(times):8.3f} '
                  f'{1000 * np.percentile(times, 99):8.3f} '
                  f'{np.median(times) / baseline:21.2f}x')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
