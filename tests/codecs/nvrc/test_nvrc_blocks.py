"""The 3-D block partition of NVRC's feature grids (Sec. 3.1, eq. 2)."""

from __future__ import annotations

import pytest
import torch

from inrcodec.codecs.nvrc.grid_coding import BlockLayout

SIZE, BLOCK = (20, 9, 11, 3), (16, 8, 8)


def test_block_layout_geometry():
    layout = BlockLayout(SIZE, BLOCK)
    assert layout.counts == (2, 2, 2)
    assert layout.steps_shape == (2, 2, 2, 3)
    assert layout.num_partitions == 24
    assert BlockLayout((32, 16, 8, 2)).counts == (2, 2, 1)  # default block (16, 8, 8)
    assert BlockLayout((1, 1, 1, 5)).num_partitions == 5


def test_block_layout_round_trip_and_padding():
    layout = BlockLayout(SIZE, BLOCK)
    grid = torch.randn(SIZE, generator=torch.Generator().manual_seed(10))
    blocks = layout.to_blocks(grid)
    assert blocks.shape == (24, 1, 16, 8, 8)
    assert torch.equal(layout.from_blocks(blocks), grid)
    valid = layout.valid()
    assert valid.shape == blocks.shape and valid.dtype == torch.bool
    assert int(valid.sum()) == 20 * 9 * 11 * 3
    assert (blocks[~valid] == 0).all()
    assert (blocks[valid] != 0).all()  # randn has no exact zeros
    # No padding: a whole number of blocks.
    even = BlockLayout((32, 16, 8, 2))
    g = torch.randn(even.size)
    assert torch.equal(even.from_blocks(even.to_blocks(g)), g)
    assert bool(even.valid().all())


def test_block_layout_row_order():
    layout = BlockLayout(SIZE, BLOCK)
    grid = torch.randn(SIZE, generator=torch.Generator().manual_seed(11))
    blocks = layout.to_blocks(grid)
    nt, nh, nw = layout.counts
    c_count = SIZE[3]
    # One specific element: (t, h, w, c) = (17, 3, 9, 2) is in block (1, 0, 1), channel 2,
    # i.e. row ((1 * nh + 0) * nw + 1) * C + 2 = 17, at offset (1, 3, 1) inside the block.
    assert float(blocks[17, 0, 1, 3, 1]) == float(grid[17, 3, 9, 2])
    # Every element, eq. (2)'s indexing.
    t, h, w, c = torch.meshgrid(*(torch.arange(s) for s in SIZE), indexing="ij")
    row = ((t // 16 * nh + h // 8) * nw + w // 8) * c_count + c
    assert torch.equal(blocks[row, 0, t % 16, h % 8, w % 8], grid)


def test_block_layout_broadcast_matches_eq2():
    layout = BlockLayout(SIZE, BLOCK)
    per_block = torch.rand(layout.steps_shape, generator=torch.Generator().manual_seed(12)) + 1
    b = layout.broadcast(per_block)
    assert b.shape == (24, 1, 1, 1, 1)
    # eq. (2): delta[t, h, w, c] = delta_blk[t // 16, h // 8, w // 8, c]
    full = per_block.repeat_interleave(16, 0).repeat_interleave(8, 1).repeat_interleave(8, 2)
    full = full[: SIZE[0], : SIZE[1], : SIZE[2]]
    assert torch.equal(layout.to_blocks(full), b * layout.valid())
    assert torch.equal(layout.from_blocks(b.expand(-1, 1, 16, 8, 8)), full)


def test_block_layout_rejects_wrong_shapes():
    layout = BlockLayout(SIZE, BLOCK)
    with pytest.raises(ValueError):
        layout.to_blocks(torch.zeros(20, 9, 11, 2))
    with pytest.raises(ValueError):
        layout.to_blocks(torch.zeros(20, 9, 11))
    with pytest.raises(ValueError):
        layout.broadcast(torch.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError):
        layout.broadcast(torch.zeros(24))
    with pytest.raises(ValueError):
        BlockLayout((20, 9, 11))
    with pytest.raises(ValueError):
        BlockLayout((20, 0, 11, 3))
    with pytest.raises(ValueError):
        BlockLayout(SIZE, (16, 0, 8))
    with pytest.raises(ValueError):
        BlockLayout(SIZE, (16, 8))
