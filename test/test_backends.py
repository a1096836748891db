"""Inference backends: export, ONNX Runtime parity, engine cache logic, backend choice."""

import json
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
from react_ros.backends.engine_cache import (
    cache_decision, engine_key, GpuIdentity, plan_paths, profile_shapes, write_key)
from react_ros.backends.export import (
    compare_with_torch, export_checkpoint, ExportError, RELATIVE_TOLERANCE)
from react_ros.backends.graph_stream import GraphStream
from react_ros.backends.graphs import build_graphs, GRAPH_NAMES
from react_ros.backends.loader import ensure_export, GraphGenerator, load_generator
from react_ros.backends.manifest import file_sha256, Manifest, StaleExportError
from react_ros.backends.onnxruntime_backend import OnnxRuntimeRunner, session_providers
from react_ros.backends.selection import Availability, BackendUnavailable, choose_backend
from react_ros.backends.torch_graph_runner import TorchGraphRunner
from react_ros.model.config import ReactionModelConfig
from react_ros.model.generator import ReactionGenerator
import torch

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / 'models' / 'reaction_synth.pt'
SHIPPED_EXPORT = REPO / 'engines' / 'reaction_synth'
NOTHING = Availability(tensorrt=False, cuda=False, onnxruntime=False)


@pytest.fixture(scope='module')
def fresh_export(tmp_path_factory):
    """Export the shipped checkpoint into an empty folder (the round trip under test)."""
    folder = tmp_path_factory.mktemp('export') / 'reaction_synth'
    export_checkpoint(CHECKPOINT, folder, log=lambda text: None)
    return Manifest.load(folder)


@pytest.fixture(scope='module')
def torch_generator():
    return ReactionGenerator.from_checkpoint(CHECKPOINT)


def _sequence(frames: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(frames, 41)).astype(np.float32)
    visual = rng.normal(size=(frames, 28)).astype(np.float32)
    mask = rng.random(frames) > 0.2  # some frames without a face
    return audio, visual, mask


def test_export_writes_checked_graphs_and_a_manifest(fresh_export):
    data = fresh_export.data
    assert data['opset'] >= 18
    assert data['checkpoint_sha256'] == file_sha256(CHECKPOINT)
    assert set(data['exporter']) == {'torch', 'onnx', 'onnxscript', 'onnxruntime'}
    for name in GRAPH_NAMES:
        entry = fresh_export.graph(name)
        assert file_sha256(fresh_export.graph_path(name)) == entry['sha256']
        assert entry['max_relative_error'] <= RELATIVE_TOLERANCE
        session = onnxruntime.InferenceSession(str(fresh_export.graph_path(name)))
        assert [value.name for value in session.get_inputs()] == [
            value['name'] for value in entry['inputs']]
        # The samples' dimension is dynamic in every batched graph, fixed in the encoder's.
        batched = [value['shape'][0] == 'k' for value in entry['inputs']]
        assert any(batched) == (name != 'encoder_step')
    fresh_export.verify(file_sha256(CHECKPOINT))


@pytest.mark.parametrize('name', GRAPH_NAMES)
def test_onnxruntime_matches_torch_per_graph_across_k_and_positions(
        name, fresh_export, torch_generator):
    config = torch_generator.config
    graph = build_graphs(torch_generator.network, config, config.sampling_steps)[name]
    session = onnxruntime.InferenceSession(str(fresh_export.graph_path(name)))
    # Frames 0 and 5: ring filling; 63, 64: the wrap; 1000: long after.
    error = compare_with_torch(graph, name, config, session, batches=(1, 2, 7, 16),
                               frames=(0, 5, 63, 64, 1000))
    assert error <= RELATIVE_TOLERANCE


# Configs beside the shipped model's: the default, and those of checkpoints written before
# personas existed and before the denoiser saw them.
GRAPH_CONFIGS = {'default': ReactionModelConfig(),
                 'without persona': ReactionModelConfig(persona_dim=0),
                 'persona in the predictor only': ReactionModelConfig(denoiser_persona=False)}


@pytest.mark.parametrize('model', ['shipped', *GRAPH_CONFIGS])
def test_step_graphs_equal_the_pytorch_stream(model, torch_generator):
    """The step definitions (explicit states) are the same function as the stacked stream."""
    if model in GRAPH_CONFIGS:
        torch_generator = ReactionGenerator.untrained(GRAPH_CONFIGS[model])
    config = torch_generator.config
    runner = TorchGraphRunner(torch_generator.network, config, 3)
    audio, visual, mask = _sequence(80)
    reference = torch_generator.stream(3, seed=1)
    candidate = GraphStream(runner, config, 3, seed=1)
    with torch.inference_mode():
        for t in range(80):
            expected = reference.step(audio[t], visual[t], mask[t])
            got = candidate.step(audio[t], visual[t], mask[t])
            np.testing.assert_array_equal(reference.last_tokens, candidate.last_tokens)
            np.testing.assert_allclose(got, expected, atol=1e-4)


