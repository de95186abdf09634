"""Training of HiNeRV networks: losses, the fitting loop, determinism, checkpoints and resume."""

from __future__ import annotations

import json
import math

import pytest
import pytorch_msssim
import torch
from safetensors import safe_open
from torch.nn.utils import parametrize, prune

from conftest import SAMPLE_Y4M
from inrcodec import read_video
from inrcodec.codecs.synthesis import reconstruct
from inrcodec.codecs.training.checkpoints import CHECKPOINT_NAME
from inrcodec.codecs.training.fitting import (
    TrainConfig,
    VideoTarget,
    fit,
    load_checkpoint,
    patch_size_for,
)
from inrcodec.codecs.training.losses import (
    distortion,
    ms_ssim,
    ms_ssim_scales,
    psnr_per_frame,
    rgb_loss,
    yuv_loss,
)
from inrcodec.nets.hinerv import HiNeRV, preset

FRAMES = 4


pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]


@pytest.fixture(scope="module")
def video():
    return read_video(SAMPLE_Y4M, frames=FRAMES)


@pytest.fixture(scope="module")
def target(video):
    return VideoTarget.from_video(video)


def tiny_model(seed: int = 0, name: str = "hinerv-tiny") -> HiNeRV:
    torch.manual_seed(seed)
    return HiNeRV(preset(name, FRAMES, 144, 176), FRAMES, 144, 176)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


# ----------------------------------------------------------------------------- losses


def test_identical_inputs_cost_nothing():
    x = torch.rand(2, 3, 80, 96)
    assert ms_ssim(x, x) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert rgb_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert yuv_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)  # MSE floored at 1e-10


def test_rgb_loss_by_hand():
    """Flat 0.5 vs flat 0.6: L1 = 0.1; MS-SSIM keeps only the luminance term of the coarsest
    scale, l = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1), raised to its weight 0.1333 (the
    contrast terms are 1 up to the float32 rounding of flat variances, hence the tolerance)."""
    target = torch.full((1, 3, 80, 96), 0.5)  # sides halve evenly 4 times
    pred = torch.full((1, 3, 80, 96), 0.6)
    c1 = 0.01**2
    lum = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1)
    similarity = ms_ssim(pred, target).item()
    assert similarity == pytest.approx(lum**0.1333, abs=2e-4)
    assert rgb_loss(pred, target).item() == pytest.approx(0.7 * 0.1 + 0.3 * (1 - similarity))


def test_yuv_loss_is_the_611_product():
    """Offsets of 0.1, 0.2, 0.4 on Y, U, V: MSEs 0.01, 0.04, 0.16, product of powers."""
    target = torch.rand(2, 3, 72, 88) * 0.5
    pred = target + torch.tensor([0.1, 0.2, 0.4]).view(1, 3, 1, 1)
    product = 0.01**0.75 * 0.04**0.125 * 0.16**0.125
    ssim_y = ms_ssim(pred[:, :1], target[:, :1]).mean().item()
    expected = 0.99 * product + 0.01 * (1 - ssim_y)
    assert yuv_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)
    assert distortion(pred, target, "yuv").item() == yuv_loss(pred, target).item()
    # The training-space PSNR combines per-plane PSNRs 6:1:1.
    psnr = (6 * 20 + 10 * -math.log10(0.04) + 10 * -math.log10(0.16)) / 8
    assert psnr_per_frame(pred, target, "yuv") == pytest.approx([psnr, psnr], rel=1e-5)


def test_ms_ssim_matches_pytorch_msssim_and_shrinks_for_small_patches():
    x = torch.rand(2, 3, 72, 88)
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    reference = pytorch_msssim.ms_ssim(x, y, data_range=1.0, win_size=5, size_average=False)
    assert torch.allclose(ms_ssim(x, y), reference, atol=1e-6)
    assert [ms_ssim_scales(s, 200) for s in (65, 64, 33, 32, 17, 9, 5)] == [5, 4, 4, 3, 3, 2, 1]
    small = ms_ssim(x[..., :40, :40], y[..., :40, :40])  # 4 scales, renormalised weights
    assert small.shape == (2,) and bool(((small > 0.5) & (small < 1)).all())
    with pytest.raises(ValueError):
        ms_ssim_scales(4, 100)


def test_patch_size_rule():
    assert patch_size_for(1080, 1920) == (120, 120)  # the papers' 144 patches a frame
    assert patch_size_for(144, 176) == (72, 88)
    assert patch_size_for(96, 112) == (96, 112)  # small frames train whole


# ----------------------------------------------------------------------------- targets


def test_targets(video, target):
    assert target.frames.shape == (FRAMES, 3, 144, 176) and target.space == "rgb"
    assert 0 <= target.frames.min() and target.frames.max() <= 1
    yuv = VideoTarget.from_video(video, space="yuv", frames=slice(1, 3))
    assert yuv.frames.shape == (2, 3, 144, 176) and yuv.frames.dtype == torch.float32
    assert torch.equal(yuv.frames[:, 0], torch.tensor(video.planes[0][1:3]).float() / 255)


# ----------------------------------------------------------------------------- training


