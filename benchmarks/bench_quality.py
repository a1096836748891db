"""
Reaction quality against the ceiling: the reproducible run behind docs/training.md.

Everything goes through the command line a user has, with its defaults:

1. `react-ros synth --sessions 150 --seed 0 --oracle 10` (kept in --work and reused);
2. `react-ros train --threads 1 --seed S` for every --seeds S (CLI defaults, the recipe),
   --parallel of them at a time, each timed;
3. `react-ros predict -k 10` offline and `--online` for every checkpoint;
4. `react-ros eval --json --baselines` in corrected and official mode (the Oracle row comes
   from the corpus's oracle draws).

It prints, per mode, the Oracle, the baselines and the model (offline, online) as mean
[min, max] over seeds, each metric also as a share of the Oracle's (FRCorr and FRDist per
sample), and checks the issue-11 acceptance on the means. --checkpoint scores existing
checkpoints instead of training (for example models/reaction_synth.pt). --plot PNG draws one
test clip (--plot-input): the speaker's voice activity and AUs, the real listener, three
generated reactions of the first checkpoint and three oracle draws (docs/quality.png).

    .venv/bin/python benchmarks/bench_quality.py [--seeds 0 1 2] [--parallel 2]
        [--work /tmp/react_quality] [--checkpoint CKPT ...] [--train-arg=--lr=3e-3 ...]
        [--plot docs/quality.png [--plot-input 0]]

Takes about 15 min per training seed on one core (2 cores: --parallel 2 halves the wall time).
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
import os
from pathlib import Path
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np
from react_ros import spec
from react_ros.data import layout
from react_ros.data.dataset import load_dataset, read_wav
from react_ros.data.synth import oracle_path
from react_ros.perception.audio import sequence_audio_perception
from react_ros.train.plot import write_time_panels

METRICS = ('FRCorr', 'FRDist', 'FRDiv', 'FRVar', 'FRDvs', 'FRSyn')
MODES = ('corrected', 'official')
BASELINES = ('GT', 'Random', 'Mime', 'MeanSeq', 'MeanFr')
ORACLE = 'Oracle'
# Issue 11: FRCorr >= 80 % and FRDist <= 1.05x of the Oracle's; diversity within 0.8-1.25x.
ACCEPTANCE = {'FRCorr': (0.80, None), 'FRDist': (None, 1.05), 'FRDiv': (0.8, 1.25),
              'FRVar': (0.8, 1.25), 'FRDvs': (0.8, 1.25)}


def react_ros(*arguments, log: Path = None) -> str:
    """Run `react-ros ARGUMENTS` (this interpreter's package); return its stdout."""
    command = [sys.executable, '-m', 'react_ros', *map(str, arguments)]
    # No ROS node starts here, but every process of the project keeps DDS on loopback.
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               ROS_DOMAIN_ID=os.environ.get('ROS_DOMAIN_ID', '71'))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f'{shlex.join(command)} failed ({result.returncode}):\n'
                           f'{result.stderr[-3000:]}')
    return result.stdout


def make_corpus(work: Path, sessions: int, oracle: int) -> Path:
    """Return the synthetic corpus with oracle draws, written once per --work."""
    corpus = work / f'synth{sessions}_oracle{oracle}'
    if not (corpus / 'oracle').is_dir():
        print(f'writing {corpus} ...', flush=True)
        react_ros('synth', '--out', corpus, '--sessions', sessions, '--seed', 0,
                  '--oracle', oracle)
    return corpus


def train(corpus: Path, work: Path, seed: int, train_args: list) -> tuple:
    """Train one seed with the CLI defaults; return (checkpoint, wall seconds)."""
    out = work / f'seed{seed}.pt'
    start = time.perf_counter()
    react_ros('train', '--data', corpus, '--out', out, '--threads', 1, '--seed', seed,
              '--quiet', '--overwrite', *train_args, log=work / f'seed{seed}_train.log')
    return out, time.perf_counter() - start


def predict(corpus: Path, work: Path, checkpoint: Path, online: bool, k: int) -> Path:
    """Write the checkpoint's test-split reactions into work; return the .npy path."""
    out = work / f'{checkpoint.stem}_{"online" if online else "offline"}.npy'
    react_ros('predict', '--ckpt', checkpoint, '--data', corpus, '--out', out, '-k', k,
              '--quiet', *(['--online'] if online else []))
    return out


