"""
REACT evaluation: the challenge's metrics and reference baselines over the 25 attributes.

evaluate() computes every metric at once; baseline_predictions() builds the papers' baselines;
format_table() prints them side by side. docs/metrics.md defines each metric and the
differences between the official (challenge code) and the default (corrected) mode.
"""

from react_ros.eval.baselines import BASELINE_NAMES, baseline_predictions
from react_ros.eval.dtw import dtw_distances, dtw_pairs
from react_ros.eval.metrics import (ccc, evaluate, format_table, frcorr, frdist, frdiv, frdvs,
                                    frechet_window_distance, frsyn, frvar, lagged_correlations,
                                    METRIC_NAMES)

__all__ = [
    'BASELINE_NAMES', 'METRIC_NAMES', 'baseline_predictions', 'ccc', 'dtw_distances',
    'dtw_pairs', 'evaluate', 'format_table', 'frcorr', 'frdist', 'frdiv', 'frdvs',
    'frechet_window_distance', 'frsyn', 'frvar', 'lagged_correlations',
]
