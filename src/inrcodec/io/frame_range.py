"""Turning a reader's ``start``/``frames`` arguments into a checked range of frame indices."""

from __future__ import annotations

from .video import VideoFormatError


def check_request(start: int, frames: int | None) -> None:
    """Raise unless ``start`` is a frame index and ``frames`` a positive count or ``None``."""
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise VideoFormatError(f"start must be a frame index >= 0, got {start!r}")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int)):
        raise VideoFormatError(f"frames must be a positive count or None, got {frames!r}")
    if frames is not None and frames < 1:
        raise VideoFormatError(f"frames must be a positive count or None, got {frames}")


def frame_range(available: int, start: int = 0, frames: int | None = None) -> range:
    """Indices ``start, start + 1, ...`` of the wanted frames among ``available`` ones.

    ``frames=None`` means "to the end". A request beyond the end is an error, never silently
    shortened.
    """
    check_request(start, frames)
    if available == 0:
        raise VideoFormatError("the video has no frames")
    stop = available if frames is None else start + frames
    if start >= available or stop > available:
        raise VideoFormatError(
            f"asked for frames {start} to {stop - 1} but the video has {available} frames "
            f"(0 to {available - 1})"
        )
    return range(start, stop)
