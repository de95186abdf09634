"""Distortion losses and the training-space PSNR of HiNeRV / NVRC (NVRC Appendix A.2).

RGB output, eq. (10):  D = 0.7 L1 + 0.3 (1 - MS-SSIM)            (MS-SSIM on the 3 channels)
YUV output, eq. (11):  D = 0.99 MSE_Y^(6/8) MSE_U^(1/8) MSE_V^(1/8) + 0.01 (1 - MS-SSIM_Y)

YUV is trained as 4:4:4 (the papers' choice, so the network is unchanged); every plane is in
[0, 1] (code value / peak). All inputs are ``(B, 3, h, w)`` tensors; every loss is a scalar, the
mean over the batch. Losses are computed in float32 whatever the input dtype (mixed precision).

MS-SSIM uses the 5x5 Gaussian window of the papers ("reduced window size due to the training in
small patches", sigma 1.5, K = (0.01, 0.03)) and the standard 5-scale weights of Wang et al.
(2003). Five scales at window 5 need the shorter side of the patch to exceed
``(5 - 1) * 2**4 = 64`` pixels (the coarsest scale must still hold a window). Smaller patches use
the largest number of scales L that fits, ``min(h, w) > 4 * 2**(L - 1)``, with the first L
standard weights renormalised to sum to 1 (`ms_ssim_scales`; the five standard weights are used
as published, summing to 1.0001). With L = 5 the result equals
``pytorch_msssim.ms_ssim(..., win_size=5)`` (to float rounding; tested), whose Gaussian window
we reuse; pytorch_msssim itself refuses small inputs, and filters each local moment separately,
so the scale loop is written here.
"""

from __future__ import annotations

import torch
from pytorch_msssim.ssim import _fspecial_gauss_1d
from torch.nn import functional as F

__all__ = [
    "MS_SSIM_WEIGHTS",
    "MS_SSIM_WINDOW",
    "distortion",
    "ms_ssim",
    "mse_loss",
    "ms_ssim_scales",
    "psnr_per_frame",
    "rgb_loss",
    "yuv_loss",
]

MS_SSIM_WINDOW = 5
MS_SSIM_SIGMA = 1.5
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# Lower bound on each per-plane MSE in eq. (11): x**(1/8) has an infinite slope at 0, so a plane
# reproduced exactly would give NaN gradients. 1e-10 is far below any 8-10 bit quantisation
# error (PSNR 100 dB), so the clamp never binds in practice.
_MSE_FLOOR = 1e-10
LOSS_SPACES = ("rgb", "yuv")
METRICS = ("paper", "mse")  # eq. (10) / (11), or the MSE that PSNR measures


def ms_ssim_scales(height: int, width: int, window: int = MS_SSIM_WINDOW) -> int:
    """Number of MS-SSIM scales used for a ``height x width`` input (at most 5).

    The largest L with ``min(height, width) > (window - 1) * 2**(L - 1)``: 5 from 65 px up at
    window 5, 4 for 33-64 px, 3 for 17-32, 2 for 9-16, 1 (plain SSIM) for 5-8.
    """
    side = min(height, width)
    for levels in range(len(MS_SSIM_WEIGHTS), 0, -1):
        if side > (window - 1) * 2 ** (levels - 1):
            return levels
    raise ValueError(f"MS-SSIM with a {window}x{window} window needs inputs above {window - 1} px")


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor):
    """SSIM and contrast-structure term per (image, channel), as ``pytorch_msssim``'s ``_ssim``
    (data range 1, K = (0.01, 0.03), valid separable Gaussian filtering), but with the five
    local moments filtered in one grouped convolution per direction instead of ten small ones
    (the filtering dominates the loss's cost on CPU)."""
    c1, c2 = 0.01**2, 0.03**2
    b, c = x.shape[:2]
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (B, 5C, h, w)
    k = win.shape[-1]
    weight = win.to(stack).reshape(1, 1, 1, k).expand(5 * c, 1, 1, k)
    stack = F.conv2d(stack, weight, groups=5 * c)
    stack = F.conv2d(stack, weight.transpose(2, 3), groups=5 * c)
    mu1, mu2, xx, yy, xy = stack.unflatten(1, (5, c)).unbind(1)
    mu1_sq, mu2_sq, mu12 = mu1.square(), mu2.square(), mu1 * mu2
    cs_map = (2 * (xy - mu12) + c2) / ((xx - mu1_sq) + (yy - mu2_sq) + c2)
    ssim_map = (2 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window: int = MS_SSIM_WINDOW) -> torch.Tensor:
    """MS-SSIM per image, ``(B,)``, of ``(B, C, h, w)`` inputs in [0, 1] (channels averaged).

    Scales and weights as `ms_ssim_scales` (the module docstring explains the small-input rule).
    """
    x, y = x.float(), y.float()
    levels = ms_ssim_scales(x.shape[-2], x.shape[-1], window)
    weights = x.new_tensor(MS_SSIM_WEIGHTS[:levels])
    if levels < len(MS_SSIM_WEIGHTS):
        weights = weights / weights.sum()
    win = _fspecial_gauss_1d(window, MS_SSIM_SIGMA).reshape(-1)
    values = []
    for level in range(levels):
        ssim, cs = _ssim_and_cs(x, y, win)
        if level < levels - 1:
            values.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    values.append(torch.relu(ssim))
    stacked = torch.stack(values, dim=0)  # (levels, B, C)
    return torch.prod(stacked ** weights.view(-1, 1, 1), dim=0).mean(dim=1)


