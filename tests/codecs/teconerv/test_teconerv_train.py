"""TeCoNeRV training: the temporal-coherence loss, the step schedule, resume,
torchrun (gloo) with two processes, and the `inrcodec train teconerv` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SAMPLE_Y4M
from inrcodec.cli import main
from inrcodec.codecs.teconerv.data import ClipCache
from inrcodec.codecs.teconerv.model_file import load_model, save_model
from inrcodec.codecs.teconerv.presets import preset
from inrcodec.codecs.teconerv.train import (
    HypernetTrainConfig,
    TeCoNeRVTrainError,
    _Objective,
    temporal_loss,
    train,
    validate,
)
from inrcodec.io import convert_video, read_video, write_video
from inrcodec.nets.hypernet import Hypernetwork

TINY = preset("teconerv-tiny")

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> np.ndarray:
    """The sample clip at the tiny preset's training size: uint8 (32, 32, 48, 3)."""
    cache = ClipCache(tmp_path_factory.mktemp("cache"), TINY.train_size)
    return np.array(cache.prepare([SAMPLE_Y4M], progress=False)[0])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """A training folder of two real clips (frames 0-15, 16-31 of the sample) and a held-out
    folder (the sample's last 8 frames as a PNG folder)."""
    root = tmp_path_factory.mktemp("corpus")
    video = read_video(SAMPLE_Y4M)
    write_video(video[0:16], root / "train" / "a" / "first.y4m")
    write_video(video[16:32], root / "train" / "b" / "second.y4m")
    write_video(convert_video(video[24:32], chroma="rgb", bit_depth=8), root / "val" / "last")
    return root / "train", root / "val"


def net_from(seed: int, name: str = "teconerv-tiny") -> Hypernetwork:
    torch.manual_seed(seed)
    return Hypernetwork(preset(name).net)


# ----------------------------------------------------------------------------- the objective


@pytest.mark.parametrize("target", ["mod", "uniq", "both"])
def test_identical_consecutive_clips_give_zero_temporal_loss(frames, target):
    net = net_from(0)
    clip = torch.from_numpy(frames[:8, :16, :16]).permute(0, 3, 1, 2).float() / 255
    pair = torch.stack([clip, clip])[None]  # (1, 2, 8, 3, 16, 16)
    mse, temporal = _Objective(net, target)(pair)
    assert temporal.item() == 0.0 and mse.item() > 0

    moved = torch.stack([clip, torch.from_numpy(frames[8:16, :16, :16]).permute(0, 3, 1, 2) / 255])
    _, temporal = _Objective(net, target)(moved.float()[None])
    assert temporal.item() > 1e-6


def test_temporal_loss_is_the_per_layer_mean_summed_over_layers():
    net = net_from(1)
    clips = torch.rand(2, 8, 3, 16, 16)
    unique = net.unique(clips)
    u1, u2 = (
        [u if u is None else u[:1] for u in unique],
        [u if u is None else u[1:] for u in unique],
    )
    w1, w2 = net.hypo.clip_weights(u1), net.hypo.clip_weights(u2)
    got = temporal_loss(net, (u1, u2), (w1, w2), "mod")
    # the reference: nn.L1Loss over each layer's (fan_in + 1, out) weight-and-bias matrix
    expected = 0.0
    for a, b, bias in zip(w1, w2, net.hypo.biases, strict=True):
        wa = torch.cat([a.expand(1, -1, -1), bias[None, None]], dim=1)
        wb = torch.cat([b.expand(1, -1, -1), bias[None, None]], dim=1)
        expected += torch.nn.functional.l1_loss(wa, wb)
    torch.testing.assert_close(got, expected)
    uniq = sum((a - b).abs().mean() for a, b in zip(u1, u2, strict=True) if a is not None)
    torch.testing.assert_close(temporal_loss(net, (u1, u2), (w1, w2), "uniq"), uniq)
    torch.testing.assert_close(temporal_loss(net, (u1, u2), (w1, w2), "both"), (got + uniq) / 2)


def test_step_decay_follows_the_reference_schedule():
    config = HypernetTrainConfig(epochs=100, lr=1e-4)
    assert config.lr_at(0) == config.lr_at(88) == 1e-4
    assert config.lr_at(89) == pytest.approx(1e-5) and config.lr_at(96) == pytest.approx(1e-5)
    assert config.lr_at(97) == pytest.approx(1e-6) and config.lr_at(99) == pytest.approx(1e-6)
    with pytest.raises(TeCoNeRVTrainError, match="temporal_target"):
        HypernetTrainConfig(temporal_target="weights")
    with pytest.raises(TeCoNeRVTrainError):
        HypernetTrainConfig(batch=0)


