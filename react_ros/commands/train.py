"""
`react-ros train`: train the reaction model on a REACT-layout dataset.

    react-ros train --stage tokenizer|predictor|diffusion|all --data DIR --out CKPT
                    [--epochs N [N N]] [--seed S] [--init CKPT] [--resume] [--overwrite]
                    [--speaker-features auto|annotations|extracted]

--out is written after every epoch (atomically) and always loads with
ReactionGenerator.from_checkpoint; the loss curves go next to it (OUT_STEM_losses.png).
An existing --out is never replaced unless --overwrite is given; --resume continues the run
it holds, with the options it was started with.

The speaker inputs come from the dataset's annotations, or from what `react-ros features`
extracted (--speaker-features, react_ros.data.dataset); auto takes the extracted ones when
every speaker clip of the train split has them at the model's frame rate.
"""

import argparse
import contextlib
import json
import logging
from pathlib import Path
import shlex
import sys
import tempfile

from react_ros.data.plan import SPEAKER_FEATURES
from react_ros.data.readers import LAYOUTS, MIRROR_CHOICES
from react_ros.train.options import OLD_DATA_DEFAULTS, PRECISIONS, STAGES, TrainOptions

HELP = 'train the tokenizer, predictor and diffusion stages'

# Command-line option -> TrainOptions field, for the options that decide a run's result.
_RUN_OPTIONS = {'batch_size': 'batch_size', 'window': 'window', 'lr': 'learning_rate',
                'weight_decay': 'weight_decay', 'warmup_steps': 'warmup_steps',
                'face_dropout': 'face_dropout', 'token_noise': 'token_noise', 'seed': 'seed',
                'val_inputs': 'val_inputs', 'val_k': 'val_k', 'val_frames': 'val_frames',
                'threads': 'threads', 'precision': 'precision'}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros train` options (run options default to None: 'not given')."""
    defaults = TrainOptions()
    parser.add_argument('--stage', choices=STAGES + ('all',), default='all',
                        help='what to train (default: all three stages in order)')
    parser.add_argument('--data', type=Path, required=True,
                        help='dataset root (REACT 2024 or REACT 2025/MARS layout, or a '
                             'synthetic corpus)')
    parser.add_argument('--out', type=Path, required=True, help='checkpoint to write')
    parser.add_argument('--init', type=Path,
                        help='start from this checkpoint (needed by --stage predictor and '
                             'diffusion unless the run trains the stages before them)')
    parser.add_argument('--epochs', type=int, nargs='+',
                        help=f'epochs: one count for every stage, or one per stage (default: '
                             f'{" ".join(map(str, defaults.epochs))} for '
                             f'{" ".join(defaults.stages)})')
    parser.add_argument('--seed', type=int, help=f'seed (default: {defaults.seed})')
    parser.add_argument('--batch-size', type=int,
                        help=f'windows per batch (default: {defaults.batch_size})')
    parser.add_argument('--window', type=int,
                        help=f'frames per training window (default: {defaults.window})')
    parser.add_argument('--lr', type=float,
                        help=f'peak learning rate (default: {defaults.learning_rate})')
    parser.add_argument('--weight-decay', type=float,
                        help=f'AdamW weight decay (default: {defaults.weight_decay})')
    parser.add_argument('--warmup-steps', type=int,
                        help=f'learning-rate warm-up steps (default: {defaults.warmup_steps})')
    parser.add_argument('--face-dropout', type=float,
                        help=f'fraction of windows with a span of frames without a speaker '
                             f'face (default: {defaults.face_dropout})')
    parser.add_argument('--token-noise', type=float,
                        help=f"share of the predictor's history tokens replaced by random ones "
                             f'while training (default: {defaults.token_noise})')
    parser.add_argument('--model', action='append', default=[], metavar='FIELD=VALUE',
                        help='model config field to change (ReactionModelConfig, value as '
                             'JSON), e.g. --model d_model=96 --model temperature=0.8; with '
                             '--init only temperature, top_k, sampling_steps')
    parser.add_argument('--val-inputs', type=int,
                        help=f'val inputs scored with the REACT metrics each diffusion epoch '
                             f'(default: {defaults.val_inputs}; 0: none)')
    parser.add_argument('--val-k', type=int,
                        help=f'reactions per val input (default: {defaults.val_k})')
    parser.add_argument('--val-frames', type=int,
                        help=f'frames per val input (default: {defaults.val_frames})')
    parser.add_argument('--layout', choices=('auto',) + LAYOUTS, default='auto',
                        help='dataset layout (default: auto)')
    parser.add_argument('--mirror', choices=MIRROR_CHOICES, default='auto',
                        help='also train on listener-as-speaker pairs, as upstream loaders do '
                             '(auto: yes, except for a synthetic corpus)')
    parser.add_argument('--speaker-features', choices=SPEAKER_FEATURES,
                        help='speaker inputs: from the dataset annotations, or as `react-ros '
                             'features` extracted them (run it first, at --fps 30 for a '
                             'dataset at another rate); auto: extracted when every speaker '
                             'clip has them (default: auto; with --resume: that of the run)')
    parser.add_argument('--workers', type=int, default=0,
                        help='processes loading clips, then reading training windows, in '
                             'parallel (default: 0)')
    parser.add_argument('--store', type=Path,
                        help='folder for the loaded clips, read back per training window so '
                             'memory does not grow with the dataset: a temporary folder is '
                             'made in it and removed at the end (default: the system '
                             'temporary folder, e.g. /tmp)')
    parser.add_argument('--in-memory', action='store_true',
                        help='hold the loaded clips in memory instead (small corpora)')
    parser.add_argument('--device', default='cpu',
                        help='torch device (default: cpu); under torchrun, cuda means each '
                             "process's cuda:LOCAL_RANK")
    parser.add_argument('--precision', choices=PRECISIONS,
                        help=f'bf16: mixed precision for GPUs (default: {defaults.precision})')
    parser.add_argument('--threads', type=int,
                        help="torch CPU threads (default: torch's choice); 1 is much faster "
                             'on a machine whose cores are busy with other work')
    parser.add_argument('--plot', type=Path,
                        help='loss-curve PNG (default: next to --out, OUT_STEM_losses.png)')
    parser.add_argument('--resume', action='store_true',
                        help='continue the run saved in --out from its last epoch')
    parser.add_argument('--overwrite', action='store_true',
                        help="replace an existing --out that is not this run's")
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


