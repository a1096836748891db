"""
An online reaction run as the four step graphs of react_ros.backends.graphs.

The stream owns the frame clock, the states the graphs hand back, and the random draws; a
runner executes the graphs (ONNX Runtime, TensorRT, or the torch modules themselves). Draws
come from a torch.Generator in the same order as the PyTorch stream (token noise, then the
latent's noise), so every backend samples the same tokens from the same logits.
"""

import numpy as np
from react_ros.backends.graphs import RING_GRAPHS
from react_ros.model.generator import check_frame_inputs
from react_ros.model.layers import write_ring_slot
from react_ros.model.persona import draw_personas
from react_ros.model.token_predictor import sample_tokens
import torch


class GraphRunner:
    """
    Runs the step graphs; state layouts and sizes come from the graphs' manifest entries.

    `run(name, inputs)` takes and returns torch tensors in the graph's input and output
    order; a runner may keep them on its own device (states never leave it).
    """

    device = torch.device('cpu')

    def __init__(self, graph_specs: dict):
        self.graph_specs = graph_specs

    def run(self, name: str, inputs: list) -> list:
        """Run graph `name` on inputs; return its outputs."""
        raise NotImplementedError

    def empty_state(self, name: str, batch: int) -> torch.Tensor:
        """Return the zero state of graph `name` for `batch` rows (a new sequence)."""
        shape = self.graph_specs[name]['state_shape']
        return torch.zeros([batch, *shape[1:]], device=self.device)


class GraphStream:
    """One online reaction through a GraphRunner: the ReactionStream interface."""

    def __init__(self, runner: GraphRunner, config, k: int, seed: int):
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        self.k = k
        self._runner = runner
        self._config = config
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget all frames: the next step is frame 0 again, with the seed's draws."""
        runner, k = self._runner, self.k
        # Draws are made on the CPU, like the PyTorch stream on a CPU, then moved.
        self._rng = torch.Generator().manual_seed(self._seed)
        personas = draw_personas(k, self._config.persona_dim, self._rng)
        # The predictor graph takes them only when the model has a persona, the denoiser graph
        # only when it sees it too.
        self._persona_inputs = () if personas is None else (personas,)
        self._denoiser_persona_inputs = (self._persona_inputs
                                         if self._config.denoiser_sees_persona else ())
        self._states = {
            'encoder_step': runner.empty_state('encoder_step', 1),
            'predictor_step': runner.empty_state('predictor_step', k),
            'decoder_step': runner.empty_state('decoder_step', k),
            'denoiser_sample': runner.empty_state('denoiser_sample', k),
        }
        self._frame = 0
        self._previous_token = torch.full((k,), self._config.codebook_size, dtype=torch.long)

    @property
    def last_tokens(self) -> np.ndarray:
        """Return the FSQ tokens (k,) sampled at the latest step (the start token before)."""
        return self._previous_token.numpy()

    def _run(self, name: str, *inputs) -> torch.Tensor:
        device = self._runner.device
        inputs = [value.to(device) for value in inputs] + [self._states[name]]
        output, state_update = self._runner.run(name, inputs)
        if name in RING_GRAPHS:
            write_ring_slot(self._states[name], state_update, self._frame)
        else:
            self._states[name] = state_update
        return output

    def step(self, audio_features, visual_features, visual_present: bool) -> np.ndarray:
        """Return k listener frames (k, 83) float32 for one input frame."""
        config = self._config
        audio, visual, present = check_frame_inputs(config, audio_features, visual_features,
                                                    visual_present)
        frame = torch.tensor([self._frame], dtype=torch.long)
        speaker = self._run('encoder_step', audio[None], visual[None],
                            torch.tensor([present]), frame)
        logits = self._run('predictor_step', self._previous_token, speaker,
                           *self._persona_inputs, frame)
        token = sample_tokens(logits.float().cpu(), config.temperature, config.top_k, self._rng)
        token_latent = self._run('decoder_step', token)
        noise = torch.randn(self.k, config.latent_dim, generator=self._rng)
        listener = self._run('denoiser_sample', noise, token_latent, speaker,
                             *self._denoiser_persona_inputs, frame)
        self._previous_token = token
        self._frame += 1
        return listener.float().cpu().numpy()
