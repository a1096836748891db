"""
The listener reaction model: speaker encoder, FSQ token predictor, latent diffusion.

Pure PyTorch (no ROS). The public interface is ReactionGenerator / ReactionStream with
ReactionModelConfig; see generator.py.
"""

from react_ros.model.config import ReactionModelConfig
from react_ros.model.generator import ReactionGenerator, ReactionStream

__all__ = ['ReactionGenerator', 'ReactionModelConfig', 'ReactionStream']
