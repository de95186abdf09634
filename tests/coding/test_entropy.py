"""Entropy coding: round trips, rate, parameter tables, error handling, determinism."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch

from inrcodec.coding import (
    TABLE_VERSION,
    BitstreamError,
    QuantizedDecoder,
    decode_histogram,
    decode_quantized,
    decode_smallest,
    encode_histogram,
    encode_quantized,
    encode_smallest,
    histogram_information_content,
    information_content,
    mean_indices,
    means_from_indices,
    scale_indices,
    scales_from_indices,
    smallest_model,
)
from inrcodec.coding.tables import MEAN_INDEX_LIMIT, SCALE_TABLE, SCALE_TABLE_SIZE
from inrcodec.coding.varint import encode_svarint, encode_uvarint

DISTRIBUTIONS = ["gaussian", "laplace"]


def sample(rng: np.random.Generator, count: int, distribution: str = "gaussian"):
    """Symbols drawn from per-symbol table models, plus the model indices."""
    mean_index = mean_indices(rng.normal(0.0, 4.0, count))
    scale_index = scale_indices(np.exp(rng.uniform(np.log(0.2), np.log(40.0), count)))
    means, scales = means_from_indices(mean_index), scales_from_indices(scale_index)
    draw = rng.normal if distribution == "gaussian" else rng.laplace
    return np.rint(draw(means, scales)).astype(np.int64), mean_index, scale_index


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("count", [0, 1, 2, 17, 1000, 100_003])
def test_quantized_round_trip(distribution, count):
    rng = np.random.default_rng(count)
    symbols, mean_index, scale_index = sample(rng, count, distribution)
    data = encode_quantized(symbols, mean_index, scale_index, distribution)
    decoded = decode_quantized(data, symbols.shape, mean_index, scale_index, distribution)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize(
    "symbols",
    [
        np.array([-5]),
        np.array([7, 7, 7, 7]),  # one value: no coded bits
        np.array([-(2**31), -(2**31) + 3]),  # int32 extremes
        np.array([2**31 - 1, 2**31 - 5, 2**31 - 1]),
        np.array([-4_000_000, 4_000_000, 0]),  # a wide support, far from the model
        np.arange(-50, 50, dtype=np.int16).reshape(4, 5, 5),
        np.array([[1, 2, 3], [3, 2, 1]], dtype=np.uint8),
    ],
)
def test_quantized_round_trip_edge_values(distribution, symbols):
    data = encode_quantized(symbols, mean_index=64, scale_index=10, distribution=distribution)
    decoded = decode_quantized(data, symbols.shape, 64, 10, distribution)
    assert decoded.shape == symbols.shape
    np.testing.assert_array_equal(decoded, symbols)


def test_constant_and_empty_arrays_cost_only_the_header():
    # version, lowest, span and tail flag, then the tail: the count (2 bytes)
    assert len(encode_quantized(np.full(1000, 3), 0, 0)) == 5
    assert len(encode_quantized(np.zeros(0, np.int64), 0, 0)) == 3
    assert len(encode_histogram(np.full(1000, -3))) == 4  # lowest, bins, one count
    assert decode_histogram(encode_histogram(np.zeros(0, int)), (0, 5)).shape == (0, 5)


def test_a_constant_array_decodes_into_its_symbols_alone():
    count = 2**22  # a 7-byte payload; its symbols are 16 MiB of int32
    data = encode_quantized(np.full(count, -3), 0, 0)
    tracemalloc.start()
    try:
        decoded = decode_quantized(data, (count,), 0, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(decoded, -3)
    assert peak < 5 * count  # was 36 bytes per symbol: its model arrays, float64


def test_parameters_broadcast_to_the_symbol_shape():
    rng = np.random.default_rng(0)
    symbols = rng.integers(-20, 20, size=(3, 100))
    mean_index = np.array([[0], [64], [-64]])  # one mean per row
    data = encode_quantized(symbols, mean_index, 100)
    np.testing.assert_array_equal(decode_quantized(data, (3, 100), mean_index, 100), symbols)


@pytest.mark.parametrize("count", [0, 1, 2, 1000, 100_003])
def test_histogram_round_trip(count):
    rng = np.random.default_rng(count)
    symbols = rng.geometric(0.3, size=count) - rng.integers(0, 3, size=count) * 5
    data = encode_histogram(symbols)
    np.testing.assert_array_equal(decode_histogram(data, symbols.shape), symbols)


def test_histogram_round_trip_sparse_and_extreme_values():
    symbols = np.array([2**31 - 1, 2**31 - 60_000, 2**31 - 1, 2**31 - 1])
    np.testing.assert_array_equal(decode_histogram(encode_histogram(symbols), (4,)), symbols)


def test_unsupported_symbols_raise_clear_errors():
    with pytest.raises(TypeError, match="integer"):
        encode_quantized(np.array([0.5]), 0, 0)
    with pytest.raises(ValueError, match="int32"):
        encode_quantized(np.array([2**31]), 0, 0)
    with pytest.raises(ValueError, match="spans more than"):
        encode_quantized(np.array([0, 2**23]), 0, 0)
    with pytest.raises(ValueError, match="spans more than"):
        encode_histogram(np.array([0, 2**16]))
    with pytest.raises(ValueError, match="unknown distribution"):
        encode_quantized(np.array([1]), 0, 0, "cauchy")
    with pytest.raises(ValueError, match="broadcast"):
        encode_quantized(np.zeros(4, int), np.zeros(3, int), 0)
    with pytest.raises(ValueError, match="scale indices"):
        encode_quantized(np.zeros(4, int), 0, SCALE_TABLE_SIZE)
    with pytest.raises(ValueError, match="scale indices"):
        encode_quantized(np.zeros(4, int), 0, -1)  # no wrap-around indexing
    with pytest.raises(TypeError, match="integer"):
        encode_quantized(np.zeros(4, int), 0.0, 3)  # floats are refused: indices only


# ----------------------------------------------------------------------------------- rate


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_coded_size_matches_information_content(distribution):
    rng = np.random.default_rng(7)
    symbols, mean_index, scale_index = sample(rng, 10**6, distribution)
    coded_bits = 8 * len(encode_quantized(symbols, mean_index, scale_index, distribution))
    ideal_bits = information_content(symbols, mean_index, scale_index, distribution).sum()
    assert abs(coded_bits - ideal_bits) <= 0.005 * ideal_bits + 128


def test_histogram_coded_size_matches_information_content():
    rng = np.random.default_rng(8)
    symbols = np.rint(rng.normal(0, 6, 10**6)).astype(np.int64)
    coded_bits = 8 * len(encode_histogram(symbols))
    ideal_bits = histogram_information_content(symbols).sum()
    table_bits = 8 * 3 * (symbols.max() - symbols.min() + 1)  # <= 3 varint bytes per count
    assert ideal_bits <= coded_bits <= 1.005 * ideal_bits + table_bits + 128


def test_information_content_of_a_known_distribution():
    # A symbol at the mean of a wide Gaussian: p ~ 1 / (sqrt(2 pi) sigma).
    scale_index = 200
    sigma = SCALE_TABLE[scale_index]
    symbols = np.array([-(10**6), 0, 10**6])  # wide support: truncation is negligible
    bits = information_content(symbols, 0, scale_index)
    assert bits[1] == pytest.approx(np.log2(np.sqrt(2 * np.pi) * sigma), rel=1e-6)
    # Far tails are floored at the coder's smallest probability.
    assert bits[0] == pytest.approx(24.0)
    # A model entirely outside the support: finite, floored.
    far = information_content(np.array([0, 5]), MEAN_INDEX_LIMIT, 0)
    np.testing.assert_array_equal(far, [24.0, 24.0])


# --------------------------------------------------------------------------------- tables


def test_scale_table_is_the_documented_recurrence():
    assert TABLE_VERSION == 1
    assert SCALE_TABLE.shape == (256,)
    assert SCALE_TABLE[0] == 0.11
    value = 0.11
    for i in range(1, 256):
        value *= 1.05
        assert SCALE_TABLE[i] == value
    assert SCALE_TABLE[-1].hex() == "0x1.b2fea5376d2cfp+14"  # pins the table bit for bit
    assert not SCALE_TABLE.flags.writeable


def test_scale_indices_nearest_in_log_domain_clamped_and_monotone():
    np.testing.assert_array_equal(scale_indices(SCALE_TABLE), np.arange(256))
    # Just inside either geometric midpoint, the nearest entry wins.
    midpoint = np.sqrt(SCALE_TABLE[10] * SCALE_TABLE[11])
    assert scale_indices(midpoint * (1 - 1e-9)) == 10
    assert scale_indices(midpoint * (1 + 1e-9)) == 11
    assert scale_indices(np.array([0.0, 1e-30, 1e30, np.inf])).tolist() == [0, 0, 255, 255]
    values = np.sort(np.exp(np.random.default_rng(0).uniform(-5, 12, 10_000)))
    assert np.all(np.diff(scale_indices(values)) >= 0)
    with pytest.raises(ValueError, match="NaN"):
        scale_indices(np.array([1.0, np.nan]))


def test_mean_indices_nearest_clamped_and_monotone():
    assert mean_indices(np.array([0.0, 1 / 64, -1 / 64, 0.3])).tolist() == [0, 1, -1, 19]
    assert mean_indices(np.array([-1e9, 1e9])).tolist() == [-MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT]
    values = np.sort(np.random.default_rng(0).uniform(-100, 100, 10_000))
    assert np.all(np.diff(mean_indices(values)) >= 0)
    np.testing.assert_array_equal(
        np.abs(means_from_indices(mean_indices(values)) - values) <= 1 / 128, True
    )


def test_index_helpers_accept_torch_tensors():
    scales = torch.tensor([0.5, 3.0], requires_grad=True)
    means = torch.tensor([0.25, -7.1])
    np.testing.assert_array_equal(scale_indices(scales), scale_indices(np.array([0.5, 3.0])))
    np.testing.assert_array_equal(mean_indices(means), [16, -454])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_decoding_with_wrong_model_raises(distribution):
    rng = np.random.default_rng(3)
    symbols, mean_index, scale_index = sample(rng, 5000, distribution)
    data = encode_quantized(symbols, mean_index, scale_index, distribution)
    wrong_models = [
        (mean_index + 16, scale_index),
        (mean_index, np.minimum(scale_index + 3, 255)),
        (mean_index, np.maximum(scale_index - 3, 0)),
    ]
    for wrong_mean, wrong_scale in wrong_models:
        with pytest.raises(BitstreamError):
            decode_quantized(data, symbols.shape, wrong_mean, wrong_scale, distribution)
    other = "laplace" if distribution == "gaussian" else "gaussian"
    with pytest.raises(BitstreamError):
        decode_quantized(data, symbols.shape, mean_index, scale_index, other)
    for wrong_shape in [(4999,), (5001,)]:
        with pytest.raises(BitstreamError):
            decode_quantized(data, wrong_shape, mean_index[:1], scale_index[:1], distribution)


@pytest.mark.parametrize("kind", ["gaussian", "histogram"])
def test_every_truncation_and_many_corruptions_raise(kind):
    rng = np.random.default_rng(4)
    symbols, mean_index, scale_index = sample(rng, 300)
    if kind == "histogram":
        data = encode_histogram(symbols)
        decode = lambda payload: decode_histogram(payload, symbols.shape)  # noqa: E731
    else:
        data = encode_quantized(symbols, mean_index, scale_index)
        decode = lambda payload: decode_quantized(payload, symbols.shape, mean_index, scale_index)  # noqa: E731
    np.testing.assert_array_equal(decode(data), symbols)
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            decode(data[:cut])
    with pytest.raises(BitstreamError):
        decode(data + b"\x01\x00\x00\x00")
    # Random byte changes: an error, never a crash; silently equal output is impossible
    # (the payload is a bijection of the array), so any success must differ.
    for _ in range(300):
        corrupted = bytearray(data)
        corrupted[rng.integers(len(data))] ^= int(rng.integers(1, 256))
        try:
            decoded = decode(bytes(corrupted))
        except BitstreamError:
            continue
        assert not np.array_equal(decoded, symbols)


def test_malformed_headers_raise():
    symbols = np.array([1, 2, 3])
    with pytest.raises(BitstreamError, match="table version"):
        decode_quantized(b"\x02\x00\x00", (3,), 0, 0)
    with pytest.raises(BitstreamError, match="span"):
        decode_quantized(b"\x01\x00\xff\xff\xff\x0f", (3,), 0, 0)  # support > 2**23
    with pytest.raises(BitstreamError, match="whole number of words"):
        decode_quantized(encode_quantized(symbols, 0, 0) + b"\x01", (3,), 0, 0)
    with pytest.raises(BitstreamError, match="zero word"):
        decode_quantized(b"\x01\x02\x02" + bytes(4), (3,), 0, 0)
    with pytest.raises(BitstreamError, match="histogram bins"):
        decode_histogram(b"\x00\xff\xff\x03", (3,))  # more bins than bytes left
    with pytest.raises(BitstreamError, match="sum"):
        decode_histogram(b"\x00\x01\x02", (3,))
    with pytest.raises(BitstreamError, match="start and end"):
        decode_histogram(b"\x00\x02\x00\x00", (0,))
    with pytest.raises(BitstreamError, match="empty array"):
        decode_quantized(b"\x01\x02\x00", (0,), 0, 0)


# ---------------------------------------------------------------------------- determinism

_FRESH_PROCESS_DECODER = """
import sys
import numpy as np
from inrcodec.coding import decode_histogram, decode_quantized

