"""
Which inference backend runs: PyTorch, ONNX Runtime or TensorRT, and why.

`choose_backend(requested, Availability.probe())` resolves 'auto' (TensorRT when it imports
and a CUDA GPU is present, else ONNX Runtime, else PyTorch) or checks an explicit backend,
raising BackendUnavailable naming what is missing. Imports nothing heavy until probing.
"""

from dataclasses import dataclass
import importlib

BACKENDS = ('auto', 'tensorrt', 'onnxruntime', 'torch')


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class Availability:
    """What this machine offers the backends."""

    tensorrt: bool
    cuda: bool
    onnxruntime: bool

    @classmethod
    def probe(cls) -> 'Availability':
        """Try the imports and look for a GPU."""
        cuda = _imports('torch') and importlib.import_module('torch').cuda.is_available()
        return cls(tensorrt=_imports('tensorrt'), cuda=cuda, onnxruntime=_imports('onnxruntime'))


def _imports(module: str) -> bool:
    """
    Return whether a module imports, not merely whether it is installed.

    pip's tensorrt bindings install without the libraries they load (and then fail to import
    with an OSError), so finding the package is not enough.
    """
    try:
        importlib.import_module(module)
    except Exception:  # any failure to import means: not available
        return False
    return True


@dataclass(frozen=True)
class BackendChoice:
    """The backend that will run, and why (for the log)."""

    name: str
    reason: str


def choose_backend(requested: str, available: Availability) -> BackendChoice:
    """Resolve 'auto' or check an explicit backend against what is available."""
    if requested not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {requested!r}')
    missing = {
        'tensorrt': [what for what, present in (('the tensorrt Python package', available
                                                 .tensorrt), ('a CUDA GPU', available.cuda))
                     if not present],
        'onnxruntime': [] if available.onnxruntime else ['the onnxruntime Python package'],
        'torch': [],
    }
    if requested != 'auto':
        if missing[requested]:
            raise BackendUnavailable(f'backend {requested!r} is not available: missing '
                                     + ' and '.join(missing[requested]))
        return BackendChoice(requested, 'requested')
    if not missing['tensorrt']:
        return BackendChoice('tensorrt', 'auto: TensorRT imports and a CUDA GPU is present')
    why_not = ' and '.join(missing['tensorrt'])
    if not missing['onnxruntime']:
        return BackendChoice('onnxruntime', f'auto: no TensorRT ({why_not} missing)')
    return BackendChoice('torch', f'auto: no TensorRT ({why_not} missing), no onnxruntime')
