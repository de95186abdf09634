"""TeCoNeRV's building blocks below the codec: uniform quantisation of a tensor to 2^bits
levels (`inrcodec.quant.uniform`), patch-tubelet tiling and crop / blend fusion
(`inrcodec.codecs.teconerv.tiling`), and smallest-model coding of one integer tensor
(`inrcodec.coding.smallest`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec.codecs.teconerv.tiling import Tiling, axis_positions
from inrcodec.coding import (
    ENTROPY_MODELS,
    BitstreamError,
    decode_smallest,
    encode_histogram,
    encode_quantized,
    encode_smallest,
    mean_indices,
    scale_indices,
    smallest_model,
)
from inrcodec.coding.smallest import coded_bytes
from inrcodec.coding.varint import encode_svarint, encode_uvarint
from inrcodec.quant.uniform import dequantize_uniform, quantize_uniform

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------ uniform quantisation


def normal(n: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).normal(size=n)).astype(np.float32)


@pytest.mark.parametrize("bits", range(2, 17))
def test_quantize_uniform_covers_the_range_and_errs_by_at_most_half_a_step(bits):
    x = normal(4000, seed=bits, scale=0.3)
    q, low, step = quantize_uniform(x, bits)
    levels = 2**bits - 1
    assert q.dtype == np.int32 and q.shape == x.shape
    assert isinstance(low, np.float16) and isinstance(step, np.float16)
    assert 0 <= q.min() <= q.max() <= levels
    # the range [low, low + levels * step] covers [min x, max x]: nothing is clipped
    assert float(low) <= float(x.min())
    assert float(low) + levels * float(step) >= float(x.max())
    # ... with low rounded down (the next float16 up is above min x) and the smallest step
    # that covers (the next float16 down does not reach max x)
    assert float(np.nextafter(low, np.float16(np.inf))) > float(x.min())
    assert float(low) + levels * float(np.nextafter(step, np.float16(0))) < float(x.max())
    error = np.abs(dequantize_uniform(q, low, step) - x)
    assert error.max() <= float(step) / 2 * (1 + 1e-4) + 1e-6


@pytest.mark.parametrize("bits", range(2, 10))
def test_quantize_uniform_uses_exactly_two_to_the_bits_levels(bits):
    # a zero-centred tensor: float16 rounding of low and step is far below a step, so the
    # lowest and highest values land on the first and last of the 2^bits levels
    x = normal(5000, seed=100 + bits)
    q, _, _ = quantize_uniform(x, bits)
    assert (q.min(), q.max()) == (0, 2**bits - 1)
    # uniform values (about 10 per level at 9 bits) use every one of the levels
    x = np.random.default_rng(bits).uniform(-1, 1, 2**bits * 10).astype(np.float32)
    q, _, _ = quantize_uniform(x, bits)
    np.testing.assert_array_equal(np.unique(q), np.arange(2**bits))


def test_dequantize_uniform_is_low_plus_symbol_times_step_in_float32():
    q, low, step = quantize_uniform(normal(100, seed=7), 5)
    values = dequantize_uniform(q, low, step)
    assert values.dtype == np.float32
    expected = np.float32(low) + q.astype(np.float32) * np.float32(step)
    np.testing.assert_array_equal(values, expected)
    first_and_fourth = np.float32(low) + np.float32([0, 3]) * np.float32(step)
    np.testing.assert_array_equal(dequantize_uniform([0, 3], low, step), first_and_fourth)


@pytest.mark.parametrize("value", [0.0, 0.5, -2.0, 1024.0])
def test_a_constant_tensor_quantizes_to_step_zero_and_symbols_zero(value):
    # constants that float16 holds exactly (see the note on 0.3 below)
    x = np.full((3, 5), value, np.float32)
    q, low, step = quantize_uniform(x, 4)
    assert step == 0 and float(low) == value
    np.testing.assert_array_equal(q, np.zeros((3, 5), np.int32))
    np.testing.assert_array_equal(dequantize_uniform(q, low, step), x)


def test_a_constant_tensor_that_float16_cannot_hold_still_uses_one_level():
    # 0.3 lies between two float16 values: low is rounded down below it, so the step is a
    # tiny nonzero float16 and all symbols land on one level; the error stays sub-ulp
    x = np.full(10, 0.3, np.float32)
    q, low, step = quantize_uniform(x, 4)
    assert len(np.unique(q)) == 1
    assert np.abs(dequantize_uniform(q, low, step) - x).max() < 2e-4


def test_quantize_uniform_of_an_empty_tensor():
    q, low, step = quantize_uniform(np.zeros((0, 4), np.float32), 8)
    assert q.shape == (0, 4) and q.dtype == np.int32 and low == 0 and step == 0


@pytest.mark.parametrize("bits", [-1, 0, 1, 17, 32])
def test_quantize_uniform_rejects_bits_outside_2_to_16(bits):
    with pytest.raises(ValueError, match="bits"):
        quantize_uniform(normal(10), bits)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 40000.0])
def test_quantize_uniform_rejects_values_float16_side_values_cannot_hold(bad):
    x = normal(10)
    x[3] = bad
    with pytest.raises(ValueError, match="float16"):
        quantize_uniform(x, 4)


# ------------------------------------------------------------------------- tubelet positions


@pytest.mark.parametrize(
    ("length", "size", "overlap", "expected"),
    [
        (176, 64, 0, (0, 64, 112)),  # last snapped to the border
        (144, 64, 16, (0, 48, 80)),
        (144, 64, 0, (0, 64, 80)),
        (128, 64, 0, (0, 64)),  # size divides the length: no snapping
        (112, 64, 16, (0, 48)),  # stride divides: no duplicate last position
        (176, 64, 16, (0, 48, 96, 112)),
        (65, 64, 0, (0, 1)),
        (64, 64, 0, (0,)),
        (64, 64, 63, (0,)),
        (29, 64, 0, (0,)),  # shorter than a tubelet: one position, padded
        (10, 4, 3, (0, 1, 2, 3, 4, 5, 6)),
    ],
)
def test_axis_positions_examples(length, size, overlap, expected):
    assert axis_positions(length, size, overlap) == expected


@pytest.mark.parametrize("size", [1, 5, 16, 64])
def test_axis_positions_stride_by_size_minus_overlap_and_snap_the_last(size):
    for overlap in sorted({0, 1, size // 4, size // 2, size - 1} & set(range(size))):
        stride = size - overlap
        for length in [1, 2, size - 1, size, size + 1, 2 * size, 3 * size + 7, 137]:
            if length < 1:
                continue
            positions = axis_positions(length, size, overlap)
            end = max(length, size) - size
            assert positions[0] == 0 and positions[-1] == end
            steps = np.diff(positions)
            assert np.all(steps[:-1] == stride)  # every stride but the last is size - overlap
            assert np.all((steps >= 1) & (steps <= stride))  # the snapped last one is no longer
            # the fewest tubelets that cover the (padded) axis at this stride
            assert len(positions) == -(-end // stride) + 1
            covered = np.zeros(max(length, size), bool)
            for p in positions:
                covered[p : p + size] = True
            assert covered.all()


@pytest.mark.parametrize(("size", "overlap"), [(64, 64), (64, 100), (64, -1), (1, 1)])
def test_an_overlap_outside_0_to_size_minus_1_is_refused(size, overlap):
    with pytest.raises(ValueError, match="overlap"):
        axis_positions(200, size, overlap)
    with pytest.raises(ValueError, match="overlap"):
        Tiling((200, 200), (size, size), (0, overlap)).split(torch.zeros(1, 3, 200, 200))
    with pytest.raises(ValueError, match="overlap"):
        _ = Tiling((200, 200), (size, size), (overlap, 0)).rows


def test_tiling_positions_count_and_padding():
    tiling = Tiling((144, 176), (64, 64), (16, 16))
    assert tiling.rows == (0, 48, 80) and tiling.cols == (0, 48, 96, 112)
    assert tiling.count == 12 and len(tiling.positions) == 12
    assert tiling.positions[:5] == [(0, 0), (0, 48), (0, 96), (0, 112), (48, 0)]
    assert tiling.padded == (144, 176)
    nerv_enc = Tiling((144, 176), (128, 192))  # full-frame tubelet wider than the frame
    assert nerv_enc.rows == (0, 16) and nerv_enc.cols == (0,) and nerv_enc.padded == (144, 192)


def test_a_frame_smaller_than_the_tubelet_is_one_edge_padded_tubelet():
    tiling = Tiling((29, 37), (64, 64), (8, 8))
    assert (tiling.count, tiling.positions, tiling.padded) == (1, [(0, 0)], (64, 64))
    frames = torch.rand(2, 3, 29, 37, generator=torch.Generator().manual_seed(0))
    (tube,) = tiling.split(frames)
    assert tube.shape == (2, 3, 64, 64)
    assert torch.equal(tube[..., :29, :37], frames)
    assert torch.equal(tube[..., 29:, :37], frames[..., 28:29, :].expand(-1, -1, 35, -1))
    assert torch.equal(tube[..., :29, 37:], frames[..., :, 36:37].expand(-1, -1, -1, 27))
    assert torch.equal(tube[..., 29:, 37:], frames[..., 28:29, 36:37].expand(-1, -1, 35, 27))


def test_split_cuts_each_tubelet_at_its_position():
    tiling = Tiling((70, 131), (32, 48), (5, 9))
    frames = torch.rand(3, 3, 70, 131, generator=torch.Generator().manual_seed(1))
    tubes = tiling.split(frames)
    assert tubes.shape == (tiling.count, 3, 3, 32, 48)
    for tube, (y, x) in zip(tubes, tiling.positions, strict=True):
        assert torch.equal(tube, frames[..., y : y + 32, x : x + 48])


# ----------------------------------------------------------------------------------- fusion

SIZES = [(37, 29), (29, 37), (70, 131), (131, 70), (144, 176), (64, 64), (65, 63), (1, 1)]
LAYOUTS = [((64, 64), (0, 0)), ((64, 64), (16, 8)), ((16, 12), (0, 0)), ((16, 12), (5, 11))]


@pytest.mark.parametrize("frame", SIZES)
@pytest.mark.parametrize(("tube", "overlap"), LAYOUTS)
def test_split_then_fuse_gives_the_frames_back(frame, tube, overlap):
    tiling = Tiling(frame, tube, overlap)
    frames = torch.rand(2, 3, *frame, generator=torch.Generator().manual_seed(sum(frame)))
    tubes = tiling.split(frames)
    assert torch.equal(tiling.fuse(tubes, "crop"), frames)
    blended = tiling.fuse(tubes, "blend")
    assert blended.shape == frames.shape
    torch.testing.assert_close(blended, frames, atol=1e-6, rtol=0)


@pytest.mark.parametrize("frame", SIZES)
@pytest.mark.parametrize(("tube", "overlap"), LAYOUTS)
def test_fusing_constant_tubelets_leaves_no_seams(frame, tube, overlap):
    tiling = Tiling(frame, tube, overlap)
    tubes = torch.full((tiling.count, 2, 3, *tube), 0.3)
    assert torch.equal(tiling.fuse(tubes, "crop"), torch.full((2, 3, *frame), 0.3))
    torch.testing.assert_close(
        tiling.fuse(tubes, "blend"), torch.full((2, 3, *frame), 0.3), atol=1e-6, rtol=0
    )


def owners_by_nearest_centre(positions: tuple[int, ...], size: int, length: int) -> np.ndarray:
    """Per pixel, the tubelet whose centre is nearest to the pixel's centre (ties go to the
    later one): the tubelet in whose interior the pixel lies deepest."""
    centres = np.array(positions) + size / 2
    pixels = np.arange(length)[:, None] + 0.5
    distance = np.abs(pixels - centres[None, :])
    # argmin picks the first of equals: search the reversed list to prefer the later one
    return len(positions) - 1 - np.argmin(distance[:, ::-1], axis=1)


def owner_map(tiling: Tiling) -> np.ndarray:
    """Crop-fuse tubelets filled with their own index: (H, W) index of the source tubelet."""
    h, w = tiling.tube
    tubes = torch.arange(tiling.count, dtype=torch.float32).view(-1, 1, 1, 1, 1)
    fused = tiling.fuse(tubes.expand(-1, 1, 1, h, w), "crop")[0, 0]
    return fused.numpy().astype(int)


def test_crop_splits_overlaps_in_the_middle_including_the_snapped_last_tubelet():
    tiling = Tiling((144, 176), (64, 64), (16, 16))  # rows (0, 48, 80), cols (0, 48, 96, 112)
    owners = owner_map(tiling)
    row_of, col_of = np.divmod(owners, len(tiling.cols))
    # columns: overlaps [48, 64) and [96, 112) cut at 56 and 104; the snapped last tubelet
    # overlaps [112, 160) and takes over at 136
    expected_cols = np.repeat([0, 1, 2, 3], [56, 104 - 56, 136 - 104, 176 - 136])
    expected_rows = np.repeat([0, 1, 2], [56, 96 - 56, 144 - 96])  # [80, 112) cut at 96
    np.testing.assert_array_equal(col_of, np.broadcast_to(expected_cols, (144, 176)))
    np.testing.assert_array_equal(row_of, np.broadcast_to(expected_rows[:, None], (144, 176)))


@pytest.mark.parametrize(
    ("frame", "tube", "overlap"),
    [
        ((144, 176), (64, 64), (0, 0)),
        ((144, 176), (64, 64), (16, 16)),
        ((70, 131), (32, 48), (5, 9)),
        ((37, 29), (16, 12), (15, 11)),  # the largest overlap: every pixel in many tubelets
        ((65, 100), (64, 64), (0, 0)),  # snapped by 1 and by 36 pixels
        ((29, 37), (64, 64), (8, 8)),
    ],
)
def test_crop_takes_each_pixel_from_the_tubelet_it_lies_deepest_in(frame, tube, overlap):
    tiling = Tiling(frame, tube, overlap)
    owners = owner_map(tiling)
    rows = owners_by_nearest_centre(tiling.rows, tube[0], frame[0])
    cols = owners_by_nearest_centre(tiling.cols, tube[1], frame[1])
    np.testing.assert_array_equal(owners, rows[:, None] * len(tiling.cols) + cols[None, :])
    # and that tubelet covers the pixel
    tops = np.array([p[0] for p in tiling.positions])[owners]
    lefts = np.array([p[1] for p in tiling.positions])[owners]
    ys, xs = np.indices(frame)
    assert np.all((ys - tops >= 0) & (ys - tops < tube[0]))
    assert np.all((xs - lefts >= 0) & (xs - lefts < tube[1]))


def column_index_field(tiling: Tiling, fusion: str = "blend") -> np.ndarray:
    """Fuse tubelets filled with their column index (0, 1, ...)."""
    h, w = tiling.tube
    index = torch.tensor([float(j) for _ in tiling.rows for j in range(len(tiling.cols))])
    return tiling.fuse(index.view(-1, 1, 1, 1, 1).expand(-1, 1, 1, h, w), fusion)[0, 0].numpy()


@pytest.mark.parametrize(
    ("width", "overlap", "start"),
    [(112, 16, 48), (100, 0, 36)],  # a 16-pixel overlap; a snapped last tubelet: 28 pixels
)
def test_blend_ramps_linearly_across_the_overlap(width, overlap, start):
    tiling = Tiling((64, width), (64, 64), (0, overlap))
    assert tiling.cols == (0, start)
    fused = column_index_field(tiling)
    assert np.all(fused == fused[:1])  # the same in every row: no ramp across the rows
    row = fused[0]
    span = 64 - start
    np.testing.assert_allclose(row[:start], 0, atol=1e-6)  # only tubelet 0
    np.testing.assert_allclose(row[64:], 1, atol=1e-6)  # only tubelet 1
    ramp = row[start:64]
    assert np.all((ramp > 0) & (ramp < 1)) and np.all(np.diff(ramp) > 0)
    # linear in the pixel centres: (x - start + 1/2) / overlap
    np.testing.assert_allclose(ramp, (np.arange(span) + 0.5) / span, atol=1e-6)


def test_blend_ramps_along_the_rows_too():
    tiling = Tiling((112, 64), (64, 64), (16, 0))  # rows (0, 48)
    h, w = tiling.tube
    tubes = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1, 1).expand(-1, 1, 1, h, w)
    column = tiling.fuse(tubes, "blend")[0, 0, :, 17].numpy()
    assert np.all(np.diff(column) >= 0)
    np.testing.assert_allclose(column[48:64], (np.arange(16) + 0.5) / 16, atol=1e-6)


@pytest.mark.parametrize(
    ("width", "overlap"), [(176, 16), (128, 16), (176, 40), (300, 60), (131, 9)]
)
def test_blend_is_monotonic_between_tubelets_of_increasing_value(width, overlap):
    fused = column_index_field(Tiling((64, width), (64, 64), (0, overlap)))
    assert np.all(np.diff(fused, axis=1) >= -1e-6)
    assert fused[0, 0] == pytest.approx(0) and fused[0, -1] == pytest.approx(fused.max())


@pytest.mark.parametrize("fusion", ["mean", "Crop", "", "average"])
def test_an_unknown_fusion_is_refused(fusion):
    tiling = Tiling((80, 96), (64, 64))
    with pytest.raises(ValueError, match="fusion"):
        tiling.fuse(tiling.split(torch.zeros(1, 3, 80, 96)), fusion)


# ------------------------------------------------------------------- smallest-model coding


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "small": rng.integers(0, 16, 50),
        "large": rng.integers(-5, 300, 100_000),
        "gaussian": np.rint(rng.normal(7, 2, 20_000)).clip(0, 15).astype(np.int64),
        "bimodal": np.concatenate([np.zeros(3000, int), np.full(3000, 15), rng.integers(0, 16, 9)]),
        "two-d": rng.integers(-3, 4, (17, 23)),
        "constant": np.full(77, 3),
        "one": np.array([9]),
        "empty": np.zeros(0, np.int64),
    }


@pytest.mark.parametrize("name", list(arrays()))
def test_smallest_round_trips(name):
    array = arrays()[name]
    data = encode_smallest(array)
    decoded = decode_smallest(data, array.shape, name)
    assert decoded.dtype == np.int32 and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)
    assert smallest_model(data) in ENTROPY_MODELS


def alternatives(array: np.ndarray) -> dict[str, bytes]:
    """The three complete payloads `encode_smallest` chooses among (docs/bitstream.md)."""
    flat = array.reshape(-1).astype(np.int32)
    out = {"histogram": encode_uvarint(0) + encode_histogram(flat)}
    mean = float(flat.mean())
    m = int(mean_indices(np.array(mean)))
    for code, spread in ((1, float(flat.std())), (2, float(np.abs(flat - mean).mean()))):
        s = int(scale_indices(np.array(spread)))
        name = ENTROPY_MODELS[code]
        model = encode_uvarint(code) + encode_svarint(m) + encode_uvarint(s)
        out[name] = model + encode_quantized(flat, m, s, name)
    return out


@pytest.mark.parametrize("name", ["small", "large", "gaussian", "bimodal", "two-d", "constant"])
def test_smallest_is_no_longer_than_each_alternative(name):
    array = arrays()[name]
    chosen = encode_smallest(array)
    options = alternatives(array)
    for model, payload in options.items():
        # every alternative is itself a valid payload of its model ...
        assert smallest_model(payload) == model
        np.testing.assert_array_equal(decode_smallest(payload, array.shape, model), array)
        # ... and none is shorter than the one chosen
        assert len(chosen) <= len(payload), model
    assert len(chosen) == min(len(p) for p in options.values())
    assert options[smallest_model(chosen)] == chosen


def test_the_choice_depends_on_the_tensor():
    data = arrays()
    # a small tensor: a histogram's counts cost more than a 3-byte parametric model
    assert smallest_model(encode_smallest(data["small"])) in ("gaussian", "laplace")
    # two spikes: no Gaussian or Laplace fits, the histogram codes them in ~1 bit each
    bimodal = encode_smallest(data["bimodal"])
    assert smallest_model(bimodal) == "histogram"
    assert len(bimodal) < len(alternatives(data["bimodal"])["gaussian"]) / 2
    assert len(bimodal) < data["bimodal"].size / 8 * 1.2


@pytest.mark.parametrize("name", list(arrays()))
def test_coded_bytes_are_the_entropy_coded_words(name):
    array = arrays()[name]
    data = encode_smallest(array)
    words = coded_bytes(data)
    assert words % 4 == 0  # whole 32-bit ANS words
    if len(np.unique(array)) <= 1:
        assert words == 0  # a constant (or empty) tensor needs no coded bits
    else:
        assert 0 < words < len(data)
        # the words end the payload: cutting them off leaves a model that no longer decodes
        with pytest.raises(BitstreamError):
            decode_smallest(data[: len(data) - words], array.shape, name)


def test_corrupt_smallest_payloads_raise_bitstream_error():
    array = arrays()["small"]
    data = encode_smallest(array)
    bad = {
        "empty": b"",
        "unknown model code": encode_uvarint(3) + data[1:],
        "overlong model code": b"\x81\x00" + data[1:],
        "model switched": encode_uvarint(2 if data[0] == 1 else 1) + data[1:],
        "half a word extra": data + b"\x01",
        "a word extra": data + b"\x07\x00\x00\x00",
        "last word zero": data[:-4] + bytes(4),
    }
    bad.update({f"truncated to {n}": data[:n] for n in range(len(data))})
    for what, payload in bad.items():
        with pytest.raises(BitstreamError):
            decode_smallest(payload, array.shape, "tensor")
            pytest.fail(f"{what} decoded")
    histogram = encode_smallest(arrays()["bimodal"])
    assert smallest_model(histogram) == "histogram"
    for n in (1, 2, 50, len(histogram) - 4, len(histogram) - 1):
        with pytest.raises(BitstreamError):
            decode_smallest(histogram[:n], (6009,), "tensor")
    with pytest.raises(BitstreamError, match="histogram counts"):
        decode_smallest(histogram, (6010,), "tensor")  # a shape that does not fit the counts
    with pytest.raises(BitstreamError, match="entropy model"):
        smallest_model(encode_uvarint(7))
