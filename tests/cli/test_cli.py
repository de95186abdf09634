"""The `inrcodec` command and the top-level API, run as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import inrcodec
from conftest import INTERRUPTIBLE, REPO
from inrcodec.cli import main
from limited import run_limited


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The installed entry point in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "inrcodec.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_info_on_the_sample_clip(sample_y4m, capsys):
    assert main(["info", str(sample_y4m), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == "176x144"
    assert info["frames"] == 32
    assert info["fps"] == "30000/1001"
    assert (info["chroma"], info["bit_depth"], info["chroma_siting"]) == ("420", 8, "left")
    assert info["raw_bpp"] == pytest.approx(12.0)


def test_metrics_of_a_clip_against_itself_and_a_shifted_copy(sample_y4m, tmp_path, capsys):
    video = inrcodec.read_video(sample_y4m, frames=4)
    luma = video.planes[0].astype(np.int16)
    shifted = np.clip(luma + 2, 0, 255).astype(np.uint8)
    distorted = inrcodec.Video((shifted, *video.planes[1:]), video.format)
    distorted_path = tmp_path / "distorted.y4m"
    inrcodec.write_video(distorted, distorted_path)

    assert (
        main(
            [
                "metrics",
                str(sample_y4m),
                str(distorted_path),
                "--frames",
                "4",
                "--space",
                "yuv",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    mse_y = np.mean((shifted.astype(float) - luma) ** 2, axis=(1, 2))
    expected_y = 10 * np.log10(255**2 / mse_y)
    np.testing.assert_allclose(result["per_frame"]["psnr_y"], expected_y, atol=1e-9)
    assert result["mean"]["psnr_y"] == pytest.approx(expected_y.mean())
    assert result["mean"]["ssim_y"] < 1.0

    assert main(["metrics", str(sample_y4m), str(sample_y4m), "--frames", "2"]) == 0
    text = capsys.readouterr().out
    assert "psnr" in text and "MS-SSIM window" in text


def test_convert_round_trip_through_raw_yuv_10_bit(sample_y4m, tmp_path):
    raw = tmp_path / "carphone_176x144_30fps_10bit_420.yuv"
    assert (
        main(["convert", str(sample_y4m), str(raw), "--frames", "3", "--to-bit-depth", "10"]) == 0
    )
    assert raw.stat().st_size == 3 * 176 * 144 * 3 // 2 * 2
    back = tmp_path / "back.y4m"
    assert main(["convert", str(raw), str(back), "--to-bit-depth", "8"]) == 0
    original = inrcodec.read_video(sample_y4m, frames=3)
    restored = inrcodec.read_video(back)
    for a, b in zip(original.planes, restored.planes, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "does/not/exist.y4m"], "no such file"),
        (
            ["info", "{tmp}/clip.xyz"],
            "not an inrcodec bitstream (it does not start with 'INRC') nor",
        ),
        (["info", "{tmp}/video.inrc"], "video.inrc is not an inrcodec bitstream"),
        (["decode", "{sample}", "-o", "{tmp}/out.y4m"], "is not an inrcodec bitstream"),
        (["decode", "{tmp}/video.inrc", "-o", "{tmp}/out.y4m"], "does not start with 'INRC'"),
        (["metrics", "{sample}", "{tmp}/small.y4m"], "176x144"),
        (["convert", "{tmp}/noname.yuv", "{tmp}/out.y4m"], "size"),
        (["info", "{tmp}/broken.inrc"], "format version"),
        (["encode", "{sample}", "-o", "{tmp}/x.inrc", "--device", "gpu"], "expected cpu or cuda"),
    ],
)
def test_user_errors_exit_2_with_one_line(args, message, sample_y4m, tmp_path):
    (tmp_path / "clip.xyz").write_bytes(b"not a video")
    (tmp_path / "noname.yuv").write_bytes(bytes(100))
    (tmp_path / "broken.inrc").write_bytes(b"INRC" + bytes(3))
    (tmp_path / "video.inrc").write_bytes(sample_y4m.read_bytes()[:50000])
    small = inrcodec.read_video(sample_y4m, frames=1)
    inrcodec.write_video(inrcodec.convert_video(small, chroma="444"), tmp_path / "444.y4m")
    cropped = inrcodec.Video(
        tuple(p[:, : p.shape[1] // 2, : p.shape[2] // 2] for p in small.planes),
        small.format.with_(width=88, height=72),
    )
    inrcodec.write_video(cropped, tmp_path / "small.y4m")
    args = [a.format(tmp=tmp_path, sample=sample_y4m) for a in args]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("inrcodec: error: ")
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_failed_convert_leaves_no_output(sample_y4m, tmp_path):
    out = tmp_path / "out.y4m"
    result = run_cli("convert", str(sample_y4m), str(out), "--start", "40")
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_running_out_of_memory_is_one_line_and_leaves_no_output(tmp_path):
    fmt = inrcodec.VideoFormat(1280, 720)
    planes = tuple(np.zeros((10, *shape), np.uint8) for shape in fmt.plane_shapes())
    source, out = tmp_path / "720p.y4m", tmp_path / "out.y4m"
    inrcodec.write_video(inrcodec.Video(planes, fmt), source)
    result = run_limited(["convert", source, out, "--to-chroma", "444"], memory_mb=24)
    assert result.returncode == 2, result.stderr  # was 1, with numpy's traceback
    assert result.stderr.startswith("inrcodec: error: out of memory: could not allocate ")
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["720p.y4m"]


@pytest.mark.integration
def test_top_level_api_is_lazy_and_complete():
    code = "import sys, inrcodec; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
    for name in inrcodec.__all__:
        assert getattr(inrcodec, name) is not None
    with pytest.raises(AttributeError):
        inrcodec.no_such_name  # noqa: B018


@pytest.mark.integration
def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)
    example = example.replace('"first8.y4m"', repr(str(tmp_path / "first8.y4m")))
    example = example.replace('"clip.inrc"', repr(str(tmp_path / "clip.inrc")))
    # The example trains nvrc-cpu for its default 3000 steps; the test trains the tiny preset.
    fast = 'preset="nvrc-tiny", lam=0.25, steps=20, device="cpu", progress=False'
    assert 'preset="nvrc-cpu", lam=0.25' in example
    example = example.replace('preset="nvrc-cpu", lam=0.25', fast)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert inrcodec.read_video(tmp_path / "first8.y4m").num_frames == 8
    assert (tmp_path / "clip.inrc").stat().st_size == len(namespace["result"].bitstream)
    assert namespace["decoded"].num_frames == 8


def test_convert_to_a_png_folder_picks_rgb_at_a_png_bit_depth(sample_y4m, tmp_path):
    raw = tmp_path / "clip_176x144_10bit_420.yuv"
    assert (
        main(["convert", str(sample_y4m), str(raw), "--frames", "2", "--to-bit-depth", "10"]) == 0
    )
    assert main(["convert", str(raw), str(tmp_path / "frames")]) == 0
    frames = inrcodec.read_video(tmp_path / "frames")
    assert (frames.format.chroma, frames.format.bit_depth, frames.num_frames) == ("rgb", 16, 2)
    reference = inrcodec.video_to_rgb(inrcodec.read_video(sample_y4m, frames=2))
    np.testing.assert_allclose(inrcodec.video_to_rgb(frames), reference, atol=1 / 65535)


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["encode", "--help"],
        ["info", "{sample}"],
        ["convert", "{sample}", "{tmp}/out.y4m", "--frames", "2"],
        ["metrics", "{sample}", "{sample}", "--frames", "2"],
    ],
)
def test_commands_that_need_no_network_do_not_import_torch(args, sample_y4m, tmp_path):
    """Startup time: torch takes seconds to import, and these commands never run a network
    (benchmarks/bench_startup.py measures the times)."""
    args = [a.format(sample=sample_y4m, tmp=tmp_path) for a in args]
    entry_point = "import sys; from inrcodec.cli import main; sys.exit(main())"  # as pip's
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", entry_point, *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "inrcodec.cli" in imported
    assert "torch" not in imported


ENTRY_POINT = "import sys; from inrcodec.cli import main; sys.exit(main())"  # as pip writes it


@pytest.mark.integration
@pytest.mark.parametrize("delay", [0.5, 1.0, 2.0])
def test_ctrl_c_while_starting_exits_130_without_a_traceback(delay, sample_y4m, tmp_path):
    out = tmp_path / "x.inrc"
    args = ["encode", "--codec", "hinerv", str(sample_y4m), "-o", str(out), "--steps", "100000"]
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE + ENTRY_POINT, *args, "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr) == (130, "inrcodec: interrupted\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_a_closed_pipe_ends_the_command_quietly(sample_y4m):
    """`inrcodec info clip | head -1`: the reader leaves early; like Unix tools, no message.
    Here the reader has left before the first write, so the write always meets a closed pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-c", ENTRY_POINT, "info", str(sample_y4m)],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, the status of a Unix tool killed by it
