"""
The listener reaction model: speaker encoder, FSQ token predictor, latent diffusion.

Pure PyTorch (no ROS). The public interface is generator.ReactionGenerator / ReactionStream
with config.ReactionModelConfig. This package module imports nothing, so the light config
module stays light.
"""
