"""The conventional baselines (inrcodec.baselines): real encodes and decodes through ffmpeg."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inrcodec.baselines import BASELINES as REGISTERED
from inrcodec.baselines import ENV_VAR, ffmpeg_exe, intra_period
from inrcodec.baselines.ffmpeg import write_raw
from inrcodec.bench import get_codec
from inrcodec.codecs import CodecError
from inrcodec.io import Video, read_video
from inrcodec.io.rawyuv import read_yuv
from inrcodec.metrics import compare

pytestmark = pytest.mark.integration

BASELINES = ("x264", "x265", "svtav1", "aom", "vvenc")
#: (higher-rate point, lower-rate point) per codec.
RATE_PAIRS = {"x264": (24, 36), "x265": (24, 36), "svtav1": (25, 50), "aom": (25, 50)}
RATE_PAIRS["vvenc"] = (24, 36)


@pytest.fixture(scope="module")
def clip(sample_y4m) -> Video:
    """Nine frames of the carphone sample (176x144, 8-bit 4:2:0, 30 fps)."""
    return read_video(sample_y4m, frames=9).load()


@pytest.fixture(scope="module")
def coded(clip, tmp_path_factory):
    """``coded(name, rate)``: the clip coded once per test module, with its work folder."""
    cache = {}

    def code(name: str, rate: int):
        if (name, rate) not in cache:
            workdir = tmp_path_factory.mktemp(f"{name}_{rate}")
            cache[name, rate] = (get_codec(name).code(clip, rate, workdir), workdir)
        return cache[name, rate]

    return code


def test_registered():
    assert set(BASELINES) == set(REGISTERED)
    for name in BASELINES:
        codec = get_codec(name)
        assert codec.name == name
        assert len(codec.default_rate_points()) == 4
        for rate in codec.default_rate_points():
            codec.check_rate_point(rate)


@pytest.mark.parametrize("name", BASELINES)
def test_two_rate_points(name, clip, coded):
    high, low = RATE_PAIRS[name]
    results = [coded(name, rate)[0] for rate in (high, low)]
    psnrs = [compare(clip, r.decoded, "yuv").means["psnr_yuv"] for r in results]
    for result in results:
        assert result.num_bytes > 0
        assert result.decoded.format == clip.format
        assert result.decoded.num_frames == clip.num_frames
        assert result.encode_seconds > 0 and result.decode_seconds > 0
        assert result.settings["preset"] == get_codec(name).preset
    assert results[0].num_bytes > results[1].num_bytes
    assert psnrs[0] > psnrs[1] > 28
    assert results[0].settings[get_codec(name).rate_parameter] == high
    assert results[0].settings["intra_period"] == 32  # 30 fps


def _ffmpeg_psnr(reference: Path, distorted: Path, video: Video, stats: Path) -> list[dict]:
    """Per-frame values of ffmpeg's psnr filter on two raw files read at the same frame rate."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{video.width}x{video.height}"]
    raw += ["-r", "25"]
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", *raw, "-i", str(distorted), *raw]
        + ["-i", str(reference), "-lavfi", f"psnr=stats_file={stats}", "-f", "null", "-"],
        check=True,
    )
    frames = []
    for line in stats.read_text().splitlines():
        fields = dict(item.split(":", 1) for item in line.split())
        frames.append({key: float(value) for key, value in fields.items()})
    return frames


@pytest.mark.parametrize("name", BASELINES)
def test_psnr_matches_ffmpeg(name, clip, coded, tmp_path):
    result, _ = coded(name, RATE_PAIRS[name][1])
    reference, distorted = tmp_path / "ref.yuv", tmp_path / "dist.yuv"
    write_raw(clip, reference, 8)
    write_raw(result.decoded, distorted, 8)
    ours = compare(clip, result.decoded, "yuv").per_frame
    theirs = _ffmpeg_psnr(reference, distorted, clip, tmp_path / "psnr.log")
    assert len(theirs) == clip.num_frames
    for plane in "yuv":
        expected = np.array([frame[f"psnr_{plane}"] for frame in theirs])
        np.testing.assert_allclose(ours[f"psnr_{plane}"], expected, atol=0.01)


