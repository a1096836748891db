"""
TensorRT 10 engines of the exported step graphs: build (cached), load, run.

Written against the TensorRT 10 Python API (tensorrt.Builder / OnnxParser /
IProgressMonitor, named I/O tensors with set_tensor_address and execute_async_v3). NOT RUN
on hardware by this project yet: the project machines cannot install TensorRT (docs/backends.md
says which paths were run where). The cache logic it relies on (react_ros.backends
.engine_cache) is unit-tested. Device buffers are torch CUDA tensors, so no other CUDA
binding is needed; states stay on the GPU between steps.
"""

import time

from react_ros.backends.engine_cache import (
    cache_decision, DEFAULT_OPT_BATCH, engine_key, GpuIdentity, plan_paths, profile_shapes,
    write_key)
from react_ros.backends.graph_stream import GraphRunner
from react_ros.backends.graphs import GRAPH_NAMES
from react_ros.backends.manifest import Manifest
import torch

WORKSPACE_BYTES = 1 << 30
PRECISIONS = ('auto', 'fp16', 'fp32')


def import_tensorrt():
    """Return the tensorrt module; raise ImportError saying how to get it."""
    try:
        import tensorrt
    except ImportError as error:
        raise ImportError(
            f'TensorRT is not importable ({error}). On a Jetson it comes with JetPack '
            '(python3-libnvinfer); on x86 `pip install tensorrt` (10.x) next to a CUDA '
            'driver.') from None
    return tensorrt


def gpu_identity(tensorrt) -> GpuIdentity:
    """Return the current CUDA device's name and compute capability with TensorRT's version."""
    if not torch.cuda.is_available():
        raise RuntimeError('TensorRT needs a CUDA GPU, and torch sees none')
    major, minor = torch.cuda.get_device_capability()
    return GpuIdentity(torch.cuda.get_device_name(), f'{major}.{minor}', tensorrt.__version__)


def _progress_monitor(tensorrt, log):
    """Return an IProgressMonitor that logs each top-level build phase."""

    class PhaseLog(tensorrt.IProgressMonitor):
        def __init__(self):
            tensorrt.IProgressMonitor.__init__(self)
            self._started = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._started[phase_name] = time.monotonic()
            if parent_phase is None:
                log(f'  {phase_name} ({num_steps} steps)')

        def step_complete(self, phase_name, step):
            return True  # never cancel

        def phase_finish(self, phase_name):
            self._started.pop(phase_name, None)

    return PhaseLog()


def choose_precision(tensorrt, builder, requested: str) -> str:
    """Return 'fp16' when requested ('auto') and the GPU runs it fast, else 'fp32'."""
    if requested not in PRECISIONS:
        raise ValueError(f'tensorrt_precision must be one of {", ".join(PRECISIONS)}, '
                         f'got {requested!r}')
    if requested != 'auto':
        return requested
    return 'fp16' if builder.platform_has_fast_fp16 else 'fp32'


