"""Bjøntegaard delta rate: the average rate difference between two RD curves at equal quality.

Both curves are turned into log-rate as a function of quality, interpolated, and integrated over
the quality range where they overlap; the mean difference of log-rates, ``d``, gives
``BD-rate = exp(d) - 1`` (negative: the test codec needs fewer bits than the anchor).

Interpolation methods (always named in reports, since they give different numbers):

- ``pchip``: piecewise cubic Hermite interpolation (Fritsch-Carlson, scipy's
  `PchipInterpolator`), integrated exactly over the overlap. This is the method of the JCT-VC /
  JVET common-test-conditions spreadsheets (JCTVC-L1100 onwards); the FAU-LMS ``bjontegaard``
  package, cross-checked against those sheets, computes it the same way. Needs 2+ points.
- ``cubic``: the original VCEG-M33 least-squares cubic polynomial. Needs 4+ points; it can
  overshoot between points, which is why the CTC moved to PCHIP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from inrcodec.bench.results import curve_points
from inrcodec.errors import InrcodecError

METHODS = {
    "pchip": "piecewise cubic Hermite (PCHIP) interpolation of log-rate over quality, "
    "integrated over the overlapping quality range (JVET CTC style)",
    "cubic": "cubic polynomial fit of log-rate over quality, integrated over the overlapping "
    "quality range (VCEG-M33)",
}
MIN_POINTS = {"pchip": 2, "cubic": 4}


class BDRateError(InrcodecError):
    """BD-rate is undefined for these curves (too few points, no overlap, bad values)."""


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
    method: str = "pchip",
) -> float:
    """BD-rate of the test curve against the anchor, in percent (-10.0: 10 % fewer bits)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    anchor = _log_rate_curve(anchor_rates, anchor_quality, method, "anchor")
    test = _log_rate_curve(test_rates, test_quality, method, "test")
    low = max(anchor.low, test.low)
    high = min(anchor.high, test.high)
    if not high > low:
        raise BDRateError(
            f"no overlap in quality (anchor {anchor.low:.4g} to {anchor.high:.4g}, "
            f"test {test.low:.4g} to {test.high:.4g})"
        )
    mean_difference = (test.integral(low, high) - anchor.integral(low, high)) / (high - low)
    return float(np.expm1(mean_difference) * 100)


class _LogRateCurve:
    """Natural log of rate as a function of quality, by the chosen interpolation."""

    def __init__(self, quality: np.ndarray, log_rate: np.ndarray, method: str):
        self.low, self.high = float(quality[0]), float(quality[-1])
        if method == "pchip":
            self.integral = PchipInterpolator(quality, log_rate).integrate
        else:
            antiderivative = np.polynomial.Polynomial.fit(quality, log_rate, 3).integ()
            self.integral = lambda a, b: antiderivative(b) - antiderivative(a)


def _log_rate_curve(rates, quality, method: str, role: str) -> _LogRateCurve:
    rates = np.asarray(rates, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    if rates.shape != quality.shape or rates.ndim != 1:
        raise BDRateError(f"{role}: rates and quality values must be two lists of equal length")
    if len(rates) < MIN_POINTS[method]:
        raise BDRateError(
            f"{role} has {len(rates)} point(s); {method} needs at least {MIN_POINTS[method]}"
        )
    if not (np.all(np.isfinite(quality)) and np.all(np.isfinite(rates)) and np.all(rates > 0)):
        raise BDRateError(f"{role}: rates must be positive and all values finite")
    order = np.argsort(quality)
    quality, rates = quality[order], rates[order]
    if np.any(np.diff(quality) == 0):
        raise BDRateError(f"{role}: two points have the same quality")
    return _LogRateCurve(quality, np.log(rates), method)


def bd_rate_table(
    records: Iterable[dict[str, Any]], anchor: str, metric: str, method: str = "pchip"
) -> dict[str, dict[str, float | str]]:
    """BD-rate (bpp against ``metric``) of every curve (`curve_points`: the spec's ``curve``,
    by default the codec label) against the curve ``anchor``.

    Returns ``{label: {sequence: percent or "n/a: reason", ..., "average": ...}}``: one value per
    sequence of the anchor, and their mean over sequences (n/a if any sequence is n/a).
    """
    curves = curve_points(list(records), metric)
    sequences = sorted({seq for label, seq in curves if label == anchor})
    if not sequences:
        raise BDRateError(f"the anchor {anchor!r} has no results")
    labels = sorted({label for label, _ in curves} - {anchor})
    table = {}
    for label in labels:
        row: dict[str, float | str] = {}
        for sequence in sequences:
            row[sequence] = _cell(curves[anchor, sequence], curves.get((label, sequence)), method)
        values = [value for value in row.values() if isinstance(value, float)]
        missing = len(sequences) - len(values)
        row["average"] = (
            float(np.mean(values)) if not missing else f"n/a: {missing} sequence(s) n/a"
        )
        table[label] = row
    return table


def _cell(anchor_points, test_points, method: str) -> float | str:
    if not test_points:
        return "n/a: no points"
    try:
        return bd_rate(*zip(*anchor_points, strict=True), *zip(*test_points, strict=True), method)
    except BDRateError as error:
        return f"n/a: {error}"
