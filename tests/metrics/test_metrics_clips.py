"""Metrics on real video: agreement with ffmpeg's `psnr` filter (8- and 10-bit), SSIM behaviour on
real frames, and the RGB path through `inrcodec.io.colour.video_to_rgb`.

The distorted clips are the 32-frame carphone sample through libx264 at CRF 35 (the static ffmpeg of
imageio-ffmpeg), so the per-frame errors are those of a real codec and differ from frame to frame.
Raw files are parsed here with numpy, independently of the io module's readers.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io.colour import video_to_rgb
from inrcodec.io.video import Video, VideoFormat
from inrcodec.metrics import compare, ms_ssim, psnr, ssim

pytestmark = pytest.mark.integration

PIX_FMTS = {8: "yuv420p", 10: "yuv420p10le"}


def ffmpeg(*args: str, cwd: Path | None = None) -> str:
    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-y", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stderr


def video_from_raw(frames: np.ndarray, fmt: VideoFormat) -> Video:
    """Split ``(T, frame_samples)`` planar frames into the three planes of a `Video`."""
    sizes = [h * w for h, w in fmt.plane_shapes()]
    parts = np.split(frames, np.cumsum(sizes)[:-1], axis=1)
    planes = (p.reshape(-1, h, w) for p, (h, w) in zip(parts, fmt.plane_shapes(), strict=True))
    return Video(tuple(planes), fmt)


def read_raw(path: Path, fmt: VideoFormat) -> Video:
    frames = np.fromfile(path, dtype=fmt.dtype.newbyteorder("<"))
    return video_from_raw(frames.reshape(-1, fmt.frame_samples).astype(fmt.dtype), fmt)


def read_sample_y4m() -> Video:
    """The 8-bit 4:2:0 sample: one header line, then ``FRAME\\n`` + planar bytes per frame."""
    header, body = SAMPLE_Y4M.read_bytes().split(b"\n", 1)
    fields = {token[:1]: token[1:] for token in header.split()[1:]}
    assert fields[b"C"].startswith(b"420")
    fmt = VideoFormat(int(fields[b"W"]), int(fields[b"H"]))
    frames = np.frombuffer(body, np.uint8).reshape(-1, 6 + fmt.frame_bytes)
    assert bytes(frames[0, :6]) == b"FRAME\n"
    return video_from_raw(frames[:, 6:], fmt)


def ffmpeg_psnr_stats(ref: Path, dist: Path, pix_fmt: str, folder: Path):
    """Per-frame rows of ffmpeg's psnr ``stats_file`` and its summary line, as floats."""
    raw = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", "176x144"]
    log = ffmpeg(*raw, "-i", str(dist), *raw, "-i", str(ref),
                 "-lavfi", "psnr=stats_file=stats.txt", "-f", "null", "-", cwd=folder)  # fmt: skip
    rows = [
        {key: float(value) for key, value in re.findall(r"(\w+):(\S+)", line)}
        for line in (folder / "stats.txt").read_text().splitlines()
    ]
    summary = re.search(r"PSNR y:(\S+) u:(\S+) v:(\S+) average:(\S+)", log)
    return rows, dict(zip(("y", "u", "v", "average"), map(float, summary.groups()), strict=True))


@pytest.fixture(scope="module", params=[8, 10], ids=["8bit", "10bit"])
def x264_clip(request, tmp_path_factory):
    """(reference, distorted, ffmpeg per-frame rows, ffmpeg summary) for one bit depth."""
    bit_depth = request.param
    pix_fmt = PIX_FMTS[bit_depth]
    folder = tmp_path_factory.mktemp(f"x264_{bit_depth}bit")
    ref_path, dist_path = folder / "ref.yuv", folder / "dist.yuv"
    ffmpeg("-i", str(SAMPLE_Y4M), "-pix_fmt", pix_fmt, "-f", "rawvideo", str(ref_path))
    raw = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", "176x144"]
    ffmpeg(*raw, "-i", str(ref_path), "-c:v", "libx264", "-crf", "35", "-preset", "veryfast",
           "-pix_fmt", pix_fmt, str(folder / "dist.mp4"))  # fmt: skip
    ffmpeg("-i", str(folder / "dist.mp4"), "-pix_fmt", pix_fmt, "-f", "rawvideo", str(dist_path))
    rows, summary = ffmpeg_psnr_stats(ref_path, dist_path, pix_fmt, folder)
    fmt = VideoFormat(176, 144, bit_depth=bit_depth)
    return read_raw(ref_path, fmt), read_raw(dist_path, fmt), rows, summary


