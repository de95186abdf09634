"""NVRC's settings, declared once: schedules, compression defaults, step budgets, rate points
and ablations (Kwan et al. 2024, Sec. 3.4, 4.4, App. A.1, A.2, Table 6), read by the trainer,
the encoder, the command line and the harness alike. The networks' sizes are the backbones'
presets (`backbones`: `inrcodec.nets.hinerv.PRESETS`, `inrcodec.nets.latent`).

The paper's schedule (`Schedule`'s defaults), both stages on ``L = R + lambda D``:

1. soft-rounding with additive Kumaraswamy noise on grids and layers (temperature 0.5 -> 0.3,
   Kumaraswamy a 2.0 -> 1.0, linearly over the stage); lr 2e-3, cosine to 1e-4; L2 1e-6
   decaying linearly to 0; gradient clipping 1.0 (of the unweighted term: `RateDistortion`);
2. Quant-Noise (rounded fraction 0.5 -> 1.0), rounded values detached, no straight-through;
   lr 1e-4, cosine to 1e-5; no L2.

Both stages alternate (Sec. 3.4): of every K + 1 = 9 steps, 8 minimise ``lambda D`` and one
``K R``; ``alternate=0`` minimises ``R + lambda D`` at every step instead. Stage 1 keeps
HiNeRV's 10 % linear learning-rate warm-up (the NVRC configurations are based on it); stage 2
fine-tunes a trained model and starts at its peak rate.

Length: the paper trains 360 + 30 epochs (`STAGE_EPOCHS`); a ``steps`` budget is split in the
ratio of the stages' epochs, and the CPU presets default to `DEFAULT_STEPS`.

The scaled-down presets (`CPU_SCHEDULE`, docs/nvrc.md "CPU scale") differ where measurement
said so: a float fit of the network alone first (stage 0, 80 % of the steps; the compression
parameters then start from the fitted weights), straight-through rounding of the layers in
stage 1 (the grids keep the paper's surrogate), and whole frames per step. The paper presets
keep the paper's schedule.

A rate point is a (preset, lambda) pair: given as both, or by name (`rate_point`: ``1``-``6``
of Table 6, ``cpu1``-``cpu4`` at CPU scale); without either, `DEFAULT_RATE_POINT` (`resolve`).

The module is data and imports no torch, so the command line reads it as it builds its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inrcodec.codecs.base import CodecError

if TYPE_CHECKING:
    from inrcodec.quant import Rounding

    from .backbones import Backbone

STAGE_EPOCHS = {"stage1": 360.0, "stage2": 30.0}

#: Table 6: rate point -> (preset, lambda), for RGB and YUV training on UVG.
PAPER_RATE_POINTS = {
    "rgb": {1: ("nvrc-s2", 1.0), 2: ("nvrc-s2", 2.0), 3: ("nvrc-s3", 4.0),
            4: ("nvrc-s3", 8.0), 5: ("nvrc-s4", 16.0), 6: ("nvrc-s4", 32.0)},
    "yuv": {1: ("nvrc-s2", 32.0), 2: ("nvrc-s2", 64.0), 3: ("nvrc-s3", 128.0),
            4: ("nvrc-s3", 256.0), 5: ("nvrc-s4", 512.0), 6: ("nvrc-s4", 1024.0)},
}  # fmt: skip

#: The HiNeRV presets' CPU-scale rate points: the rate follows the network's size
#: (`nvrc-cpu-xs` to `nvrc-cpu-l`, 24 to 64 channels) more than lambda (a 16-fold lambda moves
#: the bundled clip's rate by 30 %), so both rise together, as in Table 6. YUV's eq. (11) loss
#: is about 32x smaller than eq. (10) at equal quality, hence Table 6's 32x larger lambdas.
HINERV_CPU_RATE_POINTS = {
    "rgb": {1: ("nvrc-cpu-xs", 4.0), 2: ("nvrc-cpu-s", 8.0), 3: ("nvrc-cpu", 16.0),
            4: ("nvrc-cpu-l", 32.0)},
    "yuv": {1: ("nvrc-cpu-xs", 128.0), 2: ("nvrc-cpu-s", 256.0), 3: ("nvrc-cpu", 512.0),
            4: ("nvrc-cpu-l", 1024.0)},
}  # fmt: skip
#: The named CPU-scale rate points ``cpu1`` ..: in RGB the latent-grid backbone's, whose size
#: and temporal design follow the video, so lambda (on MSE) alone sets the rate; it measures
#: better than the HiNeRV points at each of their rates on the average of the five CPU clips
#: (docs/nvrc.md, "The latent-grid backbone"). YUV keeps the HiNeRV points: the latent
#: backbone is not measured there.
CPU_RATE_POINTS = {
    "rgb": {1: ("nvrc-latent", 30.0), 2: ("nvrc-latent", 100.0), 3: ("nvrc-latent", 300.0),
            4: ("nvrc-latent", 1000.0)},
    "yuv": HINERV_CPU_RATE_POINTS["yuv"],
}  # fmt: skip

#: Ablations of Table 3 (V1-V5), Sec. 4.4's "no alternating optimisation", and two of the CPU
#: schedule's changes (`CPU_SCHEDULE`: no float stage 0; the paper's soft rounding and noise on
#: the layers in stage 1): name -> (CompressionConfig overrides, Schedule overrides).
ABLATIONS = {
    "full": ({}, {}),
    "v1": ({"layer_model": "gaussian"}, {}),
    "v2": ({"grid_model": "gaussian"}, {}),
    "v3": ({"grid_model": "gaussian", "layer_model": "gaussian"}, {}),
    "v4": ({"phi_coding": "half"}, {}),
    "v5": ({"learn_grid_steps": False}, {}),
    "no-alternating": ({}, {"alternate": 0}),
    "no-stage0": ({}, {"stage0_epochs": 0.0}),
    "soft-layers": ({}, {"layer_surrogate": "soft"}),
}


class NVRCError(CodecError):
    """An NVRC request that cannot run (unknown preset or rate point, bad option)."""


@dataclass(frozen=True)
class Schedule:
    """The training schedule: App. A.2's two stages (module docstring), optionally after a
    float fit (stage 0), with stage 1's surrogate for the layers as an option."""

    stage0_epochs: float = 0.0  # float fit of the network before R + lambda D (paper: none)
    stage1_epochs: float = STAGE_EPOCHS["stage1"]
    stage2_epochs: float = STAGE_EPOCHS["stage2"]
    lr: tuple[float, float] = (2e-3, 1e-4)  # stages 0 and 1: peak, end of the cosine
    lr2: tuple[float, float] = (1e-4, 1e-5)  # stage 2
    weight_decay: float = 1e-6  # stage 1, decaying linearly to 0
    temperature: tuple[float, float] = (0.5, 0.3)
    noise: tuple[float, float] = (2.0, 1.0)  # Kumaraswamy a
    quant_noise: tuple[float, float] = (0.5, 1.0)
    alternate: int = 8  # K; 0: R + lambda D at every step
    batch_rate: bool = False  # R + lambda D every step, R estimated on the step's frames
    layer_surrogate: str = "soft"  # stage 1 on theta_layer: "soft" (as the grids) or "ste"
    candidate_share: float = 0.0  # steps of each network tried first, as a share of the budget
    #: Without a trial: the network for content that moves little (the second candidate) when
    #: frames ``still_gap`` apart match to at least ``still_psnr`` dB (0: never) and lambda is
    #: at most ``still_max_lambda`` (None: any).
    still_gap: int = 4
    still_psnr: float = 0.0
    still_max_lambda: float | None = None

    def __post_init__(self):
        if self.alternate < 0:
            raise NVRCError("alternate (K) must be >= 0")
        if self.layer_surrogate not in ("soft", "ste"):
            raise NVRCError(f"layer_surrogate is 'soft' or 'ste', not {self.layer_surrogate!r}")
        if not 0 <= self.candidate_share < 1:
            raise NVRCError("candidate_share must be in [0, 1)")
        if self.still_gap < 1 or self.still_psnr < 0:
            raise NVRCError("still_gap must be >= 1 and still_psnr >= 0")
        if min(self.stage0_epochs, self.stage2_epochs) < 0 or self.stage1_epochs <= 0:
            raise NVRCError("stage epochs must be >= 0 (stage 1: > 0)")

    @property
    def epochs(self) -> dict[str, float]:
        """Epochs of each stage that runs (stage 0 only when it has any)."""
        stages = {"stage0": self.stage0_epochs, "stage1": self.stage1_epochs,
                  "stage2": self.stage2_epochs}  # fmt: skip
        return {k: v for k, v in stages.items() if k != "stage0" or v > 0}

    def stage_steps(self, total: int) -> dict[str, int]:
        """Split a step budget in the ratio of the stages' epochs (each stage >= 1 step)."""
        epochs = self.epochs
        if total < len(epochs):
            raise NVRCError(f"steps must be at least {len(epochs)}, got {total}")
        weight = sum(epochs.values())
        steps = {k: max(round(total * v / weight), 1) for k, v in epochs.items()}
        steps["stage1"] += total - sum(steps.values())
        while steps["stage1"] < 1:  # tiny budgets: take from the longest other stage
            longest = max((k for k in steps if k != "stage1"), key=steps.get)
            steps[longest] -= 1
            steps["stage1"] += 1
        return steps

    def rounding(self, stage: str, step: int, total: int) -> tuple[Rounding, Rounding]:
        """The rounding surrogates (grids, layers) of a step, annealed linearly over the stage."""
        from inrcodec.quant import Rounding

        f = step / max(total - 1, 1)

        def lerp(pair):
            return pair[0] + (pair[1] - pair[0]) * f

        if stage == "stage2":
            quant_noise = Rounding("quant-noise", ratio=lerp(self.quant_noise))
            return quant_noise, quant_noise
        soft = Rounding("soft", temperature=lerp(self.temperature), noise=lerp(self.noise))
        return soft, soft if self.layer_surrogate == "soft" else Rounding("ste")


