"""
Plots as PNGs, drawn with OpenCV (no matplotlib in the environment).

- Loss curves of a training run: one panel per stage (training and validation loss per
  epoch) and, when the run has them, one per validation metric (FRCorr, FRDist over epochs of
  the diffusion stage).
- Time panels (`write_time_panels`): signals of one clip over seconds, stacked, such as the
  speaker, the real listener, generated reactions and oracle draws of docs/quality.png.
"""

import math
from pathlib import Path

import cv2
import numpy as np
from react_ros.train.checkpoint import write_atomically

PANEL_SIZE = (460, 300)  # width, height in pixels
MARGIN = (70, 30, 20, 45)  # left, top, right, bottom
PANELS_PER_ROW = 3
TRAIN_COLOUR = (200, 90, 30)  # BGR
VAL_COLOUR = (40, 120, 240)
METRIC_COLOUR = (60, 160, 60)
FONT = cv2.FONT_HERSHEY_SIMPLEX
PLOTTED_METRICS = ('FRCorr', 'FRDist')


def _tick(value: float) -> str:
    return f'{value:.3g}'


def draw_panel(canvas: np.ndarray, origin: tuple, title: str, series: list,
               log_scale: bool = False, size: tuple = PANEL_SIZE, x_label: str = 'epoch',
               markers: bool = True) -> None:
    """
    Draw series [(label, xs, ys, colour[, thickness])] into the panel at origin (top left).

    A series labelled None gets no legend entry (e.g. the 2nd..Kth of a group of lines).
    log_scale: a logarithmic y axis (positive values only; others are left out).
    markers: a dot on every point (for a few epochs, not for thousands of frames).
    """
    series = [tuple(item) + (2,) * (5 - len(item)) for item in series]
    if log_scale:
        series = [(label, xs, [math.log10(y) if y > 0 else float('nan') for y in ys], colour,
                   thickness) for label, xs, ys, colour, thickness in series]
        title += ' (log scale)'
    left, top, right, bottom = MARGIN
    x0, y0 = origin[0] + left, origin[1] + top
    width, height = size[0] - left - right, size[1] - top - bottom
    cv2.putText(canvas, title, (origin[0] + left, origin[1] + 20), FONT, 0.55, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, y0), (x0 + width, y0 + height), (0, 0, 0), 1)
    points = [(x, y) for _, xs, ys, _, _ in series for x, y in zip(xs, ys) if math.isfinite(y)]
    if not points:
        cv2.putText(canvas, 'no data yet', (x0 + 10, y0 + height // 2), FONT, 0.5,
                    (120, 120, 120), 1, cv2.LINE_AA)
        return
    xs_all, ys_all = zip(*points)
    x_low, x_high = min(xs_all), max(max(xs_all), min(xs_all) + 1)
    y_low, y_high = min(ys_all), max(ys_all)
    pad = 0.05 * (y_high - y_low) or 0.05 * abs(y_high) or 1.0
    y_low, y_high = y_low - pad, y_high + pad

    def pixel(x, y):
        return (int(round(x0 + (x - x_low) / (x_high - x_low) * width)),
                int(round(y0 + height - (y - y_low) / (y_high - y_low) * height)))

    for fraction in (0.0, 0.5, 1.0):
        value = y_low + fraction * (y_high - y_low)
        _, y = pixel(x_low, value)
        cv2.line(canvas, (x0, y), (x0 + width, y), (225, 225, 225), 1)
        label = _tick(10 ** value if log_scale else value)
        cv2.putText(canvas, label, (origin[0] + 5, y + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for x in (x_low, x_high):
        px, _ = pixel(x, y_low)
        cv2.putText(canvas, f'{x:g}', (px - 5, y0 + height + 16), FONT, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.putText(canvas, x_label, (x0 + width // 2 - 20, y0 + height + 34), FONT, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    for label, xs, ys, colour, thickness in series:
        line = [pixel(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
        if len(line) > 1:
            cv2.polylines(canvas, [np.array(line, np.int32)], False, colour, thickness,
                          cv2.LINE_AA)
        for point in line if markers else ():
            cv2.circle(canvas, point, 3, colour, -1, cv2.LINE_AA)
    legend = [(label, colour) for label, _, _, colour, _ in series if label is not None]
    # Right-aligned: about 8 pixels per character at this font scale.
    legend_x = x0 + width - 35 - 8 * max((len(label) for label, _ in legend), default=0)
    for row, (label, colour) in enumerate(legend):
        legend_y = y0 + 16 + 18 * row
        cv2.line(canvas, (legend_x, legend_y - 4), (legend_x + 20, legend_y - 4), colour, 2)
        cv2.putText(canvas, label, (legend_x + 25, legend_y), FONT, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)


def _values(records: list, key: str) -> list:
    return [float('nan') if record.get(key) is None else float(record[key])
            for record in records]


def draw_loss_curves(history: dict, stages) -> np.ndarray:
    """Return a BGR image of the loss (and metric) curves of history {stage: [epoch records]}."""
    panels = []
    for stage in stages:
        records = history.get(stage, [])
        epochs = [record['epoch'] for record in records]
        panels.append((f'{stage} loss', [
            ('train', epochs, _values(records, 'train_loss'), TRAIN_COLOUR),
            ('val', epochs, _values(records, 'val_loss'), VAL_COLOUR)], True))
    for name in PLOTTED_METRICS:
        for stage in stages:
            records = [record for record in history.get(stage, []) if record.get('metrics')]
            if records:
                better = 'higher' if name == 'FRCorr' else 'lower'
                panels.append((f'val {name} ({stage}, {better} better)', [
                    (name, [record['epoch'] for record in records],
                     [record['metrics'][name] for record in records], METRIC_COLOUR)], False))
    columns = min(PANELS_PER_ROW, len(panels))
    rows = math.ceil(len(panels) / columns)
    canvas = np.full((rows * PANEL_SIZE[1], columns * PANEL_SIZE[0], 3), 255, np.uint8)
    for index, (title, series, log_scale) in enumerate(panels):
        origin = ((index % columns) * PANEL_SIZE[0], (index // columns) * PANEL_SIZE[1])
        draw_panel(canvas, origin, title, series, log_scale)
    return canvas


def draw_time_panels(panels: list, width: int = 1100, height: int = 230) -> np.ndarray:
    """Return a BGR image of panels [(title, series)] stacked, x in seconds (see draw_panel)."""
    canvas = np.full((len(panels) * height, width, 3), 255, np.uint8)
    for index, (title, series) in enumerate(panels):
        draw_panel(canvas, (0, index * height), title, series, size=(width, height),
                   x_label='seconds', markers=False)
    return canvas


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write a BGR image as a PNG to path (atomically)."""
    encoded, png = cv2.imencode('.png', image)
    if not encoded:
        raise OSError(f'{path}: OpenCV could not encode the PNG')
    write_atomically(path, lambda temporary: Path(temporary).write_bytes(png.tobytes()))


def write_loss_curves(path: Path, history: dict, stages) -> None:
    """Write the loss curves PNG to path (atomically)."""
    _write_png(path, draw_loss_curves(history, stages))


def write_time_panels(path: Path, panels: list) -> None:
    """Write draw_time_panels(panels) as a PNG to path (atomically)."""
    _write_png(path, draw_time_panels(panels))
