"""Benchmark points as Ray tasks: ``inrcodec bench run --ray [ADDRESS]`` (docs/bench.md).

The only module of inrcodec that imports Ray, and only when a run asks for it. Each point is
one task that declares what it needs (``cpus`` CPUs, and one GPU when the codec's options say
``device: cuda``), so a cluster packs them; `run_points` stays the only writer of the results
file. A sequence whose frames take at most ``object_store_limit`` bytes (`OBJECT_STORE_LIMIT`)
is read once here and put in the object store; a larger one is read by each task from its
path, which must then be on storage that every node sees (checked on every node before any
task starts). Ray retries a task whose worker process died, up to ``retries`` times; an
exception raised while measuring is an outcome (a failure record), never retried.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inrcodec.bench.run import Outcome, _measure_or_message, _message, _start_worker
from inrcodec.bench.spec import Point, Sequence
from inrcodec.codecs import CODECS, CodecEntry
from inrcodec.errors import InrcodecError

#: Sequences up to this many bytes of frames travel through the object store, larger ones by
#: path. 64 MiB holds a few hundred CIF frames or 20 frames of 1080p 4:2:0 8-bit.
OBJECT_STORE_LIMIT = 64 * 2**20


class RayExecutorError(InrcodecError):
    """The points cannot run on Ray: Ray missing, no cluster there, no node that fits a task."""


@dataclass(frozen=True)
class _Worker:
    """What a task sets up in its worker first: this process's codec registry and import path
    (codecs registered at run time included), folder and a torch thread count of its CPUs."""

    codecs: dict[str, CodecEntry]
    sys_path: list[str]
    cwd: str
    threads: int


def task_resources(point: Point, cpus: float) -> dict[str, float]:
    """The resources one point's task asks Ray for."""
    device = str(point.codec.options.get("device", ""))
    return {"num_cpus": cpus, "num_gpus": 1 if device.startswith("cuda") else 0}


def sequence_bytes(sequence: Sequence) -> int:
    """Bytes of a sequence's selected frames in memory (what the object store would hold)."""
    video = sequence.read()
    return video.num_frames * video.format.frame_bytes