#: Compression settings of the scaled-down presets: the context model shrinks with the network
#: (width 4, kernel 3: 0.8 K parameters per grid level instead of 11 K), as the paper's model
#: would cost more bits than a 176x144 clip's whole grid (2.6 K values for `nvrc-cpu`).
SMALL_COMPRESSION = {"context_width": 4, "context_kernel": 3}


def backbone_of(preset: str) -> Backbone:
    """The backbone that has NVRC preset ``preset`` (`backbones`)."""
    from .backbones import all_presets, by_preset

    backbone = by_preset(preset)
    if backbone is None:
        raise NVRCError(f"unknown NVRC preset {preset!r}; choose from {', '.join(all_presets())}")
    return backbone


def size_class(preset: str) -> str:
    """ "paper", "cpu" or "tiny": the defaults of a preset follow it."""
    return backbone_of(preset).size_class(preset)


#: The schedule of the scaled-down presets (docs/nvrc.md, "CPU scale"): a float fit of the
#: network first (stage 0, 80 % of the epochs), then R + lambda D with straight-through
#: rounding of the layers in stage 1 (the grids keep soft rounding and noise), then the
#: paper's Quant-Noise stage; stages 1 and 2 in the paper's 360 : 30 ratio. Measured on the
#: bundled clip at 3000 steps, against the paper's schedule at the same steps: the paper's
#: noise on every weight from the first step caps a 0.1 M-parameter network near 27 dB.
CPU_SCHEDULE = Schedule(
    stage0_epochs=160.0, stage1_epochs=37.0, stage2_epochs=3.0, layer_surrogate="ste"
)


