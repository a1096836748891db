"""
Training of the reaction model: tokenizer, token predictor and latent diffusion stages.

trainer.py drives the stages (Trainer, load_training_data); options.py holds the options that
decide a run (TrainOptions), losses.py the stage losses, normalisation.py the dataset statistics
stored in checkpoints, checkpoint.py the atomic, resumable checkpoint files, plot.py the
loss-curve PNG and predict.py the reactions to a split that `react-ros eval` scores. Pure
PyTorch (no ROS); `react-ros train` is react_ros.commands.train. See docs/training.md.
"""
