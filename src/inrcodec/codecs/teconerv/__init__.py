"""TeCoNeRV (Padmanabhan, Gwilliam and Shrivastava): a hypernetwork trained once on a corpus
predicts a HypoNeRV per 8-frame patch-tubelet (docs/teconerv.md).

`presets`: the paper's and CPU model configurations; `data`: the video corpus, its clip cache
and the training / validation samples; `resize`: scaling and centre-cropping frames to a
model's size; `train`: pre-training and fine-tuning (with the temporal-coherence loss), single
process or under torchrun; `model_file`: a trained network's file; `tiling`: tubelet positions
and crop / blend fusion; `bitstream`: the file format; `codec`: encode / decode with residuals
between clips (docs/teconerv-codec.md). Names are imported lazily.
"""

from __future__ import annotations

from inrcodec.codecs.registry import codec_exports
from inrcodec.lazy import lazy_getattr

_LAZY = {
    **codec_exports("TeCoNeRVCodec", train_command=True),
    "PRESETS": "presets",
    "Preset": "presets",
    "preset": "presets",
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
