"""Entropy coding of integer arrays on constriction's ANS coder (docs/design.md, "Entropy
coding and determinism").

Two kinds of model, each with an encode/decode pair returning/consuming ``bytes``:

* quantised Gaussian or Laplace with a mean and scale PER SYMBOL, given as integer indices
  into the versioned tables of :mod:`inrcodec.coding.tables` (never as floats, so encoder
  and decoder cannot disagree by an ULP): :func:`encode_quantized`, :func:`decode_quantized`;
* an empirical histogram of the symbols themselves, whose counts travel in the payload:
  :func:`encode_histogram`, :func:`decode_histogram`.

Support. Both models code symbols on the support [lowest, highest] of the data, which the
payload records, so any integer array whose values fit in int32 round-trips, up to a
support of :data:`MAX_SUPPORT_SIZE` values (quantised models; constriction must give every
value of the support a nonzero probability at 24-bit precision) or
:data:`MAX_HISTOGRAM_BINS` values (histograms). Wider ranges raise ValueError at encode time.
An array of one repeated value (or an empty one) needs no coded bits at all.

Payloads are decoded against the caller's expected shape, which comes from the caller's own
header, and a payload of any other number of symbols is an error. Every malformed payload
raises :class:`BitstreamError`; so does a stream that does not end exactly where the encoder
began (ANS state sealed with word 1, see docs/bitstream.md), which catches nearly all
truncations and model mismatches for free. The seal alone cannot catch a count that is off:
from the sealed state the coder decodes the lowest symbol for nothing, so a quantised payload
also records how many symbols equal to the lowest end the array (its *tail*) and the decoder
checks it; a histogram payload's counts sum to the symbol count.
Byte layouts: docs/bitstream.md, section "Entropy-coded payloads".
"""

from __future__ import annotations

import math
from typing import Literal

import constriction
import numpy as np
import numpy.typing as npt

from .errors import BitstreamError
from .tables import TABLE_VERSION, means_from_indices, scales_from_indices
from .varint import ByteReader, encode_svarint, encode_uvarint

Distribution = Literal["gaussian", "laplace"]

_MODEL_FAMILIES = {
    "gaussian": constriction.stream.model.QuantizedGaussian,
    "laplace": constriction.stream.model.QuantizedLaplace,
}

MAX_SUPPORT_SIZE = 2**23
MAX_HISTOGRAM_BINS = 2**16
MAX_SYMBOLS = 2**31 - 1

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# The ANS coder starts from (and the decoder must end at) this one-word state. It costs no
# bits (it replaces the empty state) and a stream that is truncated, corrupted or decoded
# with the wrong model almost never lands back on it.
_SEAL_WORD = 1
_SEALED_STATE = (0, _SEAL_WORD)  # AnsCoder.pos() of a fully consumed stream


# ---------------------------------------------------------------- quantised Gaussian/Laplace


def encode_quantized(
    symbols: npt.ArrayLike,
    mean_index: npt.ArrayLike,
    scale_index: npt.ArrayLike,
    distribution: Distribution = "gaussian",
) -> bytes:
    """Entropy-code an integer array under per-symbol quantised Gaussian/Laplace models.

    ``mean_index`` and ``scale_index`` are integer indices into the table version
    :data:`~inrcodec.coding.tables.TABLE_VERSION` (see :func:`~inrcodec.coding.mean_indices`
    and :func:`~inrcodec.coding.scale_indices` to get them from floats); they broadcast to
    ``symbols.shape``. For ``"laplace"`` the scale is the Laplace ``b``, for ``"gaussian"``
    the standard deviation. Symbols are coded in C order.
    """
    family = _model_family(distribution)
    shape = np.shape(symbols)
    symbols, low, high = _int32_symbols(symbols, MAX_SUPPORT_SIZE, "quantised models")
    means, scales = _model_parameters(mean_index, scale_index, shape)
    tail = _lowest_tail(symbols, low)
    header = encode_uvarint(TABLE_VERSION) + encode_svarint(low)
    header += encode_uvarint(2 * (high - low) + (tail > 0))
    header += encode_uvarint(tail) if tail else b""
    if high == low:  # also the empty array: nothing to code
        return header
    coder = _sealed_encoder()
    coder.encode_reverse(symbols, family(low, high), means, scales)
    return header + _words_to_bytes(coder.get_compressed())


