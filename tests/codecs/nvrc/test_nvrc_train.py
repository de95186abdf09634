"""NVRC training (Sec. 3.4, App. A.2): the rate falls, the schedule anneals, runs resume."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from inrcodec.cli import main
from inrcodec.codecs.nvrc.objective import RateDistortion
from inrcodec.codecs.nvrc.presets import (
    ABLATIONS,
    DEFAULT_PRESET,
    DEFAULT_RATE_POINT,
    NVRCError,
    Schedule,
    defaults,
    rate_point,
    resolve,
)
from inrcodec.codecs.nvrc.train import build, default_schedule, train
from inrcodec.codecs.synthesis import reconstruct
from inrcodec.codecs.training.fitting import TrainingError, VideoTarget
from inrcodec.io import read_video

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]


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


def test_every_ablation_has_its_own_effect(clip):
    """Each of `ABLATIONS` changes what it names (Table 3's V1-V5, Sec. 4.4, the CPU
    schedule's), seen in the rate report's groups against the full model's."""
    runs = {name: train(clip, "nvrc-tiny", 1.0, ablation=name, steps=4, progress=False)
            for name in ABLATIONS}  # fmt: skip
    groups = {name: run.report["groups"] for name, run in runs.items()}
    full = groups["full"]

    def changed(name: str, what: str = "values") -> set[str]:
        return {group for group, row in groups[name].items() if row[what] != full[group][what]}

    assert changed("v1") == {"layer_em"}  # one Gaussian per layer: fewer parameters
    assert groups["v1"]["layer_em"]["values"] < full["layer_em"]["values"]
    assert changed("v2") == {"grid_em", "psi"}  # one Gaussian per grid level, nothing for psi
    assert groups["v2"]["psi"]["values"] == 0
    assert changed("v3") == changed("v1") | changed("v2")
    assert changed("v4") == {"psi"}  # phi as float16: 16 bits a value, no psi
    assert groups["v4"]["grid_em"]["bits"] == 16 * full["grid_em"]["values"]
    assert changed("v5") == {"grid_quant"} and groups["v5"]["grid_quant"]["values"] == 0
    for schedule_only in ("no-alternating", "no-stage0", "soft-layers"):
        assert changed(schedule_only) == set()  # the same model, trained otherwise
    assert "stage0" in runs["full"].stages and "stage0" not in runs["no-stage0"].stages
    assert runs["no-alternating"].report["bits"] < runs["full"].report["bits"]  # R every step
    assert changed("soft-layers", "bits") == {"layers"}  # the layers' surrogate alone
    assert all(run.bpp > 0 and run.psnr > 0 for run in runs.values())


def test_the_latent_presets_steps_follow_the_frame_size():
    """A pixel budget: more steps on smaller frames, within the floor and the cap; presets
    without a budget keep their fixed steps."""
    latent = defaults("nvrc-latent")
    assert latent.steps_for(144, 256, 4) == 6000
    assert latent.steps_for(136, 320, 4) == 5082
    assert latent.steps_for(144, 176, 4) == 6500  # the cap
    assert latent.steps_for(288, 384, 4) == latent.steps_for(1080, 1920, 4) == 3000  # the floor
    assert latent.steps_for(200, 320, 4) == 3456  # between the floor and the cap
    assert defaults("nvrc-cpu").steps_for(144, 176, 4) == defaults("nvrc-cpu").steps == 3000


def test_rate_points_and_bad_requests(clip):
    assert rate_point(1, "rgb") == ("nvrc-s2", 1.0)
    assert rate_point("6", "yuv") == ("nvrc-s4", 1024.0)
    assert rate_point("cpu1", "rgb") == ("nvrc-latent", 30.0)
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


def test_one_default_rate_point_for_every_caller():
    """`resolve` is the one place a (preset, lambda) comes from: the command line, `encode` and
    the harness's named points read it; without a point or a lambda, `DEFAULT_RATE_POINT`."""
    assert resolve(None, None, None) == rate_point(DEFAULT_RATE_POINT) == ("nvrc-latent", 100.0)
    assert resolve(None, None, 2.0) == (DEFAULT_PRESET, 2.0)
    assert resolve(None, "nvrc-s1", 2.0) == ("nvrc-s1", 2.0)
    assert resolve("cpu1", "nvrc-cpu-xs", None, "yuv") == ("nvrc-cpu-xs", 128.0)
    for args, message in [
        (("cpu1", None, 2.0), "not both"),
        ((None, None, None, "rgb", None), "give a lambda"),
        (("cpu1", "nvrc-cpu-xs", None), "uses preset"),
    ]:
        with pytest.raises(NVRCError, match=message):
            resolve(*args)


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


def test_bf16_autocast_runs_the_network_in_bf16_and_the_rate_in_float32(clip):
    """Under `TrainConfig.amp` "bf16" (CPU too) the synthesis computes in bfloat16, but the
    quantisers and entropy models do not: a step's rate is the float32 one, to the bit."""
    size = (clip.num_frames, clip.height, clip.width)
    model = build(size, "nvrc-latent")
    model.train()
    model.batch_rate = True
    frames = torch.tensor([0, 1])
    with torch.no_grad():
        for tensor in model.parameters():  # past the start, where the context model outputs 0
            tensor.add_(0.3 * torch.randn_like(tensor))
        torch.manual_seed(1)  # the same training noise on the grids in both passes
        plain = model(frames)
        rate = model.last_batch_rate
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(frames)
    assert plain.dtype == torch.float32 and low.dtype == torch.bfloat16
    assert model.last_batch_rate.dtype == torch.float32
    assert torch.equal(model.last_batch_rate, rate)
    result = train(clip, "nvrc-latent", 100.0, steps=4, progress=False, device="cpu", amp="bf16")
    assert result.bpp > 0 and result.psnr > 0
    with pytest.raises(TrainingError, match="fp16"):
        train(clip, "nvrc-latent", 100.0, steps=2, progress=False, device="cpu", amp="fp16")