def test_validation_psnr_is_per_frame_over_the_tubelet_grid(frames):
    net = net_from(2)
    result = validate(net, {"clip": frames}, max_clips=2)
    with torch.no_grad():
        base = net.hypo(net.hypo.clip_weights([None] * 4))[0]  # one output for every clip
        tiled = base.repeat(1, 1, 2, 3)  # the 2 x 3 grid of 16x16 tubelets covers 32x48
        target = torch.from_numpy(frames[:16]).permute(0, 3, 1, 2).float() / 255
        mse = ((tiled.repeat(2, 1, 1, 1) - target) ** 2).mean(dim=(1, 2, 3))
        expected = (-10 * torch.log10(mse)).mean().item()
    assert result["videos"]["clip"]["psnr_base_only"] == pytest.approx(expected, abs=1e-4)
    assert result["psnr_base_only"] == result["videos"]["clip"]["psnr_base_only"]
    assert np.isfinite(result["psnr"]) and result["psnr"] != result["psnr_base_only"]


# ----------------------------------------------------------------------------- the loop


class Kill(Exception):
    pass


@pytest.mark.parametrize("temporal_lambda", [0.0, 0.1], ids=["recon", "temporal"])
def test_resume_reproduces_the_uninterrupted_run(frames, tmp_path, temporal_lambda):
    videos = [frames[:16], frames[16:]]
    config = HypernetTrainConfig(
        epochs=3, clips_per_video=4, batch=4, lr=1e-3, log_every=1, temporal_lambda=temporal_lambda
    )
    whole = train(TINY, net_from(0), videos, config, run_dir=tmp_path / "whole", progress=False)
    assert [s for s, _ in whole.losses] == list(range(1, 7))

    def kill_at_3(step, total):
        if step == 3:
            raise Kill

    with pytest.raises(Kill):
        train(TINY, net_from(0), videos, config, run_dir=tmp_path / "cut", progress=False,
              callback=kill_at_3)  # fmt: skip
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step"] == 2

    resumed_net = net_from(99)  # the weights come from the checkpoint
    resumed = train(TINY, resumed_net, videos, config, run_dir=tmp_path / "cut", resume=True,
                    progress=False)  # fmt: skip
    assert resumed.losses == whole.losses[2:]  # the next loss first of all, bit for bit
    assert resumed.rank_digests == whole.rank_digests

    # a time-boxed job: leave after step 3 (between checkpoints), then go on
    early = train(TINY, net_from(0), videos, config, run_dir=tmp_path / "boxed", progress=False,
                  stop_at=3)  # fmt: skip
    assert early.steps == 3 and early.losses == whole.losses[:3]
    again = train(TINY, net_from(5), videos, config, run_dir=tmp_path / "boxed", resume=True,
                  progress=False, stop_at=3)  # fmt: skip
    assert again.steps == 3 and again.losses == []  # already there: nothing to do
    rest = train(TINY, net_from(5), videos, config, run_dir=tmp_path / "boxed", resume=True,
                 progress=False)  # fmt: skip
    assert rest.losses == whole.losses[3:] and rest.rank_digests == whole.rank_digests

    with pytest.raises(TeCoNeRVTrainError, match="cannot resume"):
        train(TINY, net_from(0), videos, HypernetTrainConfig(epochs=4, clips_per_video=4, batch=4),
              run_dir=tmp_path / "cut", resume=True, progress=False)  # fmt: skip


def test_training_lowers_the_loss_and_writes_its_files(frames, tmp_path):
    videos = [frames[:16], frames[16:]]
    config = HypernetTrainConfig(epochs=12, clips_per_video=8, batch=4, lr=3e-3, log_every=4)
    result = train(TINY, net_from(0), videos, config, run_dir=tmp_path, progress=False,
                   val_videos={"held-out": frames})  # fmt: skip
    assert result.losses[-1][1] < 0.8 * result.losses[0][1]
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(0, 49, 4))
    assert history[-1]["psnr"] > history[0]["psnr"] + 1
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["finished"] and state["step"] == 48 and state["world_size"] == 1
    loaded, _ = load_model(tmp_path / "model.safetensors")
    assert validate(loaded, {"held-out": frames})["psnr"] == pytest.approx(history[-1]["psnr"])


