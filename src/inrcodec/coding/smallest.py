"""One integer tensor under whichever i.i.d. model codes it smallest (docs/bitstream.md,
"Smallest-model payloads").

Three candidates, each a complete payload behind a one-varint model code:

* 0, *histogram*: the tensor's own empirical histogram (exact, but its counts cost bytes);
* 1, *gaussian* / 2, *laplace*: a quantised Gaussian or Laplace whose mean and scale are table
  indices (3-4 bytes of model; the better choice for small tensors, whose histogram costs
  more than it saves).

The encoder writes all three and keeps the shortest, so the choice is exact, not estimated.
"""

from __future__ import annotations

import numpy as np

from .entropy import decode_histogram, decode_quantized, encode_histogram, encode_quantized
from .errors import BitstreamError
from .tables import mean_indices, scale_indices
from .varint import ByteReader, encode_svarint, encode_uvarint

ENTROPY_MODELS = ("histogram", "gaussian", "laplace")
_MAX_MEAN_INDEX = 2**21


def encode_smallest(symbols: np.ndarray) -> bytes:
    """``model code + model parameters + payload`` under the smallest of the three models."""
    flat = np.asarray(symbols).reshape(-1).astype(np.int32)
    candidates = [encode_uvarint(0) + encode_histogram(flat)]
    if flat.size:
        mean = float(flat.mean())
        m = int(mean_indices(np.array(mean)))
        for code, spread in ((1, float(flat.std())), (2, float(np.abs(flat - mean).mean()))):
            s = int(scale_indices(np.array(spread)))
            model = encode_uvarint(code) + encode_svarint(m) + encode_uvarint(s)
            candidates.append(model + encode_quantized(flat, m, s, ENTROPY_MODELS[code]))
    return min(candidates, key=len)


def decode_smallest(data: bytes, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Inverse of `encode_smallest`; ``name`` labels errors (`BitstreamError`)."""
    reader = ByteReader(data)
    code = reader.uvarint(f"{name} entropy model", len(ENTROPY_MODELS) - 1)
    try:
        if code == 0:
            return decode_histogram(bytes(reader.rest()), shape)
        m = reader.svarint(f"{name} mean index", -_MAX_MEAN_INDEX, _MAX_MEAN_INDEX)
        s = reader.uvarint(f"{name} scale index", 255)
        return decode_quantized(bytes(reader.rest()), shape, m, s, ENTROPY_MODELS[code])
    except BitstreamError as error:
        if str(error).startswith(name):
            raise
        raise BitstreamError(f"{name}: {error}") from None


def smallest_model(data: bytes) -> str:
    """The model an `encode_smallest` payload chose (for statistics)."""
    return ENTROPY_MODELS[ByteReader(data).uvarint("entropy model", len(ENTROPY_MODELS) - 1)]


def coded_bytes(data: bytes) -> int:
    """How many bytes of an `encode_smallest` payload are entropy-coded words (the rest is
    the model: its code, parameters or histogram counts, the symbol support and tail)."""
    reader = ByteReader(data)
    code = reader.uvarint("entropy model", len(ENTROPY_MODELS) - 1)
    if code == 0:
        reader.svarint("lowest symbol", -(2**31), 2**31 - 1)
        for _ in range(reader.uvarint("histogram bins", reader.remaining)):
            reader.uvarint("histogram count")
    else:
        reader.svarint("mean index", -_MAX_MEAN_INDEX, _MAX_MEAN_INDEX)
        for what in ("scale index", "table version"):
            reader.uvarint(what)
        reader.svarint("lowest symbol", -(2**31), 2**31 - 1)
        if reader.uvarint("symbol span and tail flag") % 2:
            reader.uvarint("lowest-symbol tail")
    return reader.remaining