def test_online_sequence_on_onnxruntime_samples_the_same_tokens_as_torch(
        fresh_export, torch_generator):
    audio, visual, mask = _sequence(150, seed=2)  # past the 64-frame windows
    reference = torch_generator.stream(4, seed=7)
    candidate = GraphGenerator(OnnxRuntimeRunner(fresh_export), fresh_export).stream(4, seed=7)
    worst = 0.0
    for t in range(150):
        expected = reference.step(audio[t], visual[t], mask[t])
        got = candidate.step(audio[t], visual[t], mask[t])
        np.testing.assert_array_equal(reference.last_tokens, candidate.last_tokens,
                                      err_msg=f'frame {t}')
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst < 1e-4


def test_generate_on_onnxruntime_equals_online_torch(fresh_export, torch_generator):
    audio, visual, mask = _sequence(40, seed=3)
    expected = torch_generator.generate(audio, visual, mask, k=2, seed=5, online=True)
    generator = GraphGenerator(OnnxRuntimeRunner(fresh_export), fresh_export)
    got = generator.generate(audio, visual, mask, k=2, seed=5)
    assert got.shape == (2, 40, 83)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    with pytest.raises(ValueError, match='audio_features must be'):
        generator.generate(audio[:, :40], visual, mask)
    with pytest.raises(ValueError, match='DDIM steps'):
        generator.stream(2, sampling_steps=fresh_export.sampling_steps + 1)
    with pytest.raises(ValueError, match='k must be in 1..16'):
        generator.stream(17)


def test_shipped_export_serves_the_shipped_checkpoint():
    manifest = Manifest.load(SHIPPED_EXPORT)
    manifest.verify(file_sha256(CHECKPOINT))  # raises if the model changed without re-export


def test_changed_graph_file_or_other_checkpoint_is_refused(fresh_export, tmp_path):
    folder = tmp_path / 'copy'
    shutil.copytree(fresh_export.folder, folder)
    manifest = Manifest.load(folder)
    with pytest.raises(StaleExportError, match='another checkpoint'):
        manifest.verify('0' * 64)
    path = manifest.graph_path('decoder_step')
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StaleExportError, match='does not match its manifest hash'):
        manifest.verify()
    # ensure_export refuses (never overwrites) a folder with a broken export.
    with pytest.raises(StaleExportError):
        ensure_export(CHECKPOINT, folder, log=lambda text: None)


def test_export_refuses_to_replace_another_checkpoints_export(fresh_export, tmp_path):
    folder = tmp_path / 'other'
    shutil.copytree(fresh_export.folder, folder)
    manifest = json.loads((folder / 'manifest.json').read_text())
    manifest['checkpoint_sha256'] = 'f' * 64
    (folder / 'manifest.json').write_text(json.dumps(manifest))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with pytest.raises(ExportError, match='another checkpoint'):
        export_checkpoint(CHECKPOINT, folder, log=lambda text: None)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_profiles_cover_k_1_to_16_with_fixed_state_windows(fresh_export):
    entry = fresh_export.graph('predictor_step')
    profiles = profile_shapes(entry, opt_batch=10)
    state = fresh_export.graph('predictor_step')['state_shape']
    assert profiles['previous_token'] == ((1,), (10,), (16,))
    assert profiles['frame'] == ((1,), (1,), (1,))
    assert profiles['state'] == tuple((batch, *state[1:]) for batch in (1, 10, 16))
    encoder = profile_shapes(fresh_export.graph('encoder_step'))
    assert all(low == high for low, _, high in encoder.values())  # batch 1 only
    with pytest.raises(ValueError, match='opt_batch'):
        profile_shapes(entry, opt_batch=17)


def _key(entry, **changes):
    gpu = {'name': 'NVIDIA Jetson Orin', 'compute_capability': '8.7',
           'tensorrt_version': '10.3.0'}
    gpu.update({name: value for name, value in changes.items() if name in gpu})
    return engine_key(entry, GpuIdentity(**gpu), changes.get('precision', 'fp16'),
                      profile_shapes(entry, changes.get('opt_batch', 10)))


def test_engine_cache_rebuilds_unless_the_key_and_the_plan_match(fresh_export, tmp_path):
    entry = dict(fresh_export.graph('decoder_step'))
    plan, key_file = tmp_path / 'decoder_step.plan', tmp_path / 'decoder_step.key.json'
    wanted = _key(entry)
    assert cache_decision(plan, key_file, wanted).reason == 'no plan built yet'
    plan.write_bytes(b'serialised engine bytes')
    assert not cache_decision(plan, key_file, wanted).use  # no key: unknown origin
    write_key(plan, key_file, wanted, build_seconds=12.3)
    assert cache_decision(plan, key_file, wanted).use
    for change, field in (({'name': 'NVIDIA GeForce RTX 4090'}, 'gpu_name'),
                          ({'compute_capability': '8.9'}, 'compute_capability'),
                          ({'tensorrt_version': '10.8.0'}, 'tensorrt_version'),
                          ({'precision': 'fp32'}, 'precision'),
                          ({'opt_batch': 1}, 'profiles')):
        decision = cache_decision(plan, key_file, _key(entry, **change))
        assert not decision.use and field in decision.reason
    new_onnx = {**entry, 'sha256': '0' * 64}
    assert 'onnx_sha256' in cache_decision(plan, key_file, _key(new_onnx)).reason
    plan.write_bytes(b'serialised engine bytez')  # damaged on disk
    assert 'corrupt' in cache_decision(plan, key_file, wanted).reason
    key_file.write_text('{not json')
    assert 'corrupt' in cache_decision(plan, key_file, wanted).reason


