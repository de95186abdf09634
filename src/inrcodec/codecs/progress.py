"""Progress on stderr: a bar that redraws itself on a terminal, plain lines anywhere else.

In a log file or a pipe a redrawn bar (tqdm's ``\\r``) piles up into one long line, so there
`progress_bar` prints a line when a bar starts, at most every `LINE_INTERVAL` seconds, and
when it ends (`LineProgress`). `stage` announces a long step that has no bar (loading,
coding, a self-check), so that a user never watches a silent command.
"""

from __future__ import annotations

import sys
import time

#: Seconds between the lines of a `LineProgress`.
LINE_INTERVAL = 30.0


def progress_bar(total: int | None, desc: str, unit: str, *, show: bool = True, initial: int = 0):
    """A tqdm bar on a terminal, a `LineProgress` elsewhere; a disabled tqdm if not ``show``."""
    if show and not sys.stderr.isatty():
        return LineProgress(total, desc, unit, initial)
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit=unit, disable=not show, dynamic_ncols=True
    )


def stage(text: str, show: bool = True) -> None:
    """``text ...`` on stderr as a step without a bar begins (nothing if not ``show``)."""
    if show:
        print(f"{text} ...", file=sys.stderr, flush=True)


class LineProgress:
    """The part of tqdm's interface inrcodec uses, printing whole lines (module docstring)."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int = 0):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.postfix = ""
        self._started = time.monotonic()
        self._closed = False
        self._line()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._shown >= LINE_INTERVAL:
            self._line()

    def set_postfix(self, ordered_dict: dict | None = None, **values) -> None:
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def write(self, text: str) -> None:
        """A line of its own, as tqdm's ``write``."""
        print(text, flush=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._line()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self) -> None:
        total = f"/{self.total}" if self.total else ""
        seconds = time.monotonic() - self._started
        postfix = f", {self.postfix}" if self.postfix else ""
        print(
            f"{self.desc}: {self.n}{total} {self.unit}, {seconds:.0f} s{postfix}",
            file=sys.stderr,
            flush=True,
        )
        self._shown = time.monotonic()