#: Total steps when no budget is given, by `size_class` (the paper presets train their
#: epochs): 3000 keeps `make demo` (32 frames of 176x144, 2 cores) under 10 minutes.
DEFAULT_STEPS = {"cpu": 3000, "tiny": 20}


@dataclass(frozen=True)
class Defaults:
    """What a preset trains with unless told otherwise: `CompressionConfig` fields, the
    schedule, the total steps (None: the schedule's epochs) and `TrainConfig` fields."""

    compression: dict
    schedule: Schedule
    steps: int | None
    training: dict
    #: With one, the steps train about this many pixels (whole frames of ``frames_per_batch``
    #: per step), never fewer than `steps` nor more than `MAX_BUDGET_STEPS`: small videos
    #: get the steps a large one's time allows.
    pixel_budget: int | None = None

    def steps_for(self, height: int, width: int, frames_per_step: int) -> int | None:
        """Total steps for frames of ``height`` x ``width``, ``frames_per_step`` a step."""
        if self.pixel_budget is None or self.steps is None:
            return self.steps
        budget = round(self.pixel_budget / (height * width * frames_per_step))
        return min(max(budget, self.steps), MAX_BUDGET_STEPS)


def defaults(preset: str) -> Defaults:
    """A backbone's own defaults (`BACKBONE_DEFAULTS`), else by size class: the paper's
    settings and schedule (App. A.1, A.2) for paper presets; `SMALL_COMPRESSION`,
    `CPU_SCHEDULE` and `DEFAULT_STEPS` for the -cpu and -tiny ones."""
    from inrcodec.codecs.training.fitting import preset_training

    backbone = backbone_of(preset)
    if backbone.name in BACKBONE_DEFAULTS:
        return BACKBONE_DEFAULTS[backbone.name]
    size = backbone.size_class(preset)
    if size == "paper":
        return Defaults({}, Schedule(), None, {})
    return Defaults(SMALL_COMPRESSION, CPU_SCHEDULE, DEFAULT_STEPS[size], preset_training(size))