def build_plan(tensorrt, onnx_path, plan_path, precision: str, profiles: dict, log) -> None:
    """Parse an ONNX graph and write a serialised TensorRT plan."""
    logger = tensorrt.Logger(tensorrt.Logger.WARNING)
    builder = tensorrt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = tensorrt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = '; '.join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise RuntimeError(f'TensorRT could not parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(tensorrt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == 'fp16':
        config.set_flag(tensorrt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (smallest, optimal, largest) in profiles.items():
        profile.set_shape(name, smallest, optimal, largest)
    config.add_optimization_profile(profile)
    config.progress_monitor = _progress_monitor(tensorrt, log)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f'TensorRT failed to build {onnx_path} (see its log above)')
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = plan_path.with_suffix('.tmp')
    with open(temporary, 'wb') as stream:
        stream.write(serialized)
    temporary.replace(plan_path)


def ensure_engines(manifest: Manifest, precision: str = 'auto',
                   opt_batch: int = DEFAULT_OPT_BATCH, log=print) -> dict:
    """
    Build whichever plans are missing, stale or corrupt; return {graph: plan path}.

    A plan is used only when its stored key equals the key of this ONNX file, TensorRT,
    GPU, precision and profile; otherwise it is rebuilt and the reason logged.
    """
    tensorrt = import_tensorrt()
    gpu = gpu_identity(tensorrt)
    builder = tensorrt.Builder(tensorrt.Logger(tensorrt.Logger.WARNING))
    precision = choose_precision(tensorrt, builder, precision)
    plans = {}
    for name in GRAPH_NAMES:
        entry = manifest.graph(name)
        profiles = profile_shapes(entry, opt_batch, manifest.data['max_batch'])
        key = engine_key(entry, gpu, precision, profiles)
        plan, key_file = plan_paths(manifest, name)
        decision = cache_decision(plan, key_file, key)
        if not decision.use:
            log(f'{name}: building a {precision} TensorRT plan for {gpu.name} '
                f'({decision.reason})')
            started = time.monotonic()
            build_plan(tensorrt, manifest.graph_path(name), plan, precision, profiles, log)
            seconds = time.monotonic() - started
            write_key(plan, key_file, key, seconds)
            log(f'{name}: built in {seconds:.1f} s -> {plan}')
        plans[name] = plan
    return plans


_TORCH_DTYPES = {'FLOAT': torch.float32, 'HALF': torch.float16, 'INT64': torch.int64,
                 'INT32': torch.int32, 'BOOL': torch.bool}


class TensorRTRunner(GraphRunner):
    """Runs the plans on the current CUDA device; inputs and outputs are CUDA tensors."""

    device = torch.device('cuda')

    def __init__(self, manifest: Manifest, precision: str = 'auto',
                 opt_batch: int = DEFAULT_OPT_BATCH, log=print):
        super().__init__({name: manifest.graph(name) for name in GRAPH_NAMES})
        tensorrt = import_tensorrt()
        plans = ensure_engines(manifest, precision, opt_batch, log)
        runtime = tensorrt.Runtime(tensorrt.Logger(tensorrt.Logger.WARNING))
        self._engines, self._contexts, self._io = {}, {}, {}
        for name, plan in plans.items():
            engine = runtime.deserialize_cuda_engine(plan.read_bytes())
            if engine is None:  # intact file, matching key, and TensorRT still refuses it
                log(f'{name}: TensorRT could not load {plan}; rebuilding it')
                plan.unlink()
                ensure_engines(manifest, precision, opt_batch, log)
                engine = runtime.deserialize_cuda_engine(plan.read_bytes())
                if engine is None:
                    raise RuntimeError(f'TensorRT cannot load the plan it just built: {plan}')
            names = [engine.get_tensor_name(index) for index in range(engine.num_io_tensors)]
            inputs = [tensor for tensor in names
                      if engine.get_tensor_mode(tensor) == tensorrt.TensorIOMode.INPUT]
            outputs = [tensor for tensor in names if tensor not in inputs]
            dtypes = {tensor: _TORCH_DTYPES[engine.get_tensor_dtype(tensor).name]
                      for tensor in names}
            self._engines[name] = engine  # a context must not outlive its engine
            self._contexts[name] = engine.create_execution_context()
            self._io[name] = (inputs, outputs, dtypes)

    def run(self, name: str, inputs: list) -> list:
        """Run graph `name` on CUDA tensors; return CUDA tensors (states stay on the GPU)."""
        context = self._contexts[name]
        input_names, output_names, dtypes = self._io[name]
        # Converted inputs stay referenced until the run is enqueued: freed earlier, their
        # memory could be handed to an output buffer below.
        held = []
        for tensor_name, value in zip(input_names, inputs):
            value = value.to(self.device, dtypes[tensor_name]).contiguous()
            held.append(value)
            context.set_input_shape(tensor_name, tuple(value.shape))
            context.set_tensor_address(tensor_name, value.data_ptr())
        outputs = []
        for tensor_name in output_names:
            value = torch.empty(tuple(context.get_tensor_shape(tensor_name)),
                                dtype=dtypes[tensor_name], device=self.device)
            context.set_tensor_address(tensor_name, value.data_ptr())
            outputs.append(value)
        # On torch's current stream: ordered after the copies that made the inputs and before
        # whatever reads the outputs, so no synchronisation is needed here.
        if not context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise RuntimeError(f'TensorRT failed to run {name}')
        return outputs
