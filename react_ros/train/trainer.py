"""
The training loop of the reaction model: tokenizer, then predictor, then diffusion.

`Trainer.run()` (built by Trainer.fresh or Trainer.resume) runs the stages of TrainOptions in
order, one AdamW optimizer per stage (warm-up, then cosine decay of the learning rate), and
after every epoch validates, writes the checkpoint (atomically, with the training state) and
redraws the loss curves. Each stage trains its own modules and freezes the rest: tokenizer ->
the FSQ tokenizer; predictor -> speaker encoder and token predictor; diffusion -> the latent
denoiser.

Reproducibility: the networks start from `seed`; every epoch draws its window order, face
dropout and diffusion noise from a torch.Generator seeded by (seed, stage, epoch), and the
learning rate is a function of the step. So an interrupted run resumed from its last
checkpoint (weights, optimizer state, stage, epoch) ends with the same weights as an
uninterrupted one; no global random state is involved.

Several processes (torchrun; react_ros.train.distributed): batch_size is the global batch.
Every process draws the same window order and splits each global batch into equal contiguous
shares (the last batch of an epoch loses its remainder, at most world_size - 1 windows);
face dropout is drawn for the global batch and sliced, and DistributedDataParallel averages
the gradients. With neither history-token noise nor predictor dropout, the predictor stage
of N processes therefore gives the weights of one process to float tolerance (a test checks
it). Diffusion noise, token noise and dropout are drawn per process and the tokenizer's
latent-scale penalty is a statistic of each share, so runs with N processes are reproducible
for the same N, not equal to one process. Rank 0 alone validates and writes files.
"""

from dataclasses import dataclass
import datetime
import logging
import math
from pathlib import Path
import platform
import time
import uuid

import numpy as np
from react_ros import spec
from react_ros.data.dataset import load_dataset
from react_ros.eval.metrics import evaluate
from react_ros.model.config import ReactionModelConfig
from react_ros.model.generator import ReactionGenerator
from react_ros.train import checkpoint, losses, normalisation, plot
from react_ros.train.distributed import Distributed
from react_ros.train.options import OLD_DATA_DEFAULTS, STAGES, TrainOptions
from react_ros.train.predict import generate_reactions
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, default_collate, Subset
from tqdm import tqdm

LOGGER = logging.getLogger(__name__)

# The modules each stage trains; the others are frozen.
STAGE_MODULES = {'tokenizer': ('tokenizer',), 'predictor': ('encoder', 'predictor'),
                 'diffusion': ('denoiser',)}
# The stages whose modules a stage builds on.
STAGE_NEEDS = {'tokenizer': (), 'predictor': ('tokenizer',),
               'diffusion': ('tokenizer', 'predictor')}
# Config fields that only change sampling: they may be set on top of an --init checkpoint.
SAMPLING_FIELDS = ('temperature', 'top_k', 'sampling_steps')
VALIDATION_METRICS = ('FRCorr', 'FRDist', 'FRDiv')
# What must match for --resume to continue on the same data (the root may have moved).
RESUME_DATA_KEYS = ('layout', 'fps', 'mirror', 'train_pairs', 'train_frames',
                    'speaker_features')
FINAL_LEARNING_RATE_FRACTION = 0.1


@dataclass
class TrainingData:
    """The splits a run trains and validates on."""

    root: Path
    train: object  # ReactDataset
    val: object = None  # ReactDataset, or None without a usable val split
    mirror: bool = False

    def describe(self) -> dict:
        """Return what the provenance records about the data."""
        def frames(dataset):
            return 0 if dataset is None else int(sum(pair.length for pair in dataset.pairs))
        return {'root': str(Path(self.root).resolve()), 'layout': self.train.layout,
                'fps': self.train.fps, 'mirror': self.mirror,
                'speaker_features': self.train.speaker_features,
                'train_pairs': len(self.train.pairs), 'train_frames': frames(self.train),
                'val_pairs': 0 if self.val is None else len(self.val.pairs),
                'val_frames': frames(self.val), 'skipped_files': len(self.train.skipped)}


