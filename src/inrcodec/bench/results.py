"""The results file: one JSON object per line (JSON Lines), appended one measured point at a time.

Each line is written with a single ``write`` on a file opened for appending, then flushed to
disk (``fsync``), so a run that is killed loses at most the point it was measuring. Should a
write be cut short anyway (a full disk), the file ends without a newline: `read_results` ignores
such a last line, and `ResultWriter` cuts it off before appending, so it never glues onto the
next line. A bad line anywhere else is real damage and raises `ResultsError`.

A point that failed gets a *failure record*: its identity, ``error`` and ``timestamp``, no
metrics. Readers skip failure records unless asked for them, so reports ignore them and a
later run retries the point (its success is then a new line; the failure stays as history).
"""

from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from inrcodec.errors import InrcodecError

#: Record fields used as quality in BD-rate tables and RD plots, with their display names.
QUALITY_METRICS = {
    "psnr_rgb": "PSNR RGB (dB)",
    "psnr_yuv": "PSNR YUV 6:1:1 (dB)",
    "ms_ssim_rgb": "MS-SSIM RGB",
    "vmaf": "VMAF",
    "xpsnr_y": "XPSNR Y (dB)",
}


class ResultsError(InrcodecError):
    """A results file that cannot be read (damaged in the middle, or not JSON Lines)."""


def is_failure(record: dict[str, Any]) -> bool:
    """Whether ``record`` is a failure record (an ``error`` field and no metrics)."""
    return "error" in record


def curve_of(record: dict[str, Any]) -> str:
    """The curve a record belongs to in reports: its ``curve``, else (older files) its label."""
    return record.get("curve") or record["label"]


def available_metrics(records: list[dict[str, Any]]) -> dict[str, str]:
    """The `QUALITY_METRICS` every record has (files written before VMAF and XPSNR lack them)."""
    return {m: title for m, title in QUALITY_METRICS.items() if all(m in r for r in records)}


def curve_points(
    records: list[dict[str, Any]], metric: str
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """``{(curve, sequence): (bpp, quality) points sorted by bpp}``: what RD plots draw and
    BD-rates integrate. A curve of one codec entry keeps every point (as the field's BD-rate
    tools do); a curve joining several entries (network sizes) keeps its `pareto_front`, the
    best any of them reaches at each rate, so that their points do not zigzag."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        key = (curve_of(record), record["sequence"])
        points[key].append((record["bpp"], record[metric]))
        labels[key].add(record["label"])
    return {
        key: sorted(found) if len(labels[key]) == 1 else pareto_front(found)
        for key, found in points.items()
    }


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (rate, quality) points that no other point beats (as good a quality at no more
    rate), sorted by rate."""
    front: list[tuple[float, float]] = []
    for rate, quality in sorted(points, key=lambda point: (point[0], -point[1])):
        if not front or quality > front[-1][1]:
            front.append((rate, quality))
    return front


def read_results(path: str | Path, failures: bool = False) -> list[dict[str, Any]]:
    """The measured records of a results file (an absent file has none); with ``failures``,
    the failure records too, in file order."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines[-1]:  # no final newline: an interrupted write
        warnings.warn(f"{path}: ignoring an incomplete last line", stacklevel=2)
    records = []
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ResultsError(f"{path}, line {number}: not a JSON object ({error})") from None
        if not isinstance(record, dict):
            raise ResultsError(f"{path}, line {number}: not a JSON object")
        if failures or not is_failure(record):
            records.append(record)
    return records


class ResultWriter:
    """Append records to a results file, one durable line each (use as a context manager)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        _drop_incomplete_line(self._fd)

    def append(self, record: dict[str, Any]) -> None:
        line = memoryview((json.dumps(record, sort_keys=True) + "\n").encode())
        while line:  # one write for any sane line; a loop only in case the OS writes less
            line = line[os.write(self._fd, line) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _drop_incomplete_line(fd: int) -> None:
    """Truncate the file back to its last newline (a no-op for a complete file)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        chunk_start = max(0, end - 65536)
        chunk = os.pread(fd, end - chunk_start, chunk_start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = chunk_start + newline + 1
            break
        end = chunk_start
    os.ftruncate(fd, end)
    os.fsync(fd)
