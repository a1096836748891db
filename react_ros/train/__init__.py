"""
Training of the reaction model: tokenizer, token predictor and latent diffusion stages.

`react-ros train` (cli.py) drives trainer.Trainer; losses.py holds the stage losses,
normalisation.py the dataset statistics stored in checkpoints, checkpoint.py the atomic,
resumable checkpoint files, plot.py the loss-curve PNG and predict.py the prediction files
`react-ros eval` scores. Pure PyTorch (no ROS). See docs/training.md.
"""

from react_ros.train.cli import add_train_arguments, run_train
from react_ros.train.trainer import STAGES, Trainer, TrainOptions

__all__ = ['STAGES', 'TrainOptions', 'Trainer', 'add_train_arguments', 'run_train']
