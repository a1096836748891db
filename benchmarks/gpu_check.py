"""
GPU check: the torch backend's online step, offline generate and training steps on one device.

What benchmarks/gpu_check.sh runs on a lent GPU machine (PyTorch with CUDA; TensorRT and ONNX
Runtime GPU are not there). It measures, and writes as a markdown table (--out):

1. online step, k = 1 and 10: the PyTorch stream (ReactionGenerator.stream, what the torch
   backend runs) and the step graphs replayed as CUDA graphs
   (react_ros.backends.torch_graph_runner), p50 / p99 over --steps steps after a warm-up;
2. offline generate, --frames frames x 10 samples: median of 3;
3. training steps per second of each stage at batch 32 x 64 frames (the recipe's), fp32
   and bf16 autocast (react_ros.train.trainer.StageRunner.train_step on random windows).

Weights are the shipped model's (models/reaction_synth.pt) when present, else untrained: the
time does not depend on their values. On a CPU (--device cpu, to check the logic) the CUDA
graph rows run the same graphs without capture and say so.

    python3 benchmarks/gpu_check.py [--device cuda] [--steps 300] [--out gpu_check.md]
"""

import argparse
from pathlib import Path
import platform
import statistics
import time

import numpy as np
from react_ros.backends.graph_stream import GraphStream
from react_ros.backends.torch_graph_runner import TorchGraphRunner
from react_ros.model.config import ReactionModelConfig
from react_ros.model.generator import ReactionGenerator
from react_ros.train.options import STAGES, TrainOptions
from react_ros.train.trainer import StageRunner
import torch

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / 'models' / 'reaction_synth.pt'
WARMUP_STEPS = 30
BATCH, WINDOW = 32, 64


def _load(device: str) -> ReactionGenerator:
    if SHIPPED_MODEL.is_file():
        return ReactionGenerator.from_checkpoint(SHIPPED_MODEL, device=device)
    config = ReactionModelConfig()
    return ReactionGenerator(ReactionGenerator.untrained(config, seed=0).network, config,
                             device=device)


def _inputs(config, frames: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(frames, config.audio_dim)).astype(np.float32),
            rng.normal(size=(frames, config.visual_dim)).astype(np.float32),
            rng.random(frames) > 0.2)


def _time_stream(stream, config, steps: int) -> tuple:
    """Return p50, p99 (ms) of stream.step over `steps` frames after a warm-up."""
    audio, visual, present = _inputs(config, WARMUP_STEPS + steps)
    times = []
    with torch.inference_mode():
        for index in range(WARMUP_STEPS + steps):
            start = time.perf_counter()
            stream.step(audio[index], visual[index], bool(present[index]))  # numpy: synced
            times.append(time.perf_counter() - start)
    times = np.asarray(times[WARMUP_STEPS:]) * 1e3
    return float(np.quantile(times, 0.5)), float(np.quantile(times, 0.99))


def online_rows(generator: ReactionGenerator, steps: int) -> list:
    """Return table rows of the online step, plain and with CUDA graphs."""
    config, device = generator.config, generator.device
    on_cuda = device.type == 'cuda'
    rows = []
    for k in (1, 10):
        p50, p99 = _time_stream(generator.stream(k, seed=0), config, steps)
        rows.append((f'online step k={k}, PyTorch stream', f'{p50:.2f} ms p50, {p99:.2f} p99'))
        try:
            runner = TorchGraphRunner(generator.network, config, k, device, cuda_graphs=on_cuda)
            p50, p99 = _time_stream(GraphStream(runner, config, k, seed=0), config, steps)
            label = 'CUDA graphs' if on_cuda else 'step graphs, no capture (CPU)'
            rows.append((f'online step k={k}, {label}', f'{p50:.2f} ms p50, {p99:.2f} p99'))
        except Exception as error:  # report it and go on: the other figures still count
            rows.append((f'online step k={k}, CUDA graphs', f'failed: {type(error).__name__}: '
                                                             f'{str(error)[:200]}'))
    return rows


def offline_rows(generator: ReactionGenerator, frames: int) -> list:
    """Return the table row of offline generation of frames x 10 samples."""
    audio, visual, present = _inputs(generator.config, frames)
    generator.generate(audio[:64], visual[:64], present[:64], k=10, seed=0)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        generator.generate(audio, visual, present, k=10, seed=0, online=False)
        times.append(time.perf_counter() - start)
    return [(f'offline generate {frames} frames x 10', f'{statistics.median(times):.3f} s')]


def _batch(config, device) -> dict:
    """Return a prepared training batch of random windows (B, T, ...)."""
    generator = torch.Generator().manual_seed(0)
    listener = torch.rand(BATCH, WINDOW, 83, generator=generator)
    batch = {'speaker_audio': torch.randn(BATCH, WINDOW, config.audio_dim, generator=generator),
             'speaker_visual': torch.randn(BATCH, WINDOW, config.visual_dim,
                                           generator=generator),
             'listener': listener, 'listener_mask': torch.ones(BATCH, 83, dtype=torch.bool),
             'listener_clip_mean': listener.mean(dim=1),
             'persona_noise': torch.randn(BATCH, config.persona_dim, generator=generator),
             'valid': torch.ones(BATCH, WINDOW, dtype=torch.bool),
             'speaker_present': torch.ones(BATCH, WINDOW, dtype=torch.bool)}
    return {name: value.to(device) for name, value in batch.items()}


def training_rows(generator: ReactionGenerator, seconds: float) -> list:
    """Return rows of training steps per second, per stage, fp32 and bf16."""
    config, device = generator.config, generator.device
    batch = _batch(config, device)
    rows = []
    for precision in ('fp32', 'bf16'):
        options = TrainOptions(precision=precision)
        for stage in STAGES:
            runner = StageRunner(stage, generator.network, config, options)
            generator.network.train()
            draws = torch.Generator().manual_seed(0)
            for _ in range(3):
                runner.train_step(batch, draws, 1e-4)  # warm-up (float(): synced)
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                runner.train_step(batch, draws, 1e-4)
                steps += 1
            rate = steps / (time.perf_counter() - start)
            rows.append((f'training {stage}, {precision}, batch {BATCH}x{WINDOW}',
                         f'{rate:.1f} steps/s ({rate * BATCH:.0f} windows/s)'))
    generator.network.eval()
    return rows


def main() -> int:
    """Measure and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--steps', type=int, default=300, help='timed online steps per row')
    parser.add_argument('--frames', type=int, default=750, help='offline generate frames')
    parser.add_argument('--train-seconds', type=float, default=10.0,
                        help='time per training row')
    parser.add_argument('--out', type=Path, help='markdown table to write')
    args = parser.parse_args()
    if args.device.startswith('cuda'):
        torch.backends.cuda.matmul.allow_tf32 = True  # as training on a GPU would
    generator = _load(args.device)
    name = (torch.cuda.get_device_name(generator.device) if generator.device.type == 'cuda'
            else platform.processor() or 'CPU')
    header = (f'device {name}, torch {torch.__version__}, '
              f'{"shipped" if SHIPPED_MODEL.is_file() else "untrained"} weights')
    print(header, flush=True)
    rows = []
    for part in (lambda: online_rows(generator, args.steps),
                 lambda: offline_rows(generator, args.frames),
                 lambda: training_rows(generator, args.train_seconds)):
        for row in part():
            print(f'{row[0]}: {row[1]}', flush=True)
            rows.append(row)
    table = '\n'.join([header, '', '| measurement | result |', '|---|---|']
                      + [f'| {what} | {result} |' for what, result in rows])
    if args.out:
        args.out.write_text(table + '\n')
    print('\n' + table)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
