"""Metrics on hand-computed cases: PSNR conventions, 6:1:1, SSIM window rules, bpp, compare()."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from inrcodec.io.video import Video, VideoFormat
from inrcodec.metrics import (
    MetricError,
    bpp,
    compare,
    kbps,
    ms_ssim,
    ms_ssim_window,
    psnr,
    ssim,
    yuv_611,
)
from inrcodec.metrics.quality import frame_chunks


def textured_video(fmt: VideoFormat, frames: int, seed: int = 0) -> Video:
    """Random texture in the middle of the code range, so small offsets never clip."""
    rng = np.random.default_rng(seed)
    low, high = fmt.peak // 8, fmt.peak - fmt.peak // 8
    planes = tuple(
        rng.integers(low, high, size=(frames, *shape)).astype(fmt.dtype)
        for shape in fmt.plane_shapes()
    )
    return Video(planes, fmt)


def offset_video(video: Video, offsets: tuple[int, int, int]) -> Video:
    """Every sample of plane i moved by offsets[i] code values."""
    planes = tuple(
        (plane.astype(np.int64) + offset).astype(video.format.dtype)
        for plane, offset in zip(video.planes, offsets, strict=True)
    )
    return Video(planes, video.format)


# PSNR ------------------------------------------------------------------------------------------


def test_psnr_constant_error_8bit_is_exact():
    ref = np.full((3, 16, 16), 100, np.uint8)
    dist = ref.copy()
    dist[0] += 1
    dist[1] -= 5  # uint8 arithmetic must not wrap inside psnr
    dist[2] += 20
    expected = [10 * math.log10(255**2 / e**2) for e in (1, 5, 20)]
    np.testing.assert_allclose(psnr(ref, dist, 255), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(psnr(dist, ref, 255), expected, rtol=0, atol=1e-12)


def test_psnr_10bit_uses_peak_1023():
    ref = np.full((1, 8, 8), 600, np.uint16)
    dist = ref + np.uint16(5)
    assert psnr(ref, dist, 1023)[0] == pytest.approx(10 * math.log10(1023**2 / 25), abs=1e-12)


def test_psnr_of_8bit_codes_shifted_to_10bit():
    """x << 2 multiplies the MSE by 16: the dB change is only the peak ratio 1023 / (4 * 255)."""
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (2, 32, 32), dtype=np.uint8)
    dist = np.clip(ref + rng.integers(-9, 10, ref.shape), 0, 255).astype(np.uint8)
    ten_bit = psnr(ref.astype(np.uint16) << 2, dist.astype(np.uint16) << 2, 1023)
    np.testing.assert_allclose(ten_bit - psnr(ref, dist, 255), 20 * math.log10(1023 / 1020))


def test_mean_of_per_frame_psnr_is_not_psnr_of_mean_mse():
    """Two frames with MSE 1 and 100: the papers' mean of per-frame PSNR is 38.13 dB, while
    PSNR of the mean MSE (ffmpeg's summary line) is 31.10 dB."""
    ref = np.full((2, 4, 4), 128, np.uint8)
    dist = ref.copy()
    dist[0] += 1
    dist[1] += 10
    per_frame = psnr(ref, dist, 255)
    assert per_frame.mean() == pytest.approx(10 * math.log10(255**2) - 10, abs=1e-12)
    pooled = psnr(ref[None], dist[None], 255)  # the whole sequence as one "frame"
    assert pooled[0] == pytest.approx(10 * math.log10(255**2 / 50.5), abs=1e-12)
    assert per_frame.mean() - pooled[0] == pytest.approx(7.0330, abs=1e-4)


def test_psnr_of_identical_frames_is_capped_or_inf():
    ref = np.zeros((2, 4, 4), np.uint8)
    dist = ref.copy()
    dist[1, 0, 0] = 255  # MSE 255^2 / 16
    np.testing.assert_allclose(psnr(ref, dist, 255), [100.0, 10 * math.log10(16)])
    assert psnr(ref, dist, 255, max_db=None)[0] == math.inf
    assert psnr(ref, dist, 255, max_db=60.0)[0] == 60.0


def test_psnr_accepts_float_and_torch_inputs():
    rng = np.random.default_rng(2)
    ref = rng.random((3, 8, 8, 3), dtype=np.float32)
    dist = ref + np.float32(0.01)
    np.testing.assert_allclose(psnr(ref, dist, 1.0), 40.0, atol=1e-4)
    np.testing.assert_array_equal(
        psnr(torch.from_numpy(ref), torch.from_numpy(dist), 1.0), psnr(ref, dist, 1.0)
    )


def test_psnr_on_memmap_in_chunks_matches_frame_by_frame(tmp_path):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (40, 144, 176), dtype=np.uint8)
    frames.tofile(tmp_path / "ref.raw")
    ref = np.memmap(tmp_path / "ref.raw", np.uint8, "r", shape=frames.shape)
    dist = np.clip(frames + rng.integers(-3, 4, frames.shape), 0, 255).astype(np.uint8)
    assert len(list(frame_chunks(40, 144 * 176))) == 3  # 16 + 16 + 8 frames
    chunked = psnr(ref, dist, 255)
    one_by_one = [psnr(ref[t : t + 1], dist[t : t + 1], 255)[0] for t in range(40)]
    np.testing.assert_array_equal(chunked, one_by_one)