class RayExecutor:
    """Run points as Ray tasks (an `inrcodec.bench.run.Executor`).

    ``address``: None for Ray already started in this process (``ray.init``), else an embedded
    local instance of ``local_cpus`` CPUs (default all); "auto", "host:port" or
    "ray://host:port" to join a cluster. ``cpus``: CPUs per task (and torch threads);
    ``retries``: how often a task whose worker died is run again.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus: float = 1,
        retries: int = 3,
        local_cpus: int | None = None,
        object_store_limit: int = OBJECT_STORE_LIMIT,
    ):
        if cpus <= 0:
            raise RayExecutorError(f"CPUs per point must be positive, got {cpus}")
        if retries < 0:
            raise RayExecutorError(f"retries must be 0 or more, got {retries}")
        self.address, self.cpus, self.retries = address, cpus, retries
        self.local_cpus, self.object_store_limit = local_cpus, object_store_limit

    def __call__(self, points: list[Point]) -> Iterator[Outcome]:
        """Start (or join) Ray, check that every task can run, submit them all; the returned
        iterator yields outcomes as tasks finish and stops Ray if it started it."""
        ray = _import_ray()
        started = self._start(ray)
        try:
            self._check_fits(ray, points)
            sources = self._sources(ray, points)
            by_path = {p.sequence.path for p in points if sources[_key(p.sequence)] is None}
            self._check_paths(ray, sorted(by_path))
            pending = self._submit(ray, points, sources)
        except BaseException:
            if started:
                ray.shutdown()
            raise
        return self._collect(ray, pending, sources, started)

    def _start(self, ray) -> bool:
        """Start or join Ray unless it runs here already; whether this call started it."""
        if ray.is_initialized():
            return False
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if self.address:
                ray.init(address=self.address, **quiet)
            else:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports from a tool
                ray.init(  # "local": a new instance, never a cluster found on this machine
                    address="local", num_cpus=self.local_cpus, include_dashboard=False, **quiet
                )
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise RayExecutorError(f"cannot start {where}: {_message(error)}") from None
        return True

    def _check_fits(self, ray, points: list[Point]) -> None:
        """Refuse tasks that no node can run: Ray would queue them for ever."""
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        sizes = [(n.get("CPU", 0), n.get("GPU", 0)) for n in nodes]
        for gpus in {task_resources(point, self.cpus)["num_gpus"] for point in points}:
            if not any(c >= self.cpus and g >= gpus for c, g in sizes):
                have = ", ".join(f"{c:g} CPUs + {g:g} GPUs" for c, g in sorted(set(sizes)))
                raise RayExecutorError(
                    f"a point needs {self.cpus:g} CPU(s) and {gpus:g} GPU(s) (a GPU for "
                    f"options device: cuda), but no Ray node has that (nodes: {have or 'none'}); "
                    "lower --ray-cpus, or start such a node first"
                )

    def _sources(self, ray, points: list[Point]) -> dict[tuple, Any]:
        """Per sequence (`_key`): its frames in the object store, or None (read by path)."""
        sources: dict[tuple, Any] = {}
        for key, sequence in {_key(p.sequence): p.sequence for p in points}.items():
            small = sequence_bytes(sequence) <= self.object_store_limit
            sources[key] = ray.put(sequence.read().load()) if small else None
        return sources

    def _check_paths(self, ray, paths: list[str]) -> None:
        """Every sequence that goes by path must be readable on every node with CPUs."""
        if not paths:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [n for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0)]
        check = ray.remote(_missing_paths)
        refs = {
            node["NodeManagerAddress"]: check.options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(paths)
            for node in nodes
        }
        for host, ref in refs.items():
            missing = ray.get(ref)
            if missing:
                raise RayExecutorError(
                    f"node {host} cannot read {', '.join(missing)}: sequences over "
                    f"{self.object_store_limit} bytes go by path and must be on storage that "
                    "every node of the cluster sees"
                )

    def _submit(self, ray, points: list[Point], sources: dict) -> dict:
        worker = _Worker(dict(CODECS), list(sys.path), os.getcwd(), max(1, round(self.cpus)))
        task = ray.remote(_task)
        pending = {}
        for point in points:
            options = task.options(
                **task_resources(point, self.cpus),
                max_retries=self.retries,  # a dead worker process: run again
                retry_exceptions=False,  # cannot happen: `_task` returns errors
                name=point.describe(),
            )
            pending[options.remote(point, sources[_key(point.sequence)], worker)] = point
        return pending

    def _collect(self, ray, pending: dict, sources: dict, started: bool) -> Iterator[Outcome]:
        """Yield each task's outcome once, as it finishes; on an early stop cancel the rest.
        ``sources`` is held so that the object store keeps the sequences until the end."""
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    point = pending.pop(ref)
                    try:
                        record, error = ray.get(ref)
                    except ray.exceptions.RayError as crash:  # retries used up, or cancelled
                        record, error = None, _message(crash)
                    yield point, record, error
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            sources.clear()
            if started:
                ray.shutdown()


def _task(point: Point, source, worker: _Worker):
    """One point in a Ray worker: ``(record, None)`` or ``(None, message)``."""
    _start_worker(worker.codecs, worker.threads)
    sys.path.extend(entry for entry in worker.sys_path if entry not in sys.path)
    if os.path.isdir(worker.cwd):  # relative paths in codec options, as with --jobs
        os.chdir(worker.cwd)
    return _measure_or_message(point, source)


def _missing_paths(paths: list[str]) -> list[str]:
    return [path for path in paths if not os.path.exists(path)]


def _key(sequence: Sequence) -> tuple:
    """A sequence as a dictionary key (its read options are a dict)."""
    return (sequence.name, sequence.path, sequence.start, sequence.frames,
            tuple(sorted(sequence.read_options.items())))  # fmt: skip


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayExecutorError(
            "--ray needs Ray: pip install 'inrcodec[ray]' (or run with --jobs)"
        ) from None
    return ray
