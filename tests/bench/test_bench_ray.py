"""`bench run --ray`: the harness's points as tasks on a real local Ray instance (2 CPUs).

One Ray instance serves the module (`local_ray` in conftest.py: a start costs seconds), and
`RayExecutor` joins it. The test
codecs are registered at run time (`fake_codec`), so every test that passes also shows that
Ray's workers get this process's codec registry and import path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import ray

from conftest import REPO
from fake_codec import write_small_clip
from inrcodec.bench import parse_spec, plan, point_key, read_results, run_points, write_report
from inrcodec.bench.ray_executor import RayExecutor, sequence_bytes, task_resources
from inrcodec.cli import main
from inrcodec.codecs import CODECS, CodecEntry

pytestmark = pytest.mark.integration

FAKE_SCRIPT = REPO / "tests" / "fake_codec.py"


@pytest.fixture(autouse=True)
def fake_codec(monkeypatch):
    monkeypatch.setitem(CODECS, "fake", CodecEntry("fake_codec", "FakeCodec"))


@pytest.fixture(scope="module")
def clip(sample_y4m, tmp_path_factory):
    """8 frames of 64x48 cut from the sample clip (one TeCoNeRV clip)."""
    return write_small_clip(sample_y4m, tmp_path_factory.mktemp("clip") / "small.y4m", frames=8)


def fake_spec(clip, **options) -> list:
    return plan(
        parse_spec({"sequences": [str(clip)], "codecs": [{"codec": "fake", "options": options}]})
    )


def test_ray_measures_what_jobs_2_measures(clip, tmp_path, local_ray, monkeypatch):
    tiny = {"steps": 6, "device": "cpu"}
    points = plan(
        parse_spec(
            {
                "sequences": [str(clip)],
                "codecs": [
                    {"codec": "x264", "rate_points": [27, 37]},
                    {"codec": "x265", "rate_points": [27, 37]},
                    {"codec": "teconerv", "rate_points": [4, 8]},
                    {
                        "codec": "hinerv",
                        "options": {"preset": "hinerv-tiny", **tiny},
                        "rate_points": [6],
                    },
                    {
                        "codec": "nvrc",
                        "options": {"preset": "nvrc-tiny", **tiny},
                        "rate_points": [1],
                    },
                ],
            }
        )
    )
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # --jobs 2: one torch thread each, as on Ray
    jobs, on_ray = tmp_path / "jobs.jsonl", tmp_path / "ray.jsonl"
    assert not run_points(points, jobs, jobs=2, progress=False).failures
    summary = run_points(points, on_ray, progress=False, executor=RayExecutor())
    assert (summary.measured, summary.failures) == (8, [])

    def measured(path):
        fields = ("bytes", "bpp", "psnr_rgb", "psnr_yuv", "ms_ssim_rgb")
        return {point_key(r): [r[f] for f in fields] for r in read_results(path)}

    assert len(measured(on_ray)) == 8
    assert measured(on_ray) == measured(jobs)
    assert {tuple(sorted(r)) for r in read_results(on_ray)} == {
        tuple(sorted(r)) for r in read_results(jobs)
    }


def test_a_worker_that_dies_is_retried_and_its_point_lands_once(clip, tmp_path, local_ray):
    marker, log, results = tmp_path / "crashed", tmp_path / "calls.log", tmp_path / "r.jsonl"
    points = fake_spec(clip, crash_once=str(marker), log=str(log))
    # by path (no object store), so the per-node file check runs too
    executor = RayExecutor(retries=2, object_store_limit=0)
    summary = run_points(points, results, progress=False, executor=executor)
    assert marker.exists(), "no worker died"
    assert (summary.measured, summary.failures) == (4, [])
    records = read_results(results, failures=True)
    assert sorted(r["rate_point"] for r in records) == [4, 8, 16, 32]
    assert not any("error" in r for r in records)
    calls = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert len(calls) == 5 and sorted(set(calls)) == [4, 8, 16, 32]  # one point ran twice

    again = run_points(points, results, progress=False, executor=executor)
    assert (again.measured, again.skipped, again.failures) == (0, 4, [])
    assert len(log.read_text().splitlines()) == 5  # a second run on a full file does no work


def test_failures_are_recorded_and_retried_by_the_next_run(clip, tmp_path, local_ray):
    marker, log, results = tmp_path / "crashed", tmp_path / "calls.log", tmp_path / "r.jsonl"
    points = fake_spec(clip, crash_once=str(marker), log=str(log), fail_at=16)
    first = run_points(points, results, progress=False, executor=RayExecutor(retries=0))
    assert first.measured == 2
    errors = sorted(message.split(":")[0] for _, message in first.failures)
    assert errors == ["RuntimeError", "WorkerCrashedError"]  # a codec's error; a dead worker
    failed = [r for r in read_results(results, failures=True) if "error" in r]
    assert len(failed) == 2 and not any("bpp" in r for r in failed)
    assert len(read_results(results)) == 2  # failure records are not results
    report = write_report(results, tmp_path / "report").read_text()
    assert "## Failed points" in report and "asked to fail at step 16" in report

    second = run_points(points, results, progress=False, executor=RayExecutor(retries=0))
    assert (second.skipped, second.measured) == (2, 1)  # the crashed point; 16 fails again
    assert [m for _, m in second.failures] == ["RuntimeError: asked to fail at step 16"]

    measured = [point_key(r) for r in read_results(results)]
    assert len(measured) == len(set(measured)) == 3


def test_a_bad_spec_or_an_impossible_task_fails_before_anything_starts(
    clip, tmp_path, local_ray, capsys
):
    out = tmp_path / "r.jsonl"
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"sequences": [str(clip)], "codecs": [{"codec": "nope"}]}))
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text(
        json.dumps(
            {
                "sequences": [str(clip)],
                "codecs": [{"codec": "teconerv", "options": {"device": "cuda"}}],
            }
        )
    )
    cases = [
        ([str(bad), "--ray"], "unknown codec 'nope'"),
        ([str(gpu), "--ray"], "needs 1 CPU(s) and 1 GPU(s)"),
        ([str(gpu), "--ray", "--ray-cpus", "3"], "needs 3 CPU(s)"),
        ([str(bad), "--ray-cpus", "2"], "--ray-cpus and --ray-retries need --ray"),
        (["--ray", str(bad)], "put the SPEC before --ray"),
        ([str(bad), "--ray", "auto", "--jobs", "2"], "--jobs sizes the embedded Ray"),
    ]
    for args, message in cases:
        assert main(["bench", "run", *args, "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("inrcodec: error: ") and message in err and err.count("\n") == 1
        assert not out.exists()
    assert ray.is_initialized()  # the module's instance: RayExecutor leaves a joined one running


def test_resources_and_sequence_sizes(clip):
    (point,) = plan(
        parse_spec({"sequences": [str(clip)], "codecs": [{"codec": "x264", "rate_points": [30]}]})
    )
    assert task_resources(point, 2) == {"num_cpus": 2, "num_gpus": 0}
    (gpu,) = plan(
        parse_spec(
            {
                "sequences": [str(clip)],
                "codecs": [
                    {"codec": "hinerv", "options": {"device": "cuda:1"}, "rate_points": [6]}
                ],
            }
        )
    )
    assert task_resources(gpu, 1) == {"num_cpus": 1, "num_gpus": 1}
    assert sequence_bytes(point.sequence) == 8 * 64 * 48 * 3 // 2  # 8 frames of 4:2:0


def test_the_command_starts_its_own_local_ray(clip, tmp_path):
    results = tmp_path / "r.jsonl"
    command = [
        sys.executable, str(FAKE_SCRIPT), "bench", "run", "--codec", "fake", "--sequence",
        str(clip), "-o", str(results), "--ray", "--jobs", "2", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert "4 point(s) measured, 0 already in" in run.stdout
    assert sorted(r["rate_point"] for r in read_results(results)) == [4, 8, 16, 32]


def test_nothing_but_the_ray_executor_imports_ray(clip, tmp_path):
    code = (
        "import sys, inrcodec, inrcodec.bench, inrcodec.cli\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from inrcodec.codecs import CODECS, CodecEntry\n"
        "CODECS['fake'] = CodecEntry('fake_codec', 'FakeCodec')\n"
        "args = ['bench', 'run', '--codec', 'fake', '--sequence', sys.argv[2], '-o', sys.argv[3]]\n"
        "assert inrcodec.cli.main([*args, '--jobs', '2', '--no-progress']) == 0\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    args = [str(FAKE_SCRIPT.parent), str(clip), str(tmp_path / "r.jsonl")]
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