def test_per_frame_plane_psnr_matches_ffmpeg(x264_clip):
    ref, dist, rows, _ = x264_clip
    assert ref.num_frames == dist.num_frames == len(rows) == 32
    if ref.format.bit_depth == 10:
        assert ref.planes[0].max() > 255  # real 10-bit codes, not 8-bit values in uint16
    result = compare(ref, dist, "yuv")
    for plane in "yuv":
        ffmpeg_db = [row[f"psnr_{plane}"] for row in rows]  # printed with 2 decimals
        np.testing.assert_allclose(result.per_frame[f"psnr_{plane}"], ffmpeg_db, rtol=0, atol=0.01)
    assert 25 < result.means["psnr_y"] < 35
    np.testing.assert_allclose(
        result.per_frame["psnr_yuv"],
        [(6 * r["psnr_y"] + r["psnr_u"] + r["psnr_v"]) / 8 for r in rows],
        rtol=0, atol=0.01,
    )  # fmt: skip


def test_ffmpeg_summary_line_pools_mse_unlike_the_papers(x264_clip):
    """ffmpeg's summary is PSNR of the MSE averaged over frames, and its 'average' weights planes
    by sample count (4:1:1 for 4:2:0). Both are reproduced from our per-frame MSEs, and both
    differ from the papers' mean of per-frame PSNR and 6:1:1 weighting."""
    ref, dist, _, summary = x264_clip
    peak = ref.format.peak
    plane_mse = [
        peak**2 / 10 ** (psnr(a, b, peak, max_db=None) / 10)
        for a, b in zip(ref.planes, dist.planes, strict=True)
    ]
    pooled = {
        p: 10 * math.log10(peak**2 / mse.mean()) for p, mse in zip("yuv", plane_mse, strict=True)
    }
    frame_mse = (4 * plane_mse[0] + plane_mse[1] + plane_mse[2]) / 6
    pooled["average"] = 10 * math.log10(peak**2 / frame_mse.mean())
    for key, value in pooled.items():
        assert value == pytest.approx(summary[key], abs=1e-4)

    means = compare(ref, dist, "yuv").means
    assert means["psnr_y"] > summary["y"] + 0.02  # Jensen: frames of unequal quality
    assert means["psnr_yuv"] > summary["average"] + 0.5  # 6:1:1 on the higher chroma PSNRs


def test_ssim_and_ms_ssim_fall_with_noise_on_real_frames():
    luma = read_sample_y4m().planes[0][:8]
    rng = np.random.default_rng(0)
    scores = []
    for sigma in (0, 2, 5, 10, 20):
        noisy = np.clip(luma + rng.normal(0, sigma, luma.shape), 0, 255)
        scores.append([ssim(luma, noisy, 255).mean(), ms_ssim(luma, noisy, 255).mean()])
    scores = np.array(scores)
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-12)
    assert np.all(np.diff(scores, axis=0) < 0), scores
    assert 0.3 < scores[-1, 0] < 0.9 and scores[-1, 1] > scores[-1, 0]