def load_training_data(root, layout: str = 'auto', mirror: bool = False, workers: int = 0,
                       speaker_features: str = 'annotations', store=None) -> TrainingData:
    """
    Load the train split (and the val split when there is one) at the model's frame rate.

    speaker_features: 'annotations', 'extracted' or 'auto' (react_ros.data.dataset); the val
    split uses the source the train split ended up with, so both see the same features.
    store: a folder the clips' arrays are kept in and read from per window
    (react_ros.data.clip_store), so memory does not grow with the dataset; None: in memory.
    """
    train = load_dataset(root, 'train', layout, mirror=mirror, fps=spec.FPS, workers=workers,
                         speaker_features=speaker_features, store=store)
    if not train.pairs:
        raise ValueError(f'{root}: the train split has no usable clip pairs '
                         f'({len(train.skipped)} file(s) skipped)')
    LOGGER.info('speaker features of the run: %s', train.speaker_features)
    try:
        val = load_dataset(root, 'val', train.layout, mirror=mirror, fps=spec.FPS,
                           workers=workers, speaker_features=train.speaker_features,
                           store=store)
    except FileNotFoundError as error:
        LOGGER.warning('no val split, training without validation: %s', error)
        val = None
    if val is not None and not val.pairs:
        LOGGER.warning('the val split has no usable clip pairs; training without validation')
        val = None
    return TrainingData(Path(root), train, val, mirror)


