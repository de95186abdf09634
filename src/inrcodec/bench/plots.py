"""Rate-distortion curves: one panel per sequence (and an average panel for several), as PNG
and SVG.

Each curve's line is what its BD-rate integrates (`curve_points`: every point of one codec
entry, the Pareto front of a curve that joins several entries), and every measured point is
drawn as a dot, so points off a front stay visible. The average panel shows, for each curve,
the mean bpp and mean quality over sequences at each rate point. That mean is only meaningful
when the curve ran the same rate points on every sequence, so a curve that did not is left
out of that panel (and says so in its legend). The rate axis is linear or logarithmic
(``log_rate``: conventional codecs and INR codecs at CPU scale differ by more than 10x in bpp).
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

from inrcodec.bench.results import QUALITY_METRICS, curve_of, curve_points, pareto_front

Curve = list[tuple[float, float]]  # (bpp, quality) points sorted by bpp


def rd_curves(
    records: list[dict[str, Any]], metric: str
) -> tuple[dict[str, dict[str, Curve]], dict[str, Curve | None]]:
    """``({sequence: {curve name: curve}}, {curve name: average curve, or None if not
    averageable})``."""
    per_sequence: dict[str, dict[str, Curve]] = defaultdict(dict)
    for (label, sequence), points in sorted(curve_points(records, metric).items()):
        per_sequence[sequence][label] = points
    by_point: dict[tuple[str, str], dict[Any, tuple[float, float]]] = defaultdict(dict)
    entries: dict[str, set[str]] = defaultdict(set)
    for record in records:  # a curve's points: its entries' (label) rate points
        key = (record["sequence"], curve_of(record))
        by_point[key][record["label"], record["rate_point"]] = (record["bpp"], record[metric])
        entries[curve_of(record)].add(record["label"])
    sequences = list(per_sequence)
    average: dict[str, Curve | None] = {}
    for label in sorted(entries):
        point_sets = [by_point.get((sequence, label)) for sequence in sequences]
        rate_points = {frozenset(points) for points in point_sets if points is not None}
        if None in point_sets or len(rate_points) != 1:
            average[label] = None
            continue
        means = [
            tuple(np.mean([points[rate_point] for points in point_sets], axis=0))
            for rate_point in next(iter(rate_points))
        ]
        curve = [(float(b), float(q)) for b, q in means]
        average[label] = sorted(curve) if len(entries[label]) == 1 else pareto_front(curve)
    return dict(per_sequence), average


def plot_rd(
    records: list[dict[str, Any]], metric: str, stem: str | Path, *, log_rate: bool = False
) -> list[Path]:
    """Draw the RD curves of ``metric`` (`rd_figure`) and write ``stem.png`` and ``stem.svg``."""
    figure = rd_figure(records, metric, log_rate=log_rate)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    return paths


def rd_figure(records: list[dict[str, Any]], metric: str, *, log_rate: bool = False) -> Figure:
    """The RD curves of ``metric``: a panel per sequence, and the average panel if several."""
    if metric not in QUALITY_METRICS:
        raise ValueError(f"metric must be one of {sorted(QUALITY_METRICS)}, got {metric!r}")
    per_sequence, average = rd_curves(records, metric)
    panels = list(per_sequence.items())
    if len(panels) > 1:
        panels.append(("average over sequences", average))
    measured = defaultdict(list)
    for record in records:
        measured[record["sequence"], curve_of(record)].append((record["bpp"], record[metric]))
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
                ax.plot(*zip(*curve, strict=True), label=label, **style)
                dots = measured.get((title, label))
                if dots:  # every measured point (none for the average)
                    ax.scatter(*zip(*dots, strict=True), s=12, color=style["color"])
            elif curves is average and label in curves:
                ax.plot([], [], label=f"{label} (rate points differ: not averaged)", **style)
        ax.set_title(title)
        ax.set_xscale("log" if log_rate else "linear")
        ax.set_xlabel("bpp" + (" (log scale)" if log_rate else ""))
        ax.set_ylabel(QUALITY_METRICS[metric])
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize="small")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    return figure
