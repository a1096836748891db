"""
The step graphs run as torch modules on the CPU or a GPU, optionally replayed as CUDA graphs.

A frame of the online stream launches hundreds of small kernels; on a GPU their launch time,
not the arithmetic, sets the step's latency. CUDA graphs record a step's kernels once and
replay them with one launch (torch.cuda.CUDAGraph; the PyTorch guide "CUDA Graphs"). That
needs static shapes and tensors that stay put: the four step graphs of
react_ros.backends.graphs have both (k fixed per runner, explicit states). Each graph is
captured with example inputs; `run` copies the new inputs into the captured ones and replays.
The ring states are the captured state inputs themselves (`empty_state` hands them out), so a
stream writes its ring slots straight into them and nothing is copied for the state.

benchmarks/gpu_check.sh measures it against the plain torch stream; docs/backends.md has the
figures (no GPU was lent while this was written: the capture path is untested here).
"""

from react_ros.backends.export import graph_signature
from react_ros.backends.graph_stream import GraphRunner
from react_ros.backends.graphs import build_graphs, GRAPH_NAMES
import torch

WARMUP_RUNS = 3  # before capture, on a side stream (lazy CUDA initialisation, autotuning)


class TorchGraphRunner(GraphRunner):
    """
    The step graphs of a network for k samples as torch modules on `device`.

    The network is moved to device. With cuda_graphs the runner serves one stream at a time
    (the captured states are that stream's).
    """

    def __init__(self, network, config, k: int, device='cpu', cuda_graphs: bool = False):
        self.device = torch.device(device)
        self.k = k
        self._graphs = build_graphs(network.to(self.device).eval(), config,
                                    config.sampling_steps)
        super().__init__({name: {'state_shape': list(graph.state_shape(1))}
                          for name, graph in self._graphs.items()})
        if cuda_graphs and self.device.type != 'cuda':
            raise ValueError(f'CUDA graphs need a CUDA device, not {self.device}')
        self._captured = {}  # name -> (CUDAGraph, static inputs, static outputs)
        if cuda_graphs:
            for name in GRAPH_NAMES:
                self._captured[name] = self._capture(name, config)

    def _capture(self, name: str, config) -> tuple:
        graph = self._graphs[name]
        batch = 1 if name == 'encoder_step' else self.k
        inputs = [value.to(self.device) for value in
                  graph_signature(graph, name, config, batch).example]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                graph(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(cuda_graph):
            outputs = graph(*inputs)
        return cuda_graph, inputs, list(outputs)

    def empty_state(self, name: str, batch: int) -> torch.Tensor:
        """Return the zero state of a graph: a captured graph's own state input, zeroed."""
        if name not in self._captured:
            return super().empty_state(name, batch)
        state = self._captured[name][1][-1]
        if state.shape[0] != batch:
            raise ValueError(f'{name} was captured for {state.shape[0]} samples, not {batch}')
        return state.zero_()

    def run(self, name: str, inputs: list) -> list:
        """Run graph `name` on tensors on this runner's device; return its outputs."""
        if name not in self._captured:
            with torch.inference_mode():
                return list(self._graphs[name](*inputs))
        cuda_graph, static_inputs, static_outputs = self._captured[name]
        for target, value in zip(static_inputs, inputs):
            if target.data_ptr() != value.data_ptr():  # the ring state is already in place
                target.copy_(value)
        cuda_graph.replay()
        # Clones: the next replay overwrites the outputs the stream may still hold.
        return [value.clone() for value in static_outputs]