def test_too_small_an_epoch_is_refused(frames, tmp_path):
    with pytest.raises(TeCoNeRVTrainError, match="clips_per_video"):
        train(TINY, net_from(0), [frames], HypernetTrainConfig(batch=8), run_dir=tmp_path,
              progress=False)  # fmt: skip
    with pytest.raises(TeCoNeRVTrainError, match="preset"):
        train(TINY, net_from(0, "teconerv-cpu"), [frames], HypernetTrainConfig(), run_dir=tmp_path)


# ----------------------------------------------------------------------------- the command


def test_train_command_pretrains_then_fine_tunes(corpus, tmp_path, capsys):
    train_dir, val_dir = corpus
    common = ["--data", str(train_dir), "--val", str(val_dir), "--preset", "teconerv-tiny",
              "--clips-per-video", "4", "--batch", "4", "--device", "cpu", "--no-progress",
              "--cache", str(tmp_path / "cache")]  # fmt: skip
    assert (
        main(["train", "teconerv", *common, "--out", str(tmp_path / "pre"), "--epochs", "2"]) == 0
    )
    out = capsys.readouterr().out
    assert "4 steps" in out and "validation PSNR" in out
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    fine = ["--out", str(tmp_path / "fine"), "--epochs", "1", "--temporal-lambda", "0.1",
            "--init", str(tmp_path / "pre" / "model.safetensors")]  # fmt: skip
    # pairs of 8-frame clips need 16 frames: the training clips have exactly that
    assert main(["train", "teconerv", *common, *fine]) == 0
    state = json.loads((tmp_path / "fine" / "state.json").read_text())
    assert state["config"]["temporal_lambda"] == 0.1 and state["finished"]


def test_train_command_errors_are_one_line(corpus, tmp_path, capsys):
    train_dir, val_dir = corpus
    assert (
        main(["train", "teconerv", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    )
    assert "not a folder of videos" in capsys.readouterr().err
    args = ["train", "teconerv", "--data", str(train_dir), "--out", str(tmp_path / "o"),
            "--device", "cpu", "--no-progress", "--cache", str(tmp_path / "c")]  # fmt: skip
    assert main([*args, "--preset", "nope"]) == 2
    assert "unknown TeCoNeRV preset" in capsys.readouterr().err
    assert main([*args, "--preset", "teconerv-tiny", "--val", str(train_dir)]) == 2
    assert "also training videos" in capsys.readouterr().err
    net = net_from(0, "teconerv-tiny")
    save_model(net, tmp_path / "tiny.safetensors", TINY)
    assert (
        main([*args, "--preset", "teconerv-cpu", "--init", str(tmp_path / "tiny.safetensors")]) == 2
    )
    assert "teconerv-tiny model" in capsys.readouterr().err


def test_torchrun_two_gloo_processes_end_with_identical_weights(corpus, tmp_path):
    """`torchrun --nproc_per_node 2` on CPU: DDP over gloo, the global batch of 4 split 2 + 2.
    Both ranks end with the same weights (their digests are gathered and compared), and those
    equal a single process's run on the whole batch, up to float rounding (amplified a little
    by Adam where gradients are tiny)."""
    train_dir, _ = corpus
    args = ["train", "teconerv", "--data", str(train_dir), "--preset", "teconerv-tiny",
            "--epochs", "2", "--clips-per-video", "4", "--batch", "4", "--lr", "1e-2",
            "--device", "cpu", "--threads", "1", "--no-progress",
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "inrcodec.cli", *args, "--out", str(tmp_path / "ddp")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    state = json.loads((tmp_path / "ddp" / "state.json").read_text())
    assert state["world_size"] == 2 and state["finished"] and state["step"] == 4
    assert len(state["digests"]) == 2 and state["digests"][0] == state["digests"][1]

    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    ddp, _ = load_model(tmp_path / "ddp" / "model.safetensors")
    single, _ = load_model(tmp_path / "single" / "model.safetensors")
    start = net_from(0)
    moved = diff = 0.0
    for key, value in single.state_dict().items():
        diff = max(diff, (ddp.state_dict()[key] - value).abs().max().item())
        moved = max(moved, (value - start.state_dict()[key]).abs().max().item())
    # Adam at lr 1e-2 moves weights by ~4e-2 in 4 steps; rounding differences of the split
    # batch stay far below that, a wrong split (other samples, unaveraged gradients) does not
    assert moved > 1e-2 and diff < 0.05 * moved, (diff, moved)
