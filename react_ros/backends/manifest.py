"""
The manifest of an exported model folder (engines/NAME/manifest.json), read and checked.

A folder is usable when its manifest names all four graphs, each ONNX file's sha256 matches
the manifest, and (when the caller has one) the checkpoint's sha256 matches too: a stale
export is refused with a message saying how to refresh it, never run.
"""

import hashlib
import json
from pathlib import Path

from react_ros.backends.graphs import GRAPH_NAMES
from react_ros.model.config import ReactionModelConfig

MANIFEST_FILE = 'manifest.json'
# Version 2: attention graphs return the newest frame's keys and values, not the whole ring.
FORMAT_VERSION = 2
MAX_BATCH = 16  # the largest k the exported graphs and TensorRT profiles are built for


class StaleExportError(ValueError):
    """An export folder that does not match its files or the checkpoint it should serve."""


def file_sha256(path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """An export folder's description: graphs, shapes, hashes, config."""

    def __init__(self, data: dict, folder: Path = None):
        self.data = data
        self.folder = folder

    @classmethod
    def load(cls, folder) -> 'Manifest':
        """Read folder/manifest.json; raise StaleExportError when it is missing or malformed."""
        folder = Path(folder)
        path = folder / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise StaleExportError(f'{folder} has no {MANIFEST_FILE}: export a checkpoint there '
                                   f'with `react-ros export --ckpt CKPT --out {folder}`') from None
        except json.JSONDecodeError as error:
            raise StaleExportError(f'{path} is not valid JSON: {error}') from None
        if data.get('format') != 'react_ros.onnx_export':
            raise StaleExportError(f'{path} is not a react_ros export manifest')
        if data.get('format_version') != FORMAT_VERSION:
            raise StaleExportError(
                f'{folder} holds export format {data.get("format_version")}; this react_ros '
                f'runs format {FORMAT_VERSION}: export again with `react-ros export --ckpt CKPT '
                f'--out {folder} --force`')
        missing = [name for name in GRAPH_NAMES if name not in data.get('graphs', {})]
        if missing:
            raise StaleExportError(f'{path} lacks the graphs {missing}')
        return cls(data, folder)

    @property
    def checkpoint(self) -> str:
        """Return the path the checkpoint was exported from."""
        return self.data['checkpoint']

    @property
    def checkpoint_sha256(self) -> str:
        """Return the sha256 of the exported checkpoint."""
        return self.data['checkpoint_sha256']

    @property
    def config(self) -> ReactionModelConfig:
        """Return the model config the graphs were built with."""
        return ReactionModelConfig.from_dict(self.data['config'])

    @property
    def sampling_steps(self) -> int:
        """Return the DDIM steps unrolled in denoiser_sample."""
        return self.data['sampling_steps']

    def graph(self, name: str) -> dict:
        """Return a graph's entry: file, sha256, inputs, outputs, state_shape."""
        return self.data['graphs'][name]

    def graph_path(self, name: str) -> Path:
        """Return the ONNX file of a graph."""
        return self.folder / self.graph(name)['file']

    def verify(self, checkpoint_sha256: str = None) -> None:
        """
        Raise StaleExportError unless every graph file matches its hash (and the checkpoint's).

        checkpoint_sha256: the hash of the checkpoint this export should serve, if known.
        """
        if checkpoint_sha256 is not None and checkpoint_sha256 != self.checkpoint_sha256:
            raise StaleExportError(
                f'{self.folder} was exported from another checkpoint ({self.checkpoint}); '
                f'refresh it with `react-ros export --ckpt CKPT --out {self.folder} --force`')
        for name in GRAPH_NAMES:
            path = self.graph_path(name)
            if not path.exists():
                raise StaleExportError(f'{path} is missing; export again into {self.folder}')
            if file_sha256(path) != self.graph(name)['sha256']:
                raise StaleExportError(f'{path} does not match its manifest hash (changed after '
                                       f'export); export again into {self.folder}')