def test_frame_chunks_bound_samples_for_large_frames():
    chunks = list(frame_chunks(5, 3 * 1920 * 1080))
    assert [(c.start, c.stop) for c in chunks] == [(i, i + 1) for i in range(5)]


def test_psnr_rejects_mismatched_shapes_and_no_frames():
    with pytest.raises(MetricError, match=r"\(2, 4, 4\).*\(2, 4, 5\)"):
        psnr(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)), 1.0)
    with pytest.raises(MetricError, match="no frames"):
        psnr(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), 1.0)


def test_yuv_611_weights():
    assert yuv_611(40.0, 48.0, 56.0) == pytest.approx((240 + 48 + 56) / 8)


# SSIM / MS-SSIM ----------------------------------------------------------------------------------


def test_ms_ssim_window_rule():
    assert ms_ssim_window(1080, 1920) == 11
    assert ms_ssim_window(161, 200) == 11  # 161 > 10 * 16
    assert ms_ssim_window(160, 200) == 9
    assert ms_ssim_window(144, 176) == 9
    assert ms_ssim_window(33, 33) == 3
    with pytest.raises(MetricError, match="larger than 32 pixels.*got 32x32"):
        ms_ssim_window(32, 32)


def test_ssim_of_identical_frames_is_one_and_tiny_frames_fail():
    frames = np.random.default_rng(4).integers(0, 256, (2, 48, 64), dtype=np.uint8)
    np.testing.assert_allclose(ssim(frames, frames, 255), 1.0, atol=1e-12)
    np.testing.assert_allclose(ms_ssim(frames, frames, 255), 1.0, atol=1e-12)
    with pytest.raises(MetricError, match="at least 11x11.*got 10x10"):
        ssim(frames[:, :10, :10], frames[:, :10, :10], 255)
    with pytest.raises(MetricError, match="got 32x32"):
        ms_ssim(frames[:, :32, :32], frames[:, :32, :32], 255)


def test_ssim_averages_channels_with_equal_weight():
    rng = np.random.default_rng(5)
    ref = rng.random((2, 40, 40, 3))
    dist = np.clip(ref + rng.normal(0, [0.02, 0.1, 0.3], ref.shape), 0, 1)
    for metric in (ssim, ms_ssim):
        per_channel = [metric(ref[..., c], dist[..., c], 1.0) for c in range(3)]
        np.testing.assert_allclose(metric(ref, dist, 1.0), np.mean(per_channel, axis=0))


# bpp ---------------------------------------------------------------------------------------------


def test_bpp_and_kbps_by_hand():
    assert bpp(10_000, 32, 144, 176) == 80_000 / 811_008
    assert bpp(0, 1, 1, 1) == 0.0
    assert kbps(10_000, 32, 30) == 75.0
    assert kbps(1001, 8, 30000 / 1001) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="positive frames"):
        bpp(100, 0, 144, 176)
    with pytest.raises(ValueError, match="positive frames and fps"):
        kbps(100, 8, 0)