def decode_quantized(
    data: bytes,
    shape: tuple[int, ...],
    mean_index: npt.ArrayLike,
    scale_index: npt.ArrayLike,
    distribution: Distribution = "gaussian",
) -> npt.NDArray[np.int32]:
    """Inverse of :func:`encode_quantized`: decode an int32 array of ``shape``.

    The indices must be the very ones given to the encoder (broadcast to ``shape``).
    Raises :class:`BitstreamError` on any malformed payload, and on one that does not hold
    exactly the symbols of ``shape``.
    """
    count = _symbol_count(shape)
    decoder = QuantizedDecoder(data, count, distribution)
    if count:  # broadcast views: a constant array never expands them (`QuantizedDecoder.decode`)
        decoded = decoder.decode(*(np.broadcast_to(i, shape) for i in (mean_index, scale_index)))
    else:
        decoded = decoder.empty()
    decoder.finish()
    return decoded.reshape(shape)


class QuantizedDecoder:
    """Decode an :func:`encode_quantized` payload of ``count`` symbols in consecutive chunks,
    each chunk with its own model indices: a decoder whose models depend on the symbols
    already decoded (a context model) decodes one chunk, computes the next chunk's indices
    from it, and so on. `finish` then checks that the stream ends exactly where the encoder
    began after exactly ``count`` symbols. Raises :class:`BitstreamError` on any malformed
    payload, and on one of more or fewer symbols than ``count``."""

    def __init__(self, data: bytes, count: int, distribution: Distribution = "gaussian"):
        self._family = _model_family(distribution)
        reader = ByteReader(data)
        version = reader.uvarint("model table version")
        if version != TABLE_VERSION:
            raise BitstreamError(f"unsupported model table version {version}")
        low = reader.svarint("lowest symbol", _INT32_MIN, _INT32_MAX)
        max_span = min(MAX_SUPPORT_SIZE - 1, _INT32_MAX - low)
        span, has_tail = divmod(reader.uvarint("symbol span and tail flag", 2 * max_span + 1), 2)
        tail = reader.uvarint("lowest-symbol tail", MAX_SYMBOLS, min_value=1) if has_tail else 0
        words = _read_words(reader)
        if count == 0 and (low, span) != (0, 0):
            raise BitstreamError("an empty array must record the support [0, 0]")
        if span == 0 and tail != count:
            raise BitstreamError(f"the payload holds {tail} symbols, {count} expected")
        if span and tail >= count:
            raise BitstreamError(f"a tail of {tail} lowest symbols leaves no higher one in {count}")
        if span == 0 and words.size:
            raise BitstreamError("unexpected coded data for an array without information")
        self.low, self.high, self.remaining, self._tail = low, low + span, count, tail
        self._coder = None if span == 0 else _sealed_decoder(words)
        self._seen = [self.high, low]  # running (min, max) of the decoded symbols
        self._decoded_tail = 0  # symbols equal to ``low`` at the end of those decoded so far

    def empty(self) -> npt.NDArray[np.int32]:
        return np.zeros(0, np.int32)

    def decode(self, mean_index: npt.ArrayLike, scale_index: npt.ArrayLike) -> np.ndarray:
        """The next ``np.size(mean_index)`` symbols (1-D int32) under the given table indices
        (of ``mean_index``'s shape). A constant array evaluates no model: its memory is its
        symbols alone."""
        size = int(np.size(mean_index))
        if size > self.remaining:
            raise ValueError(f"{size} symbols asked for, {self.remaining} left")
        self.remaining -= size
        if self._coder is None or size == 0:
            return np.full(size, self.low, dtype=np.int32)
        means, scales = _model_parameters(mean_index, scale_index, np.shape(mean_index))
        decoded = self._coder.decode(self._family(self.low, self.high), means, scales)
        low, high = int(decoded.min()), int(decoded.max())
        self._seen = [min(self._seen[0], low), max(self._seen[1], high)]
        tail = _lowest_tail(decoded, self.low)  # a chunk of lowest symbols extends the tail
        self._decoded_tail = tail + self._decoded_tail if tail == decoded.size else tail
        return decoded

    def finish(self) -> None:
        """Check that every symbol was decoded, the stream ended at the encoder's seal, and
        the symbols match the recorded support and tail (so their count is the coded one)."""
        if self.remaining:
            raise ValueError(f"{self.remaining} symbols were not decoded")
        if self._coder is None:
            return
        _check_sealed(self._coder)
        if self._seen != [self.low, self.high]:
            raise BitstreamError("decoded symbols do not span the recorded support")
        if self._decoded_tail != self._tail:
            raise BitstreamError(
                f"decoded symbols end in {self._decoded_tail} lowest symbols, the payload "
                f"records {self._tail}: it holds more or fewer symbols than expected"
            )


