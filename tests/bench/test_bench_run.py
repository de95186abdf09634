"""The benchmark harness: spec checks, measured records, failures, resuming, parallel runs.

A fake codec (tests/fake_codec.py, quantised luma) stands in for real ones, so these tests do
not depend on ffmpeg or on any trained network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from conftest import REPO
from fake_codec import write_small_clip
from inrcodec.bench import (
    SpecError,
    load_spec,
    parse_spec,
    plan,
    point_key,
    read_results,
    run_points,
)
from inrcodec.cli import main
from inrcodec.codecs import CODECS, CodecEntry, CodecError
from inrcodec.io import read_video

FAKE_SCRIPT = REPO / "tests" / "fake_codec.py"

RECORD_FIELDS = {
    "codec", "label", "curve", "options", "settings", "rate_parameter", "rate_point", "sequence",
    "path", "start", "frames", "width", "height", "chroma", "bit_depth", "fps", "bytes", "bpp",
    "kbps", "psnr_rgb", "ssim_rgb", "ms_ssim_rgb", "rgb_matrix", "psnr_y", "psnr_u", "psnr_v",
    "psnr_yuv", "ssim_y", "ms_ssim_y", "ms_ssim_window", "vmaf", "xpsnr_y", "xpsnr_u", "xpsnr_v",
    "encode_seconds", "decode_seconds", "versions", "timestamp", "host",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def fake_codec(monkeypatch):
    monkeypatch.setitem(CODECS, "fake", CodecEntry("fake_codec", "FakeCodec"))


@pytest.fixture(scope="module")
def clip(sample_y4m, tmp_path_factory):
    """4 frames of 64x48, cut from the sample clip."""
    return write_small_clip(sample_y4m, tmp_path_factory.mktemp("clip") / "small.y4m")


def spec_for(clip, **codec) -> dict:
    return {
        "sequences": [{"path": str(clip), "name": "carphone"}],
        "codecs": [{"codec": "fake", **codec}],
    }


def test_a_run_writes_one_complete_record_per_point(clip, tmp_path):
    results = tmp_path / "results.jsonl"
    summary = run_points(plan(parse_spec(spec_for(clip))), results, progress=False)
    assert (summary.measured, summary.skipped, summary.failures) == (4, 0, [])
    records = read_results(results)
    assert [r["rate_point"] for r in records] == [4, 8, 16, 32]  # the codec's defaults
    luma = read_video(clip).planes[0].astype(np.int32)
    for record in records:
        assert set(record) == RECORD_FIELDS
        step = record["rate_point"]
        quantised = np.clip(luma // step * step + step // 2, 0, 255).astype(np.uint8)
        assert record["bytes"] == len(zlib.compress(quantised.tobytes(), 6))
        assert record["bpp"] == pytest.approx(8 * record["bytes"] / (4 * 64 * 48))
        assert (record["sequence"], record["frames"], record["start"]) == ("carphone", 4, 0)
        assert (record["width"], record["height"], record["chroma"]) == (64, 48, "420")
        assert record["rate_parameter"] == "step"
        assert record["versions"]["fake"] == "1.0" and "inrcodec" in record["versions"]
        assert record["host"]["cpu_count"] >= 1
        assert record["psnr_u"] == record["psnr_v"] == 100.0  # chroma untouched: the cap
        assert record["ms_ssim_window"] == 3  # the largest that fits 48 px
    for coarse, fine in zip(records[1:], records, strict=False):
        assert coarse["bpp"] < fine["bpp"]
        assert coarse["psnr_rgb"] < fine["psnr_rgb"]
        assert coarse["psnr_yuv"] < fine["psnr_yuv"]
        assert coarse["ms_ssim_rgb"] < fine["ms_ssim_rgb"]
        assert coarse["vmaf"] < fine["vmaf"] and coarse["xpsnr_y"] < fine["xpsnr_y"]


def test_a_yaml_spec_with_paths_relative_to_it(sample_y4m, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "clip.y4m").symlink_to(sample_y4m)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "frames: 2\n"
        "sequences: [clips/clip.y4m, {path: clips/clip.y4m, start: 30, name: tail}]\n"
        "codecs:\n"
        "  - {codec: fake, rate_points: [5, 9], options: {delay: 0}}\n"
        "  - {codec: fake, label: other, rate_points: [7]}\n"
    )
    points = plan(load_spec(spec_file))
    assert [(p.sequence.name, p.sequence.start, p.codec.label, p.rate_point) for p in points] == [
        ("clip", 0, "fake", 5), ("clip", 0, "fake", 9), ("clip", 0, "other", 7),
        ("tail", 30, "fake", 5), ("tail", 30, "fake", 9), ("tail", 30, "other", 7),
    ]  # fmt: skip
    assert {p.sequence.path for p in points} == {str(tmp_path / "clips" / "clip.y4m")}
    assert {p.sequence.frames for p in points} == {2}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"codecs": [{"codec": "nope"}]}, CodecError, "unknown codec 'nope'; known codecs: .*fake"),
        ({"codecs": [{"codec": "fake", "rate_points": [99]}]}, CodecError, "from 1 to 64"),
        ({"codecs": [{"codec": "fake", "options": {"colour": 1}}]}, CodecError, "bad options"),
        ({"codecs": [{"codec": "fake", "rate_points": "4"}]}, SpecError, "list of numbers"),
        ({"codecs": [{"codec": "fake", "qp": 3}]}, SpecError, "unknown key.*qp"),
        ({"codecs": ["fake", "fake"]}, SpecError, "repeated codec label"),
        ({"sequences": ["/no/such/clip.y4m"]}, SpecError, "cannot read /no/such/clip.y4m"),
        ({"sequences": []}, SpecError, "'sequences' must be a non-empty list"),
        ({"frames": 0}, SpecError, "frames must be a positive count"),
        ({"codecs": None}, SpecError, "'codecs' must be a non-empty list"),
    ],
)
def test_the_whole_spec_is_checked_before_running(sample_y4m, change, error, message):
    data = {"sequences": [str(sample_y4m)], "codecs": ["fake"], **change}
    with pytest.raises(error, match=message):
        plan(parse_spec(data))


def test_a_named_rate_point_stands_for_its_options_and_number(sample_y4m):
    """NVRC's ``cpu1`` is a preset and a lambda (`presets.CPU_RATE_POINTS`): the spec names
    it, the point holds the preset among its options and the lambda as its rate point, and its
    key is that of the same point written out (30 or 30.0 alike)."""
    from inrcodec.codecs.nvrc.presets import CPU_RATE_POINTS

    entry = {"codec": "nvrc", "options": {"device": "cpu"}, "rate_points": ["cpu1", "cpu4", 2]}
    points = plan(parse_spec({"sequences": [str(sample_y4m)], "codecs": [entry]}))
    (xs, lam1), (large, lam4) = CPU_RATE_POINTS["rgb"][1], CPU_RATE_POINTS["rgb"][4]
    assert [(p.codec.options, p.rate_point) for p in points] == [
        ({"device": "cpu", "preset": xs}, lam1),
        ({"device": "cpu", "preset": large}, lam4),
        ({"device": "cpu"}, 2),
    ]
    written = {**points[0].identity(), "rate_point": int(lam1)}
    assert point_key(written) == point_key(points[0].identity())
    yuv = {**entry, "options": {"space": "yuv"}, "rate_points": ["cpu1"]}
    (point,) = plan(parse_spec({"sequences": [str(sample_y4m)], "codecs": [yuv]}))
    assert point.rate_point == CPU_RATE_POINTS["yuv"][1][1]


def test_nvrc_without_rate_points_runs_its_named_points(sample_y4m):
    """An NVRC entry naming no rate points gets ``cpu1`` .. ``cpu4`` (each its own preset and
    lambda: the codec's curve); one with a preset gets their lambdas on that preset."""
    from inrcodec.codecs.nvrc.presets import CPU_RATE_POINTS

    def planned(entry):
        points = plan(parse_spec({"sequences": [str(sample_y4m)], "codecs": [entry]}))
        return [(p.codec.options.get("preset"), p.rate_point) for p in points]

    assert planned({"codec": "nvrc"}) == list(CPU_RATE_POINTS["rgb"].values())
    lambdas = [lam for _, lam in CPU_RATE_POINTS["rgb"].values()]
    with_preset = {"codec": "nvrc", "options": {"preset": "nvrc-tiny"}}
    assert planned(with_preset) == [("nvrc-tiny", lam) for lam in lambdas]


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        ({"codec": "nvrc", "options": {"preset": "nvrc-cpu"}, "rate_points": ["cpu1"]},
         SpecError, "sets preset, which its options set otherwise"),
        ({"codec": "nvrc", "rate_points": ["cpu9"]}, CodecError, "unknown rate point 'cpu9'"),
        ({"codec": "fake", "rate_points": ["cpu1"]}, CodecError, "no named rate points"),
    ],
)  # fmt: skip
def test_a_named_rate_point_is_checked_before_running(sample_y4m, entry, error, message):
    with pytest.raises(error, match=message):
        plan(parse_spec({"sequences": [str(sample_y4m)], "codecs": [entry]}))


