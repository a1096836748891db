"""
Training at scale: peak memory and windows per second for two corpus sizes, 1 and 2 processes.

For each size, `react-ros synth` writes a corpus (kept in --work and reused), then
`react-ros train --stage tokenizer` runs for --epochs epochs: with the default store (clips on
disk, read per window: react_ros.data.clip_store) in 1 process and in 2 processes under
torchrun (gloo), and with --in-memory in 1 process for comparison. Each run is its own process
tree; its peak RSS is the largest resident size of any of its processes (the training worker
of a torchrun run: rank 0 or 1, each with its own copy of torch and the model). Throughput is
the train windows of an epoch over the epoch's time (validation included), median over epochs.

    .venv/bin/python benchmarks/bench_train_scale.py [--sessions 150 600] [--epochs 2]
        [--work /tmp/react_train_scale] [--json scale.json]

Memory of the store runs must stay within 1.3x between the sizes (issue 14); it prints the
ratio. On a 2-core machine 2 processes cannot be faster than 1 by much: the table says what
they give.
"""

import argparse
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys

from react_ros.train import checkpoint

REACT_ROS = [sys.executable, '-m', 'react_ros']
# Runs a command and prints the peak RSS (KiB) of its process tree (children it waited for).
PEAK_RSS = ('import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); '
            'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)')
MEMORY_RATIO_LIMIT = 1.3


def _corpus(work: Path, sessions: int) -> Path:
    root = work / f'synth_{sessions}'
    if not (root / 'train').is_dir():
        subprocess.run(REACT_ROS + ['synth', '--out', str(root), '--sessions', str(sessions),
                                    '--seed', '0'], check=True)
    return root


def _train(corpus: Path, out: Path, processes: int, epochs: int, in_memory: bool) -> dict:
    """Run one training; return peak RSS (MB), windows/s and the window count."""
    command = ['train', '--stage', 'tokenizer', '--data', str(corpus), '--out', str(out),
               '--epochs', str(epochs), '--threads', '1', '--quiet', '--overwrite']
    if in_memory:
        command.append('--in-memory')
    if processes > 1:
        launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                  f'--nproc_per_node={processes}', '-m', 'react_ros']
    else:
        launch = REACT_ROS
    env = dict(os.environ, OMP_NUM_THREADS='1', GLOO_SOCKET_IFNAME='lo')
    result = subprocess.run([sys.executable, '-c', PEAK_RSS] + launch + command, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'training failed:\n{result.stderr[-3000:]}')
    peak_kib = int(result.stdout.strip().splitlines()[-1])
    state = checkpoint.read_training_state(out)
    windows = state['train_windows']
    seconds = statistics.median(record['seconds'] for record in state['history']['tokenizer'])
    return {'peak_rss_mb': peak_kib / 1024, 'epoch_s': seconds, 'windows': windows}


def main() -> int:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sessions', type=int, nargs='+', default=[150, 600])
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--work', type=Path, default=Path('/tmp/react_train_scale'))
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for sessions in args.sessions:
        corpus = _corpus(args.work, sessions)
        for processes, in_memory in ((1, False), (2, False), (1, True)):
            out = args.work / f'tokenizer_{sessions}_{processes}_{int(in_memory)}.pt'
            row = {'sessions': sessions, 'processes': processes,
                   'data': 'in memory' if in_memory else 'store',
                   **_train(corpus, out, processes, args.epochs, in_memory)}
            row['windows_per_s'] = row['windows'] / row['epoch_s']
            rows.append(row)
            print(f'{sessions} sessions, {processes} process(es), {row["data"]}: '
                  f'{row["peak_rss_mb"]:.0f} MB, {row["windows_per_s"]:.0f} windows/s',
                  flush=True)
    print('\n| sessions | train windows | processes | clip data | peak RSS (MB, per process) '
          '| windows/s |')
    print('|---:|---:|---:|---|---:|---:|')
    for row in rows:
        print(f'| {row["sessions"]} | {row["windows"]} | {row["processes"]} | {row["data"]} | '
              f'{row["peak_rss_mb"]:.0f} | {row["windows_per_s"]:.0f} |')
    verdict = 0
    if len(args.sessions) >= 2:
        print()
        for processes, data in ((1, 'store'), (2, 'store'), (1, 'in memory')):
            peaks = [row['peak_rss_mb'] for row in rows
                     if row['processes'] == processes and row['data'] == data]
            ratio = peaks[-1] / peaks[0]
            limit = data == 'store'
            print(f'peak RSS {args.sessions[-1]} / {args.sessions[0]} sessions, {processes} '
                  f'process(es), {data}: {ratio:.2f}x'
                  + (f' (limit {MEMORY_RATIO_LIMIT}x)' if limit else ''))
            if limit and ratio > MEMORY_RATIO_LIMIT:
                verdict = 1
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return verdict


if __name__ == '__main__':
    sys.exit(main())