def _epoch_generator(seed: int, stage: str, epoch: int) -> torch.Generator:
    """Return the random stream of one epoch of one stage."""
    state = np.random.SeedSequence([seed, STAGES.index(stage), epoch]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _batches(windows, batch_size: int, generator: torch.Generator = None):
    """Yield collated batches of windows, shuffled by generator (in order without one)."""
    for indices in _global_batches(len(windows), batch_size, generator):
        yield default_collate([windows[index] for index in indices])


def _global_batches(count: int, batch_size: int, generator: torch.Generator = None,
                    distributed: Distributed = Distributed()) -> list:
    """Return the window indices of each global batch, shuffled by generator."""
    order = (torch.randperm(count, generator=generator) if generator is not None
             else torch.arange(count)).tolist()
    batches = [distributed.trim(order[start:start + batch_size])
               for start in range(0, count, batch_size)]
    return [batch for batch in batches if batch]


def _prepare(batch: dict, generator: torch.Generator, face_dropout: float,
             device: torch.device, share: tuple = None, persona_dim: int = 0) -> dict:
    """
    Add speaker_present (B, T): valid frames with a speaker face, except a random span.

    The frames without a face are those extracted perception found none in (all present for
    annotations); the span in some windows teaches the encoder its "no face" embedding, which
    live perception needs whenever it loses the speaker's face. With a persona, also add
    persona_noise (B, persona_dim), the posterior draw's standard normal noise. share: (global
    batch size, slice) when the batch is this process's share of a global batch: spans and
    noise are drawn for the global batch, so every process draws the same and takes its own.
    """
    valid = batch['valid']  # (B, T)
    count, frames = valid.shape
    total, part = share if share is not None else (count, slice(None))
    dropped = (torch.rand(total, generator=generator) < face_dropout)[part]
    starts = torch.randint(0, frames, (total,), generator=generator)[part]
    lengths = torch.randint(1, frames + 1, (total,), generator=generator)[part]
    position = torch.arange(frames)
    absent = (dropped[:, None] & (position >= starts[:, None])
              & (position < (starts + lengths)[:, None]))
    prepared = {name: batch[name].to(device) for name in (
        'speaker_audio', 'speaker_visual', 'listener', 'listener_mask', 'listener_clip_mean',
        'valid')}
    prepared['speaker_present'] = (valid & batch['speaker_present'] & ~absent).to(device)
    if persona_dim:
        prepared['persona_noise'] = torch.randn(total, persona_dim,
                                                generator=generator)[part].to(device)
    return prepared


def _learning_rate(options: TrainOptions, step: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay to FINAL_LEARNING_RATE_FRACTION of the peak."""
    warmup = min(options.warmup_steps, total_steps // 5)
    if step < warmup:
        return options.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return options.learning_rate * (FINAL_LEARNING_RATE_FRACTION
                                    + (1 - FINAL_LEARNING_RATE_FRACTION) * cosine)


class _StageLoss(torch.nn.Module):
    """The loss of one stage as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, stage: str, network, config: ReactionModelConfig):
        super().__init__()
        self.stage = stage
        self.network = network
        self.diffusion_loss = losses.DiffusionLoss(config) if stage == 'diffusion' else None

    def forward(self, batch: dict, generator: torch.Generator, token_noise: float = 0.0) -> dict:
        """
        Return the stage's loss terms of a batch: 'loss' (and 'accuracy' for tokens).

        token_noise: the share of the predictor's history tokens to corrupt (training only).
        """
        if self.stage == 'tokenizer':
            return {'loss': losses.tokenizer_loss(self.network, batch)}
        if self.stage == 'predictor':
            return losses.predictor_loss(self.network, batch, generator, token_noise)
        return {'loss': self.diffusion_loss(self.network, batch, generator)}


class StageRunner:
    """Losses, frozen modules and the optimizer of one stage; `train_step` is one update."""

    def __init__(self, stage: str, network, config: ReactionModelConfig,
                 options: TrainOptions, distributed: Distributed = Distributed()):
        self.stage = stage
        self.options = options
        trained = STAGE_MODULES[stage]
        for name, module in network.named_children():
            module.requires_grad_(name in trained)
        self.parameters = [parameter for name in trained
                           for parameter in getattr(network, name).parameters()]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=options.learning_rate,
                                           weight_decay=options.weight_decay)
        self.loss = _StageLoss(stage, network, config)  # validation: no gradients to share
        self.train_loss = self.loss
        if distributed.active:
            # Built after the freezing above: DDP averages the gradients of the trained
            # modules only.
            device = next(network.parameters()).device
            self.train_loss = DistributedDataParallel(
                self.loss, device_ids=[device] if device.type == 'cuda' else None)
        self.device_type = next(network.parameters()).device.type

    def train_step(self, batch: dict, generator: torch.Generator,
                   learning_rate: float) -> dict:
        """Update the stage's modules on a prepared batch; return the loss terms as floats."""
        options = self.options
        for group in self.optimizer.param_groups:
            group['lr'] = learning_rate
        with torch.autocast(self.device_type, dtype=torch.bfloat16,
                            enabled=options.precision == 'bf16'):
            terms = self.train_loss(batch, generator, options.token_noise)
        self.optimizer.zero_grad(set_to_none=True)
        terms['loss'].backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, options.grad_clip)
        self.optimizer.step()
        return {name: float(value.detach()) for name, value in terms.items()}


def _evenly_spaced(count: int, wanted: int) -> list:
    """Return up to `wanted` indices spread evenly over range(count)."""
    if wanted >= count:
        return list(range(count))
    return [int(index) for index in np.linspace(0, count - 1, wanted).round()]


def validation_metrics(generator: ReactionGenerator, dataset, options: TrainOptions) -> dict:
    """Return FRCorr, FRDist, FRDiv of val_k offline reactions to a few val inputs."""
    indices = _evenly_spaced(len(dataset.pairs), options.val_inputs)
    # One length for all (the shortest val input's, at most val_frames): cheap and comparable
    # from epoch to epoch; react-ros eval scores whole inputs.
    frames = min([options.val_frames] + [pair.length for pair in dataset.pairs])
    reactions = generate_reactions(generator, dataset, indices, frames, options.val_k,
                                   options.seed, online=False)
    speakers = [dataset.pairs[index].speaker_attributes[:frames] for index in indices]
    appropriate = [dataset.appropriate(index).attributes[:, :frames] for index in indices]
    scores = evaluate([samples[..., :spec.NUM_ATTRIBUTES] for samples in reactions],
                      appropriate, speakers, fps=dataset.fps)
    return {name: float(scores[name]) for name in VALIDATION_METRICS}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


