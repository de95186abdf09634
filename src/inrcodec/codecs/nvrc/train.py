"""Training an NVRC model end to end on ``L = R + lambda D`` (Kwan et al. 2024, Sec. 3.4, A.2):
the stages of a `Schedule` (`presets`: the paper's, the CPU presets', a backbone's own), each
on the shared `inrcodec.codecs.training.fitting.fit` loop with a `RateDistortion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from inrcodec.codecs.training.fitting import TrainConfig, TrainResult, VideoTarget, fit
from inrcodec.io import Video

from .model import NVRC, CompressionConfig
from .objective import RateDistortion
from .presets import ABLATIONS, NVRCError, Schedule, backbone_of, defaults

_SET_BY_TRAIN = {"steps", "epochs", "lr", "min_lr", "weight_decay", "weight_decay_decay",
                 "warmup", "loss", "device", "seed"}  # fmt: skip


def default_compression(preset: str) -> CompressionConfig:
    return CompressionConfig(**defaults(preset).compression)


def default_schedule(preset: str) -> Schedule:
    return defaults(preset).schedule


@dataclass
class NVRCTrainResult:
    """A trained `NVRC` model, its stages' `TrainResult`s and its rate split (`rate_report`).

    ``psnr``: of the video decoded from the quantised model, in the training space (dB);
    ``bpp``: eq. (9) with true rounding (the entropy models' estimate; the bitstream adds
    headers).
    """

    model: NVRC
    preset: str
    lam: float
    space: str
    ablation: str
    stages: dict[str, TrainResult] = field(default_factory=dict)
    report: dict = field(default_factory=dict)

    @property
    def psnr(self) -> float:
        return self.stages["stage2"].psnr

    @property
    def bpp(self) -> float:
        return self.report["bpp"]

    def to_json(self) -> dict:
        return {
            "preset": self.preset,
            "lambda": self.lam,
            "space": self.space,
            "ablation": self.ablation,
            "psnr": self.psnr,
            "bpp": self.bpp,
            "stages": {k: v.to_json() for k, v in self.stages.items()},
            "rate": self.report,
        }


def build(
    video_size: tuple[int, int, int],
    preset: str,
    compression: CompressionConfig | None = None,
    seed: int = 0,
) -> NVRC:
    """A fresh NVRC model for ``(frames, height, width)``; weights depend on ``seed`` only."""
    backbone = backbone_of(preset)
    frames, height, width = video_size
    torch.manual_seed(seed)
    net = backbone.build(backbone.preset(preset, frames, height, width), frames, height, width)
    return NVRC(net, compression or default_compression(preset))


def train(
    video: Video,
    preset: str,
    lam: float,
    *,
    space: str = "rgb",
    ablation: str = "full",
    steps: int | None = None,
    schedule: Schedule | None = None,
    compression: CompressionConfig | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str = "auto",
    seed: int = 0,
    **train_options: Any,
) -> NVRCTrainResult:
    """Fit an NVRC model to ``video`` at rate-distortion trade-off ``lam`` (eq. 8).

    ``ablation``: a key of `ABLATIONS` applied on top of ``compression`` and ``schedule``;
    ``steps``: total optimiser steps of both stages (default: the preset's, `defaults`);
    ``run_dir`` keeps each stage's checkpoint (``run_dir/stage1``, ``run_dir/stage2``) and
    ``resume`` continues an interrupted run;
    ``train_options``: more `TrainConfig` fields (``patch_size``, ``frames_per_batch``, ...).
    """
    if ablation not in ABLATIONS:
        raise NVRCError(f"unknown ablation {ablation!r}; choose from {', '.join(ABLATIONS)}")
    if lam <= 0:
        raise NVRCError(f"lambda must be positive, got {lam}")
    clash = sorted(set(train_options) & _SET_BY_TRAIN)
    if clash:
        raise NVRCError(f"options set by the NVRC schedule: {', '.join(clash)} (use `schedule`)")
    comp_over, sched_over = ABLATIONS[ablation]
    try:
        compression = replace(compression or default_compression(preset), **comp_over)
        schedule = replace(schedule or default_schedule(preset), **sched_over)
    except ValueError as e:
        raise NVRCError(str(e)) from None
    model = build((video.num_frames, video.height, video.width), preset, compression, seed)
    target = VideoTarget.from_video(video, space=space)
    train_options = {**defaults(preset).training, **train_options}
    if steps is None:
        steps = defaults(preset).steps
    plan = schedule.stage_steps(steps) if steps is not None else None
    run_dir = Path(run_dir) if run_dir is not None else None
    lrs = {"stage0": schedule.lr, "stage1": schedule.lr, "stage2": schedule.lr2}
    result = NVRCTrainResult(model, preset, lam, space, ablation)
    for stage, epochs in schedule.epochs.items():
        config = TrainConfig(
            steps=plan[stage] if plan else None,
            epochs=epochs,
            lr=lrs[stage][0],
            min_lr=lrs[stage][1],
            weight_decay=schedule.weight_decay if stage == "stage1" else 0.0,
            weight_decay_decay=True,
            warmup=0.0 if stage == "stage2" else 0.1,
            loss=space,
            device=device,
            seed=seed,
            **train_options,
        )
        fitting = dict(run_dir=run_dir, resume=resume, stage=stage, progress=progress)
        if stage == "stage0":  # the network alone, in float: no quantisation, no rate
            result.stages[stage] = fit(model.net, target, config, **fitting)
            model = result.model = NVRC(model.net, model.config)  # phi from the fitted weights
            continue

        def anneal(step: int, total: int, stage=stage, model=model) -> None:
            model.rounding = schedule.rounding(stage, step, total)

        model.batch_rate = schedule.batch_rate
        batch_rate = (lambda model=model: model.last_batch_rate) if schedule.batch_rate else None
        result.stages[stage] = fit(
            model,
            target,
            config,
            callback=anneal,
            objective=RateDistortion(model.rate, lam, schedule.alternate + 1, batch_rate),
            **fitting,
        )
    result.report = model.rate_report()
    return result
