"""read_video/write_video: dispatch, errors, lazy reading of large files, atomic writes."""

import mmap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import inrcodec.io.files
from conftest import SAMPLE_Y4M
from inrcodec.io import (
    VideoChunks,
    VideoFormat,
    VideoFormatError,
    convert_video,
    read_video,
    write_video,
)
from inrcodec.io.y4m import format_header


def resident_bytes() -> int:
    """Current resident set size (Linux), to see whether a file was read into memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status")


def maps_a_file(array: np.ndarray) -> bool:
    while array is not None and not isinstance(array, mmap.mmap):
        array = array.base
    return isinstance(array, mmap.mmap)


def test_large_y4m_is_read_lazily(tmp_path):
    """100 frames of 1080p 4:2:0 (311 MB): mapped, never loaded; a frame slice reads one frame."""
    fmt = VideoFormat(1920, 1080, "420", 8)
    path = tmp_path / "large.y4m"
    with open(path, "wb") as file:
        file.write(format_header(fmt))
        for chunk in range(4):  # 25 frames per chunk, frame t filled with t
            for t in range(25 * chunk, 25 * chunk + 25):
                file.write(b"FRAME\n" + bytes([t]) * fmt.frame_bytes)
    before = resident_bytes()
    video = read_video(path)
    part = read_video(path, start=60, frames=10)
    assert video.num_frames == 100 and all(maps_a_file(p) for p in video.planes + part.planes)
    assert resident_bytes() - before < 32 << 20
    assert int(part.planes[2][3, -1, -1]) == 63 and np.shares_memory(
        video[63:64].planes[0], video.planes[0]
    )
    assert resident_bytes() - before < 64 << 20


@pytest.mark.parametrize("suffix", [".y4m", ".yuv"])
def test_ten_bit_planes_are_mapped(tmp_path, suffix):
    video = convert_video(read_video(SAMPLE_Y4M, frames=2), bit_depth=10)
    path = tmp_path / f"clip_176x144_10bit{suffix}"
    write_video(video, path)
    read = read_video(path, fps=video.format.fps)
    assert read == video and all(maps_a_file(p) for p in read.planes)


def test_missing_and_unknown(tmp_path):
    with pytest.raises(VideoFormatError, match="no such file"):
        read_video(tmp_path / "absent.y4m")
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    with pytest.raises(VideoFormatError, match="unknown kind of video"):
        read_video(tmp_path / "clip.gif")
    with pytest.raises(VideoFormatError, match="unknown kind of video"):
        write_video(read_video(SAMPLE_Y4M, frames=1), tmp_path / "clip.gif")


def test_stated_format_must_match_the_file():
    with pytest.raises(VideoFormatError, match=r"expected size \(352, 288\)"):
        read_video(SAMPLE_Y4M, size="352x288")
    with pytest.raises(VideoFormatError, match="expected bit_depth 10"):
        read_video(SAMPLE_Y4M, bit_depth=10)
    video = read_video(SAMPLE_Y4M, frames=1, size=(176, 144), chroma="420", bit_depth=8)
    assert video.num_frames == 1


def test_fps_replaces_the_files_rate():
    assert read_video(SAMPLE_Y4M, frames=1, fps="24000/1001").format.fps == Fraction(24000, 1001)
    assert read_video(SAMPLE_Y4M, frames=1, fps=29.97).format.fps == Fraction(30000, 1001)


def test_bad_frame_requests():
    for start, frames in [(-1, None), (0, 0), (1.5, None), (0, 2.0)]:
        with pytest.raises(VideoFormatError, match="start must be|frames must be"):
            read_video(SAMPLE_Y4M, start=start, frames=frames)


def test_failing_write_leaves_no_file(tmp_path):
    """The last frame has a value too large for 10 bit: the write fails after most frames."""
    video = convert_video(read_video(SAMPLE_Y4M, frames=3), bit_depth=10).load()
    video.planes[0][2, 0, 0] = 1024
    for name in ["clip.y4m", "clip_176x144_10bit.yuv"]:
        with pytest.raises(VideoFormatError, match="frame 2 has the value 1024"):
            write_video(video, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def chunks_of(video, sizes):
    """``video`` as a `VideoChunks` of chunks of ``sizes`` frames, produced one at a time."""
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    parts = (video[start : start + size] for start, size in zip(starts, sizes, strict=True))
    return VideoChunks(video.format, video.num_frames, parts)


@pytest.mark.parametrize("name", ["clip.y4m", "clip_176x144_10bit.yuv", "frames"])
def test_chunks_are_written_as_the_whole_video(tmp_path, name):
    video = convert_video(read_video(SAMPLE_Y4M, frames=5), bit_depth=10).load()
    if name == "frames":
        video = convert_video(video, chroma="rgb", bit_depth=16)
    write_video(video, tmp_path / "whole" / name)
    write_video(chunks_of(video, [2, 1, 2]), tmp_path / "chunks" / name)
    whole, chunked = (read_video(tmp_path / d / name) for d in ["whole", "chunks"])
    assert chunked == whole
    assert chunked.planes[0].shape[0] == 5


def test_each_chunk_is_on_disk_before_the_next_is_made(tmp_path):
    video = read_video(SAMPLE_Y4M, frames=4).load()
    header, frame = len(format_header(video.format)), 6 + video.format.frame_bytes
    written = []  # frames in the temporary file as each chunk is asked for (writes are buffered)

    def chunks():
        for start in range(4):
            (temporary,) = tmp_path.glob(".clip.y4m.*.tmp")
            written.append(round(max(temporary.stat().st_size - header, 0) / frame))
            yield video[start : start + 1]

    write_video(VideoChunks(video.format, 4, chunks()), tmp_path / "clip.y4m")
    assert written == [0, 1, 2, 3]
    assert read_video(tmp_path / "clip.y4m") == video


@pytest.mark.parametrize("name", ["clip.y4m", "clip_176x144.yuv", "frames"])
def test_chunks_that_fail_or_do_not_add_up_leave_nothing(tmp_path, name):
    video = read_video(SAMPLE_Y4M, frames=3).load()
    if name == "frames":
        video = convert_video(video, chroma="rgb")

    def failing():
        yield video[0:2]
        raise VideoFormatError("the decoder found a bad section")

    with pytest.raises(VideoFormatError, match="bad section"):
        write_video(VideoChunks(video.format, 3, failing()), tmp_path / name)
    with pytest.raises(VideoFormatError, match="2 of the 3 frames announced"):
        write_video(VideoChunks(video.format, 3, [video[0:2]]), tmp_path / name)
    with pytest.raises(VideoFormatError, match="more than the 2 frames announced"):
        write_video(VideoChunks(video.format, 2, [video]), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_collected_chunks_are_the_video():
    video = read_video(SAMPLE_Y4M, frames=5).load()
    assert chunks_of(video, [1, 3, 1]).collect() == video
    other = convert_video(video[0:1], chroma="444")
    with pytest.raises(VideoFormatError, match="a chunk of 176x144, 1 frames"):
        VideoChunks(video.format, 2, iter([video[0:1], other])).collect()


def test_failing_write_keeps_the_existing_file(tmp_path):
    write_video(read_video(SAMPLE_Y4M, frames=2), tmp_path / "clip.y4m")
    before = (tmp_path / "clip.y4m").read_bytes()
    broken = convert_video(read_video(SAMPLE_Y4M, frames=2), bit_depth=10).load()
    broken.planes[2][1, 0, 0] = 4000
    with pytest.raises(VideoFormatError):
        write_video(broken, tmp_path / "clip.y4m")
    assert (tmp_path / "clip.y4m").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.y4m"]


def test_failing_folder_write_keeps_the_existing_frames(tmp_path, monkeypatch):
    frames = tmp_path / "frames"
    video = convert_video(read_video(SAMPLE_Y4M, frames=3), chroma="rgb")
    write_video(video, frames)
    before = {p.name: p.read_bytes() for p in frames.iterdir()}

    def fail_after_one_frame(video, folder):
        (folder / "frame_00000.png").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(inrcodec.io.files, "write_png_folder", fail_after_one_frame)
    with pytest.raises(OSError, match="disk full"):
        write_video(video, frames)
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_rewriting_a_frame_folder_drops_stale_frames(tmp_path):
    video = convert_video(read_video(SAMPLE_Y4M, frames=3), chroma="rgb")
    write_video(video, tmp_path / "frames")
    write_video(video[:1], tmp_path / "frames")
    assert [p.name for p in (tmp_path / "frames").iterdir()] == ["frame_00000.png"]
    assert read_video(tmp_path / "frames", fps=video.format.fps) == video[:1]


def test_a_folder_with_other_files_is_not_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    video = convert_video(read_video(SAMPLE_Y4M, frames=1), chroma="rgb")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        write_video(video, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