def test_training_improves_and_is_deterministic(target):
    config = TrainConfig(steps=30, lr=5e-3, seed=3, log_every=5)
    model = tiny_model()
    before = reconstruct(model, FRAMES, batch=2)
    loss_before = distortion(before, target.frames, "rgb").item()
    psnr_before = psnr_per_frame(before, target.frames, "rgb").mean().item()

    result = fit(model, target, config, progress=False)
    after = reconstruct(model, FRAMES)
    assert after.shape == (FRAMES, 3, 144, 176) and 0 <= after.min() and after.max() <= 1
    assert distortion(after, target.frames, "rgb").item() < loss_before
    assert result.psnr > psnr_before + 1.0
    assert result.psnr == pytest.approx(psnr_per_frame(after, target.frames, "rgb").mean().item())
    assert result.steps == 30 and result.steps_per_second > 0 and math.isfinite(result.loss)

    again = tiny_model()
    fit(again, target, config, progress=False)
    assert_same_weights(model, again)


class Noise(torch.nn.Module):
    """Stands in for Quant-Noise: random noise from the global RNG while training."""

    def forward(self, w):
        return w + 1e-3 * torch.randn_like(w) if self.training else w


def wrapped_model(seed: int) -> HiNeRV:
    model = tiny_model(seed)
    torch.manual_seed(7)  # the same mask for every copy
    parametrize.register_parametrization(model.stages[0].blocks[0].fc1, "weight", Noise())
    prune.random_unstructured(model.stages[1].blocks[0].fc2, "weight", amount=0.3)
    return model


class Kill(Exception):
    pass


@pytest.mark.parametrize("make", [tiny_model, wrapped_model], ids=["plain", "wrapped"])
def test_resume_after_a_kill_matches_an_uninterrupted_run(target, tmp_path, make):
    config = TrainConfig(steps=20, checkpoint_every=10, log_every=5, seed=1)
    whole = make(0)
    expected = fit(whole, target, config, run_dir=tmp_path / "whole", progress=False)

    def kill_at_15(step, total):
        if step == 15:
            raise Kill

    with pytest.raises(Kill):
        fit(make(0), target, config, run_dir=tmp_path / "cut", progress=False, callback=kill_at_15)
    state = json.loads((tmp_path / "cut" / "train" / "state.json").read_text())
    assert state["step"] == 10 and not state["finished"]

    torch.manual_seed(12345)  # the global RNG is restored from the checkpoint, not reused
    resumed = make(99)  # different initial weights: they come from the checkpoint
    calls = []
    result = fit(
        resumed,
        target,
        config,
        run_dir=tmp_path / "cut",
        resume=True,
        progress=False,
        callback=lambda step, total: calls.append(step),
    )
    assert calls == list(range(10, 20))
    assert_same_weights(whole, resumed)
    assert result.psnr == expected.psnr and result.loss == expected.loss

    # A finished stage returns at once with its weights and result.
    again = make(5)
    done = fit(
        again,
        target,
        config,
        run_dir=tmp_path / "cut",
        resume=True,
        progress=False,
        callback=lambda step, total: calls.append(step),
    )
    assert calls == list(range(10, 20)) and done == result
    assert_same_weights(whole, again)

    with pytest.raises(ValueError, match="cannot resume"):
        fit(
            make(0),
            target,
            TrainConfig(steps=20, lr=1e-3),
            run_dir=tmp_path / "cut",
            resume=True,
            progress=False,
        )


def test_checkpoints_are_safetensors_and_json_only(target, tmp_path):
    model = tiny_model()
    config = TrainConfig(steps=4, checkpoint_every=2, log_every=2, frames_per_batch=2)
    fit(model, target, config, run_dir=tmp_path, stage="quant", progress=False)
    files = sorted(p.name for p in (tmp_path / "quant").iterdir())
    assert files == [CHECKPOINT_NAME, "state.json"]  # no temporary files left behind
    ckpt = tmp_path / "quant" / CHECKPOINT_NAME
    # No pickle: safetensors, the JSON header's length (8 bytes) then the header (a first byte
    # of 0x80, pickle's, is also the low byte of some header lengths, so it proves nothing).
    data = ckpt.read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert "__metadata__" in header
    assert (tmp_path / "quant" / "state.json").read_text().startswith("{")
    state = json.loads((tmp_path / "quant" / "state.json").read_text())
    assert state["finished"] and state["step"] == 4 and state["stage"] == "quant"
    with safe_open(str(ckpt), framework="pt") as f:
        keys = set(f.keys())
    assert {f"model.{k}" for k in model.state_dict()} <= keys
    assert any(k.startswith("optim.") and k.endswith(".exp_avg") for k in keys)
    assert "rng.cpu" in keys

    # The weights load into a plain model and into one with a parametrization.
    plain, wrapped = tiny_model(4), tiny_model(4)
    parametrize.register_parametrization(wrapped.head, "weight", Noise())
    for other in (plain, wrapped):
        assert load_checkpoint(other, tmp_path / "quant")["step"] == 4
        other.eval()
        assert torch.equal(reconstruct(other, [0, 3]), reconstruct(model, [0, 3]))


def test_yuv_training_runs(video):
    target = VideoTarget.from_video(video, space="yuv")
    model = tiny_model(name="nvrc-tiny")
    result = fit(model, target, TrainConfig(steps=3, loss="yuv"), progress=False)
    assert math.isfinite(result.loss) and result.psnr > 0
    with pytest.raises(ValueError, match="loss"):
        fit(model, target, TrainConfig(steps=1), progress=False)