def _model_overrides(assignments: list) -> dict:
    overrides = {}
    for assignment in assignments:
        name, separator, text = assignment.partition('=')
        if not separator or not name:
            raise ValueError(f'--model takes FIELD=VALUE, got {assignment!r}')
        try:
            overrides[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f'--model {assignment!r}: {text!r} is not a JSON value '
                             f'(numbers as 0.8, lists as [8,5,5,5])')
    return overrides


def options_from_arguments(args: argparse.Namespace) -> TrainOptions:
    """Return the TrainOptions of a fresh run from the command line."""
    stages = STAGES if args.stage == 'all' else (args.stage,)
    values = {field: getattr(args, option) for option, field in _RUN_OPTIONS.items()
              if getattr(args, option) is not None}
    if args.epochs is not None:
        if len(args.epochs) not in (1, len(stages)):
            raise ValueError(f'--epochs takes one count, or one per stage '
                             f'({len(stages)}: {" ".join(stages)}), got {args.epochs}')
        values['epochs'] = args.epochs * len(stages) if len(args.epochs) == 1 else args.epochs
    else:
        default_epochs = dict(zip(STAGES, TrainOptions().epochs))
        values['epochs'] = tuple(default_epochs[stage] for stage in stages)
    return TrainOptions(stages=stages, model=_model_overrides(args.model), **values)


def _check_resume_arguments(args: argparse.Namespace, saved: TrainOptions) -> None:
    """Refuse run options on --resume that differ from the saved run's."""
    given = options_from_arguments(args)
    differing = [option for option, field in _RUN_OPTIONS.items()
                 if getattr(args, option) is not None
                 and getattr(given, field) != getattr(saved, field)]
    if args.epochs is not None and given.epochs != saved.epochs:
        differing.append('epochs')
    if args.stage != 'all' and given.stages != saved.stages:
        differing.append('stage')
    if args.model or args.init:
        differing.append('model/init')
    if differing:
        raise ValueError(f'--resume continues {args.out} with the options it was started with; '
                         f'these differ: {", ".join(differing)}')


