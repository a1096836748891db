"""
REACT evaluation: the challenge's metrics and reference baselines over the 25 attributes.

evaluate() computes every metric at once (Scores keeps the per-input terms for breakdowns by
subset and channel group); baseline_predictions() builds the papers' baselines; format_table()
prints them side by side. evaluation_inputs() turns a loaded split into whole inputs and the
segments scored, and reads prediction files and Oracle draws against it. docs/metrics.md
defines each metric and the differences between the official (challenge code) and the default
(corrected) mode.
"""

from react_ros.eval.baselines import BASELINE_NAMES, baseline_predictions
from react_ros.eval.dtw import dtw_distances, dtw_pairs
from react_ros.eval.metrics import (ccc, CHANNEL_GROUPS, evaluate, format_table, frcorr, frdist,
                                    frdiv, frdvs, frechet_window_distance, frsyn, frvar,
                                    lagged_correlations, METRIC_NAMES, Scores, share_of)
from react_ros.eval.split import (evaluation_inputs, EvaluationInputs, load_oracle,
                                  load_predictions, segment_bounds)

__all__ = [
    'BASELINE_NAMES', 'CHANNEL_GROUPS', 'EvaluationInputs', 'METRIC_NAMES', 'Scores',
    'baseline_predictions', 'ccc', 'dtw_distances', 'dtw_pairs', 'evaluate',
    'evaluation_inputs', 'format_table', 'frcorr', 'frdist', 'frdiv', 'frdvs',
    'frechet_window_distance', 'frsyn', 'frvar', 'lagged_correlations', 'load_oracle',
    'load_predictions', 'segment_bounds', 'share_of',
]