class Trainer:
    """One training run: fresh, from an --init checkpoint, or resumed from its own file."""

    def __init__(self, out: Path, data: TrainingData, generator: ReactionGenerator,
                 state: dict, overwrite: bool = False, plot_path: Path = None,
                 progress: bool = True, distributed: Distributed = Distributed(),
                 workers: int = 0):
        """
        Hold a run.

        distributed: this process's place among torchrun's (one process by default);
        workers: DataLoader processes that read the training windows.
        """
        self.out = Path(out)
        self.data = data
        self.generator = generator
        self.network = generator.network
        self.config = generator.config
        self.device = generator.device
        self.state = state
        state['run_id'] = distributed.broadcast(state['run_id'])  # fresh runs draw one per process
        before = state.get('processes', 1)
        if before != distributed.world_size and (state['epoch'] or state['stage_index']):
            LOGGER.warning('%s was trained with %d process(es) so far, now %d: the result will '
                           'differ from a run with one count throughout', out, before,
                           distributed.world_size)
        state['processes'] = distributed.world_size
        self.options = TrainOptions.from_dict(state['options'])
        self.overwrite = overwrite
        self.plot_path = plot_path or self.out.with_name(f'{self.out.stem}_losses.png')
        self.progress = progress and distributed.is_main
        self.distributed = distributed
        self.workers = workers
        self.train_windows = data.train.windows(self.options.window, self.options.window // 2,
                                                pad_short=True)
        state['train_windows'] = len(self.train_windows)  # per epoch, for throughput
        self.val_windows = None
        if data.val is not None:
            windows = data.val.windows(self.options.window, pad_short=True)
            self.val_windows = Subset(windows, _evenly_spaced(len(windows),
                                                              self.options.val_windows))

    # ---- construction

    @classmethod
    def fresh(cls, out: Path, data: TrainingData, options: TrainOptions, command: str,
              init: Path = None, device: str = 'cpu', **kwargs) -> 'Trainer':
        """Start a new run: networks from the seed (or --init), statistics from the data."""
        if init is None:
            config = ReactionModelConfig.from_dict(
                {**ReactionModelConfig().to_dict(), **options.model})
            generator = ReactionGenerator(
                ReactionGenerator.untrained(config, seed=options.seed).network, config,
                device=device)
            base_stages, init_record = [], None
            stats = normalisation.compute_normalisation(data.train)
            normalisation.apply_normalisation(generator.network, stats)
            stats_source = f'train split of {data.describe()["root"]}'
        else:
            generator = ReactionGenerator.from_checkpoint(init, device=device)
            not_sampling = sorted(set(options.model) - set(SAMPLING_FIELDS))
            if not_sampling:
                raise ValueError(f'with --init only the sampling fields {SAMPLING_FIELDS} of '
                                 f'the model config may change, not {not_sampling}')
            if options.model:
                generator.config = ReactionModelConfig.from_dict(
                    {**generator.config.to_dict(), **options.model})
            base_stages = list(generator.provenance.get('stages_trained', []))
            init_record = {'path': str(Path(init).resolve()),
                           'run_id': generator.provenance.get('run_id')}
            stats_source = f'from the init checkpoint {init}'
        missing = sorted({need for stage in options.stages for need in STAGE_NEEDS[stage]
                          if need not in options.stages and need not in base_stages})
        if missing:
            where = f'{init} (trained: {base_stages or "nothing"})' if init else 'no --init'
            raise ValueError(f'stage(s) {", ".join(options.stages)} need a trained '
                             f'{", ".join(missing)}, and this run has {where}: train it '
                             f'first, or give --init with a checkpoint that has it')
        state = {
            'run_id': uuid.uuid4().hex, 'options': options.to_dict(), 'stage_index': 0,
            'epoch': 0, 'optimizer': None, 'history': {}, 'complete': False,
            'started': _now(), 'finished': None, 'seconds': 0.0, 'commands': [command],
            'data': data.describe(), 'init': init_record, 'base_stages': base_stages,
            'normalisation_source': stats_source,
        }
        return cls(out, data, generator, state, **kwargs)

    @classmethod
    def resume(cls, out: Path, data: TrainingData, command: str, device: str = 'cpu',
               **kwargs) -> 'Trainer':
        """Continue the run saved in out from its last completed epoch."""
        state = checkpoint.read_training_state(out)
        if state is None:
            raise ValueError(f'{out} holds no training state to resume')
        described = data.describe()
        then = {**OLD_DATA_DEFAULTS, **state['data']}
        changed = [key for key in RESUME_DATA_KEYS if then[key] != described[key]]
        if changed:
            raise ValueError(f'{out} was trained on other data than {data.root}: '
                             + ', '.join(f'{key} {then[key]} then, {described[key]} now'
                                         for key in changed))
        generator = ReactionGenerator.from_checkpoint(out, device=device)
        state = dict(state, commands=list(state['commands']) + [command], data=described)
        return cls(out, data, generator, state, **kwargs)

    # ---- running

    def provenance(self) -> dict:
        """Return the checkpoint's provenance: command, seed, data, time and results."""
        state, options = self.state, self.options
        done = list(options.stages[:state['stage_index']])
        history = state['history']
        final = {stage: history[stage][-1] for stage in options.stages if history.get(stage)}
        metrics = [record['metrics'] for stage in options.stages
                   for record in history.get(stage, []) if record.get('metrics')]
        return {
            'trained_by': 'react_ros.train', 'run_id': state['run_id'],
            'command': state['commands'][0], 'resumed_with': state['commands'][1:],
            'seed': options.seed, 'data': state['data'],
            'normalisation': state['normalisation_source'],
            'init': state['init'],
            'stages_trained': list(dict.fromkeys(state['base_stages'] + done)),
            'complete': state['complete'], 'started': state['started'],
            'finished': state['finished'], 'training_seconds': round(state['seconds'], 1),
            'options': options.to_dict(), 'final_epoch': final,
            'val_metrics': metrics[-1] if metrics else None,
            'torch': torch.__version__, 'python': platform.python_version(),
            'torch_threads': options.threads or torch.get_num_threads(),
            'processes': state['processes'], 'train_windows': state['train_windows'],
        }

    def run(self, epoch_callback=None) -> None:
        """
        Train the remaining epochs of every stage.

        epoch_callback(stage, epoch), if given, runs after each epoch's checkpoint is written.
        """
        if self.state['complete']:
            LOGGER.info('%s: the run is already complete', self.out)
            return
        checkpoint.check_may_write(self.out, self.state['run_id'], self.overwrite)
        threads = torch.get_num_threads()
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        try:
            self._run_stages(epoch_callback)
        finally:
            torch.set_num_threads(threads)

    def _run_stages(self, epoch_callback) -> None:
        options = self.options
        while self.state['stage_index'] < len(options.stages):
            stage = options.stages[self.state['stage_index']]
            runner = StageRunner(stage, self.network, self.config, options, self.distributed)
            if self.state['optimizer'] is not None:
                runner.optimizer.load_state_dict(self.state['optimizer'])
            epochs = options.epochs_of(stage)
            for epoch in range(self.state['epoch'], epochs):
                start = time.perf_counter()
                record = self._train_epoch(runner, epoch, epochs)
                record.update(self._validate(runner))
                record['seconds'] = round(time.perf_counter() - start, 2)
                self._finish_epoch(runner, stage, epoch, epochs, record)
                if epoch_callback is not None:
                    epoch_callback(stage, epoch)

    def _persona_dim(self, stage: str) -> int:
        """Return the persona noise a stage's batches need: the stages whose networks see it."""
        config = self.generator.config
        sees = stage == 'predictor' or (stage == 'diffusion' and config.denoiser_sees_persona)
        return config.persona_dim if sees else 0

    def _train_epoch(self, runner: StageRunner, epoch: int, epochs: int) -> dict:
        options = self.options
        distributed = self.distributed
        generator = _epoch_generator(options.seed, runner.stage, epoch)
        # nn.Dropout draws from torch's global streams: seed them per epoch (and process) too,
        # so a resumed run drops the same units as an uninterrupted one.
        torch.manual_seed(int(torch.randint(2 ** 62, (1,), generator=generator))
                          + distributed.rank)
        steps_per_epoch = math.ceil(len(self.train_windows) / options.batch_size)
        total_steps = steps_per_epoch * epochs
        batches = _global_batches(len(self.train_windows), options.batch_size, generator,
                                  distributed)
        shares = [batch[distributed.shard(batch)] for batch in batches]
        loader = DataLoader(self.train_windows, batch_sampler=shares, num_workers=self.workers,
                            collate_fn=default_collate)
        self.network.train()
        sums, count = {}, 0
        bar = tqdm(loader, total=len(shares), desc=f'{runner.stage} {epoch + 1}/{epochs}',
                   disable=not self.progress, leave=False, unit='batch')
        for step, (batch, indices) in enumerate(zip(bar, batches), start=epoch * steps_per_epoch):
            batch = _prepare(batch, generator, options.face_dropout, self.device,
                             share=(len(indices), distributed.shard(indices)),
                             persona_dim=self._persona_dim(runner.stage))
            values = runner.train_step(batch, generator,
                                       _learning_rate(options, step, total_steps))
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
            count += 1
            bar.set_postfix(loss=f'{values["loss"]:.4f}')
        means = distributed.mean({name: value / count for name, value in sums.items()})
        return {'epoch': epoch + 1, **{f'train_{name}': value for name, value in means.items()}}

    def _validate(self, runner: StageRunner) -> dict:
        """Return the val loss terms and, in the diffusion stage, the val metrics (rank 0)."""
        if self.val_windows is None or not self.distributed.is_main:
            return {}
        options = self.options
        self.network.eval()
        generator = torch.Generator().manual_seed(options.seed)  # the same draws every epoch
        sums, count = {}, 0
        with torch.no_grad():
            for batch in _batches(self.val_windows, options.batch_size):
                batch = _prepare(batch, generator, 0.0, self.device,
                                 persona_dim=self._persona_dim(runner.stage))
                for name, value in runner.loss(batch, generator).items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                count += 1
        record = {f'val_{name}': value / count for name, value in sums.items()}
        if runner.stage == 'diffusion' and options.val_inputs > 0:
            record['metrics'] = validation_metrics(self.generator, self.data.val, options)
        return record

    def _finish_epoch(self, runner: StageRunner, stage: str, epoch: int, epochs: int,
                      record: dict) -> None:
        """Record the epoch, move the run on, write the checkpoint and the curves."""
        state = self.state
        state['history'].setdefault(stage, []).append(record)
        state['seconds'] += record['seconds']
        if epoch + 1 < epochs:
            state['epoch'] = epoch + 1
            state['optimizer'] = runner.optimizer.state_dict()
        else:
            state['stage_index'] += 1
            state['epoch'] = 0
            state['optimizer'] = None
        if state['stage_index'] == len(self.options.stages):
            state['complete'] = True
            state['finished'] = _now()
        overwrite, self.overwrite = self.overwrite, False  # then the file is this run's own
        if not self.distributed.is_main:
            self.distributed.barrier()  # rank 0 writes the files
            return
        checkpoint.check_may_write(self.out, state['run_id'], overwrite)
        checkpoint.save_training_checkpoint(self.out, self.generator, self.provenance(), state)
        plot.write_loss_curves(self.plot_path, state['history'], self.options.stages)
        self.distributed.barrier()
        summary = ', '.join(f'{name} {value:.4g}' for name, value in record.items()
                            if isinstance(value, float) and name != 'seconds')
        metrics = record.get('metrics')
        if metrics:
            summary += ', ' + ', '.join(f'{name} {value:.4g}' for name, value in metrics.items())
        LOGGER.info('%s epoch %d/%d: %s (%.1f s)', stage, epoch + 1, epochs, summary,
                    record['seconds'])