# compare(space="yuv") ----------------------------------------------------------------------------


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_compare_yuv_combines_planes_611(bit_depth):
    fmt = VideoFormat(64, 48, "420", bit_depth)
    ref = textured_video(fmt, 3)
    result = compare(ref, offset_video(ref, (2, 4, -8)), "yuv")
    y, u, v = (10 * math.log10(fmt.peak**2 / error**2) for error in (2, 4, 8))
    means = result.means
    for name, expected in (("psnr_y", y), ("psnr_u", u), ("psnr_v", v)):
        np.testing.assert_allclose(result.per_frame[name], expected)
    assert means["psnr_yuv"] == pytest.approx((6 * y + u + v) / 8)
    assert 0 < means["ssim_y"] < 1 and 0 < means["ms_ssim_y"] < 1
    assert result.ms_ssim_window == 3  # 48 px: the coarsest of 5 scales is 3 px
    assert result.matrix is None


def test_compare_yuv_444_and_identical_video():
    ref = textured_video(VideoFormat(48, 40, "444", 10), 2)
    result = compare(ref, ref, "yuv")
    assert result.means["psnr_yuv"] == 100.0
    assert result.means["ssim_y"] == pytest.approx(1.0) == result.means["ms_ssim_y"]
    assert compare(ref, ref, "yuv", max_db=None).means["psnr_y"] == math.inf


def test_compare_result_to_dict_is_json():
    ref = textured_video(VideoFormat(64, 48), 2)
    data = json.loads(json.dumps(compare(ref, offset_video(ref, (1, 1, 1)), "yuv").to_dict()))
    assert data["space"] == "yuv" and data["frames"] == 2 and data["ms_ssim_window"] == 3
    assert set(data["mean"]) == {"psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "ssim_y", "ms_ssim_y"}
    assert data["per_frame"]["psnr_y"] == pytest.approx([20 * math.log10(255)] * 2)
    assert data["psnr_max_db"] == 100.0


@pytest.mark.parametrize(
    ("dist_format", "frames", "message"),
    [
        (VideoFormat(352, 288), 2, "reference is 176x144, distorted is 352x288"),
        (VideoFormat(176, 144), 3, "reference has 2 frames, distorted has 3"),
        (VideoFormat(176, 144, "444"), 2, "reference is 4:2:0, distorted is 4:4:4"),
        (VideoFormat(176, 144, bit_depth=10), 2, "reference is 8-bit, distorted is 10-bit"),
        (VideoFormat(176, 144, "rgb"), 2, "the distorted is RGB"),
    ],
)
def test_compare_yuv_rejects_mismatched_videos(dist_format, frames, message):
    ref = textured_video(VideoFormat(176, 144), 2)
    with pytest.raises(MetricError, match=message):
        compare(ref, textured_video(dist_format, frames), "yuv")


def test_compare_rejects_unknown_space():
    ref = textured_video(VideoFormat(64, 48), 1)
    with pytest.raises(ValueError, match="space must be one of"):
        compare(ref, ref, "xyz")


@pytest.mark.parametrize("shape", [(2, 144, 176), (2, 161, 203, 3), (1, 97, 130)])
def test_ssim_and_ms_ssim_equal_pytorch_msssim(shape):
    """Our float64 numpy SSIM / MS-SSIM are pytorch_msssim's: its Gaussian window, valid
    filtering, and zero-padded pooling of odd sides between scales (1e-7: it computes the
    window in float32)."""
    import pytorch_msssim
    import torch

    rng = np.random.default_rng(7)
    ref = rng.integers(0, 256, shape).astype(np.uint8)
    dist = np.clip(ref + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)
    batch = [torch.from_numpy(a / 255.0) for a in (ref, dist)]
    batch = [b[:, None] if b.ndim == 3 else b.permute(0, 3, 1, 2) for b in batch]
    window = ms_ssim_window(*shape[1:3])
    expected_ssim = pytorch_msssim.ssim(*batch, data_range=1.0, size_average=False)
    expected_ms = pytorch_msssim.ms_ssim(
        *batch, data_range=1.0, size_average=False, win_size=window
    )
    np.testing.assert_allclose(ssim(ref, dist, 255), expected_ssim.numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        ms_ssim(ref, dist, 255, window), expected_ms.numpy(), rtol=0, atol=1e-7
    )