def test_rate_is_the_elementary_stream(clip, coded):
    result, workdir = coded("x264", RATE_PAIRS["x264"][1])
    stream = (workdir / "stream.h264").read_bytes()
    assert result.num_bytes == len(stream)
    assert stream.startswith((b"\0\0\0\1", b"\0\0\1"))  # Annex B, no container
    assert b"x264 - core" not in stream  # the encoder's option SEI is not counted
    av1 = (coded("aom", RATE_PAIRS["aom"][1])[1] / "stream.obu").read_bytes()
    assert av1[:2] == b"\x12\x00"  # a temporal delimiter OBU, no IVF header ("DKIF")
    for name, fmt in (("x265", "hevc"), ("vvenc", "vvc")):
        workdir = coded(name, RATE_PAIRS[name][1])[1]
        assert (workdir / f"stream.{fmt}").read_bytes().startswith(b"\0\0\0\1")


@pytest.mark.parametrize("name", BASELINES)
def test_versions(name):
    versions = get_codec(name).versions()
    assert versions["ffmpeg"].startswith("ffmpeg version")
    assert versions[get_codec(name).encoder] != "unknown"


def test_unknown_codec():
    with pytest.raises(CodecError, match="unknown codec 'h266'.*x265"):
        get_codec("h266")


@pytest.mark.parametrize(
    "name, bad", [("x265", 52), ("x264", -1), ("svtav1", 0), ("aom", 64), ("vvenc", 27.5)]
)
def test_rate_point_out_of_range(name, bad, clip, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/nonexistent/ffmpeg")  # nothing may run before the check
    codec = get_codec(name)
    with pytest.raises(CodecError, match=f"{codec.rate_parameter} must be an integer"):
        codec.check_rate_point(bad)
    with pytest.raises(CodecError, match=f"{codec.rate_parameter} must be an integer"):
        codec.code(clip, bad, tmp_path)
    assert list(tmp_path.iterdir()) == []
    for nonsense in (True, float("nan"), float("inf"), "30", None):
        with pytest.raises(CodecError):
            codec.check_rate_point(nonsense)


def test_bad_options():
    with pytest.raises(CodecError, match="unknown preset 'fastest'"):
        get_codec("x265", preset="fastest")
    with pytest.raises(CodecError, match="bad options"):
        get_codec("x264", crf=23)
    with pytest.raises(CodecError, match="threads"):
        get_codec("aom", threads=0)
    assert get_codec("svtav1", preset=8).preset == "8"


def test_missing_ffmpeg(clip, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-ffmpeg"))
    with pytest.raises(CodecError, match=f"ffmpeg not found: {ENV_VAR}="):
        get_codec("x264").code(clip, 30, tmp_path)
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # not installed
    with pytest.raises(CodecError, match="ffmpeg not found: pip install imageio-ffmpeg"):
        get_codec("x264").versions()


def test_ffmpeg_override(clip, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, ffmpeg_exe())
    result = get_codec("x264", preset="ultrafast").code(clip[0:2], 30, tmp_path)
    assert result.decoded.num_frames == 2


def test_ffmpeg_failure_is_a_codec_error(clip, tmp_path):
    tiny = _crop(clip[0:2], 18, 10)
    with pytest.raises(CodecError, match="(?s)ffmpeg failed to encode with libx265.*too small"):
        get_codec("x265").code(tiny, 30, tmp_path)


def _crop(video: Video, width: int, height: int) -> Video:
    fmt = video.format.with_(width=width, height=height)
    planes = (video.planes[0][:, :height, :width],)
    planes += tuple(p[:, : height // 2, : width // 2] for p in video.planes[1:])
    return Video(tuple(np.ascontiguousarray(p) for p in planes), fmt)


@pytest.mark.parametrize("name", BASELINES)
def test_size_not_a_multiple_of_8(name, clip, tmp_path):
    source = _crop(clip[0:3], 170, 98)
    codec = get_codec(name)
    result = codec.code(source, codec.default_rate_points()[1], tmp_path)
    assert result.decoded.format == source.format
    assert compare(source, result.decoded, "yuv").means["psnr_yuv"] > 30


def test_formats(real_clip, tmp_path):
    ten_bit = read_video(real_clip("carphone_pristine.mp4", 3, "yuv420p10le"))
    four_four_four = read_video(real_clip("carphone_pristine.mp4", 3, "yuv444p"))
    for name, video in (("x265", ten_bit), ("vvenc", ten_bit), ("x264", four_four_four)):
        (tmp_path / name).mkdir()
        preset = "ultrafast" if name.startswith("x") else "faster"
        result = get_codec(name, preset=preset).code(video, 30, tmp_path / name)
        assert result.decoded.format == video.format
        assert result.settings["coding_bit_depth"] == video.format.bit_depth
        assert compare(video, result.decoded, "yuv").means["psnr_yuv"] > 30
    for name in ("svtav1", "vvenc"):
        with pytest.raises(CodecError, match="cannot code 4:4:4 video"):
            get_codec(name).code(four_four_four, 30, tmp_path)
    rgb = Video(four_four_four.planes, four_four_four.format.with_(chroma="rgb"))
    with pytest.raises(CodecError, match="convert RGB first"):
        get_codec("x264").code(rgb, 30, tmp_path)


def test_bit_depth_shift(tmp_path):
    """8-bit samples go to VVenC shifted up by exactly 2 bits and come back rounded."""
    from inrcodec.io.video import VideoFormat

    fmt = VideoFormat(4, 2, bit_depth=8)
    values = np.array([0, 1, 127, 128, 254, 255, 3, 200], np.uint8).reshape(1, 2, 4)
    video = Video((values, values[:, :1, :2], values[:, 1:, 2:]), fmt)
    write_raw(video, tmp_path / "up.yuv", 10)
    up = read_yuv(tmp_path / "up.yuv", fmt.with_(bit_depth=10))
    assert np.array_equal(up.planes[0], values.astype(np.uint16) * 4)
    write_raw(up, tmp_path / "back.yuv", 8)
    assert read_yuv(tmp_path / "back.yuv", fmt) == video
    ten = np.array([0, 1, 2, 3, 5, 6, 1021, 1023], np.uint16).reshape(1, 2, 4)
    write_raw(Video((ten, ten[:, :1, :2], ten[:, 1:, 2:]), up.format), tmp_path / "d.yuv", 8)
    down = read_yuv(tmp_path / "d.yuv", fmt).planes[0].ravel().tolist()
    assert down == [0, 0, 1, 1, 1, 2, 255, 255]  # (x + 2) >> 2, clipped to 255


def test_frame_count_check(clip, tmp_path):
    codec = get_codec("x264")
    path = tmp_path / "decoded.yuv"
    write_raw(clip[0:3], path, 8)
    with pytest.raises(CodecError, match="decoder returned 3 frames, the source has 4"):
        codec._read_decoded(path, clip.format, 8, 4)


def test_intra_period():
    assert [intra_period(f) for f in (10, 24, 25, 30, 50, 60, 120)] == [16, 32, 32, 32, 48, 64, 128]
    codec = get_codec("x265", intra_period=8)
    assert "keyint=8:min-keyint=8" in " ".join(codec.encoder_args(30, 8))


@pytest.mark.slow
@pytest.mark.parametrize("name", BASELINES)
def test_larger_clip_10_bit(name, real_clip, tmp_path):
    """640x272 10-bit bikes: every default rate point, rate falling as the point moves away."""
    video = read_video(real_clip("bikes.mp4", 8, "yuv420p10le"))
    codec = get_codec(name)
    sizes, psnrs = [], []
    for index, rate in enumerate(codec.default_rate_points()):
        workdir = tmp_path / str(index)
        workdir.mkdir()
        result = codec.code(video, rate, workdir)
        assert result.decoded.format == video.format
        sizes.append(result.num_bytes)
        psnrs.append(compare(video, result.decoded, "yuv").means["psnr_yuv"])
    assert sizes == sorted(sizes, reverse=True)
    assert psnrs == sorted(psnrs, reverse=True)


def test_decoded_outlives_the_workdir(clip):
    """The harness removes the work folder before measuring; the memory map must survive that
    (POSIX semantics: an unlinked file stays mapped)."""
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        result = get_codec("vvenc", preset="faster").code(clip[0:2], 30, Path(workdir))
    assert compare(clip[0:2], result.decoded, "yuv").means["psnr_yuv"] > 30
