"""y4m reading and writing: round trips, header parsing, frame headers, errors, ffmpeg agreement."""

import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io import (
    Video,
    VideoFormatError,
    read_video,
    rgb_to_video,
    video_to_rgb,
    write_video,
)
from inrcodec.io.y4m import format_header

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def real_clip(chroma="420", bit_depth=8, frames=3, **format_changes) -> Video:
    """Frames of the sample clip; other formats by colour conversion, so low bits are real."""
    video = read_video(SAMPLE_Y4M, frames=frames)
    target = video.format.with_(chroma=chroma, bit_depth=bit_depth, **format_changes)
    return video if target == video.format else rgb_to_video(video_to_rgb(video), target)


def ffmpeg_raw(path, pix_fmt, *options) -> bytes:
    command = [FFMPEG, "-v", "error", "-i", str(path), *options, "-f", "rawvideo"]
    return subprocess.run(
        [*command, "-pix_fmt", pix_fmt, "-"], check=True, capture_output=True
    ).stdout


def raw_bytes(video: Video) -> bytes:
    dtype = "u1" if video.format.bit_depth == 8 else "<u2"
    frames = [
        b"".join(p[t].astype(dtype).tobytes() for p in video.planes) for t in range(len(video))
    ]
    return b"".join(frames)


def y4m_file(tmp_path, header: bytes, frame_headers: list[bytes], frame_bytes: int) -> Path:
    """A y4m file whose frame ``t`` holds bytes equal to ``t``."""
    path = tmp_path / "made.y4m"
    body = b"".join(h + bytes([t]) * frame_bytes for t, h in enumerate(frame_headers))
    path.write_bytes(header + body)
    return path


@pytest.mark.parametrize("chroma", ["420", "444"])
@pytest.mark.parametrize("bit_depth", [8, 10, 12])
def test_round_trip_is_bit_exact(tmp_path, chroma, bit_depth):
    video = real_clip(chroma, bit_depth)
    write_video(video, tmp_path / "clip.y4m")
    assert read_video(tmp_path / "clip.y4m") == video