def evaluate(corpus: Path, predictions: Path = None, official: bool = False) -> dict:
    """Return `react-ros eval --json` rows (the baselines when predictions is None)."""
    what = ['--pred', predictions] if predictions else ['--baselines']
    return json.loads(react_ros('eval', '--data', corpus, '--json', *what,
                                *(['--official'] if official else [])))


def spread(values: list) -> str:
    """Return 'mean [min, max]' (just the value for one)."""
    if len(values) == 1:
        return f'{values[0]:.4g}'
    return f'{statistics.fmean(values):.4g} [{min(values):.4g}, {max(values):.4g}]'


def table(rows: dict) -> str:
    """rows: name -> list of eval rows (one per seed). Return the text table."""
    header = ['method'] + list(METRICS) + [f'{name}/O' for name in ACCEPTANCE]
    lines = []
    for name, runs in rows.items():
        cells = [name] + [spread([run[metric] for run in runs]) for metric in METRICS]
        for metric in ACCEPTANCE:
            shares = [run['vs_oracle'][metric] for run in runs]
            cells.append('-' if None in shares else spread(shares))
        lines.append(cells)
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header))]
    text = ['  '.join(cell.ljust(width) for cell, width in zip(header, widths))]
    text.append('-' * len(text[0]))
    text += ['  '.join(str(cell).ljust(width) for cell, width in zip(row, widths))
             for row in lines]
    return '\n'.join(text)


def acceptance(rows: dict) -> list:
    """Return (check, passed) lines for the model rows, on the means over seeds."""
    checks = []
    for name, runs in rows.items():
        if name == ORACLE or name in BASELINES:
            continue
        for metric, (low, high) in ACCEPTANCE.items():
            share = statistics.fmean(run['vs_oracle'][metric] for run in runs)
            passed = (low is None or share >= low) and (high is None or share <= high)
            bound = f'>= {low}' if high is None else (f'<= {high}' if low is None
                                                      else f'in [{low}, {high}]')
            checks.append((f'{name}: {metric}/Oracle {share:.3f} {bound}', passed))
        model = {metric: statistics.fmean(run[metric] for run in runs)
                 for metric in ('FRCorr', 'FRDist')}
        best_corr = max(rows[b][0]['FRCorr'] for b in BASELINES if b != 'GT')
        best_dist = min(rows[b][0]['FRDist'] for b in BASELINES if b != 'GT')
        checks.append((f'{name}: FRCorr {model["FRCorr"]:.3f} above every baseline but GT '
                       f'({best_corr:.3f})', model['FRCorr'] > best_corr))
        checks.append((f'{name}: FRDist {model["FRDist"]:.2f} below every baseline but GT '
                       f'({best_dist:.2f})', model['FRDist'] < best_dist))
    return checks


