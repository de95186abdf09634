"""Fitting a HiNeRV network (the HiNeRV and NVRC codecs) to one video.

The recipe follows HiNeRV's reference code and NVRC Appendix A.2:

- the target video is cut into patches (120x120 at 1080p, scaled down for small inputs, see
  `patch_size_for`); a step trains on a batch of frames at one patch position, and by default a
  batch holds one frame's worth of pixels (144 patches at 1080p, as the papers);
- one *epoch* visits every (frame, patch position) pair once, in a shuffled order; training
  length is given in epochs (as the reference counts it) or directly in steps;
- Adam (betas 0.9, 0.999), learning rate 2e-3 with a linear warm-up over the first 10 % of the
  steps (the reference's 30 of 300 epochs) then cosine decay to 1e-4, gradient clipping at
  norm 1.0; ``lr_scale`` scales both rates for fine-tuning stages (e.g. 0.1 for Quant-Noise);
- losses: eq. (10) for RGB, eq. (11) for YUV 4:4:4 (`losses`); what a step minimises
  is an `Objective`: the distortion D alone by default (HiNeRV), NVRC's ``R + lambda D`` with
  `nvrc.objective.RateDistortion`.

Checkpoints go to ``run_dir/<stage>/checkpoint.safetensors`` (`checkpoints`: safetensors,
never pickle); their JSON document holds the step, the configuration, the AMP scaler's state
and the final result.

Determinism: the order of batches is a pure function of (seed, epoch), drawn from its own
``torch.Generator``; the global torch RNG (used by Dropout, Quant-Noise and the like) is seeded
from ``seed`` at the start and saved in every checkpoint. A resumed run therefore repeats the
uninterrupted run bit for bit on the same machine and thread count. The model's initial weights
are the caller's business (seed before building the model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inrcodec.errors import InrcodecError

from ...io import Video, convert_video, video_to_rgb
from ..synthesis import frame_batches
from ..weights import load_weights
from .checkpoints import CHECKPOINT_NAME, read_checkpoint
from .losses import LOSS_SPACES, METRICS, distortion, psnr_per_frame
from .run import ProgressLog, RunCheckpoint, resolve_device

__all__ = [
    "CPU_PATCH_TARGET",
    "Objective",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "VideoTarget",
    "fit",
    "load_checkpoint",
    "patch_size_for",
    "preset_training",
]

_FORMAT = "inrcodec.hinerv.train/1"


class TrainingError(InrcodecError):
    """A training request that cannot run: bad options, a mismatched target or checkpoint."""


# ----------------------------------------------------------------------------- the target


@dataclass(frozen=True, eq=False)
class VideoTarget:
    """The video a network is fitted to: ``frames`` is float32 ``(T, 3, H, W)`` in [0, 1].

    ``space`` is "rgb" (R'G'B') or "yuv" (Y, U, V planes at full resolution, each code value
    divided by the peak, so limited-range luma spans [16/255, 235/255]).

    Memory: the whole clip is held as float32, 12 bytes a pixel: 1.2 MB per frame at 176x144,
    25 MB per 1080p frame, about 15 GB for 600 frames of 1080p. That is fine for CPU-sized
    clips and fits an 80 GB GPU, but long high-resolution sequences want lazy loading (read
    and convert only the frames of the current batch from the memory-mapped file, or keep the
    8/10-bit codes and convert per batch); not built yet.
    """

    frames: torch.Tensor
    space: str = "rgb"

    def __post_init__(self):
        if self.space not in LOSS_SPACES:
            raise TrainingError(f"unknown space {self.space!r}; expected one of {LOSS_SPACES}")
        f = self.frames
        if f.ndim != 4 or f.shape[1] != 3 or f.dtype != torch.float32 or 0 in f.shape:
            raise TrainingError(
                f"expected float32 frames of shape (T, 3, H, W), got {f.dtype} {tuple(f.shape)}"
            )

    @classmethod
    def from_video(
        cls,
        video: Video,
        space: str = "rgb",
        frames: slice = slice(None),
        matrix: str | None = None,
    ) -> VideoTarget:
        """Build the target from ``video[frames]``.

        "rgb": `inrcodec.io.video_to_rgb` (``matrix`` overrides the video's own, e.g. "bt601").
        "yuv": a Y'CbCr video's planes, 4:2:0 chroma upsampled to 4:4:4 by
        `inrcodec.io.convert_video`, each divided by the peak code value (eq. 11 trains YUV as
        4:4:4; the codec measures the 4:2:0 result).
        """
        if space == "rgb":
            rgb = video_to_rgb(video, frames=frames, matrix=matrix)
            data = torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))
        elif space == "yuv":
            clip = video[frames]
            if clip.format.chroma == "rgb":
                raise TrainingError("a YUV target needs a Y'CbCr video, got RGB")
            clip = convert_video(clip, chroma="444")
            peak = np.float32(clip.format.peak)
            data = torch.from_numpy(np.stack([p.astype(np.float32) / peak for p in clip.planes], 1))
        else:
            raise TrainingError(f"unknown space {space!r}; expected one of {LOSS_SPACES}")
        return cls(data.contiguous(), space)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[2]

    @property
    def width(self) -> int:
        return self.frames.shape[3]

    def to(self, device: str | torch.device) -> VideoTarget:
        return replace(self, frames=self.frames.to(device))

    def crop(self, frame_indices: torch.Tensor, patch: tuple[int, int, int, int]) -> torch.Tensor:
        """``(B, 3, h', w')``: the frames' pixels under a patch of the padded frame, cut at the
        frame's border (``h' = min(h, H - top)``); compare with the prediction cut the same way."""
        top, left, h, w = patch
        return self.frames[frame_indices, :, top : top + h, left : left + w]


def patch_size_for(padded_height: int, padded_width: int, target: int = 120) -> tuple[int, int]:
    """The default training patch for a padded frame: about ``target`` pixels a side.

    Per axis: ``k = ceil(padded / target)`` tiles, then the first ``k' in [k, 2k]`` that divides
    the padded size, giving equal tiles of ``padded / k'``; if none does, ``ceil(padded / k)``
    (the last tile is smaller). 1080p reproduces the papers' 120x120 (9 x 16 = 144 tiles for
    both HiNeRV's and NVRC's padding); 176x144 gets 88x72 (2 x 2 tiles); frames of at most
    ``target`` pixels a side train on whole frames.
    """

    def side(padded: int) -> int:
        k = -(-padded // target)
        for tiles in range(k, 2 * k + 1):
            if padded % tiles == 0:
                return padded // tiles
        return -(-padded // k)

    return side(padded_height), side(padded_width)


#: The scaled-down (``-cpu*``) presets train on whole frames up to this many pixels a side
#: (measured on the bundled clip, 3000 steps: +1.8 dB for NVRC's float fit against 88x72
#: patches, at the same time per float step: no context is recomputed at patch borders);
#: the paper presets keep the papers' 120x120 patches.
CPU_PATCH_TARGET = 400


def preset_training(size: str) -> dict:
    """`TrainConfig` defaults of a preset's size class ("paper", "cpu" or "tiny"): whole
    frames for the CPU presets."""
    return {"patch_target": CPU_PATCH_TARGET} if size == "cpu" else {}


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainConfig:
    """How to fit a network; defaults are NVRC Appendix A.2 / HiNeRV's reference recipe.

    Training length: ``steps`` when given, else ``round(epochs * steps_per_epoch)``, where an
    epoch visits every (frame, patch position) pair once (``positions * ceil(T / batch)``
    steps). The reference trains 300 epochs (+30 for Quant-Noise fine-tuning).
    """

    steps: int | None = None  # total optimiser steps; overrides `epochs`
    epochs: float = 300.0  # HiNeRV's reference: 300 epochs of training
    lr: float = 2e-3  # peak learning rate (NVRC stage 1, HiNeRV)
    min_lr: float = 1e-4  # end of the cosine decay (NVRC stage 1)
    warmup: float = 0.1  # fraction of steps with linear warm-up (reference: 30/300 epochs)
    lr_scale: float = 1.0  # multiplies lr and min_lr (fine-tuning stages, e.g. 0.1)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam, as the reference
    eps: float = 1e-8  # Adam
    weight_decay: float = 0.0  # L2 added to the gradient (NVRC stage 1: 1e-6)
    weight_decay_decay: bool = False  # NVRC stage 1: L2 decays linearly to 0 over the steps
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    patch_size: tuple[int, int] | None = None  # (h, w); None: `patch_size_for(patch_target)`
    patch_target: int = 120  # side of the automatic patch (papers: 120 at 1080p)
    frames_per_batch: int | None = None  # None: one frame's worth of pixels (= positions), <= T
    loss: str = "rgb"  # "rgb" (eq. 10) or "yuv" (eq. 11); must match the target's space
    metric: str = "paper"  # "paper": that loss; "mse": the MSE that PSNR measures
    seed: int = 0  # batch order and the global torch RNG
    device: str = "auto"  # "cpu", "cuda", "cuda:N" or "auto" (CUDA when available)
    # Autocast of the network's forward pass: "bf16" (CPU or CUDA) or "fp16" (CUDA only, with
    # a GradScaler); the loss is float32. NVRC keeps its quantisers and entropy models in float32.
    amp: str | None = None
    # CUDA only: torch.compile the model for training. Patch positions reach the network as
    # Python ints, so the first positions compile specialised graphs and later ones rely on
    # dynamo's automatic dynamic shapes; untested on GPU so far, off by default.
    compile: bool = False
    checkpoint_every: int = 1000  # steps between checkpoints (0: only at the end)
    log_every: int = 10  # steps between progress updates (each costs one host-device sync)

    def __post_init__(self):
        if self.loss not in LOSS_SPACES:
            raise TrainingError(f"unknown loss {self.loss!r}; expected one of {LOSS_SPACES}")
        if self.metric not in METRICS:
            raise TrainingError(f"unknown metric {self.metric!r}; expected one of {METRICS}")
        if self.amp not in (None, "bf16", "fp16"):
            raise TrainingError(f"amp must be None, 'bf16' or 'fp16', got {self.amp!r}")
        if self.steps is not None and self.steps < 1 or self.epochs <= 0:
            raise TrainingError("steps and epochs must be positive")
        if not 0 <= self.warmup < 1:
            raise TrainingError("warmup is a fraction of the steps, in [0, 1)")
        if self.frames_per_batch is not None and self.frames_per_batch < 1:
            raise TrainingError("frames_per_batch must be positive")
        if self.patch_size is not None:
            object.__setattr__(self, "patch_size", tuple(int(s) for s in self.patch_size))
            if len(self.patch_size) != 2 or min(self.patch_size) < 1:
                raise TrainingError("patch_size is (height, width), both positive")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.checkpoint_every < 0 or self.log_every < 1:
            raise TrainingError("checkpoint_every >= 0 and log_every >= 1")

    def lr_at(self, step: int, total: int) -> float:
        """Learning rate of step `step` (0-based) of `total`: linear warm-up from lr/warm-up
        steps to lr, then cosine decay to min_lr at the last step; all times `lr_scale`."""
        peak, low = self.lr * self.lr_scale, self.min_lr * self.lr_scale
        warm = int(self.warmup * total)
        if step < warm:
            return peak * (step + 1) / warm
        span = max(total - 1 - warm, 1)
        progress = min((step - warm) / span, 1.0)
        return low + (peak - low) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def weight_decay_at(self, step: int, total: int) -> float:
        """L2 weight of step `step` of `total`: constant, or decaying linearly to 0."""
        if not self.weight_decay_decay:
            return self.weight_decay
        return self.weight_decay * (1.0 - step / total)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        for key in ("betas", "patch_size"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


# Fields that may change between a run and its resumption (they do not change the result on
# one device, or only change speed / logging).
_RESUMABLE_CHANGES = ("device", "compile", "checkpoint_every", "log_every")


@dataclass(frozen=True)
class TrainResult:
    """Outcome of `fit`: ``loss`` is the mean distortion loss D of the last logging window;
    ``psnr`` the mean over frames of the per-frame PSNR (dB) of the whole video in the
    training space (RGB, or YUV 4:4:4 combined 6:1:1); ``seconds`` counts training time over
    all sessions of a resumed run, ``steps_per_second`` is steps / seconds."""

    loss: float
    psnr: float
    steps: int
    seconds: float
    steps_per_second: float
    stage: str = "train"
    rate: float | None = None  # R of the trained model (bits per pixel), if any

    def to_json(self) -> dict:
        return asdict(self)


class Objective:
    """What a step of `fit` minimises; this one is the distortion D alone (HiNeRV).

    ``objective(step, distortion)`` returns the step's loss and the weight of its term; the
    ``distortion()`` closure runs the forward pass on the step's batch and returns D. The
    gradient clip (`TrainConfig.grad_clip`) is scaled by the weight, so it bounds the gradient
    of the unweighted term (NVRC's ``R + lambda D``: `nvrc.objective.RateDistortion`).
    """

    def __call__(
        self, step: int, distortion: Callable[[], torch.Tensor]
    ) -> tuple[torch.Tensor, float]:
        return distortion(), 1.0

    def shown(self) -> dict[str, torch.Tensor]:
        """The latest values to show on the progress bar beside D and psnr."""
        return {}

    def final_rate(self) -> float | None:
        """R of the trained model in bits per pixel (`TrainResult.rate`), if there is one."""
        return None


# ----------------------------------------------------------------------------- sampling


class _Plan:
    """Which (frames, patch position) each step trains on: a pure function of (seed, epoch).

    An epoch is, for every patch position, the frames in a random permutation cut into batches
    of `batch` (the last may be smaller), all batches in a random order.
    """

    def __init__(self, positions: list, frames: int, batch: int, seed: int):
        self.positions, self.frames, self.batch, self.seed = positions, frames, batch, seed
        self.per_position = -(-frames // batch)
        self.steps_per_epoch = len(positions) * self.per_position
        self._epoch, self._batches = -1, []

    def __call__(self, step: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
            batches = []
            for position in self.positions:
                order = torch.randperm(self.frames, generator=g)
                batches += [
                    (order[j : j + self.batch], position) for j in range(0, self.frames, self.batch)
                ]
            shuffle = torch.randperm(len(batches), generator=g).tolist()
            self._epoch, self._batches = epoch, [batches[k] for k in shuffle]
        return self._batches[i]


def _sampling_plan(model: nn.Module, target: VideoTarget, config: TrainConfig) -> _Plan:
    """The plan over the patch positions tiling the padded frame that overlap the real frame;
    a batch holds ``config.frames_per_batch`` frames, by default one frame's worth of pixels."""
    size = config.patch_size or patch_size_for(
        model.padded_height, model.padded_width, config.patch_target
    )
    ph, pw = min(size[0], model.padded_height), min(size[1], model.padded_width)
    positions = [p for p in model.patches(ph, pw) if p[0] < target.height and p[1] < target.width]
    batch = min(config.frames_per_batch or len(positions), target.num_frames)
    return _Plan(positions, target.num_frames, batch, config.seed)


def _check_target(model: nn.Module, target: VideoTarget, config: TrainConfig) -> None:
    if config.loss != target.space:
        raise TrainingError(f"config.loss is {config.loss!r} but the target is {target.space!r}")
    got = (model.frames, model.height, model.width)
    want = (target.num_frames, target.height, target.width)
    if got != want:
        raise TrainingError(f"the model is for (T, H, W) = {got}, the target is {want}")


# ----------------------------------------------------------------------------- checkpoints


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load a checkpoint's weights into `model` and return its JSON state.

    `path` is a checkpoint file or a stage folder holding one. Keys are matched exactly, else
    without parametrization / pruning wrappers, so the weights of a plain network load into
    the same network after ``torch.nn.utils.parametrize`` or ``prune`` was applied (and back);
    buffers the file lacks (pruning masks added later) keep their values.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    tensors, state = read_checkpoint(path, _FORMAT)
    load_weights(model, tensors)
    return state


def _check_resumable(config: TrainConfig, stage: str, total: int, state: dict) -> None:
    saved, wanted = TrainConfig.from_json(state["config"]).to_json(), config.to_json()
    changed = [k for k in saved if k not in _RESUMABLE_CHANGES and saved[k] != wanted[k]]
    if changed:
        differences = ", ".join(f"{k} {saved[k]!r} -> {wanted[k]!r}" for k in changed)
        raise TrainingError(f"cannot resume stage {stage!r}: options changed ({differences})")
    if state["total_steps"] != total:
        raise TrainingError(f"cannot resume: {state['total_steps']} steps planned, now {total}")


# ----------------------------------------------------------------------------- the loop


def fit(
    model: nn.Module,
    target: VideoTarget,
    config: TrainConfig,
    *,
    run_dir: Path | None = None,
    resume: bool = False,
    stage: str = "train",
    progress: bool = True,
    callback: Callable[[int, int], None] | None = None,
    objective: Objective | None = None,
) -> TrainResult:
    """Fit `model` (a `HiNeRV`) to `target`; returns the result, the model holds the weights.

    `run_dir`: checkpoints go to ``run_dir/<stage>/`` every ``config.checkpoint_every`` steps
    and at the end. ``resume=True`` continues from that checkpoint (same step, optimiser
    moments, RNG states, so the run continues exactly as if uninterrupted; the configuration
    must match apart from device / compile / logging); if the stage had finished, the weights
    are loaded and its result returned without training. Without a checkpoint, or with
    ``resume=False``, training starts from the model's current weights (and overwrites).

    `callback(step, total)` runs before each step (0-based), e.g. to anneal a Quant-Noise
    ratio; for exact resumption it must depend on `step` only. `objective`: what each step
    minimises (`Objective`; default: the distortion D alone).

    The model moves to the configured device and stays there; `model.train()` is on while
    training, `model.eval()` after. Parametrizations and pruning masks keep working: the
    optimiser gets ``model.parameters()`` as they are.
    """
    _check_target(model, target, config)
    objective = objective or Objective()
    device = resolve_device(config.device)
    cuda = device.type == "cuda"
    model.to(device)
    plan = _sampling_plan(model, target, config)
    total = config.steps or max(round(config.epochs * plan.steps_per_epoch), 1)
    optimizer = _adam(model, config, total)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp)
    if amp_dtype is torch.float16 and not cuda:
        raise TrainingError("amp 'fp16' needs CUDA (its gradient scaler); on the CPU use 'bf16'")
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)

    path = Path(run_dir) / stage / CHECKPOINT_NAME if run_dir is not None else None
    checkpoint = RunCheckpoint(path, _FORMAT, model, optimizer)
    torch.manual_seed(config.seed)
    state = checkpoint.resume(partial(_check_resumable, config, stage, total)) if resume else None
    if state is not None and state["finished"]:
        model.eval()
        return TrainResult(**state["result"])
    if state is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    start = state["step"] if state is not None else 0

    def save(step: int, result: TrainResult | None = None) -> None:
        scaler_state = scaler.state_dict() if scaler.is_enabled() else None
        result_json = result.to_json() if result is not None else None
        checkpoint.save({"stage": stage, "step": step, "total_steps": total,
                         "config": config.to_json(), "scaler": scaler_state,
                         "finished": result is not None, "result": result_json})  # fmt: skip

    forward = torch.compile(model) if config.compile and cuda else model
    target = target.to(device)
    last_loss = math.nan
    model.train()
    with ProgressLog(total, start, config.log_every, stage, progress) as log:
        for step in range(start, total):
            if callback is not None:
                callback(step, total)
            for group in optimizer.param_groups:
                group["lr"] = config.lr_at(step, total)
                group["weight_decay"] = config.weight_decay_at(step, total)
            frames, patch = plan(step)  # drawn on rate steps too: the batch order stays fixed
            measure = partial(
                _distortion, forward, target, frames, patch, amp_dtype, log, config.metric
            )
            loss, weight = objective(step, measure)
            _descend(loss, config.grad_clip * weight, model, optimizer, scaler)
            done = step + 1
            if (means := log.flush(done, **objective.shown())) is not None:
                last_loss = means["D"]
                log.show(
                    done, **{k: f"{v:.2f}" if k == "psnr" else f"{v:.4f}" for k, v in means.items()}
                )
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done < total:
                save(done)

    elapsed = checkpoint.seconds()
    model.eval()
    result = TrainResult(
        loss=last_loss,
        psnr=_video_psnr(model, target),
        steps=total,
        seconds=elapsed,
        steps_per_second=total / elapsed if elapsed > 0 else 0.0,
        stage=stage,
        rate=objective.final_rate(),
    )
    save(total, result)
    return result


