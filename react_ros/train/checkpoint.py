"""
Training checkpoints: a model checkpoint (ReactionGenerator's format) plus the training state.

The file written after every epoch is a complete react_ros.reaction_model checkpoint, so it
loads with ReactionGenerator.from_checkpoint at any time; its extra 'training' entry holds
what resuming needs (run id, options, stage and epoch reached, optimizer state, loss history).
Once the run is complete the optimizer state is dropped, which keeps the file small.

Writes are atomic: a temporary file in the same folder, then a rename over the target. A file
that is not this run's is never replaced unless the user asked for it (--overwrite).
"""

import io
import os
from pathlib import Path
import tempfile

import torch

TRAINING_KEY = 'training'


class CheckpointConflict(RuntimeError):
    """The output path holds something this run must not replace."""


def read_training_state(path) -> dict | None:
    """Return the training state of a checkpoint file, or None when it has none."""
    payload = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(payload, dict):
        return None
    return payload.get(TRAINING_KEY)


def describe_existing(path: Path) -> str:
    """Return a short description of what a file that is in the way holds."""
    try:
        state = read_training_state(path)
    except Exception as error:  # any unreadable file is simply not a checkpoint
        return f'not a react_ros training checkpoint ({type(error).__name__})'
    if state is None:
        return 'a model checkpoint without training state'
    progress = 'complete' if state.get('complete') else (
        f'stopped after epoch {state.get("epoch")} of stage '
        f'{state["options"]["stages"][state["stage_index"]]}')
    return f'the checkpoint of training run {state.get("run_id")} ({progress})'


def check_may_write(path: Path, run_id: str, overwrite: bool) -> None:
    """
    Raise CheckpointConflict unless path is free, this run's own file, or may be overwritten.

    overwrite: the user allowed replacing a file of another run (or any file) at this path.
    """
    if not path.exists() or overwrite:
        return
    try:
        state = read_training_state(path)
    except Exception:  # an unreadable file is not this run's
        state = None
    if state is not None and state.get('run_id') == run_id:
        return
    raise CheckpointConflict(
        f'{path} exists and holds {describe_existing(path)}; not replacing it. Use --resume '
        f'to continue that run, --overwrite to replace it, or another --out path')


def write_atomically(path: Path, write) -> None:
    """Call write(temporary_path) for a file in path's folder, then rename it over path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp',
                                         dir=path.parent)
    os.close(handle)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def save_training_checkpoint(path: Path, generator, provenance: dict, state: dict) -> None:
    """Write the generator's checkpoint with the training state added, atomically."""
    buffer = io.BytesIO()
    generator.save_checkpoint(buffer, provenance)
    buffer.seek(0)
    payload = torch.load(buffer, map_location='cpu', weights_only=True)
    payload[TRAINING_KEY] = state
    write_atomically(path, lambda temporary: torch.save(payload, temporary))
