"""Resizing frames to a model's size: scale to cover it on the shorter side, then crop the
centre (TeCoNeRV Sec. 4.1 and Appendix A). The training corpus and the codec's ``resize``
share it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["resize_and_crop"]


def resize_and_crop(rgb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(T, 3, H, W)`` float -> ``(T, 3, h, w)``: scaled (antialiased bilinear) so that it just
    covers ``size = (h, w)`` (the shorter side, relative to the target's aspect), then the
    centre crop."""
    h, w = size
    _, _, src_h, src_w = rgb.shape
    scale = max(h / src_h, w / src_w)
    new_h, new_w = max(h, round(src_h * scale)), max(w, round(src_w * scale))
    if (new_h, new_w) != (src_h, src_w):
        rgb = F.interpolate(
            rgb, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
    top, left = (new_h - h) // 2, (new_w - w) // 2
    return rgb[:, :, top : top + h, left : left + w]