def test_ssim_of_integer_planes_equals_ssim_of_normalised_planes():
    luma = read_sample_y4m().planes[0][:4]
    blurred = ((luma[:, :-1].astype(np.uint16) + luma[:, 1:]) // 2).astype(np.uint8)
    ref, dist = luma[:, 1:], blurred
    np.testing.assert_allclose(ssim(ref, dist, 255), ssim(ref / 255, dist / 255, 1.0), atol=1e-12)
    np.testing.assert_allclose(
        ms_ssim(ref, dist, 255), ms_ssim(ref / 255, dist / 255, 1.0), atol=1e-12
    )


def test_small_real_frames_use_reduced_ms_ssim_window(x264_clip):
    ref, dist, _, _ = x264_clip
    result = compare(ref, dist, "yuv")
    assert result.ms_ssim_window == 9  # 144 px <= 160 px: the 11x11 window does not fit
    explicit = ms_ssim(ref.planes[0], dist.planes[0], ref.format.peak, window=9)
    np.testing.assert_array_equal(result.per_frame["ms_ssim_y"], explicit)
    assert 0.8 < result.means["ms_ssim_y"] < 1.0
    assert 0.6 < result.means["ssim_y"] < result.means["ms_ssim_y"]


# RGB path (through inrcodec.io.colour.video_to_rgb) ---------------------------------------------


def test_compare_rgb_on_real_clip(x264_clip):
    ref, dist = x264_clip[0][:8], x264_clip[1][:8]
    result = compare(ref, dist, "rgb")
    assert result.matrix == "bt601" and result.ms_ssim_window == 9
    assert set(result.per_frame) == {"psnr", "ssim", "ms_ssim"}
    x, y = video_to_rgb(ref, matrix="bt601"), video_to_rgb(dist, matrix="bt601")
    np.testing.assert_allclose(result.per_frame["psnr"], psnr(x, y, 1.0), atol=1e-9)
    np.testing.assert_allclose(result.per_frame["ssim"], ssim(x, y, 1.0), atol=1e-9)
    assert 24 < result.means["psnr"] < 36
    assert 0.6 < result.means["ssim"] < result.means["ms_ssim"] < 1.0
    bt709 = compare(ref, dist, "rgb", matrix="bt709").means["psnr"]
    assert bt709 != result.means["psnr"] and abs(bt709 - result.means["psnr"]) < 0.5
    assert ref.format.matrix == "bt601"  # so each video's own tag gives the BT.601 result
    assert compare(ref, dist, "rgb", matrix=None).means == result.means


def test_compare_rgb_of_rgb_video_with_constant_error():
    """RGB codes off by 3 everywhere: PSNR on [0, 1] RGB is 10 log10(255^2 / 9) exactly."""
    luma = read_sample_y4m().planes[0][:2, :, :, None]
    frames = np.clip(np.concatenate([luma, luma // 2, 255 - luma], axis=-1), 10, 240)
    fmt = VideoFormat(176, 144, "rgb")
    ref, dist = Video.from_frames(frames, fmt), Video.from_frames(frames + np.uint8(3), fmt)
    result = compare(ref, dist, "rgb")
    np.testing.assert_allclose(result.per_frame["psnr"], 10 * math.log10(255**2 / 9), atol=1e-4)
    identical = compare(ref, ref, "rgb").means
    assert identical["psnr"] == 100.0 and identical["ms_ssim"] == pytest.approx(1.0)


def test_vmaf_and_xpsnr_are_ffmpegs_on_the_same_frames(x264_clip, tmp_path):
    """`ffmpeg_metrics` equals libvmaf and xpsnr run by hand on the raw files, frame by frame,
    and `inrcodec metrics` reports their means (the metrics people compare in)."""
    import json
    import sys

    from inrcodec.baselines.ffmpeg_metrics import ffmpeg_metrics

    ref, dist, _, _ = x264_clip
    measured = ffmpeg_metrics(ref, dist)
    bits = ref.format.bit_depth
    for video, name in ((ref, "ref"), (dist, "dist")):
        (tmp_path / f"{name}.yuv").write_bytes(
            b"".join(p[t].astype("<u2" if bits > 8 else "u1").tobytes()
                     for t in range(video.num_frames) for p in video.planes)
        )  # fmt: skip
    raw = ["-f", "rawvideo", "-pix_fmt", PIX_FMTS[bits], "-s", "176x144"]
    inputs = [*raw, "-i", "dist.yuv", *raw, "-i", "ref.yuv"]
    ffmpeg(*inputs, "-lavfi", "libvmaf=log_fmt=json:log_path=v.json", "-f", "null", "-",
           cwd=tmp_path)  # fmt: skip
    ffmpeg(*inputs, "-lavfi", "xpsnr=stats_file=x.txt", "-f", "null", "-", cwd=tmp_path)
    frames = json.loads((tmp_path / "v.json").read_text())["frames"]
    np.testing.assert_allclose(measured["vmaf"], [f["metrics"]["vmaf"] for f in frames], atol=1e-6)
    rows = re.findall(r"XPSNR y:\s*(\S+)", (tmp_path / "x.txt").read_text())
    np.testing.assert_allclose(measured["xpsnr_y"], np.array(rows, float), atol=1e-4)
    assert 20 < measured["vmaf"].mean() < 100 and 20 < measured["xpsnr_y"].mean() < 60

    from inrcodec.io import write_video

    write_video(ref, tmp_path / "ref.y4m")
    write_video(dist, tmp_path / "dist.y4m")
    cli = [sys.executable, "-m", "inrcodec.cli", "metrics", "ref.y4m", "dist.y4m", "--json"]
    result = json.loads(subprocess.run(cli, cwd=tmp_path, capture_output=True, check=True).stdout)
    assert result["mean"]["vmaf"] == pytest.approx(measured["vmaf"].mean())
    assert result["per_frame"]["xpsnr_y"] == pytest.approx(measured["xpsnr_y"].tolist())
