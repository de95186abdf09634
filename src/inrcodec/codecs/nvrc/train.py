"""Training an NVRC model end to end on ``L = R + lambda D`` (Kwan et al. 2024, Sec. 3.4, A.2):
the stages of a `Schedule` (`presets`: the paper's, the CPU presets', a backbone's own), each
on the shared `inrcodec.codecs.training.fitting.fit` loop with a `RateDistortion`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from inrcodec.atomic import write_atomic
from inrcodec.codecs.progress import stage as show_stage
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
    config: Any = None,
) -> NVRC:
    """A fresh NVRC model for ``(frames, height, width)`` with the preset's network (or the
    network ``config``); weights depend on ``seed`` only."""
    backbone = backbone_of(preset)
    frames, height, width = video_size
    torch.manual_seed(seed)
    config = config or backbone.preset(preset, frames, height, width)
    net = backbone.build(config, frames, height, width)
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
    ``steps``: total optimiser steps of both stages (default: the preset's for this frame
    size, `Defaults.steps_for`);
    ``run_dir`` keeps each stage's checkpoint (``run_dir/stage1``, ``run_dir/stage2``) and
    ``resume`` continues an interrupted run;
    ``train_options``: more `TrainConfig` fields (``patch_size``, ``frames_per_batch``, ...).
    A backbone that offers several networks for the preset (`Backbone.configs`) has them
    tried first when the schedule gives them a share of the steps (`choose_network`).
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
    target = VideoTarget.from_video(video, space=space)
    train_options = {**defaults(preset).training, **train_options}
    if steps is None:
        frames_per_step = min(train_options.get("frames_per_batch") or 1, video.num_frames)
        steps = defaults(preset).steps_for(video.height, video.width, frames_per_step)
    session = _Session(target, lam, space, schedule, train_options, device, seed)
    size = (video.num_frames, video.height, video.width)
    run_dir = Path(run_dir) if run_dir is not None else None
    config = choose_network(session, size, preset, compression, steps, run_dir, resume, progress)
    model = build(size, preset, compression, seed, config)
    result = NVRCTrainResult(model, preset, lam, space, ablation)
    result.model, result.stages = session.run(model, steps, run_dir, resume, progress)
    result.report = result.model.rate_report()
    return result


@dataclass(frozen=True)
class _Session:
    """What every training run of one encode shares: the video, lambda and the schedule."""

    target: VideoTarget
    lam: float
    space: str
    schedule: Schedule
    train_options: dict
    device: str
    seed: int

    def run(
        self, model: NVRC, steps: int | None, run_dir: Path | None, resume: bool, progress: bool
    ) -> tuple[NVRC, dict[str, TrainResult]]:
        """Train ``model`` through the schedule's stages in ``steps`` steps (None: the
        stages' epochs); the trained model (stage 0 makes a new one) and each stage's result."""
        schedule = self.schedule
        plan = schedule.stage_steps(steps) if steps is not None else None
        lrs = {"stage0": schedule.lr, "stage1": schedule.lr, "stage2": schedule.lr2}
        stages = {}
        for stage, epochs in schedule.epochs.items():
            config = TrainConfig(
                steps=plan[stage] if plan else None,
                epochs=epochs,
                lr=lrs[stage][0],
                min_lr=lrs[stage][1],
                weight_decay=schedule.weight_decay if stage == "stage1" else 0.0,
                weight_decay_decay=True,
                warmup=0.0 if stage == "stage2" else 0.1,
                loss=self.space,
                device=self.device,
                seed=self.seed,
                **self.train_options,
            )
            fitting = dict(run_dir=run_dir, resume=resume, stage=stage, progress=progress)
            if stage == "stage0":  # the network alone, in float: no quantisation, no rate
                stages[stage] = fit(model.net, self.target, config, **fitting)
                model = NVRC(model.net, model.config)  # phi from the fitted weights
                continue

            def anneal(step: int, total: int, stage=stage, model=model) -> None:
                model.rounding = schedule.rounding(stage, step, total)

            model.batch_rate = schedule.batch_rate
            batch_rate = (
                (lambda model=model: model.last_batch_rate) if schedule.batch_rate else None
            )
            stages[stage] = fit(
                model,
                self.target,
                config,
                callback=anneal,
                objective=RateDistortion(model.rate, self.lam, schedule.alternate + 1, batch_rate),
                **fitting,
            )
        return model, stages


def still_psnr(target: VideoTarget, schedule: Schedule) -> float:
    """PSNR (dB) between the video's frames and those ``schedule.still_gap`` frames later: high
    where the content moves little (inf for a still video; the first frame against itself
    for a shorter one). Frame by frame, so no second copy of the video is held."""
    frames = target.frames
    gap = min(schedule.still_gap, len(frames) - 1)
    pairs = range(len(frames) - gap)
    squared = sum(torch.sum((frames[t + gap] - frames[t]) ** 2).item() for t in pairs)
    mse = squared / (len(pairs) * frames[0].numel())
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


#: Where `choose_network` records its choice in a run's folder (a resumed run reads it).
CHOICE_FILE = "network.json"


def choose_network(
    session: _Session,
    size: tuple[int, int, int],
    preset: str,
    compression: CompressionConfig,
    steps: int | None,
    run_dir: Path | None,
    resume: bool,
    progress: bool,
) -> Any:
    """The network to train: the preset's, or, where the backbone offers several
    (`Backbone.configs`: the latent presets' temporal designs) and the schedule gives each a
    share of the steps (`Schedule.candidate_share`), the one whose short run ends with the
    lowest ``R + lambda MSE`` (R: eq. 9 with true rounding; MSE: the video's, from its PSNR),
    as Cool-chic keeps the best of several warm-up runs. Only for presets trained on MSE.
    Without a trial, the second (for content that moves less) where the video's frames match
    their successors ``still_gap`` frames on to ``Schedule.still_psnr`` dB (`still_psnr`) and
    lambda is at most ``Schedule.still_max_lambda``."""
    configs = backbone_of(preset).configs(preset, *size)
    schedule = session.schedule
    share = schedule.candidate_share
    if len(configs) == 1:
        return configs[0]
    if not share or steps is None:
        low_rate = schedule.still_max_lambda is None or session.lam <= schedule.still_max_lambda
        still = (
            low_rate
            and schedule.still_psnr > 0
            and still_psnr(session.target, schedule) >= schedule.still_psnr
        )
        return configs[1] if still else configs[0]
    if session.train_options.get("metric") != "mse":
        raise NVRCError("choosing between networks needs a preset trained on MSE")
    record = run_dir / CHOICE_FILE if run_dir is not None else None
    if resume and record is not None and record.exists():  # a new run chooses again
        return configs[json.loads(record.read_text())["choice"]]
    trial_steps = max(round(steps * share), len(schedule.epochs))
    scores = []
    for index, config in enumerate(configs):
        show_stage(f"trying network {index + 1} of {len(configs)} ({trial_steps} steps)", progress)
        model = build(size, preset, compression, session.seed, config)
        model, stages = session.run(model, trial_steps, None, False, progress)
        mse = 10 ** (-stages["stage2"].psnr / 10)
        scores.append(model.rate_report()["bpp"] + session.lam * mse)
    choice = min(range(len(configs)), key=scores.__getitem__)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(record, json.dumps({"choice": choice, "scores": scores}).encode())
    return configs[choice]