data = sys.stdin.buffer.read()
count = int(sys.argv[1])
sizes = [int(size) for size in sys.argv[2:]]
rng = np.random.default_rng(11)
mean_index = rng.integers(-512, 512, count)
scale_index = rng.integers(0, 150, count)
parts, offset = [], 0
for size in sizes:
    parts.append(data[offset : offset + size])
    offset += size
out = [
    decode_quantized(parts[0], (count,), mean_index, scale_index, "gaussian"),
    decode_quantized(parts[1], (count,), mean_index, scale_index, "laplace"),
    decode_histogram(parts[2], (count,)),
]
sys.stdout.buffer.write(np.concatenate(out).astype("<i4").tobytes())
"""


def test_fresh_process_decodes_identical_integers():
    count = 20_000
    rng = np.random.default_rng(11)
    mean_index = rng.integers(-512, 512, count)
    scale_index = rng.integers(0, 150, count)
    symbols = np.rint(
        rng.normal(means_from_indices(mean_index), scales_from_indices(scale_index))
    ).astype(np.int64)
    parts = [
        encode_quantized(symbols, mean_index, scale_index, "gaussian"),
        encode_quantized(symbols, mean_index, scale_index, "laplace"),
        encode_histogram(symbols),
    ]
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS_DECODER, str(count)]
        + [str(len(part)) for part in parts],
        input=b"".join(parts),
        capture_output=True,
        check=True,
        timeout=120,
    )
    decoded = np.frombuffer(result.stdout, dtype="<i4").reshape(3, count)
    np.testing.assert_array_equal(decoded, np.broadcast_to(symbols, (3, count)))


# ------------------------------------------------------------------------ chunked decoding


def chunk_sizes(count: int, rng: np.random.Generator) -> list[int]:
    """Uneven chunk sizes summing to ``count``, with empty chunks and single symbols."""
    sizes, left = [0, 1], count - 1
    while left > 0:
        size = min(left, int(rng.integers(0, 200)))
        sizes.append(size)
        left -= size
    return sizes


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_chunked_decoder_equals_decode_quantized(distribution):
    rng = np.random.default_rng(12)
    symbols, mean_index, scale_index = sample(rng, 3001, distribution)
    data = encode_quantized(symbols, mean_index, scale_index, distribution)
    whole = decode_quantized(data, symbols.shape, mean_index, scale_index, distribution)
    decoder = QuantizedDecoder(data, symbols.size, distribution)
    assert (decoder.low, decoder.high) == (symbols.min(), symbols.max())
    parts, offset = [], 0
    for size in chunk_sizes(symbols.size, rng):
        chunk = slice(offset, offset + size)
        parts.append(decoder.decode(mean_index[chunk], scale_index[chunk]))
        offset += size
        assert decoder.remaining == symbols.size - offset
    decoder.finish()
    assert all(part.dtype == np.int32 and part.ndim == 1 for part in parts)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(whole, symbols)


def test_chunked_decoder_counts_symbols():
    rng = np.random.default_rng(13)
    symbols, mean_index, scale_index = sample(rng, 100)
    data = encode_quantized(symbols, mean_index, scale_index)
    decoder = QuantizedDecoder(data, 100)
    np.testing.assert_array_equal(decoder.decode(mean_index[:60], scale_index[:60]), symbols[:60])
    with pytest.raises(ValueError, match="40 symbols were not decoded") as info:
        decoder.finish()
    assert not isinstance(info.value, BitstreamError)  # a caller's mistake, not bad data
    with pytest.raises(ValueError, match="41 symbols asked for, 40 left"):
        decoder.decode(np.zeros(41, np.int64), np.zeros(41, np.int64))
    np.testing.assert_array_equal(decoder.decode(mean_index[60:], scale_index[60:]), symbols[60:])
    decoder.finish()


def decode_in_chunks(data: bytes, mean_index, scale_index, sizes) -> np.ndarray:
    decoder = QuantizedDecoder(data, len(mean_index))
    parts, offset = [], 0
    for size in sizes:
        chunk = slice(offset, offset + size)
        parts.append(decoder.decode(mean_index[chunk], scale_index[chunk]))
        offset += size
    decoder.finish()
    return np.concatenate(parts)


def test_chunked_decoding_of_truncated_or_corrupted_payloads_raises():
    rng = np.random.default_rng(14)
    symbols, mean_index, scale_index = sample(rng, 400)
    data = encode_quantized(symbols, mean_index, scale_index)
    sizes = chunk_sizes(symbols.size, rng)
    np.testing.assert_array_equal(decode_in_chunks(data, mean_index, scale_index, sizes), symbols)
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            decode_in_chunks(data[:cut], mean_index, scale_index, sizes)
    raised = 0
    for _ in range(200):
        corrupted = bytearray(data)
        corrupted[rng.integers(3, len(data))] ^= int(rng.integers(1, 256))  # coded words
        try:
            decoded = decode_in_chunks(bytes(corrupted), mean_index, scale_index, sizes)
        except BitstreamError:
            raised += 1
            continue
        assert not np.array_equal(decoded, symbols)
    assert raised == 200


def test_chunked_decoding_of_constant_and_empty_arrays():
    data = encode_quantized(np.full(50, -7), 64, 20)
    decoder = QuantizedDecoder(data, 50)
    parts = [decoder.decode(np.zeros(n, np.int64), np.full(n, 3)) for n in (0, 1, 30, 19)]
    decoder.finish()
    np.testing.assert_array_equal(np.concatenate(parts), np.full(50, -7))
    assert all(part.dtype == np.int32 for part in parts)
    empty = QuantizedDecoder(encode_quantized(np.zeros(0, np.int64), 0, 0), 0)
    assert empty.decode(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0,)
    empty.finish()
    with pytest.raises(BitstreamError, match="empty array"):
        QuantizedDecoder(data, 0)  # a constant -7 payload read as an empty array


# --------------------------------------------------------------------------- symbol count

# Decoding a payload with more symbols than it codes: from the sealed state the ANS coder
# decodes the lowest symbol without moving whenever that symbol's probability is at least
# 2**-23, as it is under these wide models; fewer symbols stop at the seal too when the
# array ends in lowest symbols. The payloads must refuse both (docs/bitstream.md 3.3, 3.4).
TOO_MANY = [1001, 1002, 1010, 1_000_000]
TOO_FEW = [999, 998, 995, 994, 1]


def count_cases():
    """1000 symbols of a clip-like spread, one array ending in a run of its lowest symbol."""
    rng = np.random.default_rng(21)
    spread = np.rint(rng.normal(0, 3, 1000)).astype(np.int64)
    tailed = spread.copy()
    tailed[-5:] = spread.min()
    return {"ends higher": spread, "ends in 5 lowest": tailed}


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("case", list(count_cases()))
def test_quantized_payload_decodes_exactly_its_symbol_count(distribution, case):
    symbols = count_cases()[case]
    data = encode_quantized(symbols, 0, 100, distribution)
    decoded = decode_quantized(data, (1000,), 0, 100, distribution)
    np.testing.assert_array_equal(decoded, symbols)
    for count in TOO_MANY + TOO_FEW:
        with pytest.raises(BitstreamError):
            decode_quantized(data, (count,), 0, 100, distribution)


def test_the_old_free_lowest_symbols_now_fail_on_the_tail():
    symbols = count_cases()["ends in 5 lowest"]
    data = encode_quantized(symbols, 0, 100)
    for count in [995, 999, 1001, 10_000]:  # the seal passes: the tail catches them
        with pytest.raises(BitstreamError, match=r"more or fewer symbols than expected"):
            decode_quantized(data, (count,), 0, 100)


@pytest.mark.parametrize("count", TOO_MANY + TOO_FEW)
def test_chunked_decoder_refuses_another_symbol_count(count):
    symbols = count_cases()["ends in 5 lowest"]
    data = encode_quantized(symbols, 0, 100)
    with pytest.raises(BitstreamError):
        decoder = QuantizedDecoder(data, count)
        for start in range(0, count, 300):
            size = min(300, count - start)
            decoder.decode(np.zeros(size, np.int64), np.full(size, 100))
        decoder.finish()


@pytest.mark.parametrize("value", [-7, 0, 2**31 - 1])
def test_constant_payload_records_its_count(value):
    data = encode_quantized(np.full(1000, value), 64, 20)
    np.testing.assert_array_equal(decode_quantized(data, (1000,), 64, 20), np.full(1000, value))
    for count in [1001, 999, 1_000_000, 1]:
        with pytest.raises(BitstreamError, match=f"holds 1000 symbols, {count} expected"):
            decode_quantized(data, (count,), 64, 20)
    with pytest.raises(BitstreamError, match="empty array|holds 1000 symbols, 0 expected"):
        decode_quantized(data, (0,), 64, 20)


def test_empty_payload_holds_no_symbols():
    data = encode_quantized(np.zeros(0, np.int64), 0, 0)
    assert decode_quantized(data, (0, 4), 0, 0).shape == (0, 4)
    for count in [1, 5, 1000]:
        with pytest.raises(BitstreamError, match=f"holds 0 symbols, {count} expected"):
            decode_quantized(data, (count,), 0, 0)


def quantized_header(low: int, span: int, tail: int | None) -> bytes:
    """The fields before the words (docs/bitstream.md 3.3); ``tail`` None: no tail flag."""
    flag = encode_uvarint(2 * span + (tail is not None))
    return (
        encode_uvarint(TABLE_VERSION)
        + encode_svarint(low)
        + flag
        + (encode_uvarint(tail) if tail is not None else b"")
    )


@pytest.mark.parametrize("case", list(count_cases()))
def test_corrupted_tail_fields_raise(case):
    symbols = count_cases()[case]
    low, span = int(symbols.min()), int(symbols.max() - symbols.min())
    data = encode_quantized(symbols, 0, 100)
    tail = 5 if case == "ends in 5 lowest" else None
    header = quantized_header(low, span, tail)
    assert data.startswith(header)
    words = data[len(header) :]
    wrong_tails = [None, 0, 1, 4, 6, 999, 1000, 1001] if tail else [0, 1, 2, 1000]
    for wrong in (t for t in wrong_tails if t != tail):
        with pytest.raises(BitstreamError):
            decode_quantized(quantized_header(low, span, wrong) + words, (1000,), 0, 100)
    with pytest.raises(BitstreamError, match="lowest-symbol tail"):
        decode_quantized(quantized_header(low, span, tail or 0)[:-1], (1000,), 0, 100)


def test_corrupted_constant_tail_raises():
    for wrong in [None, 0, 999, 1001]:
        with pytest.raises(BitstreamError):
            decode_quantized(quantized_header(3, 0, wrong), (1000,), 0, 0)
    np.testing.assert_array_equal(
        decode_quantized(quantized_header(3, 0, 1000), (1000,), 0, 0), np.full(1000, 3)
    )


@pytest.mark.parametrize(
    "symbols",
    [*count_cases().values(), np.full(1000, -4), np.zeros(0, np.int64)],
    ids=[*count_cases(), "constant", "empty"],
)
def test_histogram_payload_decodes_exactly_its_symbol_count(symbols):
    data = encode_histogram(symbols)
    np.testing.assert_array_equal(decode_histogram(data, symbols.shape), symbols)
    for count in [n for n in TOO_MANY + TOO_FEW + [0] if n != symbols.size]:
        with pytest.raises(BitstreamError, match="histogram"):
            decode_histogram(data, (count,))


def smallest_cases():
    """Arrays for which `encode_smallest` keeps each of its models."""
    rng = np.random.default_rng(22)
    return {
        "histogram": np.where(rng.random(1000) < 0.9, 0, rng.integers(-3, 4, 1000)),
        "gaussian": count_cases()["ends in 5 lowest"][:40],
        "laplace": np.rint(rng.laplace(0, 2, 40)).astype(np.int64),
        "constant": np.full(1000, 5),
        "empty": np.zeros(0, np.int64),
    }


@pytest.mark.parametrize("case", list(smallest_cases()))
def test_smallest_payload_decodes_exactly_its_symbol_count(case):
    symbols = smallest_cases()[case]
    data = encode_smallest(symbols)
    expected_model = {"constant": "histogram", "empty": "histogram"}.get(case, case)
    assert smallest_model(data) == expected_model
    np.testing.assert_array_equal(decode_smallest(data, symbols.shape, "w"), symbols)
    n = symbols.size
    for count in {n + 1, n + 2, n + 1000, 1_000_000, max(n - 1, 0), n // 2, 0} - {n}:
        with pytest.raises(BitstreamError, match="^w"):
            decode_smallest(data, (count,), "w")