def command_line() -> str:
    """Return this process's command line as typed (python -m ... for a module run)."""
    main_spec = getattr(sys.modules.get('__main__'), '__spec__', None)
    if main_spec is not None:
        program = ['python', '-m', main_spec.name.removesuffix('.__main__')]
    else:
        program = [Path(sys.argv[0]).name]
    return shlex.join(program + sys.argv[1:])


def run(args: argparse.Namespace, command: str = None) -> int:
    """Run `react-ros train`; return the exit code. command: recorded (default: this one)."""
    # torch and the datasets load only for this command.
    from react_ros.train.distributed import Distributed

    if args.store is not None and not args.store.is_dir():
        print(f'react-ros train: --store {args.store} is not a folder', file=sys.stderr)
        return 2
    distributed, device = Distributed.from_environment(args.device)
    # Under torchrun rank 0 speaks for the run; the others say only what goes wrong.
    logging.basicConfig(level=logging.INFO if distributed.is_main else logging.WARNING,
                        format='%(message)s' if not distributed.active
                        else f'[rank {distributed.rank}] %(message)s')
    command = command or command_line()
    common = {'overwrite': args.overwrite, 'plot_path': args.plot, 'progress': not args.quiet,
              'distributed': distributed, 'workers': args.workers}
    with contextlib.ExitStack() as cleanup:
        store = None if args.in_memory else Path(cleanup.enter_context(
            tempfile.TemporaryDirectory(prefix='react_ros_store_', dir=args.store)))
        return _train(args, command, common, distributed, device, store)


def _train(args: argparse.Namespace, command: str, common: dict, distributed, device: str,
           store: Path) -> int:
    """Load the data into store (None: memory), train, report; return the exit code."""
    from react_ros.data.readers import mirror_pairs
    from react_ros.train import checkpoint
    from react_ros.train.trainer import load_training_data, Trainer

    try:
        if args.resume:
            if not args.out.is_file():
                raise ValueError(f'--resume: {args.out} does not exist')
            state = checkpoint.read_training_state(args.out)
            if state is None:
                raise ValueError(f'--resume: {args.out} holds no training state')
            _check_resume_arguments(args, TrainOptions.from_dict(state['options']))
            if state['complete']:
                print(f'{args.out}: run {state["run_id"]} is already complete; nothing to do')
                return 0
            saved = {**OLD_DATA_DEFAULTS, **state['data']}['speaker_features']
            data = load_training_data(args.data, args.layout, mirror_pairs(args.data, args.mirror),
                                      args.workers, args.speaker_features or saved, store)
            trainer = Trainer.resume(args.out, data, command, device, **common)
        else:
            options = options_from_arguments(args)
            if args.out.exists() and not args.overwrite:
                raise checkpoint.CheckpointConflict(
                    f'{args.out} exists and holds {checkpoint.describe_existing(args.out)}; '
                    f'not replacing it. Use --resume to continue that run, --overwrite to '
                    f'replace it, or another --out path')
            data = load_training_data(args.data, args.layout, mirror_pairs(args.data, args.mirror),
                                      args.workers, args.speaker_features or 'auto', store)
            trainer = Trainer.fresh(args.out, data, options, command, args.init, device,
                                    **common)
        trainer.run()
        distributed.close()
    except (ValueError, FileNotFoundError, checkpoint.CheckpointConflict) as error:
        print(f'react-ros train: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'\nreact-ros train: interrupted; {args.out} holds the last finished epoch, '
              f'continue with --resume', file=sys.stderr)
        return 130
    if not distributed.is_main:
        return 0
    provenance = trainer.provenance()
    print(f'{args.out}: stages {", ".join(provenance["stages_trained"])} trained in '
          f'{provenance["training_seconds"]:.0f} s on speaker features from '
          f'{data.train.speaker_features}; loss curves {trainer.plot_path}')
    return 0
