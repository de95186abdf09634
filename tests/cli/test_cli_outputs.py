"""What the command line writes, run as a user runs it (a fresh process each time): outputs
checked before any work, files it can read back, messages in command-line terms."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import inrcodec

pytestmark = pytest.mark.integration

ENTRY_POINT = "import sys; from inrcodec.cli import main; sys.exit(main())"  # as pip writes it


def run_cli(*args, importtime: bool = False) -> subprocess.CompletedProcess:
    """The command in a fresh process; with ``importtime`` stderr also lists every import."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-c", ENTRY_POINT, *map(str, args)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def loaded_torch(result: subprocess.CompletedProcess) -> bool:
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in result.stderr.splitlines())


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one ``inrcodec: error:`` line of a failed command (import lines aside)."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("inrcodec: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def files(sample_y4m, tmp_path_factory):
    """A TeCoNeRV file of 8 frames of the sample (4:2:0), and one of an RGB source."""
    folder = tmp_path_factory.mktemp("files")
    video = inrcodec.read_video(sample_y4m, frames=8)
    inrcodec.write_video(inrcodec.convert_video(video, chroma="rgb"), folder / "frames")
    for source, name in ((sample_y4m, "yuv.inrc"), (folder / "frames", "rgb.inrc")):
        args = ["encode", "--codec", "teconerv", source, "-o", folder / name, "--frames", "8"]
        assert run_cli(*args, "--no-progress", "--no-metrics").returncode == 0
    return folder


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{tmp}", "is a folder, not a file"),
        ("{tmp}/no/such/folder/x.inrc", "there is no folder {tmp}/no/such/folder (create it"),
        ("{tmp}/x.mp4", "encode writes an inrcodec bitstream, not a .mp4 video; name it"),
        ("{tmp}/x.y4m", "name it {tmp}/x.inrc"),
        ("/proc/x.inrc", "cannot write in /proc"),
    ],
)
def test_encode_checks_its_output_before_any_work(output, message, sample_y4m, tmp_path):
    """As ffmpeg: an output that cannot be written fails at once, not after the encode (which
    would load torch first: it does not)."""
    if output.startswith("/proc") and not Path("/proc").is_dir():
        pytest.skip("no /proc on this system")
    output = output.format(tmp=tmp_path)
    result = run_cli("encode", "--codec", "teconerv", sample_y4m, "-o", output, importtime=True)
    assert f"-o {output}" in error_line(result) and message.format(tmp=tmp_path) in result.stderr
    assert not loaded_torch(result)
    assert list(tmp_path.iterdir()) == []  # no folder made, nothing written


@pytest.mark.parametrize(
    ("source", "output", "extra", "message"),
    [
        ("yuv.inrc", "new/x.y4m", [], "there is no folder"),
        ("yuv.inrc", "x.yuv", [], "x_176x144_29.97fps_8bit_420.yuv so that it can be read"),
        ("yuv.inrc", "x.mp4", [], "writing .mp4 is not supported"),
        ("yuv.inrc", "x.inrc", [], "unknown kind of video"),
        ("yuv.inrc", "pngs", ["--to-chroma", "444"], "PNG frames hold 8- or 16-bit RGB"),
        ("rgb.inrc", "x.y4m", [], ".y4m holds Y'CbCr video, the video is RGB; convert it "
         "(--to-chroma 444"),
    ],
)  # fmt: skip
def test_decode_checks_its_output_before_decoding(source, output, extra, message, files, tmp_path):
    result = run_cli("decode", files / source, "-o", tmp_path / output, *extra, importtime=True)
    line = error_line(result)
    assert f"-o {tmp_path / output}" in line and message in line
    assert not loaded_torch(result)  # nothing was decoded
    assert list(tmp_path.iterdir()) == []  # and no folder was left behind


def test_decode_writes_what_the_checks_allow(files, tmp_path, sample_y4m):
    """A 4:2:0 file decodes to a PNG folder as RGB (as convert does), an RGB one to y4m with
    --to-chroma 444, and a raw file under the suggested name reads back."""
    assert run_cli("decode", files / "yuv.inrc", "-o", tmp_path / "pngs").returncode == 0
    frames = inrcodec.read_video(tmp_path / "pngs")
    assert (frames.format.chroma, frames.num_frames) == ("rgb", 8)
    result = run_cli("decode", files / "rgb.inrc", "-o", tmp_path / "x.y4m", "--to-chroma", "444")
    assert result.returncode == 0, result.stderr
    assert inrcodec.read_video(tmp_path / "x.y4m").format.chroma == "444"
    raw = tmp_path / "x_176x144_29.97fps_8bit_420.yuv"
    assert run_cli("decode", files / "yuv.inrc", "-o", raw).returncode == 0
    back = inrcodec.read_video(raw)
    assert back.format.fps == Fraction(30000, 1001) and back.num_frames == 8
    assert run_cli("info", raw).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "{tmp}/nosize.yuv"], "nosize.yuv: cannot tell the frame size of a raw .yuv "
         "file from its name; give it (--size WxH"),
        (["info", "{tmp}/truncated.inrc"], "truncated.inrc: truncated: section 1 length"),
        (["decode", "{tmp}/truncated.inrc", "-o", "{tmp}/x.y4m"], "truncated.inrc: truncated:"),
        (["convert", "{sample}", "{tmp}/out.yuv"], "out.yuv: a raw .yuv file stores no format"),
        (["convert", "{sample}", "{tmp}/rgb", "--to-chroma", "420"], "PNG frames hold"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_a_flag(args, message, files, sample_y4m, tmp_path):
    (tmp_path / "nosize.yuv").write_bytes(bytes(100))
    data = (files / "yuv.inrc").read_bytes()
    (tmp_path / "truncated.inrc").write_bytes(data[: len(data) // 2])
    result = run_cli(*(a.format(tmp=tmp_path, sample=sample_y4m) for a in args))
    assert message in error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nosize.yuv", "truncated.inrc"]


def test_convert_keeps_the_pixel_aspect_ratio_and_reads_grey_y4m(sample_y4m, tmp_path):
    """The sample says A128:117; a grey y4m is read like a grey mp4 (4:2:0, neutral chroma)."""
    assert run_cli("convert", sample_y4m, tmp_path / "copy.y4m", "--frames", "2").returncode == 0
    assert b" A128:117 " in (tmp_path / "copy.y4m").read_bytes()[:100]
    grey = tmp_path / "grey.y4m"
    header, _, body = (tmp_path / "copy.y4m").read_bytes().partition(b"\n")
    frame = 6 + 176 * 144 * 3 // 2
    luma = b"".join(body[i * frame : i * frame + 6 + 176 * 144] for i in range(2))
    grey.write_bytes(header.replace(b" C420mpeg2", b" Cmono") + b"\n" + luma)
    result = run_cli("info", grey, "--json")
    assert result.returncode == 0, result.stderr
    assert '"chroma": "420"' in result.stdout and '"pixel_aspect": "128/117"' in result.stdout
