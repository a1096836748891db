"""Live perception of the speaker: camera frames and audio to the model's speaker features."""
