"""Raw .yuv files: file-name parsing, round trips, memory mapping, errors."""

from fractions import Fraction

import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io import VideoFormatError, read_video, rgb_to_video, video_to_rgb, write_video
from inrcodec.io.rawyuv import parse_yuv_name


def real_clip(chroma="420", bit_depth=8, frames=3):
    """Frames of the sample clip; other formats by colour conversion, so low bits are real."""
    video = read_video(SAMPLE_Y4M, frames=frames)
    target = video.format.with_(chroma=chroma, bit_depth=bit_depth, chroma_siting="left")
    return video if target == video.format else rgb_to_video(video_to_rgb(video), target)


@pytest.mark.parametrize(
    "name, facts",
    [
        (
            "Foo_1920x1080_50fps_10bit_420.yuv",
            dict(size=(1920, 1080), fps=50, bit_depth=10, chroma="420"),
        ),
        ("Bar_176x144_30.yuv", dict(size=(176, 144), fps=30)),
        (
            "X_1920x1080_120fps_420_8bit_YUV.yuv",
            dict(size=(1920, 1080), fps=120, chroma="420", bit_depth=8),
        ),
        ("foo_3840x2160p50.yuv", dict(size=(3840, 2160), fps=50)),
        ("seq-1280x720-yuv444p10le.yuv", dict(size=(1280, 720), chroma="444", bit_depth=10)),
        (
            "a_640x360_i420_29.97fps.yuv",
            dict(size=(640, 360), chroma="420", fps=Fraction(30000, 1001)),
        ),
        (
            "b_640x360_59.94hz_444_12bits.yuv",
            dict(size=(640, 360), chroma="444", bit_depth=12, fps=Fraction(60000, 1001)),
        ),
        ("film_1080p_1920x1080_24.yuv", dict(size=(1920, 1080), fps=24)),
        ("Kimono1_1920x1080_24_10b.yuv", dict(size=(1920, 1080), fps=24, bit_depth=10)),
        ("c_352x288_420p.yuv", dict(size=(352, 288), chroma="420")),
        ("no_facts_here.yuv", dict()),
        ("BasketballDrive_50_1920x1080.yuv", dict(size=(1920, 1080))),
    ],
)
def test_name_parsing(name, facts):
    parsed = parse_yuv_name(name)
    if "width" in parsed:
        parsed["size"] = (parsed.pop("width"), parsed.pop("height"))
    assert parsed == facts


@pytest.mark.parametrize(
    "name", ["a_176x144_352x288.yuv", "a_176x144_8bit_10bit.yuv", "a_176x144_420_444.yuv"]
)
def test_contradicting_names_are_rejected(name):
    with pytest.raises(VideoFormatError, match="says both"):
        parse_yuv_name(name)


@pytest.mark.parametrize("chroma", ["420", "444"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip_with_facts_in_the_name(tmp_path, chroma, bit_depth):
    video = real_clip(chroma, bit_depth)
    path = tmp_path / f"clip_176x144_{chroma}_{bit_depth}bit.yuv"
    write_video(video, path)
    assert path.stat().st_size == 3 * video.format.frame_bytes
    assert read_video(path, fps=Fraction(30000, 1001)) == video


def test_round_trip_with_facts_from_the_caller(tmp_path):
    video = real_clip("444", 10)
    write_video(video, tmp_path / "clip_176x144_444_10bit.yuv")
    (tmp_path / "clip_176x144_444_10bit.yuv").rename(tmp_path / "clip.yuv")
    fmt = video.format
    read = read_video(
        tmp_path / "clip.yuv", size="176x144", chroma="444", bit_depth=10, fps=fmt.fps
    )
    assert read == video
    assert (
        read_video(
            tmp_path / "clip.yuv", size=(176, 144), chroma="444", bit_depth=10, start=2, fps=fmt.fps
        )
        == video[2:]
    )


def test_reading_is_memory_mapped_and_little_endian(tmp_path):
    path = tmp_path / "ramp_4x2_444_10bit_25fps.yuv"
    words = list(range(24)) * 2
    path.write_bytes(b"".join(w.to_bytes(2, "little") for w in words))
    video = read_video(path, start=1)
    assert video.format.fps == 25 and video.num_frames == 1
    assert video.planes[2].tolist() == [[[16, 17, 18, 19], [20, 21, 22, 23]]]
    assert not video.planes[0].flags.writeable and not video.planes[0].flags.owndata


def test_defaults_are_420_8bit_25fps(tmp_path):
    path = tmp_path / "clip_176x144.yuv"
    path.write_bytes(bytes(176 * 144 * 3 // 2 * 2))
    fmt = read_video(path).format
    assert (fmt.chroma, fmt.bit_depth, fmt.fps, fmt.range, fmt.matrix) == (
        "420",
        8,
        25,
        "limited",
        "bt601",
    )


def test_missing_size_names_what_to_pass(tmp_path):
    (tmp_path / "clip.yuv").write_bytes(bytes(100))
    with pytest.raises(VideoFormatError, match=r"clip.yuv: .*\(--size WxH, or size="):
        read_video(tmp_path / "clip.yuv")


def test_size_not_a_multiple_of_the_frame_size(tmp_path):
    path = tmp_path / "clip_176x144.yuv"
    path.write_bytes(bytes(176 * 144 * 3 // 2 * 2 + 1))
    with pytest.raises(VideoFormatError, match="not a whole number of 38016-byte frames"):
        read_video(path)
    with pytest.raises(VideoFormatError, match="not a whole number"):
        read_video(tmp_path / "clip_176x144.yuv", bit_depth=10)


def test_caller_overrides_the_name(tmp_path):
    path = tmp_path / "clip_176x144_420_10bit.yuv"
    path.write_bytes(bytes(8 * 4 * 3))
    fmt = read_video(path, size=(8, 4), chroma="444", bit_depth=8).format
    assert (fmt.width, fmt.height, fmt.chroma, fmt.bit_depth) == (8, 4, "444", 8)


def test_out_of_range_request(tmp_path):
    write_video(real_clip(), tmp_path / "clip_176x144.yuv")
    with pytest.raises(VideoFormatError, match="has 3 frames"):
        read_video(tmp_path / "clip_176x144.yuv", start=1, frames=3)


def test_writing_under_a_contradicting_name_fails(tmp_path):
    with pytest.raises(VideoFormatError, match="says bit_depth 10"):
        write_video(real_clip(), tmp_path / "clip_176x144_10bit.yuv")
    with pytest.raises(VideoFormatError, match="says"):
        write_video(real_clip(), tmp_path / "clip_352x288.yuv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "chroma", "bit_depth"),
    [("clip.yuv", "420", 8), ("clip_176x144.yuv", "420", 10), ("clip_176x144.yuv", "444", 8)],
)
def test_a_raw_file_is_written_only_under_a_name_that_reads_back(tmp_path, name, chroma, bit_depth):
    """A raw file stores no format: the name must say what differs from the defaults."""
    video = real_clip(chroma, bit_depth)
    with pytest.raises(VideoFormatError, match="call it .*/clip_176x144_29.97fps"):
        write_video(video, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    suggested = tmp_path / f"clip_176x144_29.97fps_{bit_depth}bit_{chroma}.yuv"
    write_video(video, suggested)
    back = read_video(suggested)
    assert back == video and back.format.fps == video.format.fps
