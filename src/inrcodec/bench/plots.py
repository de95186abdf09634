"""Rate-distortion curves: one panel per sequence plus an average panel, as PNG and SVG.

The average panel shows, for each codec, the mean bpp and mean quality over sequences at each
rate point. That mean is only meaningful when the codec ran the same rate points on every
sequence, so a codec that did not is left out of that panel (and says so in its legend).
Figures are drawn with matplotlib's object API (no pyplot, no global backend state; the Agg
canvas renders them), so plotting works on machines without a display.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from inrcodec.bench.results import QUALITY_METRICS, curve_of

Curve = list[tuple[float, float]]  # (bpp, quality) points sorted by bpp


def rd_curves(
    records: list[dict[str, Any]], metric: str
) -> tuple[dict[str, dict[str, Curve]], dict[str, Curve | None]]:
    """``({sequence: {curve name: curve}}, {curve name: average curve, or None if not
    averageable})``."""
    by_point: dict[tuple[str, str], dict[Any, tuple[float, float]]] = defaultdict(dict)
    for record in records:  # a curve's points: its entries' (label) rate points
        key = (record["sequence"], curve_of(record))
        by_point[key][record["label"], record["rate_point"]] = (record["bpp"], record[metric])
    per_sequence: dict[str, dict[str, Curve]] = defaultdict(dict)
    for (sequence, label), points in sorted(by_point.items()):
        per_sequence[sequence][label] = sorted(points.values())
    sequences = list(per_sequence)
    average: dict[str, Curve | None] = {}
    for label in sorted({label for _, label in by_point}):
        point_sets = [by_point.get((sequence, label)) for sequence in sequences]
        rate_points = {frozenset(points) for points in point_sets if points is not None}
        if None in point_sets or len(rate_points) != 1:
            average[label] = None
            continue
        means = [
            tuple(np.mean([points[rate_point] for points in point_sets], axis=0))
            for rate_point in next(iter(rate_points))
        ]
        average[label] = sorted((float(b), float(q)) for b, q in means)
    return dict(per_sequence), average


def plot_rd(records: list[dict[str, Any]], metric: str, stem: str | Path) -> list[Path]:
    """Draw the RD curves of ``metric`` and write ``stem.png`` and ``stem.svg``."""
    if metric not in QUALITY_METRICS:
        raise ValueError(f"metric must be one of {sorted(QUALITY_METRICS)}, got {metric!r}")
    per_sequence, average = rd_curves(records, metric)
    panels = [*per_sequence.items(), ("average over sequences", average)]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.8 * columns, 3.8 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    labels = sorted(average)
    for ax, (title, curves) in zip(axes, panels, strict=False):
        for index, label in enumerate(labels):
            curve = curves.get(label)
            style = {"color": f"C{index % 10}", "marker": "o", "markersize": 4}
            if curve:
                bpps, quality = zip(*curve, strict=True)
                ax.plot(bpps, quality, label=label, **style)
            elif curves is average and label in curves:
                ax.plot([], [], label=f"{label} (rate points differ: not averaged)", **style)
        ax.set_title(title)
        ax.set_xlabel("bpp")
        ax.set_ylabel(QUALITY_METRICS[metric])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    return paths
