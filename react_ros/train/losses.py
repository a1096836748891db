"""
The training losses of the three stages, on batches of training windows.

A batch is a dict of tensors as react_ros.data.dataset windows give them, stacked:
speaker_audio (B, T, A), speaker_visual (B, T, V), speaker_present (B, T) bool (frames with a
face), listener (B, T, 83), listener_mask (B, 83) bool (channels the dataset has) and
valid (B, T) bool (frames inside the clip). Frames that are not valid, and listener channels a
dataset lacks, never count.

- tokenizer: reconstruction of the listener frames from their FSQ codes, plus the same from
  the continuous (unrounded) codes; the decoder's latent of the continuous codes is what the
  diffusion stage learns to draw, so it must reconstruct the frames too, and a penalty keeps
  its dimensions standardised (mean 0, std 1 over valid frames).
- predictor: teacher-forced next-token cross-entropy; the speaker encoder learns with it. With
  a persona latent (react_ros.model.persona), its posterior sees the listener clip's mean
  frame (listener_clip_mean (B, 83)) and its free-bits KL per window frame is added.
- diffusion: the denoiser predicts the clean latent (the decoder's latent of the continuous
  codes of the real frames) of every frame from its noisy version, the clean past and the
  condition (decoder latent of the real token + speaker encoding, which carries the persona
  when config.denoiser_sees_persona: a draw of the frozen posterior, as the predictor saw);
  MSE.

Errors of listener frames are measured in units of the training standard deviation of each
channel (the tokenizer's frame_std, floored) and weighted by CHANNEL_WEIGHTS.
"""

from react_ros import spec
from react_ros.model.diffusion import make_scheduler
from react_ros.model.persona import free_bits_kl, kl_to_prior, sample_posterior
import torch
import torch.nn.functional as F


def _channel_weights() -> torch.Tensor:
    """
    Return the (83,) loss weight of each listener channel.

    The 25 REACT attributes (what the metrics score and the face renderer draws) and the head
    rotation count fully, valence and arousal four times: FRDist weighs those two as much as
    all 15 AUs together, and they are the whole affect of the face. The 52 3DMM expression
    coefficients describe the same face as the AUs (they are fits of it) and would otherwise
    outweigh the attributes two to one in the tokenizer's few codes; they and the translation
    count a tenth.
    """
    weights = torch.ones(spec.NUM_CHANNELS)
    weights[spec.AFFECT_SLICE] = 4.0
    weights[spec.MM_EXPRESSION_SLICE] = 0.1
    weights[spec.TRANSLATION_SLICE] = 0.1
    return weights


CHANNEL_WEIGHTS = _channel_weights()

# Weight of the reconstruction from continuous codes in the tokenizer loss. The diffusion
# stage's target is the decoder's latent of these codes, so they bound how much detail the
# reactions can get back beyond the tokens: 2.0 rather than 0.5 lowered FRDist at the same
# diversity on the synthetic test split (docs/training.md, "What was tried").
CONTINUOUS_RECONSTRUCTION_WEIGHT = 2.0
# Weight of the penalty that keeps each latent dimension near mean 0, std 1 (the scale of
# the diffusion noise; the output heads are linear in the latent, so nothing is lost).
LATENT_SCALE_WEIGHT = 1.0


def frame_weights(batch: dict) -> torch.Tensor:
    """Return (B, T, 83) weights: CHANNEL_WEIGHTS where a frame is valid and its channel exists."""
    present = batch['valid'][:, :, None] & batch['listener_mask'][:, None, :]
    return present * CHANNEL_WEIGHTS.to(present.device)


def encode_listener(tokenizer, frames: torch.Tensor, channel_mask: torch.Tensor) -> tuple:
    """
    Return (codes, continuous codes, tokens) of listener frames (B, T, 83).

    Channels missing from a dataset (channel_mask (B, 83) False) enter the encoder at their
    normalisation mean, i.e. as zeros after normalisation, whatever the data holds there.
    """
    frames = torch.where(channel_mask[:, None, :], frames, tokenizer.frame_mean)
    latent = tokenizer.encoder.full((frames - tokenizer.frame_mean) / tokenizer.frame_std)
    codes, tokens = tokenizer.fsq(latent)  # (B, T, len(levels)), (B, T)
    return codes, tokenizer.continuous_codes(latent), tokens.long()


def frame_error(tokenizer, predicted: torch.Tensor, batch: dict) -> torch.Tensor:
    """Return the weighted mean squared error of predicted frames (B, T, 83), in std units."""
    weights = frame_weights(batch)
    squared = ((predicted - batch['listener']) / tokenizer.frame_std) ** 2
    return (squared * weights).sum() / weights.sum().clamp(min=1.0)