#: The latent-grid presets (`inrcodec.nets.latent`; docs/nvrc.md, "The latent-grid backbone"):
#: the grids' steps are fixed at 1 (the synthesis absorbs any scale, as in Cool-chic), one
#: pointwise context model serves every level (Cool-chic's and C3's autoregressive model).
LATENT_COMPRESSION = {
    "learn_grid_steps": False,
    "grid_log_step": -2.0,
    "context_shared": True,
    "context_pointwise": True,
    "context_width": 8,
    "context_kernel": 3,
}
#: Their schedule: R + lambda D from the first step (the grids hold the content, so a float
#: fit first would fill them with values that cost bits), soft rounding with Kumaraswamy
#: noise on the grids and straight-through rounding of the weights at Cool-chic's learning
#: rate and temperatures, then Quant-Noise. ``nvrc-latent`` takes the long strides of
#: ``nvrc-latent-static`` when frames 4 apart match to 18.5 dB PSNR or more (RGB; on the CPU
#: clips 21.4-25.0 dB where they won, 15.8 where they lost) at lambda up to 300 (at 1000 they
#: lost 0.3 dB on the average of those clips: they cannot code the temporal detail that pays
#: at high rates; docs/nvrc.md, "Temporal design").
LATENT_SCHEDULE = Schedule(
    stage0_epochs=0.0,
    stage1_epochs=0.95,
    stage2_epochs=0.05,
    lr=(1e-2, 1e-4),
    lr2=(1e-4, 1e-5),
    weight_decay=0.0,
    temperature=(0.3, 0.1),
    noise=(2.0, 1.0),
    layer_surrogate="ste",
    batch_rate=True,
    still_psnr=18.5,
    still_max_lambda=300.0,
)
#: Whole frames, a few per step (a step quantises only the slices its frames read), and the
#: MSE that PSNR measures.
LATENT_TRAINING = {"frames_per_batch": 4, "metric": "mse", "patch_target": 1 << 14}
#: At least 3000 steps: 2000 left the 384x288 clips short (3000: −27 % and −30 % BD-rate on
#: vtest and megamind; docs/nvrc.md, "Design choices, as measured"); 3000 take them 27-33
#: minutes of one core beside another encode, at most 22 alone on both.
LATENT_STEPS = 3000
#: ... or as many as train 885 M pixels (the pixels of 2000 steps of 4 frames at 384x288; a
#: small video gets the steps a large one's time allows): 6000 steps of 4 frames of 256x144,
#: 5082 of 320x136, at most 6500 (176x144: `make demo` takes 7.3 minutes on 2 cores). Against
#: the earlier 450 M pixels (at most 5000 steps) and against 1000 steps everywhere: docs/nvrc.md,
#: "Design choices, as measured".
LATENT_PIXEL_BUDGET = 2000 * LATENT_TRAINING["frames_per_batch"] * 384 * 288
MAX_BUDGET_STEPS = 6500

BACKBONE_DEFAULTS = {
    "latent": Defaults(
        LATENT_COMPRESSION, LATENT_SCHEDULE, LATENT_STEPS, LATENT_TRAINING, LATENT_PIXEL_BUDGET
    ),
}


def rate_point(name: int | str, space: str = "rgb") -> tuple[str, float]:
    """(preset, lambda) of a named rate point: 1-6 are Table 6's (paper presets), cpu1-cpu4
    the CPU-scale ones (`CPU_RATE_POINTS`), for "rgb" or "yuv"."""
    text = str(name).lower()
    table = CPU_RATE_POINTS if text.startswith("cpu") else PAPER_RATE_POINTS
    key = text.removeprefix("cpu")
    if space not in table or not key.isdigit() or int(key) not in table[space]:
        raise NVRCError(
            f"unknown rate point {name!r} for {space!r}: use 1-6 (paper) or cpu1-cpu4 (CPU)"
        )
    return table[space][int(key)]


#: The rate point of an encode that names neither a rate point nor a lambda (`make demo`).
DEFAULT_RATE_POINT = "cpu2"
#: The preset of a lambda given without one, and of the harness without a ``preset`` option.
DEFAULT_PRESET = "nvrc-cpu"


def resolve(
    point: int | str | None,
    preset: str | None,
    lam: float | None,
    space: str = "rgb",
    default: str | None = DEFAULT_RATE_POINT,
) -> tuple[str, float]:
    """(preset, lambda) from a named rate ``point``, or from ``lam`` (with ``preset``, a known
    one, else `DEFAULT_PRESET`); neither: the ``default`` point. A ``preset`` beside a named
    point must be the point's."""
    if point is not None and lam is not None:
        raise NVRCError("give a rate point (--rate-point) or a lambda (--lambda), not both")
    if lam is not None:
        preset = preset or DEFAULT_PRESET
        backbone_of(preset)  # an unknown preset is refused here, before any video is read
        return preset, lam
    if point is None and default is None:
        raise NVRCError("give a lambda (--lambda) or a rate point (--rate-point)")
    point = default if point is None else point
    point_preset, lam = rate_point(point, space)
    if preset is not None and preset != point_preset:
        raise NVRCError(
            f"rate point {point} uses preset {point_preset}; with another preset (--preset) "
            "give a lambda (--lambda)"
        )
    return point_preset, lam
