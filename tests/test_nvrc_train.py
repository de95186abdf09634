"""NVRC training (Sec. 3.4, App. A.2): the rate falls, the schedule anneals, runs resume."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from inrcodec.cli import main
from inrcodec.codecs.fitting import VideoTarget
from inrcodec.codecs.nvrc.objective import RateDistortion
from inrcodec.codecs.nvrc.train import (
    ABLATIONS,
    NVRCError,
    Schedule,
    build,
    default_schedule,
    rate_point,
    train,
)
from inrcodec.codecs.synthesis import reconstruct
from inrcodec.io import read_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip(sample_y4m):
    return read_video(sample_y4m, frames=4).load()


def test_rate_falls_during_training(clip):
    size = (clip.num_frames, clip.height, clip.width)
    before = build(size, "nvrc-tiny").rate_report()["bpp"]
    result = train(
        clip, "nvrc-tiny", 0.01, steps=40, schedule=Schedule(alternate=0), progress=False,
        device="cpu",
    )  # fmt: skip
    after = result.bpp
    assert after < 0.9 * before, (before, after)
    assert result.stages["stage1"].rate is not None
    groups = result.report["groups"]
    assert sum(g["bits"] for g in groups.values()) == pytest.approx(result.report["bits"])
    assert result.report["bpp"] == pytest.approx(
        result.report["bits"] / (clip.num_frames * clip.height * clip.width)
    )


def test_alternating_schedule_marks_every_ninth_step():
    term = RateDistortion(lambda: torch.zeros(()), lam=1.0, period=9)
    assert [s for s in range(30) if term.is_rate_step(s)] == [8, 17, 26]
    joint = RateDistortion(lambda: torch.zeros(()), lam=1.0, period=1)
    assert not any(joint.is_rate_step(s) for s in range(30))


def test_schedule_anneals_as_the_paper():
    schedule = Schedule()
    (first, first_layers), (last, _) = (schedule.rounding("stage1", s, 100) for s in (0, 99))
    assert (first.mode, first.temperature, first.noise) == ("soft", 0.5, 2.0)
    assert first_layers == first  # the paper: the same surrogate on grids and layers
    assert (last.temperature, last.noise) == pytest.approx((0.3, 1.0))
    assert [r.ratio for r in schedule.rounding("stage2", 0, 10)] == [0.5, 0.5]
    assert schedule.rounding("stage2", 9, 10)[1].ratio == 1.0
    assert schedule.stage_steps(390) == {"stage1": 360, "stage2": 30}


def test_cpu_schedule_fits_in_float_first_then_rounds_layers_straight_through():
    schedule = default_schedule("nvrc-cpu")
    assert default_schedule("nvrc-s2") == Schedule()  # paper presets: the paper's schedule
    assert schedule.stage_steps(2000) == {"stage0": 1600, "stage1": 370, "stage2": 30}
    grids, layers = schedule.rounding("stage1", 0, 100)
    assert (grids.mode, layers.mode) == ("soft", "ste")
    assert schedule.rounding("stage2", 0, 10)[1].mode == "quant-noise"
    with pytest.raises(NVRCError, match="at least 3"):
        schedule.stage_steps(2)


def test_stage0_fits_the_network_alone_in_float_before_the_rate_stages(clip):
    size = (clip.num_frames, clip.height, clip.width)
    frames = VideoTarget.from_video(clip).frames
    untrained = reconstruct(build(size, "nvrc-tiny").net, clip.num_frames)
    untrained_psnr = -10 * torch.log10(torch.mean((untrained - frames) ** 2)).item()
    schedule = replace(default_schedule("nvrc-tiny"), alternate=0)
    result = train(clip, "nvrc-tiny", 1.0, steps=30, schedule=schedule, progress=False,
                   device="cpu")  # fmt: skip
    assert list(result.stages) == ["stage0", "stage1", "stage2"]
    assert result.stages["stage0"].rate is None and result.stages["stage1"].rate is not None
    assert result.stages["stage0"].psnr > untrained_psnr + 1  # it fitted
    assert [result.stages[s].steps for s in result.stages] == [24, 5, 1]


def test_resume_of_a_finished_run_loads_it(clip, tmp_path):
    kwargs = dict(steps=12, run_dir=tmp_path, progress=False, device="cpu")
    first = train(clip, "nvrc-tiny", 1.0, **kwargs)
    again = train(clip, "nvrc-tiny", 1.0, resume=True, **kwargs)
    assert again.bpp == first.bpp
    assert again.psnr == first.psnr
    state = json.loads((tmp_path / "stage2" / "state.json").read_text())
    assert state["finished"]


def test_every_ablation_trains(clip):
    for name in ABLATIONS:
        result = train(clip, "nvrc-tiny", 1.0, ablation=name, steps=4, progress=False)
        assert result.bpp > 0 and result.psnr > 0
    assert (
        train(clip, "nvrc-tiny", 1.0, ablation="v4", steps=4, progress=False).report["groups"][
            "psi"
        ]["bits"]
        == 0
    )


def test_rate_points_and_bad_requests(clip):
    assert rate_point(1, "rgb") == ("nvrc-s2", 1.0)
    assert rate_point("6", "yuv") == ("nvrc-s4", 1024.0)
    assert rate_point("cpu1", "rgb") == ("nvrc-cpu-xs", 4.0)
    assert rate_point("cpu4", "yuv") == ("nvrc-cpu-l", 1024.0)
    for bad in ("7", "cpu9", "x"):
        with pytest.raises(NVRCError):
            rate_point(bad)
    with pytest.raises(NVRCError, match="unknown ablation"):
        train(clip, "nvrc-tiny", 1.0, ablation="v9", steps=4)
    with pytest.raises(NVRCError, match="unknown NVRC preset"):
        train(clip, "hinerv-tiny", 1.0, steps=4)
    with pytest.raises(NVRCError, match="lambda"):
        train(clip, "nvrc-tiny", 0.0, steps=4)


def test_cli_train_prints_the_rate_split(sample_y4m, tmp_path, capsys):
    report = tmp_path / "r.json"
    args = ["train", "nvrc", str(sample_y4m), "--frames", "4", "--preset", "nvrc-tiny"]
    args += ["--lambda", "2", "--steps", "4", "--no-progress", "--report", str(report)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "estimated, eq. 9" in out and "grid_em" in out
    data = json.loads(report.read_text())
    assert data["lambda"] == 2.0 and data["rate"]["bpp"] == pytest.approx(data["bpp"])


def test_cli_train_refuses_bad_options(sample_y4m, capsys):
    assert main(["train", "nvrc", str(sample_y4m), "--frames", "2"]) == 2
    assert "--lambda" in capsys.readouterr().err
    args = ["train", "nvrc", str(sample_y4m), "--lambda", "1", "--rate-point", "1"]
    assert main(args) == 2
    assert main(["train", "nvrc", str(sample_y4m), "--rate-point", "9"]) == 2