def test_a_frame_range_past_the_end_is_a_spec_error(sample_y4m):
    data = spec_for(sample_y4m)
    data["sequences"][0].update(start=30, frames=4)
    with pytest.raises(SpecError, match="carphone.*has 32 frames"):
        plan(parse_spec(data))


def test_a_failing_point_is_reported_and_the_others_go_on(clip, tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    code = main(
        ["bench", "run", "--codec", "fake", "--option", "fail_at=8", "--rate-points", "4,8,16",
         "--sequence", str(clip), "--frames", "2", "-o", str(results), "--no-progress"]
    )  # fmt: skip
    assert code == 1
    assert "fake @ 8 on small: RuntimeError: asked to fail at step 8" in (capsys.readouterr().err)
    assert [r["rate_point"] for r in read_results(results)] == [4, 16]
    (failure,) = [r for r in read_results(results, failures=True) if "error" in r]
    assert failure["error"] == "RuntimeError: asked to fail at step 8"
    assert failure["rate_point"] == 8 and "bpp" not in failure and "timestamp" in failure

    rerun = main(
        ["bench", "run", "--codec", "fake", "--option", "fail_at=8", "--rate-points", "4,8,16",
         "--sequence", str(clip), "--frames", "2", "-o", str(results), "--no-progress"]
    )  # fmt: skip
    assert rerun == 1  # the failed point was retried (and failed again); the others skipped
    assert "0 point(s) measured, 2 already in" in capsys.readouterr().out
    assert len(read_results(results, failures=True)) == 4


def test_a_point_listed_twice_runs_once(clip, tmp_path):
    points = plan(parse_spec(spec_for(clip, rate_points=[4, 4, 8])))
    summary = run_points(points, tmp_path / "r.jsonl", progress=False)
    assert (summary.measured, summary.skipped) == (2, 1)
    assert [r["rate_point"] for r in read_results(tmp_path / "r.jsonl")] == [4, 8]


def test_cli_user_errors_are_one_line_and_exit_2(sample_y4m, tmp_path, capsys):
    out = str(tmp_path / "r.jsonl")
    cases = [
        (["--codec", "nope", "--sequence", str(sample_y4m)], "unknown codec 'nope'"),
        ([str(tmp_path / "spec.yaml"), "--codec", "fake"], "not both"),
        (["--codec", "fake"], "at least one --codec and one --sequence"),
        ([str(tmp_path / "missing.yaml")], "No such file"),
    ]
    for args, message in cases:
        assert main(["bench", "run", *args, "-o", out]) == 2
        err = capsys.readouterr().err
        assert err.startswith("inrcodec: error: ") and message in err and err.count("\n") == 1


@pytest.mark.integration
def test_jobs_2_gives_the_same_results(clip, tmp_path):
    points = plan(parse_spec(spec_for(clip, rate_points=[3, 6, 12, 24])))
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    run_points(points, serial, jobs=1, progress=False)
    summary = run_points(points, parallel, jobs=2, progress=False)
    assert summary.measured == 4 and not summary.failures

    def measured(path):
        fields = ("bytes", "psnr_rgb", "psnr_yuv", "ms_ssim_rgb")
        return {point_key(r): [r[f] for f in fields] for r in read_results(path)}

    assert measured(parallel) == measured(serial)


@pytest.mark.integration
def test_a_killed_run_resumes_without_redoing_finished_points(clip, tmp_path):
    results, calls = tmp_path / "results.jsonl", tmp_path / "calls.log"
    command = [
        sys.executable, str(FAKE_SCRIPT), "bench", "run", "--codec", "fake",
        "--option", "delay=0.4", "--option", f"log={calls}", "--sequence", str(clip),
        "--frames", "2", "-o", str(results), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (results.exists() and b"\n" in results.read_bytes()):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no result line within 60 s"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    finished = {r["rate_point"] for r in read_results(results)}
    assert 1 <= len(finished) < 4
    calls_before = len(calls.read_text().splitlines())

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{4 - len(finished)} point(s) measured, {len(finished)} already in" in rerun.stdout
    records = read_results(results)
    assert sorted(r["rate_point"] for r in records) == [4, 8, 16, 32]
    assert len({point_key(r) for r in records}) == 4
    redone = [int(line.split()[0]) for line in calls.read_text().splitlines()[calls_before:]]
    assert sorted(redone) == sorted({4, 8, 16, 32} - finished)


@pytest.mark.integration
def test_a_real_codec_runs_through_the_harness(sample_y4m, tmp_path):
    data = {
        "sequences": [{"path": str(sample_y4m), "frames": 4}],
        "codecs": [{"codec": "x264", "rate_points": [22, 37]}],
    }
    results = tmp_path / "results.jsonl"
    summary = run_points(plan(parse_spec(data)), results, progress=False)
    assert summary.measured == 2, summary.failures
    high, low = read_results(results)
    assert high["bpp"] > low["bpp"] > 0 and high["psnr_rgb"] > low["psnr_rgb"] > 25
    assert json.dumps(high["versions"])
