"""Entropy coding and the bitstream container (docs/design.md, "The bitstream" and "Entropy
coding and determinism").

Spec of every byte: docs/bitstream.md. Nothing here imports from the rest of inrcodec.
"""

from .code_length import histogram_information_content, information_content
from .container import (
    FORMAT_VERSION,
    MAGIC,
    CodecId,
    Container,
    VideoHeader,
    read_container,
)
from .entropy import (
    QuantizedDecoder,
    decode_histogram,
    decode_quantized,
    encode_histogram,
    encode_quantized,
)
from .errors import BitstreamError
from .smallest import ENTROPY_MODELS, decode_smallest, encode_smallest, smallest_model
from .tables import (
    TABLE_VERSION,
    mean_indices,
    means_from_indices,
    scale_indices,
    scales_from_indices,
)

__all__ = [
    "ENTROPY_MODELS",
    "FORMAT_VERSION",
    "MAGIC",
    "QuantizedDecoder",
    "TABLE_VERSION",
    "BitstreamError",
    "CodecId",
    "Container",
    "VideoHeader",
    "decode_histogram",
    "decode_quantized",
    "decode_smallest",
    "encode_histogram",
    "encode_quantized",
    "encode_smallest",
    "histogram_information_content",
    "information_content",
    "mean_indices",
    "means_from_indices",
    "read_container",
    "scale_indices",
    "scales_from_indices",
    "smallest_model",
]
