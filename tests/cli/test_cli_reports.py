"""What the command line shows while it works and when it is done, run as a user runs it:
progress in logs and pipes, the phases' wall times, the subcommands' help, the info table."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration

ENTRY_POINT = "import sys; from inrcodec.cli import main; sys.exit(main())"  # as pip writes it


def run_cli(*args) -> tuple[subprocess.CompletedProcess, float]:
    """The command in a fresh process with stdout and stderr piped (not a terminal), and the
    wall-clock seconds the process took."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, *map(str, args)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return result, time.perf_counter() - started


@pytest.fixture(scope="module")
def encoded(sample_y4m, tmp_path_factory):
    """``inrcodec encode --codec teconerv`` of the sample clip (32 frames, 4 clips)."""
    out = tmp_path_factory.mktemp("encode") / "clip.inrc"
    result, seconds = run_cli("encode", "--codec", "teconerv", sample_y4m, "-o", out)
    assert result.returncode == 0, result.stderr
    return result, seconds, out


def test_progress_in_a_pipe_is_whole_lines_and_names_every_step(encoded, sample_y4m):
    """No tqdm redraws (``\\r``) when stderr is not a terminal: a line as each bar starts and
    ends, and a line as each step without a bar begins."""
    stderr = encoded[0].stderr
    assert "\r" not in stderr
    lines = stderr.splitlines()
    assert lines[0] == f"reading {sample_y4m} ..."
    assert re.fullmatch(r"encoding: 0/4 clip, \d+ s", lines[1])
    assert re.fullmatch(r"encoding: 4/4 clip, \d+ s", lines[2])
    assert lines[3:] == ["decoding the file to check it ...", "measuring quality ..."]


def test_the_report_gives_each_phase_and_they_add_up_to_the_wall_time(encoded):
    result, wall, _ = encoded
    line = next(line for line in result.stdout.splitlines() if line.startswith("  time "))
    phases = dict(re.findall(r"([a-z-]+) (\d+\.\d) s", line.split(";")[0]))
    assert list(phases) == ["start", "load", "encode", "self-check", "metrics", "write"]
    total = float(re.search(r"; (\d+\.\d) s in all", line)[1])
    assert sum(map(float, phases.values())) == pytest.approx(total, abs=0.35)
    # The total is measured inside the process: only the interpreter's start and exit are
    # outside it (no lower bound here: that would be a timed assertion on a loaded machine).
    assert total <= wall


def test_no_metrics_skips_the_quality_report(sample_y4m, tmp_path):
    result, _ = run_cli(
        "encode", "--codec", "teconerv", sample_y4m, "-o", tmp_path / "x.inrc", "--frames", "8",
        "--no-metrics", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert "PSNR" not in result.stdout and "MS-SSIM" not in result.stdout
    time_line = next(line for line in result.stdout.splitlines() if line.startswith("  time "))
    assert "encode" in time_line and "metrics" not in time_line


def test_a_file_larger_than_the_raw_video_is_pointed_out(sample_y4m, tmp_path):
    """The HiNeRV codec on one frame: its network outweighs the pixels (about 13.9 bpp)."""
    result, _ = run_cli(
        "encode", "--codec", "hinerv", sample_y4m, "-o", tmp_path / "x.inrc", "--frames", "1",
        "--steps", "3", "--no-progress", "--no-metrics",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bpp = float(re.search(r"bytes, (\d+\.\d+) bpp", result.stdout)[1])
    assert bpp > 12
    assert result.stderr == (
        f"inrcodec: warning: {tmp_path / 'x.inrc'} takes {bpp:.2f} bpp, more than the "
        "uncompressed video's 12: the codec's model costs more than 1 frame(s) of 176x144; "
        "encode more frames at once, or use a smaller model\n"
    )


def test_info_prints_rates_rounded(encoded, sample_y4m):
    result, _ = run_cli("info", encoded[2])
    assert re.search(r"^ +bpp: 0\.\d{1,4}$", result.stdout, re.MULTILINE), result.stdout
    result, _ = run_cli("info", sample_y4m)
    assert re.search(r"^ +raw_bpp: 12$", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize(
    ("command", "texts"),
    [
        ("info", ["Print what a file holds", "a video (.y4m, .yuv, PNG folder, mp4...) or .inrc"]),
        ("metrics", ["frame by frame", "the original video", "the decoded (distorted) video"]),
        ("convert", ["another file kind", "the video to read", "the video to write"]),
        ("encode", ["the video to compress", "(default: 3000 for the -cpu presets"]),
        ("decode", ["an inrcodec file (.inrc)", "--to-chroma"]),
    ],
)
def test_every_subcommand_says_what_it_does_and_what_its_arguments_are(command, texts):
    result, _ = run_cli(command, "--help")
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for expected in texts:
        assert expected in text
