"""A codec file whose header declares more or fewer parameters than its data holds is refused
(docs/bitstream.md 3.3, 3.4): the golden files of format version 2 with one field of the
model or setup section changed, lengths and CRCs recomputed (`Container` rebuilds the file).
Format version 1 decoded the HiNeRV and TeCoNeRV files that declare more parameters
silently (the same changes made to its golden files)."""

from __future__ import annotations

import pytest

from conftest import REPO
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.nvrc.backbones import HINERV
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.coding import BitstreamError, Container

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = REPO / "tests" / "data" / "format_v2"


def with_first_section_field(codec: str, fields, name: str, value) -> bytes:
    """The golden file of ``codec`` with field ``name`` of its first section set to ``value``."""
    container = Container.from_bytes((DATA / f"{codec}.inrc").read_bytes())
    (tag, section), *rest = container.sections
    values = {**fields.parse(section, "first section"), name: value}
    assert values != fields.parse(section, "first section")
    changed = [(tag, fields.write(values)), *rest]
    return Container(container.codec, container.header, changed).to_bytes()


@pytest.mark.parametrize(
    ("name", "value", "tensor", "error"),
    [
        # stage 3 MLP 4 -> 5 wide: fc1 declares 20 symbols, holds 16
        ("channels", (8, 8, 4, 5), "stages.3.blocks.0.fc1.weight", "more or fewer symbols"),
        # level-0 input grid (1, 2, 3, 1) -> (1, 2, 4, 1): 8 symbols declared, 6 held
        ("grid_size", (1, 2, 4, 1), "grids.0", "more or fewer symbols"),
        # stage-0 temporal local grid 4 -> 5 frames: refused with the model section, as a
        # grid of more slices than the video has frames
        ("local_grid_size", (5, 2), "model", "5 slices for 4 frames"),
        # ... 4 -> 3 frames: 24 declared, 32 held
        ("local_grid_size", (3, 2), "stages.0.local_grids.0", "does not end where it should"),
    ],
)
def test_hinerv_file_declaring_other_parameter_counts_fails(name, value, tensor, error):
    data = with_first_section_field("hinerv", hinerv.MODEL_FIELDS, name, value)
    with pytest.raises(BitstreamError, match=f"^{tensor}: .*{error}"):
        hinerv.read_payload(data)


@pytest.mark.parametrize(
    "unique_counts",
    [(0, 13, 0, 7), (0, 12, 0, 8), (0, 112, 0, 7), (0, 11, 0, 7), (0, 12, 0, 6)],
)
def test_teconerv_file_declaring_other_parameter_counts_fails(unique_counts):
    data = with_first_section_field(
        "teconerv", teconerv.SETUP_FIELDS, "unique_counts", unique_counts
    )
    with pytest.raises(BitstreamError, match="^clip 0 tubelet 0 layer [01]: "):
        teconerv.read_payload(data)


@pytest.mark.parametrize(
    ("name", "value"),
    [("channels", (8, 8, 4, 5)), ("grid_size", (1, 2, 4, 1)), ("block", (1, 4, 4))],
)
def test_nvrc_file_declaring_other_parameter_counts_fails(name, value):
    data = with_first_section_field("nvrc", nvrc.model_fields(HINERV), name, value)
    with pytest.raises(BitstreamError, match="entropy-coded data"):
        nvrc.read_payload(data)
