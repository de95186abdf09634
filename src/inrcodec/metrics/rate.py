"""Rate from a byte count: bits per pixel and kilobits per second.

Every byte of the stored file counts (headers included), and pixels are luma pixels of the full
frame: ``bpp = 8 * bytes / (frames * height * width)`` (docs/design.md, "The bitstream", as in
the NVRC and TeCoNeRV papers).
"""

from __future__ import annotations

from fractions import Fraction


def bpp(num_bytes: int, frames: int, height: int, width: int) -> float:
    """Bits per pixel: ``8 * num_bytes / (frames * height * width)``."""
    if num_bytes < 0 or min(frames, height, width) <= 0:
        raise ValueError(
            f"bpp needs num_bytes >= 0 and positive frames, height and width; got {num_bytes} "
            f"bytes, {frames} frames of {width}x{height}"
        )
    return 8 * num_bytes / (frames * height * width)


def kbps(num_bytes: int, frames: int, fps: float | Fraction) -> float:
    """Kilobits (1000 bits) per second of video: ``8 * num_bytes * fps / frames / 1000``."""
    if num_bytes < 0 or frames <= 0 or fps <= 0:
        raise ValueError(
            f"kbps needs num_bytes >= 0 and positive frames and fps; got {num_bytes} bytes, "
            f"{frames} frames at {fps} fps"
        )
    return float(8 * num_bytes * Fraction(fps) / frames / 1000)