def latent_scale_penalty(latent: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Return how far each dimension of latents (B, T, L) on valid frames is from N(0, 1)."""
    values = latent[valid]  # (N, L)
    mean = values.mean(dim=0)
    std = values.std(dim=0) if len(values) > 1 else torch.ones_like(mean)
    return (mean ** 2 + (std - 1) ** 2).mean()


def tokenizer_loss(network, batch: dict) -> torch.Tensor:
    """Return the tokenizer's loss of a batch: reconstructions and the latent scale."""
    tokenizer = network.tokenizer
    codes, continuous, _ = encode_listener(tokenizer, batch['listener'], batch['listener_mask'])
    quantised_error = frame_error(tokenizer, tokenizer.heads(tokenizer.decode_latent(codes)),
                                  batch)
    latent = tokenizer.decode_latent(continuous)  # (B, T, L)
    continuous_error = frame_error(tokenizer, tokenizer.heads(latent), batch)
    return (quantised_error + CONTINUOUS_RECONSTRUCTION_WEIGHT * continuous_error
            + LATENT_SCALE_WEIGHT * latent_scale_penalty(latent, batch['valid']))


def speaker_encoding(network, batch: dict) -> torch.Tensor:
    """Return the speaker encoding (B, T, D) of a batch."""
    return network.encoder.full(batch['speaker_audio'], batch['speaker_visual'],
                                batch['speaker_present'])


def previous_tokens(tokens: torch.Tensor, start_token: int) -> torch.Tensor:
    """Shift tokens (B, T) right by one frame, the start token first."""
    start = torch.full_like(tokens[:, :1], start_token)
    return torch.cat([start, tokens[:, :-1]], dim=1)


def corrupt_tokens(tokens: torch.Tensor, share: float, codebook_size: int,
                   generator: torch.Generator) -> torch.Tensor:
    """Return tokens (B, T) with about `share` of them replaced by uniformly random tokens."""
    if share <= 0.0:
        return tokens
    # Drawn on the CPU, so a run gives the same draws on any device.
    replace = (torch.rand(tokens.shape, generator=generator) < share).to(tokens.device)
    random = torch.randint(0, codebook_size, tokens.shape, generator=generator).to(tokens.device)
    return torch.where(replace, random, tokens)


def listener_summary(tokenizer, batch: dict) -> torch.Tensor:
    """Return the persona posterior's input (B, 83): clip mean frames, normalised, 0 if absent."""
    summary = (batch['listener_clip_mean'] - tokenizer.frame_mean) / tokenizer.frame_std
    return summary * batch['listener_mask']


def persona_posterior(network, batch: dict) -> tuple:
    """Return the persona posterior's (mean, log_var), each (B, Z), of the batch's listeners."""
    return network.predictor.persona_posterior(listener_summary(network.tokenizer, batch))


def predictor_loss(network, batch: dict, generator: torch.Generator,
                   token_noise: float = 0.0) -> dict:
    """
    Return the predictor stage's terms of a batch: 'loss', 'cross_entropy', 'accuracy', 'kl'.

    The tokenizer is frozen here: its tokens are the targets. token_noise replaces that share
    of the input (history) tokens, never the targets, with random ones (drawn from generator);
    the persona's posterior draw uses the batch's persona_noise (B, Z). 'kl' is the persona's
    KL to the prior per window (0 without a persona: what z tells the predictor, in nats);
    'loss' adds its free-bits form per window frame to the cross-entropy (the ELBO's
    weighting: the cross-entropy is a per-frame mean).
    """
    predictor = network.predictor
    with torch.no_grad():
        _, _, tokens = encode_listener(network.tokenizer, batch['listener'],
                                       batch['listener_mask'])
    history = corrupt_tokens(tokens, token_noise, predictor.codebook_size, generator)
    speaker = speaker_encoding(network, batch)  # (B, T, D)
    kl = penalty = speaker.new_zeros(())
    if predictor.persona_dim:
        mean, log_var = persona_posterior(network, batch)
        speaker = predictor.condition(speaker,
                                      sample_posterior(mean, log_var, batch['persona_noise']))
        kl_per_dimension = kl_to_prior(mean, log_var)  # (B, Z)
        kl, penalty = kl_per_dimension.sum(dim=1).mean(), free_bits_kl(kl_per_dimension)
    logits = predictor.full(previous_tokens(history, predictor.start_token), speaker)  # (B, T, V)
    valid = batch['valid']
    cross_entropy = F.cross_entropy(logits[valid], tokens[valid])
    accuracy = (logits[valid].argmax(dim=-1) == tokens[valid]).float().mean()
    return {'loss': cross_entropy + penalty / valid.shape[1], 'cross_entropy': cross_entropy,
            'accuracy': accuracy, 'kl': kl}


class DiffusionLoss:
    """The denoising loss; noise and timesteps come from the generator given per call."""

    def __init__(self, config):
        self.sees_persona = config.denoiser_sees_persona
        alphas = make_scheduler(config).alphas_cumprod.float()
        self.alphas_cumprod = alphas  # (train_timesteps,)

    def __call__(self, network, batch: dict, generator: torch.Generator) -> torch.Tensor:
        """Return the denoising MSE of a batch; the tokenizer and speaker encoder are frozen."""
        tokenizer = network.tokenizer
        with torch.no_grad():
            codes, continuous, _ = encode_listener(tokenizer, batch['listener'],
                                                   batch['listener_mask'])
            token_latent = tokenizer.decode_latent(codes)  # (B, T, L)
            target = tokenizer.decode_latent(continuous)  # (B, T, L)
            speaker = speaker_encoding(network, batch)  # (B, T, D)
            if self.sees_persona:
                persona = sample_posterior(*persona_posterior(network, batch),
                                           batch['persona_noise'])
                speaker = network.predictor.condition(speaker, persona)
        # Drawn on the CPU, so a run gives the same draws on any device.
        timesteps = torch.randint(0, len(self.alphas_cumprod), target.shape[:2],
                                  generator=generator)  # (B, T)
        noise = torch.randn(target.shape, generator=generator).to(target.device)
        alpha = self.alphas_cumprod[timesteps][..., None].to(target.device)  # (B, T, 1)
        timesteps = timesteps.to(target.device)
        noisy = alpha.sqrt() * target + (1 - alpha).sqrt() * noise
        condition = network.denoiser.condition(token_latent, speaker)
        predicted = network.denoiser.full(target, noisy, timesteps, condition)
        valid = batch['valid'][..., None].float()
        squared = ((predicted - target) ** 2 * valid).sum()
        return squared / (valid.sum() * target.shape[-1]).clamp(min=1.0)
