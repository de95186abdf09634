"""The paper-reproduction kit (benchmarks/paper/): every spec plans at full size against
stand-in files, and a shrunken copy of each (same entries and curves, tiny presets, 8 frames
of a real clip, CPU) runs end to end on Ray and makes its report, so the kit does not rot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from fake_codec import write_small_clip
from inrcodec.bench import load_spec, parse_spec, plan, read_results, run_points, write_report
from inrcodec.bench.ray_executor import RayExecutor
from inrcodec.codecs.nvrc.presets import PAPER_RATE_POINTS
from inrcodec.codecs.teconerv.model_file import PACKAGED_MODELS

pytestmark = pytest.mark.integration

KIT = REPO / "benchmarks" / "paper"
SPECS = sorted(KIT.glob("*.yaml"))
UVG = ["Beauty", "Bosphorus", "HoneyBee", "Jockey", "ReadySetGo", "ShakeNDry", "YachtRide"]
#: The report anchor of each spec in docs/paper-kit.md, and the curves its tables compare.
CURVES = {
    "nvrc_uvg": ("x265-veryslow", {"nvrc-rgb", "nvrc-yuv", "hinerv", "vvenc"}),
    "teconerv_uvg_480p": ("nerv-enc", {"teconerv", "patch-tubelet", "hinerv"}),
    "teconerv_uvg_720p": ("nerv-enc", {"teconerv", "patch-tubelet", "hinerv"}),
}


def test_the_kit_has_its_three_specs():
    assert [spec.stem for spec in SPECS] == sorted(CURVES)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_each_spec_plans_at_full_size(spec, tmp_path):
    """Stand-ins with the specs' file names and sizes (sparse: no disk used): UVG's 600 frames,
    300 for ShakeNDry."""
    data = yaml.safe_load(spec.read_text())
    for entry in data["sequences"]:
        path = tmp_path / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        width, height = map(int, path.name.split("_")[1].split("x"))
        with open(path, "wb") as file:
            file.truncate((300 if entry["name"] == "ShakeNDry" else 600) * width * height * 3 // 2)
    (tmp_path / spec.name).write_text(spec.read_text())
    points = plan(load_spec(tmp_path / spec.name))
    assert sorted({p.sequence.name for p in points}) == UVG
    sizes = {(p.sequence.read().width, p.sequence.read().height) for p in points}
    assert sizes == {
        {"nvrc_uvg": (1920, 1080), "teconerv_uvg_480p": (640, 480)}.get(spec.stem, (1280, 720))
    }
    assert {p.codec.curve for p in points} >= CURVES[spec.stem][1]
    if spec.stem == "nvrc_uvg":  # Table 6, exactly
        for space in ("rgb", "yuv"):
            table = {
                (p.codec.options["preset"], p.rate_point)
                for p in points
                if p.codec.curve == f"nvrc-{space}" and p.sequence.name == "Beauty"
            }
            assert table == set(PAPER_RATE_POINTS[space].values())
        assert len(points) == 7 * (12 + 5 + 6 + 6)
    else:
        assert len(points) == 7 * (3 * 5 + 1)
    assert {p.codec.options.get("device") for p in points if p.codec.codec != "x265"} <= {
        "cuda",
        None,
    }


def shrink(data: dict, clip: Path) -> dict:
    """The spec's first sequence as 8 frames of a real clip; every codec entry kept (labels,
    curves, options) with tiny presets, a few steps, the committed CPU models, on the CPU, and
    one rate point per neural entry, two per conventional one."""
    codecs = []
    for index, entry in enumerate(data["codecs"]):
        options = dict(entry.get("options", {}))
        points = entry["rate_points"]
        if entry["codec"] in ("hinerv", "nvrc"):
            # a step count per entry keeps the entries of one curve distinct points
            options.update(preset=f"{entry['codec']}-tiny", steps=4 + index, device="cpu")
            points = points[:1]
        elif entry["codec"] == "teconerv":
            model = Path(options["model"]).parent.name  # runs/k400-<model>-<size>/
            cpu = next(m for m in ("nerv-enc", "patch-tubelet", "teconerv") if m in model)
            options.update(model=str(PACKAGED_MODELS / f"{cpu}-cpu.safetensors"), device="cpu")
            points = points[:1]
        else:
            points = [points[0], points[-1]]
        codecs.append({**entry, "options": options, "rate_points": points})
    name = data["sequences"][0]["name"]
    return {"sequences": [{"path": str(clip), "name": name}], "codecs": codecs}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_a_shrunken_copy_runs_on_ray_and_reports(spec, sample_y4m, tmp_path, local_ray):
    clip = write_small_clip(sample_y4m, tmp_path / "clip.y4m", frames=8)
    points = plan(parse_spec(shrink(yaml.safe_load(spec.read_text()), clip)))
    results = tmp_path / "results.jsonl"
    cwd = os.getcwd()
    summary = run_points(points, results, progress=False, executor=RayExecutor())
    assert (summary.measured, summary.failures) == (len(points), [])
    assert os.getcwd() == cwd
    assert len(read_results(results)) == len(points)
    anchor, curves = CURVES[spec.stem]
    report = write_report(results, tmp_path / "report", anchor=anchor).read_text()
    assert f"## BD-rate against {anchor}" in report
    for curve in curves - {anchor}:  # a row in each of the five BD-rate tables (VMAF, XPSNR)
        rows = [
            line.strip("| ").split(" | ")[1:]
            for line in report.splitlines()
            if line.startswith(f"| {curve} | ")
        ]
        bd_rows = [r for r in rows if all(c.endswith(" %") or c.startswith("n/a") for c in r)]
        assert len(bd_rows) == 5, curve
