"""Per-frame input features shared by training, evaluation and the nodes."""
