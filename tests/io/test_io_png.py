"""PNG folders: 8/16-bit round trips, natural order, grayscale and palette, errors."""

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io import VideoFormatError, convert_video, read_video, write_video


def rgb_clip(bit_depth, frames=3):
    return convert_video(read_video(SAMPLE_Y4M, frames=frames), chroma="rgb", bit_depth=bit_depth)


def write_png(path: Path, samples: np.ndarray, pixel_format: str) -> None:
    """Encode one PNG with FFmpeg's encoder, independently of the module under test."""
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height, encoder.pix_fmt = (
        samples.shape[1],
        samples.shape[0],
        pixel_format,
    )
    frame = av.VideoFrame.from_ndarray(samples, format=pixel_format)
    path.write_bytes(b"".join(map(bytes, encoder.encode(frame) + encoder.encode(None))))


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_round_trip_is_bit_exact(tmp_path, bit_depth):
    video = rgb_clip(bit_depth)
    assert video.planes[0].max() > 255 if bit_depth == 16 else True
    write_video(video, tmp_path / "frames")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
        "frame_00002.png",
    ]
    assert read_video(tmp_path / "frames", fps=video.format.fps) == video
    assert read_video(tmp_path / "frames", start=1, frames=1, fps=video.format.fps) == video[1:2]


def test_ffmpeg_reads_the_written_frames(tmp_path):
    video = rgb_clip(8)
    write_video(video, tmp_path / "frames")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    pattern = str(tmp_path / "frames" / "frame_%05d.png")
    command = [ffmpeg, "-v", "error", "-i", pattern, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    decoded = subprocess.run(command, check=True, capture_output=True).stdout
    assert decoded == video.frames().tobytes()


def test_frames_are_read_in_natural_order(tmp_path):
    for index in [10, 2, 1, 100]:
        write_png(tmp_path / f"f_{index}.png", np.full((4, 6, 3), index, np.uint8), "rgb24")
    (tmp_path / "notes.txt").write_text("not a frame")
    video = read_video(tmp_path)
    assert [int(frame[0, 0]) for frame in video.planes[0]] == [1, 2, 10, 100]


@pytest.mark.parametrize("pixel_format, dtype", [("gray", np.uint8), ("gray16be", np.uint16)])
def test_grayscale_is_expanded_to_rgb(tmp_path, pixel_format, dtype):
    gray = np.arange(24, dtype=dtype).reshape(4, 6) * (1 if dtype == np.uint8 else 2000)
    write_png(tmp_path / "0.png", gray, pixel_format)
    video = read_video(tmp_path)
    assert video.format.bit_depth == 8 * np.dtype(dtype).itemsize
    for plane in video.planes:
        assert np.array_equal(plane[0], gray)


def test_alpha_is_rejected(tmp_path):
    write_png(tmp_path / "0.png", np.zeros((4, 6, 4), np.uint8), "rgba")
    with pytest.raises(VideoFormatError, match="rgba"):
        read_video(tmp_path)


def test_frames_of_different_sizes_are_rejected(tmp_path):
    write_png(tmp_path / "0.png", np.zeros((4, 6, 3), np.uint8), "rgb24")
    write_png(tmp_path / "1.png", np.zeros((4, 8, 3), np.uint8), "rgb24")
    with pytest.raises(VideoFormatError, match="all frames must match"):
        read_video(tmp_path)


def test_empty_folder_and_broken_file(tmp_path):
    with pytest.raises(VideoFormatError, match="no .png files"):
        read_video(tmp_path)
    (tmp_path / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(VideoFormatError, match="not a readable PNG"):
        read_video(tmp_path)


@pytest.mark.parametrize("changes", [dict(), dict(bit_depth=10)])
def test_only_8_or_16_bit_rgb_is_written(tmp_path, changes):
    video = read_video(SAMPLE_Y4M, frames=1)
    video = convert_video(video, chroma="rgb", **changes) if changes else video
    with pytest.raises(VideoFormatError, match="8- or 16-bit RGB"):
        write_video(video, tmp_path / "frames")
    assert list(tmp_path.iterdir()) == []
