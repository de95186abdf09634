"""NVRC's deterministic coding arithmetic (docs/nvrc.md, "Coding path").

The references are independent of the code under test: torch's float64 ``exp``, GELU and
LayerNorm, scipy's ``erf``, the coder's own tables (`inrcodec.coding.tables`) and the float
`ContextModel` used in training.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import erf

from inrcodec.codecs.nvrc.fixed_point import (
    GELU_TABLE,
    LN_SCALE_MIN,
    LN_SCALE_RATIO,
    MEAN_INDEX_LIMIT,
    SCALE_INDEX_LIMIT,
    det_exp,
    fixed_gelu,
    fixed_layer_norm,
    gelu_table_checksum,
    integer_split,
    log_scale_indices,
    tensor_mean_indices,
)
from inrcodec.codecs.nvrc.grid_coding import (
    ContextEvaluator,
    ContextModel,
    FixedContextModel,
    causal_mask,
)
from inrcodec.coding import tables

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ONE = 2.0**16

#: SHA-256 of the GELU table (1/64 steps on [-8, 8]), measured on this version of the table.
GELU_TABLE_SHA256 = "22fc22edf5145cd083148531c87902cd034d048ea4551df1869cf1c7da58f927"


# ---------------------------------------------------------------------------------- det_exp


def test_det_exp_matches_exp_to_a_few_ulps():
    rng = torch.Generator().manual_seed(0)
    x = torch.cat(
        [
            torch.linspace(-50.0, 50.0, 100_001, dtype=torch.float64),
            torch.randn(50_000, generator=rng, dtype=torch.float64) * 20,
            torch.rand(10_000, generator=rng, dtype=torch.float64) * 1400 - 700,
            torch.tensor([0.0, -0.0, 1.0, -1.0, math.log(2), 700.0, -700.0], dtype=torch.float64),
        ]
    )
    exact = torch.exp(x)
    error = ((det_exp(x) - exact).abs() / exact).max().item()
    assert error < 1e-14, error
    assert det_exp(torch.tensor([0.0])).item() == 1.0
    # Clamped to [-700, 700]: finite and positive far outside.
    far = det_exp(torch.tensor([-1e6, 1e6, -math.inf, math.inf]))
    assert torch.equal(far, det_exp(torch.tensor([-700.0, 700.0, -700.0, 700.0])))
    assert torch.isfinite(far).all() and (far > 0).all()
    # float32 input is computed in float64.
    assert det_exp(torch.tensor([1.5], dtype=torch.float32)).dtype == torch.float64


def test_det_exp_is_elementwise_deterministic():
    rng = torch.Generator().manual_seed(1)
    x = torch.randn(997, generator=rng, dtype=torch.float64) * 30
    batch = det_exp(x)
    alone = torch.cat([det_exp(x[i : i + 1]) for i in range(len(x))])
    assert torch.equal(batch, alone)
    other = torch.randn(5003, generator=rng, dtype=torch.float64)
    mixed = det_exp(torch.cat([other[:2000], x, other[2000:]]))
    assert torch.equal(mixed[2000 : 2000 + len(x)], batch)
    strided = det_exp(x.reshape(1, -1).expand(3, -1).T)  # a non-contiguous 2-D view
    assert torch.equal(strided, batch.reshape(-1, 1).expand(-1, 3))


# ------------------------------------------------------------------------------------ GELU


def test_gelu_table_is_pinned():
    assert gelu_table_checksum() == GELU_TABLE_SHA256
    assert GELU_TABLE.shape == (1025,) and GELU_TABLE.dtype == torch.float64


def test_gelu_table_entries_are_rounded_gelu_at_sixty_fourths():
    j = np.arange(-512, 513) / 64
    reference = np.round(0.5 * j * (1 + erf(j / np.sqrt(2))) * ONE)  # scipy's erf
    np.testing.assert_array_equal(GELU_TABLE.numpy(), reference)
    assert GELU_TABLE[512] == 0 and GELU_TABLE[-1] == 8 * ONE  # GELU(0), GELU(8) ~ 8


def test_fixed_gelu_follows_float_gelu():
    x = torch.linspace(-10.0, 10.0, 200_001, dtype=torch.float64)
    fixed = fixed_gelu(torch.round(x * ONE))
    assert torch.equal(fixed, torch.round(fixed))  # integers in, integers out
    error = (fixed / ONE - F.gelu(x)).abs().max().item()
    assert error < 1e-4, error  # measured 3.1e-5
    # Identity above the table, zero below it.
    big = torch.tensor([8 * ONE, 9 * ONE + 3, 4000 * ONE])
    assert torch.equal(fixed_gelu(big), big)
    assert torch.equal(fixed_gelu(torch.tensor([-8 * ONE - 1, -300 * ONE])), torch.zeros(2))
    # The table's own points come out exactly.
    grid = torch.arange(-512, 512, dtype=torch.float64) * ONE / 64
    assert torch.equal(fixed_gelu(grid), GELU_TABLE[:-1])


# ------------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("channels", [2, 5, 8, 13])
def test_fixed_layer_norm_matches_float_layer_norm(channels):
    rng = torch.Generator().manual_seed(channels)
    spread = torch.rand(300, 3, 1, generator=rng, dtype=torch.float64) * 50 + 0.5
    offset = torch.randn(300, 3, 1, generator=rng, dtype=torch.float64) * 20
    values = torch.randn(300, 3, channels, generator=rng, dtype=torch.float64) * spread + offset
    fixed = torch.round(values * ONE)  # channels last
    out = fixed_layer_norm(fixed)
    assert out.shape == fixed.shape and torch.equal(out, torch.round(out))
    reference = F.layer_norm(fixed / ONE, (channels,), eps=1e-5)
    error = (out / ONE - reference).abs().max().item()
    assert error < 1e-3, error
    assert error <= 0.51 / ONE, error  # measured: half the last fixed-point bit (rounding)


def test_fixed_layer_norm_of_a_constant_position_is_zero():
    x = torch.full((4, 2, 6), 3 * ONE)
    assert torch.equal(fixed_layer_norm(x), torch.zeros_like(x))


# --------------------------------------------------------------------------------- indices


def test_scale_indices_agree_with_the_coding_tables():
    rng = np.random.default_rng(0)
    top = math.log(tables.SCALE_TABLE[-1])
    log_scale = rng.uniform(LN_SCALE_MIN, top, 200_000)
    # Points right at the table's boundaries (geometric midpoints) and at its entries too.
    boundaries = np.log(np.sqrt(tables.SCALE_TABLE[:-1] * tables.SCALE_TABLE[1:]))
    log_scale = np.concatenate([log_scale, boundaries, np.log(tables.SCALE_TABLE)])
    mine = log_scale_indices(torch.from_numpy(log_scale)).numpy()
    theirs = tables.scale_indices(np.exp(log_scale))
    differ = mine != theirs
    # Disagreement only within 1e-9 relative of a boundary, and by one index at most.
    scale = np.exp(log_scale[differ])
    nearest = np.abs(scale[:, None] / np.exp(boundaries)[None, :] - 1).min(axis=1)
    assert (nearest < 1e-9).all()
    assert np.abs(mine - theirs).max() <= 1
    assert differ[:200_000].sum() == 0  # random values never sit on a boundary
    np.testing.assert_array_equal(mine[-256:], np.arange(256))  # every table entry itself


def test_scale_indices_clamp_and_map_nan_to_zero():
    values = [-1e9, LN_SCALE_MIN - 1, 50.0, 1e300, -math.inf, math.inf, math.nan]
    values = torch.tensor(values, dtype=torch.float64)
    assert log_scale_indices(values).tolist() == [0, 0, 255, 255, 0, 255, 0]
    edge = LN_SCALE_MIN + SCALE_INDEX_LIMIT * LN_SCALE_RATIO
    ends = torch.tensor([LN_SCALE_MIN, edge], dtype=torch.float64)
    assert log_scale_indices(ends).tolist() == [0, SCALE_INDEX_LIMIT]
    assert log_scale_indices(ends).dtype == torch.int64


def test_mean_indices_agree_with_the_coding_tables():
    rng = np.random.default_rng(1)
    means = np.concatenate(
        [
            rng.uniform(-1000, 1000, 200_000),
            rng.normal(0, 1, 50_000),
            (np.arange(-300, 300) + 0.5) / 64,  # exact ties: both round half to even
        ]
    )
    mine = tensor_mean_indices(torch.from_numpy(means)).numpy()
    np.testing.assert_array_equal(mine, tables.mean_indices(means))
    assert np.abs(mine / 64 - means).max() <= 1 / 128


def test_mean_indices_clamp_and_map_nan_to_zero():
    values = [1e9, -1e9, math.inf, -math.inf, math.nan, 0.5 / 64, 1.5 / 64]
    values = torch.tensor(values, dtype=torch.float64)
    expected = [MEAN_INDEX_LIMIT, -MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT, -MEAN_INDEX_LIMIT, 0, 0, 2]
    assert tensor_mean_indices(values).tolist() == expected


# --------------------------------------------------------------------------- context model


def random_context_model(width, kernel, blocks, step, seed, pointwise=False):
    """A float64 `ContextModel` whose weights are ``q * step`` with random integers q, and
    those integers and the biases (what the bitstream carries)."""
    generator = torch.Generator().manual_seed(seed)
    model = ContextModel(width, kernel, blocks, pointwise=pointwise).double()
    weights, biases = [], []
    with torch.no_grad():
        for i, conv in enumerate(model.convs):
            w = torch.randn(conv.weight.shape, generator=generator, dtype=torch.float64) * 0.3
            q = torch.round(w / step) * model.weight_mask(i).double()
            conv.weight.copy_(q * step)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator).double() * 0.3)
            weights.append(q)
            biases.append(conv.bias.detach().clone())
    return model, weights, biases


@pytest.mark.parametrize("pointwise", [False, True])
def test_fixed_context_model_agrees_with_the_float_model(pointwise):
    step = 0.018
    model, weights, biases = random_context_model(8, 5, 3, step, seed=0, pointwise=pointwise)
    generator = torch.Generator().manual_seed(1)
    symbols = torch.randint(-20, 21, (50, 1, 16, 8, 8), generator=generator)
    with torch.no_grad():
        mean, log_scale = model(symbols.double())
    mean, log_scale = mean[:, 0], log_scale[:, 0]
    fixed = FixedContextModel.from_coded(weights, [step] * 3, biases)
    mean_index, scale_index = fixed.forward(symbols)
    assert mean_index.shape == scale_index.shape == (50, 16, 8, 8)
    assert mean_index.dtype == scale_index.dtype == torch.int64
    spread = 0.5 if pointwise else 1  # a pointwise model mixes fewer symbols
    assert mean.std() > spread and log_scale.std() > spread  # a non-trivial model
    # Within the grid resolution: half a grid step of rounding, the rest is arithmetic.
    mean_error = (mean_index / 64 - mean).abs().max().item()
    assert mean_error <= 1 / 64, mean_error  # measured 0.0105
    continuous = (log_scale - LN_SCALE_MIN) / LN_SCALE_RATIO
    inside = (continuous >= 0) & (continuous <= 255)
    assert inside.float().mean() > 0.3
    scale_error = (scale_index - continuous)[inside].abs().max().item()
    assert scale_error <= 1, scale_error  # measured 0.55
    assert (scale_index[continuous < 0] == 0).all()
    assert (scale_index[continuous > 255] == 255).all()
    # Integer symbols in int32 or float give the same indices.
    again = fixed.forward(symbols.to(torch.int32).double())
    assert torch.equal(again[0], mean_index) and torch.equal(again[1], scale_index)


def test_fixed_context_model_refuses_oversized_architectures():
    wide = [torch.zeros(65, 1, 3, 3, 3), torch.zeros(2, 65, 3, 3, 3)]
    with pytest.raises(ValueError, match="wider"):
        FixedContextModel.from_coded(wide, [1.0, 1.0], [torch.zeros(65), torch.zeros(2)])
    big_kernel = [torch.zeros(2, 1, 9, 9, 9)]
    with pytest.raises(ValueError, match="kernel"):
        FixedContextModel.from_coded(big_kernel, [1.0], [torch.zeros(2)])


def test_fixed_context_model_ignores_taps_outside_the_causal_mask():
    step = 0.02
    _, weights, biases = random_context_model(4, 3, 2, step, seed=3)
    outside = [1 - causal_mask(3, include_centre=i > 0).double() for i in range(2)]
    noisy = [q + 7 * mask for q, mask in zip(weights, outside, strict=True)]
    symbols = torch.randint(-9, 10, (6, 1, 4, 4, 4), generator=torch.Generator().manual_seed(4))
    clean = FixedContextModel.from_coded(weights, [step] * 2, biases).forward(symbols)
    dirty = FixedContextModel.from_coded(noisy, [step] * 2, biases).forward(symbols)
    assert torch.equal(clean[0], dirty[0]) and torch.equal(clean[1], dirty[1])


@pytest.mark.parametrize("pointwise", [False, True])
def test_first_output_depends_on_no_symbol(pointwise):
    """Causality: the first position of a partition sees only zero padding."""
    _, weights, biases = random_context_model(4, 3, 3, 0.02, seed=5, pointwise=pointwise)
    fixed = FixedContextModel.from_coded(weights, [0.02] * 3, biases)
    generator = torch.Generator().manual_seed(6)
    a = torch.randint(-30, 31, (5, 1, 4, 4, 4), generator=generator)
    b = torch.randint(-30, 31, (5, 1, 4, 4, 4), generator=generator)
    ma, sa = fixed.forward(a)
    mb, sb = fixed.forward(b)
    assert torch.equal(ma[:, 0, 0, 0], mb[:, 0, 0, 0])
    assert torch.equal(sa[:, 0, 0, 0], sb[:, 0, 0, 0])
    assert not torch.equal(ma, mb)


@pytest.mark.parametrize(
    ("width", "kernel", "blocks", "rows", "block", "pointwise"),
    [
        (8, 5, 3, [7, 3, 5], (4, 4, 4), False),
        (4, 3, 3, [2, 1, 4], (4, 4, 4), False),
        (3, 3, 1, [2, 3], (3, 2, 5), False),  # a single layer, an odd block
        (4, 3, 3, [3, 2], (16, 8, 8), False),  # the default block
        (8, 5, 3, [7, 3, 5], (4, 4, 4), True),  # only the first layer sees neighbours
        (6, 3, 2, [9], (8, 4, 4), True),
        (4, 3, 3, [3, 2], (3, 4, 1), True),  # one column: some values of f hold no position
    ],
)
def test_context_decoder_reproduces_the_batched_model(
    width, kernel, blocks, rows, block, pointwise
):
    models, symbols, means, scales = [], [], [], []
    generator = torch.Generator().manual_seed(sum(rows))
    for level, n in enumerate(rows):
        step = 0.015 + 0.005 * level  # different weights and steps per level
        _, weights, biases = random_context_model(
            width, kernel, blocks, step, seed=10 + level, pointwise=pointwise
        )
        model = FixedContextModel.from_coded(weights, [step] * blocks, biases)
        x = torch.randint(-25, 26, (n, 1, *block), generator=generator)
        m, s = model.forward(x)
        models.append(model)
        symbols.append(x.reshape(n, -1))
        means.append(m.reshape(n, -1))
        scales.append(s.reshape(n, -1))
    symbols, means, scales = (torch.cat(t) for t in (symbols, means, scales))
    assert len(torch.unique(means)) > 10 and len(torch.unique(scales)) > 5
    decoder = ContextEvaluator(models, rows, block)
    assert sorted(torch.cat(decoder.fronts).tolist()) == list(range(math.prod(block)))
    if pointwise:
        assert len(decoder.fronts) < math.prod(block)  # some positions decode together
    for front in decoder.fronts:  # unset symbols are garbage: a wrong order shows
        decoder.buffers[0][decoder.geometry.centres[front], 0] = 99.0
    for front in decoder.fronts:
        m, s = decoder.front_indices(front)
        assert torch.equal(m, means[:, front]), front
        assert torch.equal(s, scales[:, front]), front
        decoder.set_symbols(front, symbols[:, front])


# --------------------------------------------------------------------------- integer_split


def test_integer_split_is_exact_for_float16_within_its_range():
    rng = torch.Generator().manual_seed(7)
    for magnitude in (1e-3, 0.7, 1.0, 300.0, 60000.0):
        # float16 values above peak / 16: every bit of theirs is a multiple of the step.
        values = (torch.rand(2000, generator=rng) * 0.93 + 0.07) * magnitude
        values = (values * torch.sign(torch.randn(2000, generator=rng))).half()
        values[0] = magnitude  # the peak
        values[:5] = 0.0
        q, step = integer_split(values)
        assert q.dtype == torch.float64 and torch.equal(q, torch.round(q))
        assert q.abs().max() < 2**15
        assert math.log2(step) == int(math.log2(step))  # a power of two
        assert torch.equal(q * step, values.double())


def test_integer_split_rounds_tiny_values_to_the_step():
    values = torch.tensor([3.0, 1.5e-4, -(2.0**-20), 0.1], dtype=torch.float16)
    q, step = integer_split(values)
    assert step == 2.0**-13 and q.abs().max() < 2**15
    assert ((q * step - values.double()).abs() <= step / 2).all()
    assert q[0] * step == 3.0 and q[2] == 0


def test_integer_split_of_zeros():
    q, step = integer_split(torch.zeros(3, 4, dtype=torch.float16))
    assert step == 1.0 and q.shape == (3, 4) and q.dtype == torch.float64
    assert torch.equal(q, torch.zeros(3, 4, dtype=torch.float64))
