"""
ONNX Runtime runner of the exported step graphs.

CPU always; the CUDA or TensorRT execution providers when the installed onnxruntime build
has them and a GPU may be used.
"""

from react_ros.backends.graph_stream import GraphRunner
from react_ros.backends.graphs import GRAPH_NAMES
from react_ros.backends.manifest import Manifest
import torch

# Preferred first; only those the installed onnxruntime build has are used.
GPU_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')


def session_providers(available: list, use_gpu: bool) -> list:
    """Return the execution providers to ask for, CPU always last."""
    chosen = [name for name in GPU_PROVIDERS if use_gpu and name in available]
    return chosen + ['CPUExecutionProvider']


class OnnxRuntimeRunner(GraphRunner):
    """
    One InferenceSession per graph.

    threads: intra-op threads per session. The graphs are tiny: one thread avoids waiting
    for a busy second core (see benchmarks/README.md).
    """

    def __init__(self, manifest: Manifest, threads: int = 1, use_gpu: bool = True):
        import onnxruntime

        super().__init__({name: manifest.graph(name) for name in GRAPH_NAMES})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: not the per-node placement notes
        self.providers = session_providers(onnxruntime.get_available_providers(), use_gpu)
        self._sessions = {}
        self._input_names = {}
        for name in GRAPH_NAMES:
            path = manifest.graph_path(name)
            try:
                session = onnxruntime.InferenceSession(str(path), options,
                                                       providers=self.providers)
            except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf...)
                raise RuntimeError(f'{path}: ONNX Runtime cannot load this graph '
                                   f'({type(error).__name__}: {error})') from error
            self._sessions[name] = session
            self._input_names[name] = [value.name for value in session.get_inputs()]

    def run(self, name: str, inputs: list) -> list:
        """Run graph `name` on CPU tensors; return CPU tensors."""
        feeds = dict(zip(self._input_names[name], (value.numpy() for value in inputs)))
        return [torch.from_numpy(value) for value in self._sessions[name].run(None, feeds)]