@pytest.mark.parametrize("siting", ["left", "center", "topleft"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip_keeps_siting_range_matrix_fps(tmp_path, siting, bit_depth):
    video = real_clip(
        "420", bit_depth, chroma_siting=siting, range="full", matrix="bt709", fps=Fraction(50)
    )
    write_video(video, tmp_path / "clip.y4m")
    assert read_video(tmp_path / "clip.y4m") == video


def test_writer_uses_standard_tags(tmp_path):
    fmt = real_clip().format.with_(pixel_aspect=None)
    assert format_header(fmt).startswith(b"YUV4MPEG2 W176 H144 F30000:1001 Ip A0:0 C420mpeg2 ")
    assert b" C420jpeg " in format_header(fmt.with_(chroma_siting="center"))
    assert b" C420paldv " in format_header(fmt.with_(chroma_siting="topleft"))
    assert b" C444p10 " in format_header(fmt.with_(chroma="444", bit_depth=10))
    assert b" XCOLORRANGE=FULL" in format_header(fmt.with_(range="full"))


def test_sample_matches_ffmpeg_decode():
    video = read_video(SAMPLE_Y4M)
    assert video.num_frames == 32 and video.format.fps == Fraction(30000, 1001)
    assert video.format.chroma_siting == "left"  # C420mpeg2
    assert raw_bytes(video) == ffmpeg_raw(SAMPLE_Y4M, "yuv420p")


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p12le"])
def test_ffmpeg_reads_what_we_write(tmp_path, pix_fmt):
    video = real_clip(pix_fmt[3:6], int(pix_fmt[7:9]))
    write_video(video, tmp_path / "clip.y4m")
    assert ffmpeg_raw(tmp_path / "clip.y4m", pix_fmt) == raw_bytes(video)


def test_reads_ffmpeg_full_range_and_10_bit_output(tmp_path):
    path = tmp_path / "ffmpeg.y4m"
    options = ["-frames:v", "2", "-pix_fmt", "yuv420p10le", "-color_range", "pc", "-strict", "-1"]
    subprocess.run([FFMPEG, "-v", "error", "-i", str(SAMPLE_Y4M), *options, str(path)], check=True)
    video = read_video(path)
    assert (video.format.bit_depth, video.format.range) == (10, "full")
    assert raw_bytes(video) == ffmpeg_raw(path, "yuv420p10le")


@pytest.mark.parametrize(
    "tag, chroma, bit_depth, siting",
    [
        ("C420jpeg", "420", 8, "center"),
        ("C420mpeg2", "420", 8, "left"),
        ("C420paldv", "420", 8, "topleft"),
        ("C420", "420", 8, "center"),
        ("", "420", 8, "center"),
        ("C444", "444", 8, "center"),
        ("C420p10", "420", 10, "center"),
        ("C444p10", "444", 10, "center"),
        ("C420p12", "420", 12, "center"),
        ("C444p16", "444", 16, "center"),
        ("C420p10 XCHROMALOC=TOPLEFT", "420", 10, "topleft"),
    ],
)
def test_colour_tags(tmp_path, tag, chroma, bit_depth, siting):
    header = f"YUV4MPEG2 W8 H4 F25:1 Ip A1:1 {tag}\n".encode()
    samples = (48 if chroma == "420" else 96) * (1 if bit_depth == 8 else 2)
    video = read_video(y4m_file(tmp_path, header, [b"FRAME\n"] * 2, samples))
    fmt = video.format
    assert (fmt.chroma, fmt.bit_depth, fmt.chroma_siting) == (chroma, bit_depth, siting)
    assert video.num_frames == 2 and int(video.planes[2][1, 0, 0]) == (1 if bit_depth == 8 else 257)


@pytest.mark.parametrize("tag", ["C422", "C444alpha", "C420p8", "C420p17", "Cmono8"])
def test_unsupported_colour_tags_are_rejected(tmp_path, tag):
    path = y4m_file(tmp_path, f"YUV4MPEG2 W8 H4 F25:1 {tag}\n".encode(), [b"FRAME\n"], 48)
    with pytest.raises(VideoFormatError, match=tag[1:]):
        read_video(path)


def test_interlace_aspect_and_x_fields_are_tolerated(tmp_path):
    header = (
        b"YUV4MPEG2 W8 H4 F30000:1001 It A128:117 C420mpeg2 XYSCSS=420MPEG2 XFOO XCOLORRANGE=FULL\n"
    )
    fmt = read_video(y4m_file(tmp_path, header, [b"FRAME\n"], 48)).format
    assert (fmt.width, fmt.height, fmt.fps, fmt.range) == (8, 4, Fraction(30000, 1001), "full")


def test_missing_frame_rate_defaults_to_25(tmp_path):
    fmt = read_video(y4m_file(tmp_path, b"YUV4MPEG2 W8 H4\n", [b"FRAME\n"], 48)).format
    assert fmt.fps == 25


def test_frame_headers_with_parameters_of_equal_length_stay_mapped(tmp_path):
    headers = [b"FRAME Ip XA=1\n"] * 4
    video = read_video(y4m_file(tmp_path, b"YUV4MPEG2 W8 H4 C420jpeg\n", headers, 48), start=1)
    assert [int(p[0, 0]) for p in video.planes[0]] == [1, 2, 3]
    assert not video.planes[0].flags.owndata  # a view of the file, not a copy


def test_frame_headers_of_varying_length(tmp_path):
    headers = [b"FRAME\n", b"FRAME Ip\n", b"FRAME XLONGER=PARAMETER\n", b"FRAME\n"]
    video = read_video(y4m_file(tmp_path, b"YUV4MPEG2 W8 H4 C444\n", headers, 96))
    for plane in video.planes:
        assert plane.shape == (4, 4, 8)
        assert np.array_equal(plane, np.arange(4, dtype=np.uint8)[:, None, None] + plane * 0)


def test_frame_range(tmp_path):
    video = read_video(SAMPLE_Y4M, start=5, frames=4)
    assert video == read_video(SAMPLE_Y4M)[5:9]
    assert read_video(SAMPLE_Y4M, start=30) == read_video(SAMPLE_Y4M)[30:]
    with pytest.raises(VideoFormatError, match="has 32 frames"):
        read_video(SAMPLE_Y4M, start=30, frames=3)
    with pytest.raises(VideoFormatError, match="has 32 frames"):
        read_video(SAMPLE_Y4M, start=32)


def test_truncated_file_is_an_error(tmp_path):
    path = tmp_path / "cut.y4m"
    path.write_bytes(SAMPLE_Y4M.read_bytes()[:-100])
    with pytest.raises(VideoFormatError, match="truncated.*first 31 frames are complete"):
        read_video(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a y4m file"),
        (b"YUV4MPEG W8 H4\nFRAME\n" + bytes(48), "not a y4m file"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "not a y4m file"),
        (b"YUV4MPEG2 W8 H4", "no end of line"),
        (b"YUV4MPEG2 W8 F25:1\nFRAME\n" + bytes(48), "no W .* or no H"),
        (b"YUV4MPEG2 W8x H4\nFRAME\n" + bytes(48), "W8x"),
        (b"YUV4MPEG2 W7 H4\nFRAME\n" + bytes(48), "even width"),
        (b"YUV4MPEG2 W8 H4 F25\nFRAME\n" + bytes(48), "F25"),
        (b"YUV4MPEG2 W8 H4 XCOLORRANGE=TV\nFRAME\n" + bytes(48), "COLORRANGE"),
        (b"YUV4MPEG2 W8 H4\nFRAME\n" + bytes(48) + b"FRAMX\n" + bytes(48), "frame 1"),
        (b"YUV4MPEG2 W8 H4\n", "no frames"),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.y4m"
    path.write_bytes(content)
    with pytest.raises(VideoFormatError, match=message):
        read_video(path)


def test_rgb_video_cannot_be_written_as_y4m(tmp_path):
    video = real_clip("rgb", 8)
    with pytest.raises(VideoFormatError, match="Y'CbCr"):
        write_video(video, tmp_path / "rgb.y4m")
    assert list(tmp_path.iterdir()) == []


def test_pixel_aspect_ratio_survives_a_round_trip(tmp_path):
    video = read_video(SAMPLE_Y4M, frames=2)
    assert video.format.pixel_aspect == Fraction(128, 117)  # the sample's A128:117
    write_video(video, tmp_path / "clip.y4m")
    assert b" A128:117 " in (tmp_path / "clip.y4m").read_bytes()[:100]
    assert read_video(tmp_path / "clip.y4m").format.pixel_aspect == Fraction(128, 117)
    unknown = Video(video.planes, video.format.with_(pixel_aspect=None))
    assert unknown == video  # display metadata: not part of a format's identity
    write_video(unknown, tmp_path / "unknown.y4m")
    assert b" A0:0 " in (tmp_path / "unknown.y4m").read_bytes()[:100]


@pytest.mark.parametrize(
    ("pix_fmt", "tag", "bit_depth"), [("gray", "Cmono", 8), ("gray10le", "Cmono10", 10)]
)
def test_grey_y4m_reads_as_420_with_neutral_chroma(tmp_path, pix_fmt, tag, bit_depth):
    """As a grey mp4 is read (ffmpeg decodes grey H.264 as 4:2:0 with neutral chroma)."""
    grey = tmp_path / "grey.y4m"
    subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(SAMPLE_Y4M), "-frames:v", "3", "-pix_fmt", pix_fmt,
         "-strict", "-1", str(grey)],
        check=True,
    )  # fmt: skip
    assert f" {tag} ".encode() in grey.read_bytes()[:100]
    video = read_video(grey)
    assert (video.format.chroma, video.format.bit_depth, video.num_frames) == ("420", bit_depth, 3)
    luma = np.frombuffer(ffmpeg_raw(grey, pix_fmt), "u1" if bit_depth == 8 else "<u2")
    np.testing.assert_array_equal(video.planes[0].ravel(), luma)
    for chroma in video.planes[1:]:
        assert chroma.shape == (3, 72, 88) and (chroma == 1 << (bit_depth - 1)).all()
    write_video(video, tmp_path / "back.y4m")
    assert read_video(tmp_path / "back.y4m") == video