def _adam(model: nn.Module, config: TrainConfig, total: int) -> torch.optim.Adam:
    return torch.optim.Adam(
        model.parameters(),
        lr=config.lr_at(0, total),
        betas=config.betas,
        eps=config.eps,
        weight_decay=config.weight_decay,
        fused=True,  # one kernel for all parameters (CPU and CUDA), not ~10 small ops per tensor
    )


def _descend(
    loss: torch.Tensor,
    clip: float,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
) -> None:
    """One optimiser step on `loss`, the gradient's norm clipped at `clip` (0: no clipping)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), clip, foreach=True)
    scaler.step(optimizer)
    scaler.update()


def _distortion(
    forward: Callable,
    target: VideoTarget,
    frames: torch.Tensor,
    patch: tuple[int, int, int, int],
    amp_dtype: torch.dtype | None,
    log: ProgressLog,
    metric: str = "paper",
) -> torch.Tensor:
    """D of one batch: the prediction and the target both cut at the frame's border; the
    progress log sums D and the PSNR over the window."""
    device = target.frames.device
    frames = frames.to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        pred = forward(frames, patch=patch)
    want = target.crop(frames, patch)
    pred = pred[..., : want.shape[2], : want.shape[3]].float()
    loss = distortion(pred, want, target.space, metric)
    with torch.no_grad():
        log.add(D=loss, psnr=psnr_per_frame(pred.detach(), want, target.space).mean())
    return loss


def _video_psnr(model: nn.Module, target: VideoTarget) -> float:
    """Mean over frames of the per-frame PSNR of the whole video (frame by frame)."""
    values = [
        psnr_per_frame(out, target.frames[idx.to(target.frames.device)], target.space)
        for idx, out in frame_batches(model, target.num_frames, 1)
    ]
    return torch.cat(values).mean().item()