def rgb_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. (10): ``0.7 L1 + 0.3 (1 - MS-SSIM)`` on RGB in [0, 1]."""
    pred, target = pred.float(), target.float()
    l1 = (pred - target).abs().mean()
    return 0.7 * l1 + 0.3 * (1.0 - ms_ssim(pred, target).mean())


def yuv_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. (11): ``0.99 MSE_Y^(6/8) MSE_U^(1/8) MSE_V^(1/8) + 0.01 (1 - MS-SSIM_Y)``.

    Each MSE is over the whole batch of one plane (4:4:4, values in [0, 1]), floored at 1e-10.
    The product is the geometric 6:1:1 mean of the plane MSEs, so its log is the PSNR-YUV
    (6:1:1) that the results report, up to sign and scale.
    """
    pred, target = pred.float(), target.float()
    mse = (pred - target).square().mean(dim=(0, 2, 3)).clamp_min(_MSE_FLOOR)  # (3,)
    product = mse[0] ** 0.75 * mse[1] ** 0.125 * mse[2] ** 0.125
    return 0.99 * product + 0.01 * (1.0 - ms_ssim(pred[:, :1], target[:, :1]).mean())


def mse_loss(pred: torch.Tensor, target: torch.Tensor, space: str) -> torch.Tensor:
    """The mean squared error that PSNR measures: over the three RGB channels, or the 6:1:1
    geometric mean of the per-plane MSEs (eq. 11 without its MS-SSIM term) in YUV."""
    pred, target = pred.float(), target.float()
    if space == "rgb":
        return (pred - target).square().mean()
    mse = (pred - target).square().mean(dim=(0, 2, 3)).clamp_min(_MSE_FLOOR)
    return mse[0] ** 0.75 * mse[1] ** 0.125 * mse[2] ** 0.125


def distortion(
    pred: torch.Tensor, target: torch.Tensor, space: str, metric: str = "paper"
) -> torch.Tensor:
    """The training loss of `space`: the papers' ("rgb": eq. 10, "yuv": eq. 11), or with
    ``metric="mse"`` the MSE that PSNR measures (`mse_loss`)."""
    if space not in LOSS_SPACES:
        raise ValueError(f"unknown loss space {space!r}; expected one of {LOSS_SPACES}")
    if metric == "mse":
        return mse_loss(pred, target, space)
    return rgb_loss(pred, target) if space == "rgb" else yuv_loss(pred, target)


def psnr_per_frame(pred: torch.Tensor, target: torch.Tensor, space: str) -> torch.Tensor:
    """PSNR in dB of each image of a ``(B, 3, h, w)`` batch in [0, 1], in the training space.

    "rgb": from the MSE over the three channels. "yuv": per-plane PSNR (4:4:4) combined 6:1:1.
    Exact reproductions are capped at 100 dB (MSE floored at 1e-10) instead of infinity.
    """
    mse = (pred.float() - target.float()).square().mean(dim=(2, 3)).clamp_min(_MSE_FLOOR)
    if space == "rgb":
        return -10.0 * torch.log10(mse.mean(dim=1))
    if space == "yuv":
        planes = -10.0 * torch.log10(mse)  # (B, 3)
        return (6.0 * planes[:, 0] + planes[:, 1] + planes[:, 2]) / 8.0
    raise ValueError(f"unknown loss space {space!r}; expected one of {LOSS_SPACES}")
