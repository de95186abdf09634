"""The HiNeRV codec's settings, declared once: the reference pipeline's stages and compression
(github.com/hmkx/HiNeRV, ``hinerv_compress.py``), the step budgets of the scaled-down presets
and the rate points, read by the encoder, the command line and the harness alike. The
networks' sizes are `inrcodec.nets.hinerv.PRESETS`, which NVRC's HiNeRV backbone shares.

The module is data and imports no torch.
"""

from __future__ import annotations

#: The network preset when none is named.
DEFAULT_PRESET = "hinerv-cpu"

#: Reference stage lengths (cfgs/train/hinerv_1920x1080.txt): epochs of train, prune, quant.
STAGE_EPOCHS = {"train": 300, "prune": 60, "quant": 30}
PRUNE_RATIO = 0.15
PRUNE_LAYER_WEIGHT = 0.5
QUANT_NOISE = 0.9
QUANT_LR_SCALE = 0.1
#: Total steps of the three stages for the scaled-down presets when no budget is given, by
#: `size_class`: the CPU presets get NVRC's CPU budget (the same steps, a little less time
#: per step as there is no rate term), on whole frames (`codecs.training.fitting.preset_training`).
DEFAULT_STEPS = {"cpu": 3000, "tiny": 13}

#: A rate point is the quantisation bit width (what a file may hold: `bitstream.MIN_BITS` to
#: `bitstream.MAX_BITS`): the encoder's default, and the harness's points when a spec names
#: none (the papers use 6-8).
DEFAULT_BITS = 6
RATE_POINTS = [4, 5, 6, 8]
