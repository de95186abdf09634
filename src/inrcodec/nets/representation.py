"""What a network representing one video declares, so that a codec can fit, compress and
rebuild it without knowing which network it is.

NVRC (Kwan et al. 2024) presents its compression as a framework that "can be integrated with
any typical INR-based models"; this is the face such a model shows it. A representation maps
frame indices to frames and sorts its parameters into two kinds:

- **grids** (`grid_names`): feature grids, each a tensor ``(T, H, W, C)`` over time, rows,
  columns and channels; NVRC codes them in blocks under a context model (Sec. 3.1);
- **layers**: every other parameter, each seen as a matrix (`matrix_shape`) whose row i holds
  what belongs to output unit i; NVRC gives rows and columns their own steps and Gaussians
  (Sec. 3.2).

It also states its decoding cost (`macs_per_pixel`) and memory (`peak_activations`), and,
optionally, which slices of its grids (along their first axis, time) a batch of frames reads
(``grid_slices(frame_indices)``, a tensor of slice indices per grid): then NVRC quantises
only those slices in a training step. It knows nothing of coding: how its configuration is
written to a file, and rebuilt from one, is the codec's side
(`inrcodec.codecs.nvrc.backbones`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Representation(Protocol):
    """A network fitted to one video of ``frames`` frames of ``height`` x ``width`` pixels.

    ``config`` is a frozen dataclass with a ``name`` that fixes every shape of the network
    for that video size. The network works on the frame padded to ``padded_height`` x
    ``padded_width`` (padding at the bottom and right); training may evaluate it on patches of
    that padded frame (`patches`).
    """

    config: Any
    frames: int
    height: int
    width: int
    padded_height: int
    padded_width: int

    def __call__(
        self, frame_indices: torch.Tensor, patch: tuple[int, int, int, int] | None = None
    ) -> torch.Tensor:
        """``(B,)`` frame indices -> ``(B, 3, h, w)``: the frames cropped to the video, or the
        ``patch`` = (top, left, height, width) of the padded frame."""
        ...

    def patches(self, patch_height: int, patch_width: int) -> list[tuple[int, int, int, int]]:
        """(top, left, height, width) tiles covering the padded frame, row-major."""
        ...

    def grid_names(self) -> list[str]:
        """Names of the parameters that are feature grids ``(T, H, W, C)``, in coding order."""
        ...

    def matrix_shape(self, name: str, shape: tuple[int, ...]) -> tuple[int, int]:
        """The ``(rows, cols)`` view of the layer parameter ``name`` of ``shape``."""
        ...

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates to decode one pixel (whole frames)."""
        ...

    def peak_activations(self) -> int:
        """About the most activation values a whole-frame forward of one frame holds at once
        (what a decoder needs beyond the parameters: `inrcodec.codecs.synthesis`)."""
        ...