def plot_clip(corpus: Path, predictions: Path, out: Path, index: int) -> None:
    """Draw test input `index`: speaker, real listener, 3 generated reactions, 3 oracle draws."""
    pair = load_dataset(corpus, 'test', mirror=False).pairs[index]
    frames, fps = pair.length, pair.fps
    seconds = np.arange(frames) / fps
    samples, rate = read_wav(corpus / 'test' / layout.MARS_AUDIO / f'{pair.speaker_id}.wav')
    voice = sequence_audio_perception(samples, seconds, rate).voice_active.astype(float)
    generated = np.load(predictions, mmap_mode='r')[index, :3, :frames]  # (3, T, 25)
    oracle = np.load(oracle_path(corpus, 'test', pair.speaker_id))[:3, :frames]
    channel = {name: spec.ATTRIBUTE_NAMES.index(name) for name in ('AU1', 'AU12', 'valence')}
    speaker = pair.speaker_attributes

    def listener(name: str) -> list:
        column = channel[name]
        lines = [('real listener', seconds, pair.listener_attributes[:, column], (0, 0, 0), 2)]
        for draw, reaction in enumerate(generated):
            lines.append(('generated (3)' if draw == 0 else None, seconds, reaction[:, column],
                          (40, 120, 240), 1))
        for draw, reaction in enumerate(oracle):
            lines.append(('oracle draws (3)' if draw == 0 else None, seconds,
                          reaction[:, column], (60, 160, 60), 1))
        return lines

    write_time_panels(out, [
        (f'speaker {pair.speaker_id}: voice activity, smile (AU12), brow raise (AU1)', [
            ('voice active', seconds, 0.5 * voice, (170, 170, 170), 1),
            ('AU12', seconds, speaker[:, channel['AU12']], (200, 90, 30), 2),
            ('AU1', seconds, speaker[:, channel['AU1']], (30, 30, 200), 2)]),
        ('listener smile (AU12)', listener('AU12')),
        ('listener brow raise (AU1)', listener('AU1')),
        ('listener valence', listener('valence'))])
    print(f'plot: {out}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work', type=Path, default=Path('/tmp/react_quality'))
    parser.add_argument('--sessions', type=int, default=150)
    parser.add_argument('--oracle', type=int, default=10, help='oracle draws per test clip')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--parallel', type=int, default=2,
                        help='trainings (and predictions) at a time, one thread each')
    parser.add_argument('-k', type=int, default=10, help='reactions per input')
    parser.add_argument('--checkpoint', type=Path, nargs='+',
                        help='score these checkpoints instead of training')
    parser.add_argument('--plot', type=Path, help='draw one test clip to this PNG')
    parser.add_argument('--plot-input', type=int, default=0, help='test input to draw')
    parser.add_argument('--train-arg', action='append', default=[],
                        help='extra `react-ros train` argument (e.g. --train-arg=--lr=3e-3)')
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = make_corpus(args.work, args.sessions, args.oracle)
    pool = ThreadPoolExecutor(max(1, args.parallel))

    if args.checkpoint:
        checkpoints, train_seconds = [path.resolve() for path in args.checkpoint], []
    else:
        print(f'training seeds {args.seeds} ({args.parallel} at a time) ...', flush=True)
        runs = list(pool.map(lambda seed: train(corpus, args.work, seed, args.train_arg),
                             args.seeds))
        checkpoints, train_seconds = [run[0] for run in runs], [run[1] for run in runs]
        for seed, seconds in zip(args.seeds, train_seconds):
            print(f'  seed {seed}: {seconds / 60:.1f} min', flush=True)
    print('predicting offline and online ...', flush=True)
    jobs = [(checkpoint, online) for checkpoint in checkpoints for online in (False, True)]
    predicted = dict(zip(jobs, pool.map(lambda job: predict(corpus, args.work, *job, args.k), jobs)))

    if args.plot:
        plot_clip(corpus, predicted[checkpoints[0], False], args.plot, args.plot_input)
    report = {'corpus': str(corpus), 'k': args.k, 'checkpoints': list(map(str, checkpoints)),
              'train_seconds': train_seconds, 'train_args': args.train_arg, 'modes': {}}
    all_passed = True
    for mode in MODES:
        official = mode == 'official'
        reference = evaluate(corpus, official=official)
        rows = {name: [reference[name]] for name in (ORACLE,) + BASELINES}
        for online in (False, True):
            files = [predicted[checkpoint, online] for checkpoint in checkpoints]
            rows[f'model {"online" if online else "offline"}'] = list(pool.map(
                lambda path: evaluate(corpus, path, official)[path.name], files))
        report['modes'][mode] = rows
        print(f'\n{mode} metrics, test split, k = {args.k}, '
              f'{len(checkpoints)} checkpoint(s): mean [min, max]')
        print(table(rows))
        for check, passed in acceptance(rows):
            all_passed &= passed
            print(f'  [{"pass" if passed else "FAIL"}] {check}')
    if train_seconds:
        print(f'\ntraining wall time per seed: {spread([s / 60 for s in train_seconds])} min '
              f'(--threads 1, {args.parallel} at a time)')
    (args.work / 'quality.json').write_text(json.dumps(report, indent=2))
    print(f'results: {args.work / "quality.json"}')
    return 0 if all_passed else 1


if __name__ == '__main__':
    sys.exit(main())
