"""Run the points of a benchmark and append one measured record per point to a results file.

Codecs come only through `get_codec`, so any registered codec, conventional or neural, runs
here unchanged. The harness measures quality itself, on ``Coded.decoded`` against the source,
with `inrcodec.metrics.compare` in RGB (BT.601) and in native YUV (6:1:1), and VMAF and XPSNR
with the bundled ffmpeg on the same frames (`ffmpeg_metrics`), so every codec is measured by
the same code (docs/design.md, "Measuring").

Points already measured in the results file (same `point_key`) are skipped, so an interrupted
run is resumed by running it again. With ``jobs > 1`` points run in spawned worker processes,
with an ``executor`` (`inrcodec.bench.ray_executor.RayExecutor`) wherever it puts them; only
this process writes the file. A point that fails gets a failure record (`failure_record`), is
reported, and the others go on; the next run retries it.
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from inrcodec import __version__
from inrcodec.baselines.ffmpeg_metrics import ffmpeg_metrics
from inrcodec.bench.codecs import get_codec
from inrcodec.bench.results import ResultWriter, read_results
from inrcodec.bench.spec import Point, point_key
from inrcodec.codecs import CODECS, CodecEntry
from inrcodec.codecs.progress import progress_bar
from inrcodec.io import Video
from inrcodec.metrics import bpp, compare, kbps

RGB_MATRIX = "bt601"  # the NVRC paper's choice (docs/design.md, "Measuring")

#: What executors yield as points finish: ``(point, record, None)`` or ``(point, None, error)``.
Outcome = tuple[Point, dict | None, str | None]
#: Something that runs points elsewhere and yields each one's `Outcome` exactly once.
Executor = Callable[[list[Point]], Iterator[Outcome]]


@dataclass
class RunSummary:
    measured: int = 0
    skipped: int = 0
    failures: list[tuple[Point, str]] = field(default_factory=list)


def run_points(
    points: list[Point],
    results_path: str | Path,
    jobs: int = 1,
    progress: bool = True,
    executor: Executor | None = None,
) -> RunSummary:
    """Measure every point not yet measured in ``results_path``, appending a line per finished
    point: its record, or its failure record. ``executor`` runs the points instead of ``jobs``
    local processes; it is not called at all when there is nothing to do."""
    done = {point_key(record) for record in read_results(results_path)}
    todo = {}  # point key -> point: each point once, even if the spec lists it twice
    for point in points:
        todo.setdefault(point_key(point.identity()), point)
    todo = [point for key, point in todo.items() if key not in done]
    summary = RunSummary(skipped=len(points) - len(todo))
    if not todo:
        return summary
    outcomes = executor(todo) if executor is not None else _measure_all(todo, jobs)
    bar = progress_bar(len(todo), "bench run", "point", show=progress)
    with closing(outcomes), ResultWriter(results_path) as writer, bar:
        for point, record, error in outcomes:
            if error is None:
                writer.append(record)
                summary.measured += 1
            else:
                writer.append(failure_record(point, error))
                summary.failures.append((point, error))
                bar.write(f"failed: {point.describe()}: {error}")
            bar.update()
            failed = len(summary.failures)
            left = len(todo) - summary.measured - failed
            bar.set_postfix_str(f"{summary.measured} done, {failed} failed, {left} left")
    return summary


def failure_record(point: Point, error: str) -> dict[str, Any]:
    """The results line of a point that failed: its identity, the error and when."""
    return {**point.identity(), "error": error, "timestamp": _now()}


def _measure_all(points: list[Point], jobs: int) -> Iterator[Outcome]:
    """Yield each point's `Outcome` as it finishes, in ``jobs`` local processes."""
    if jobs <= 1:
        for point in points:
            yield point, *_measure_or_message(point)
        return
    context = get_context("spawn")  # no fork: torch and codec state do not survive it well
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(dict(CODECS), threads)
    ) as pool:
        futures = {pool.submit(_measure_or_message, point): point for point in points}
        try:
            for future in as_completed(futures):
                try:
                    record, error = future.result()
                except Exception as crash:  # the worker process died (killed, out of memory)
                    record, error = None, _message(crash)
                yield futures[future], record, error
        finally:  # interrupted: do not start the points still queued
            for future in futures:
                future.cancel()


def _start_worker(codecs: dict[str, CodecEntry], threads: int) -> None:
    """Give a worker the parent's codec registry (codecs registered at run time included) and
    its share of the CPU cores."""
    import torch

    CODECS.update(codecs)
    torch.set_num_threads(threads)


def _measure_or_message(point: Point, source: Video | None = None):
    """``(record, None)``, or ``(None, message)`` if measuring raised."""
    try:
        return measure(point, source), None
    except Exception as error:
        return None, _message(error)


def _message(error: BaseException) -> str:
    """One line: the exception's type and its message (whitespace runs folded)."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def measure(point: Point, source: Video | None = None) -> dict[str, Any]:
    """Code one sequence at one rate point and measure it: the record of one results line.
    ``source``: the sequence's frames if the caller has them already (else read from its path)."""
    codec = get_codec(point.codec.codec, **point.codec.options)
    source = point.sequence.read() if source is None else source
    with tempfile.TemporaryDirectory(prefix="inrcodec-bench-") as workdir:
        coded = codec.code(source, point.rate_point, Path(workdir))
        # Measured before the workdir goes: a codec may return frames mapped from a file there.
        rgb_result = compare(source, coded.decoded, "rgb", matrix=RGB_MATRIX)
        yuv = compare(source, coded.decoded, "yuv").means
        perceptual = {k: float(v.mean()) for k, v in ffmpeg_metrics(source, coded.decoded).items()}
    rgb = rgb_result.means
    fmt = source.format
    frames = source.num_frames
    return {
        **point.identity(),
        "rate_parameter": codec.rate_parameter,
        "settings": {**codec.settings(), **coded.settings},
        "width": fmt.width,
        "height": fmt.height,
        "chroma": fmt.chroma,
        "bit_depth": fmt.bit_depth,
        "fps": float(fmt.fps),
        "bytes": coded.num_bytes,
        "bpp": bpp(coded.num_bytes, frames, fmt.height, fmt.width),
        "kbps": kbps(coded.num_bytes, frames, fmt.fps),
        "psnr_rgb": rgb["psnr"],
        "ssim_rgb": rgb["ssim"],
        "ms_ssim_rgb": rgb["ms_ssim"],
        "rgb_matrix": RGB_MATRIX,
        "psnr_y": yuv["psnr_y"],
        "psnr_u": yuv["psnr_u"],
        "psnr_v": yuv["psnr_v"],
        "psnr_yuv": yuv["psnr_yuv"],
        "ssim_y": yuv["ssim_y"],
        "ms_ssim_y": yuv["ms_ssim_y"],
        "ms_ssim_window": rgb_result.ms_ssim_window,
        **perceptual,
        "encode_seconds": coded.encode_seconds,
        "decode_seconds": coded.decode_seconds,
        "versions": {**_package_versions(), **codec.versions()},
        "timestamp": _now(),
        "host": _host(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _package_versions() -> dict[str, str]:
    versions = {"inrcodec": __version__, "python": platform.python_version()}
    for package in ("numpy", "torch"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return versions


def _host() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": platform.machine(),
        "system": platform.system(),
        "processor": platform.processor() or None,
    }