def _model_family(distribution: str):
    try:
        return _MODEL_FAMILIES[distribution]
    except KeyError:
        raise ValueError(
            f"unknown distribution {distribution!r}; expected one of {sorted(_MODEL_FAMILIES)}"
        ) from None


def _model_parameters(
    mean_index: npt.ArrayLike, scale_index: npt.ArrayLike, shape: tuple[int, ...]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Flat float64 (means, scales) from table indices broadcast to ``shape``: the only
    path by which floats reach the coder."""
    try:
        mean_index = np.broadcast_to(mean_index, shape)
        scale_index = np.broadcast_to(scale_index, shape)
    except ValueError:
        raise ValueError(f"model indices do not broadcast to the symbol shape {shape}") from None
    return means_from_indices(mean_index).ravel(), scales_from_indices(scale_index).ravel()


# -------------------------------------------------------------------------- histogram model


def encode_histogram(symbols: npt.ArrayLike) -> bytes:
    """Entropy-code an integer array under its own empirical histogram (i.i.d. model).

    The payload stores the support and the integer count of every value in it, from which
    the decoder rebuilds the identical ``Categorical(counts, perfect=False)`` model.
    """
    symbols, low, high = _int32_symbols(symbols, MAX_HISTOGRAM_BINS, "histogram models")
    if symbols.size == 0:
        return encode_svarint(0) + encode_uvarint(0)
    offsets = symbols - np.int32(low)  # in [0, high - low]: no int32 overflow
    counts = np.bincount(offsets, minlength=high - low + 1)
    header = encode_svarint(low) + encode_uvarint(counts.size)
    header += b"".join(encode_uvarint(int(count)) for count in counts)
    if high == low:
        return header
    coder = _sealed_encoder()
    coder.encode_reverse(offsets, _histogram_model(counts))
    return header + _words_to_bytes(coder.get_compressed())


def decode_histogram(data: bytes, shape: tuple[int, ...]) -> npt.NDArray[np.int32]:
    """Inverse of :func:`encode_histogram`: decode an int32 array of ``shape``."""
    count = _symbol_count(shape)
    reader = ByteReader(data)
    low = reader.svarint("lowest symbol", _INT32_MIN, _INT32_MAX)
    # Each count takes at least one byte: bound the bin count before allocating.
    max_bins = min(MAX_HISTOGRAM_BINS, _INT32_MAX - low + 1, reader.remaining)
    num_bins = reader.uvarint("histogram bins", max_bins)
    counts = np.array([reader.uvarint("histogram count", count) for _ in range(num_bins)])
    words = _read_words(reader)
    if int(counts.sum()) != count:
        raise BitstreamError(f"histogram counts sum to {int(counts.sum())}, expected {count}")
    if num_bins and (counts[0] == 0 or counts[-1] == 0):
        raise BitstreamError("histogram support must start and end at a used symbol")
    if num_bins <= 1:
        return _constant_symbols(shape, low, words)
    decoder = _sealed_decoder(words)
    offsets = decoder.decode(_histogram_model(counts), count)
    _check_sealed(decoder)
    if not np.array_equal(np.bincount(offsets, minlength=num_bins), counts):
        raise BitstreamError("decoded symbols do not match the recorded histogram")
    return (offsets + np.int32(low)).reshape(shape)


def _histogram_model(counts: np.ndarray):
    # perfect=False: fast, and (like perfect=True) exactly reproducible from the same counts.
    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


# --------------------------------------------------------------------------- shared helpers


def _int32_symbols(symbols: npt.ArrayLike, max_support: int, what: str):
    """Flat contiguous int32 copy of ``symbols`` and its (lowest, highest) value."""
    symbols = np.asarray(symbols)
    if not np.issubdtype(symbols.dtype, np.integer):
        raise TypeError(f"symbols must be an integer array, got dtype {symbols.dtype}")
    if symbols.size > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per payload, got {symbols.size}")
    if symbols.size == 0:
        return np.zeros(0, np.int32), 0, 0
    low, high = int(symbols.min()), int(symbols.max())
    if low < _INT32_MIN or high > _INT32_MAX:
        raise ValueError(f"symbols must fit in int32, got range [{low}, {high}]")
    if high - low >= max_support:
        raise ValueError(
            f"symbol range [{low}, {high}] spans more than {max_support} values, "
            f"the limit for {what}"
        )
    return np.ascontiguousarray(symbols, dtype=np.int32).ravel(), low, high


def _lowest_tail(symbols: np.ndarray, low: int) -> int:
    """How many symbols at the end of the flat array ``symbols`` equal ``low``."""
    higher = symbols[::-1] != low
    return int(higher.argmax()) if higher.any() else symbols.size


def _symbol_count(shape: tuple[int, ...]) -> int:
    if any(not isinstance(size, int | np.integer) or size < 0 for size in shape):
        raise ValueError(f"invalid shape {shape}")
    count = math.prod(shape)
    if count > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per payload, got shape {shape}")
    return count


def _constant_symbols(shape: tuple[int, ...], value: int, words: np.ndarray):
    """Decode a payload that holds no coded symbols (empty or single-valued array)."""
    if words.size:
        raise BitstreamError("unexpected coded data for an array without information")
    return np.full(shape, value, dtype=np.int32)


def _sealed_encoder():
    return constriction.stream.stack.AnsCoder(np.array([_SEAL_WORD], dtype=np.uint32))


def _sealed_decoder(words: np.ndarray):
    if words.size == 0:  # the bare seal is stored as nothing
        words = np.array([_SEAL_WORD], dtype=np.uint32)
    return constriction.stream.stack.AnsCoder(words)


def _check_sealed(decoder) -> None:
    if decoder.pos() != _SEALED_STATE:
        raise BitstreamError(
            "entropy-coded data does not end where it should: truncated, corrupted, "
            "or decoded with a different model than it was encoded with"
        )


def _words_to_bytes(words: np.ndarray) -> bytes:
    """constriction's uint32 words, little-endian; a lone seal word is stored as nothing."""
    if words.size == 1 and words[0] == _SEAL_WORD:
        return b""
    return words.astype("<u4", copy=False).tobytes()


def _read_words(reader: ByteReader) -> np.ndarray:
    """The rest of a payload as native uint32 ANS words."""
    raw = reader.rest()
    if len(raw) % 4:
        raise BitstreamError(f"coded data of {len(raw)} bytes is not a whole number of words")
    words = np.frombuffer(raw, dtype="<u4").astype(np.uint32, copy=False)
    if words.size and words[-1] == 0:
        raise BitstreamError("coded data ends in a zero word, which ANS never produces")
    return words
