"""The loop machinery both trainers share (`fitting.fit`, `teconerv.train.train`): the device,
the run's checkpoint (resume, write, the clock) and the progress bar with windowed means."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..progress import progress_bar
from .checkpoints import resume_checkpoint, save_checkpoint

__all__ = ["ProgressLog", "RunCheckpoint", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; any other name as torch reads it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class RunCheckpoint:
    """A run's checkpoint file at `path` (None: no file), of format `fmt`, holding `model` and
    `optimizer` (`inrcodec.codecs.checkpoints`), and the run's clock."""

    def __init__(
        self, path: Path | None, fmt: str, model: nn.Module, optimizer: torch.optim.Optimizer
    ):
        self.path, self.fmt, self.model, self.optimizer = path, fmt, model, optimizer
        self._before, self._started = 0.0, time.perf_counter()

    def resume(self, check: Callable[[dict], None]) -> dict | None:
        """The file's state, the run continued from it (`resume_checkpoint`; `check` refuses a
        changed configuration); None when there is no file."""
        if self.path is None or not self.path.exists():
            return None
        state = resume_checkpoint(self.path, self.fmt, self.model, self.optimizer, check)
        self._before = state["seconds"]
        return state

    def save(self, state: dict) -> None:
        """Write the checkpoint with `state` and the run's seconds."""
        if self.path is not None:
            state = {**state, "seconds": self.seconds()}
            save_checkpoint(self.path, self.fmt, self.model, self.optimizer, state)

    def seconds(self) -> float:
        """Training seconds over all sessions of the run."""
        return self._before + time.perf_counter() - self._started


class ProgressLog:
    """A run's progress bar (`progress_bar`, when `show`) and the means of per-step values
    over windows of `every` steps: `add` sums them where they are, on the device; `flush`
    reads a window's means at its end, all in one host-device sync."""

    def __init__(self, total: int, start: int, every: int, desc: str, show: bool):
        self.total, self.every = total, every
        self.bar = None
        if show:
            self.bar = progress_bar(total, desc, "step", initial=start)
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0

    def __enter__(self) -> ProgressLog:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def add(self, **values: torch.Tensor) -> None:
        """One step's values (scalar tensors)."""
        for name, value in values.items():
            value = value.detach()
            self._sums[name] = self._sums[name] + value if name in self._sums else value
        self._count += 1

    def flush(self, done: int, **latest: torch.Tensor) -> dict[str, float] | None:
        """After step `done` (1-based): at the end of a window (every `every` steps, and the
        last step) that holds steps, the window's means and the `latest` values, read together;
        the next window starts empty. None elsewhere."""
        if not self._count or (done % self.every and done != self.total):
            return None
        names = [*self._sums, *latest]
        means = [total / self._count for total in self._sums.values()]
        values = torch.stack(means + [v.detach() for v in latest.values()]).tolist()
        self._sums, self._count = {}, 0
        return dict(zip(names, values, strict=True))

    def show(self, done: int, **postfix: str) -> None:
        """Move the bar to step `done`, showing `postfix`."""
        if self.bar is not None:
            self.bar.set_postfix(postfix)
            self.bar.update(done - self.bar.n)

    def write(self, text: str) -> None:
        """A line above the bar (nothing when the bar is hidden)."""
        if self.bar is not None:
            self.bar.write(text)