def test_plan_paths_live_beside_the_export(fresh_export):
    plan, key_file = plan_paths(fresh_export, 'encoder_step')
    assert plan.parent == key_file.parent == fresh_export.folder / 'tensorrt'


@pytest.mark.parametrize('available, expected', [
    (Availability(tensorrt=True, cuda=True, onnxruntime=True), 'tensorrt'),
    (Availability(tensorrt=True, cuda=False, onnxruntime=True), 'onnxruntime'),
    (Availability(tensorrt=False, cuda=True, onnxruntime=True), 'onnxruntime'),
    (Availability(tensorrt=True, cuda=False, onnxruntime=False), 'torch'),
    (NOTHING, 'torch'),
])
def test_auto_prefers_tensorrt_then_onnxruntime_then_torch(available, expected):
    choice = choose_backend('auto', available)
    assert choice.name == expected
    assert choice.reason.startswith('auto')


def test_explicit_backend_that_is_missing_says_what_is_missing():
    with pytest.raises(BackendUnavailable, match='tensorrt Python package and a CUDA GPU'):
        choose_backend('tensorrt', NOTHING)
    with pytest.raises(BackendUnavailable, match='a CUDA GPU'):
        choose_backend('tensorrt', Availability(tensorrt=True, cuda=False, onnxruntime=True))
    with pytest.raises(BackendUnavailable, match='onnxruntime'):
        choose_backend('onnxruntime', NOTHING)
    assert choose_backend('torch', NOTHING).name == 'torch'
    with pytest.raises(ValueError, match='backend must be one of'):
        choose_backend('openvino', NOTHING)


def test_this_machine_without_tensorrt_fails_the_tensorrt_backend_clearly():
    if Availability.probe().tensorrt:
        pytest.skip('this machine has TensorRT: the hardware path is exercised instead')
    with pytest.raises(BackendUnavailable, match='tensorrt'):
        load_generator(CHECKPOINT, 'tensorrt', SHIPPED_EXPORT, log=lambda text: None)


def test_load_generator_auto_runs_the_shipped_export(torch_generator):
    lines = []
    available = Availability(tensorrt=False, cuda=False, onnxruntime=True)
    generator, choice = load_generator(CHECKPOINT, 'auto', SHIPPED_EXPORT, available=available,
                                       log=lines.append)
    assert choice.name == 'onnxruntime' and 'backend: onnxruntime' in lines[0]
    audio, visual, mask = _sequence(10)
    np.testing.assert_allclose(generator.generate(audio, visual, mask, k=3, seed=1),
                               torch_generator.generate(audio, visual, mask, k=3, seed=1,
                                                        online=True), atol=1e-4)


def test_gpu_providers_only_when_the_build_has_them():
    assert session_providers(['CPUExecutionProvider'], use_gpu=True) == ['CPUExecutionProvider']
    assert session_providers(['CUDAExecutionProvider', 'CPUExecutionProvider'], True) == [
        'CUDAExecutionProvider', 'CPUExecutionProvider']
    assert session_providers(['CUDAExecutionProvider', 'CPUExecutionProvider'], False) == [
        'CPUExecutionProvider']


def _react_ros(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'react_ros', *args], capture_output=True,
                          text=True, timeout=300)


def test_engines_cli_list_verify_and_build_without_tensorrt(fresh_export):
    listed = _react_ros('engines', 'list', '--engines', str(fresh_export.folder.parent))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert 'no TensorRT plan' in listed.stdout and 'opset 18' in listed.stdout
    verified = _react_ros('engines', 'verify', '--engines', str(fresh_export.folder), '--ckpt',
                          str(CHECKPOINT), '--frames', '20')
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert 'tokens equal on 20/20 frames' in verified.stdout
    if not Availability.probe().tensorrt:
        built = _react_ros('engines', 'build', '--engines', str(fresh_export.folder))
        assert built.returncode == 1 and 'TensorRT is not importable' in built.stdout


def test_a_tensorrt_package_that_fails_to_import_is_not_available(tmp_path, monkeypatch):
    # What pip's bindings-only tensorrt wheel does without NVIDIA's libraries.
    package = tmp_path / 'tensorrt'
    package.mkdir()
    (package / '__init__.py').write_text("raise OSError('libnvinfer.so.10: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'tensorrt', raising=False)
    assert not Availability.probe().tensorrt


def test_cuda_graphs_need_a_cuda_device(torch_generator):
    with pytest.raises(ValueError, match='CUDA graphs need a CUDA device'):
        TorchGraphRunner(torch_generator.network, torch_generator.config, 2, cuda_graphs=True)
