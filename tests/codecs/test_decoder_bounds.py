"""Malformed counts and shapes are refused before the decoder allocates or computes anything
(docs/bitstream.md 2.3): the fields a fuzzer aimed at, changed in the golden files of
``tests/data/format_v2`` with lengths and CRCs recomputed so that the damage reaches the
parsers."""

from __future__ import annotations

import tracemalloc
import zlib
from dataclasses import replace

import numpy as np
import pytest

import inrcodec
from conftest import REPO
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.nvrc.backbones import HINERV
from inrcodec.codecs.registry import module_for_file
from inrcodec.codecs.synthesis import network_memory
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.codecs.teconerv.codec import load_coding_model
from inrcodec.coding import BitstreamError, Container, VideoHeader
from inrcodec.coding.container import FORMAT_VERSION, MAGIC
from inrcodec.coding.fields import Table
from inrcodec.coding.tables import TABLE_VERSION
from inrcodec.coding.varint import ByteReader, encode_svarint, encode_uvarint
from limited import run_limited

pytestmark = pytest.mark.integration

DATA = REPO / "tests" / "data" / "format_v2"


def golden(codec: str) -> bytes:
    return (DATA / f"{codec}.inrc").read_bytes()


def with_header_bytes(data: bytes, header: bytes) -> bytes:
    """``data`` with the video header's bytes replaced (a valid header CRC; the sections as
    they were)."""
    container = Container.from_bytes(data)
    start = len(MAGIC) + 1 + len(encode_uvarint(container.codec))
    end = start + len(container.header.to_bytes())
    count = encode_uvarint(len(container.sections))
    head = data[:start] + header + count
    return head + zlib.crc32(head).to_bytes(4, "little") + data[end + len(count) + 4 :]


def test_the_helper_rebuilds_a_file_exactly():
    data = golden("hinerv")
    assert data[:5] == MAGIC + bytes([FORMAT_VERSION])
    assert with_header_bytes(data, Container.from_bytes(data).header.to_bytes()) == data


@pytest.mark.parametrize("codec", ["hinerv", "nvrc"])
def test_an_odd_4_2_0_height_is_refused_with_the_header(codec, monkeypatch):
    data = golden(codec)
    header = Container.from_bytes(data).header.to_bytes()
    assert header[:2] == bytes([48, 32])  # 48x32, 4:2:0
    odd = with_header_bytes(data, bytes([48, 33]) + header[2:])
    sections_read = []
    monkeypatch.setattr(Container, "section", lambda self, tag: sections_read.append(tag))
    with pytest.raises(BitstreamError, match="4:2:0 needs an even width and height, got 48x33"):
        inrcodec.decode(odd)
    assert sections_read == []  # no payload was parsed, let alone decoded


def unchecked(table: Table, values: dict) -> bytes:
    """``values`` written under the limits of ``table``'s fields, but none of its checks."""
    return b"".join(
        unchecked(field, values) if isinstance(field, Table) else field.write(values)
        for field in table.fields
    )


def test_a_hinerv_mlp_of_width_zero_is_refused_with_the_model_section():
    container = Container.from_bytes(golden("hinerv"))
    values = hinerv.MODEL_FIELDS.parse(container.section(hinerv.MODEL_TAG), "model")
    values["expansions"] = (*values["expansions"][:3], 1 / 16)  # was 16: stage 3 of width 0
    model = unchecked(hinerv.MODEL_FIELDS, values)
    data = Container(container.codec, container.header, [(1, model), container.sections[1]])
    with pytest.raises(BitstreamError, match=r"stage 3 has an MLP of width int\(4 x 0.0625\) = 0"):
        inrcodec.decode(data.to_bytes())  # was a ZeroDivisionError in quant_axis


def test_a_short_hinerv_parameters_section_is_refused_before_any_tensor_is_decoded(monkeypatch):
    container = Container.from_bytes(golden("hinerv"))
    model, parameters = container.section(1), container.section(2)
    decoded = []
    monkeypatch.setattr(hinerv, "decode_smallest", lambda *args: decoded.append(args))
    # 38 tensors: the biases' binary16 values, the others' steps, lengths and model codes
    for size in (0, 10, 453):
        short = Container(container.codec, container.header, [(1, model), (2, parameters[:size])])
        with pytest.raises(BitstreamError, match="parameters section: needs 454 bytes"):
            hinerv.read_payload(short.to_bytes())
    assert decoded == []


# ---------------------------------------------------------------------------------- NVRC


def nvrc_file(sections: dict[int, bytes] | None = None, **model_change) -> bytes:
    """The golden NVRC file with fields of its model section and whole sections replaced."""
    container = Container.from_bytes(golden("nvrc"))
    fields, tag = nvrc.model_fields(HINERV), HINERV.model_tag
    values = fields.parse(container.section(tag), "model")
    replaced = {tag: fields.write({**values, **model_change})}
    replaced |= sections or {}
    pairs = [(tag, replaced.get(tag, payload)) for tag, payload in container.sections]
    return Container(container.codec, container.header, pairs).to_bytes()


@pytest.fixture
def nvrc_builds(monkeypatch) -> list[str]:
    """The device of every `NVRC` structure the reader builds ("meta" for a layout)."""
    devices = []
    build = nvrc.structure

    def recorded(*args):
        model = build(*args)
        devices.append(next(model.parameters()).device.type)
        return model

    monkeypatch.setattr(nvrc, "structure", recorded)
    return devices


def test_the_nvrc_reader_builds_its_structure_once_after_a_layout(nvrc_builds):
    nvrc.read_payload(nvrc_file())
    assert nvrc_builds == ["meta", "cpu"]


def test_an_nvrc_grid_of_2_20_slices_is_refused_before_any_structure(nvrc_builds):
    data = nvrc_file(grid_size=(2**20, 2, 3, 1))  # a 5.4 kB file; was 2**20 slices built
    with pytest.raises(BitstreamError, match=r"grid level 0 \(1048576x2x3\) finer than the 4x"):
        inrcodec.decode(data)
    assert nvrc_builds == []


@pytest.mark.parametrize(
    ("model_change", "sections", "match"),
    [
        ({"phi_min_size": 1}, {}, "psi: needs 792 bytes but only 72 remain"),  # 12 rows, now 132
        ({}, {nvrc.PSI_TAG: bytes(78)}, "psi section: 6 unexpected trailing bytes"),
        ({}, {nvrc.PHI_TAG: bytes(10)}, "phi section: needs .* bytes but only 10 remain"),
        ({"block": (64, 64, 64), "grid_size": (2, 2, 3, 4096)}, {}, "grids: .* positions"),
    ],
)
def test_nvrc_lengths_and_grid_layout_are_checked_on_the_meta_layout_first(
    model_change, sections, match, nvrc_builds
):
    with pytest.raises(BitstreamError, match=match):
        nvrc.read_payload(nvrc_file(sections, **model_change))
    assert nvrc_builds == ["meta"]  # the structure itself was never built


# ------------------------------------------------------------------------------ TeCoNeRV


def synthetic_teconerv(width: int = 64, height: int = 64) -> bytes:
    """One clip for the committed default model: random symbols (the same at every tubelet),
    the real layout."""
    model = load_coding_model()
    cfg = model.net.config
    counts = cfg.unique_counts()
    rng = np.random.default_rng(17)
    tensors = [
        teconerv.CodedTensor(rng.integers(0, 16, n, dtype=np.int32), *np.float16([-0.05, 0.01]))
        for n in counts
        if n
    ]
    tube = (cfg.hypo.height, cfg.hypo.width)
    stream = teconerv.TeCoNeRVPayload(
        model_hash=model.digest,
        model_name=model.name,
        clip_frames=cfg.hypo.frames,
        tube=tube,
        overlap=(0, 0),
        fusion="crop",
        bits=4,
        residual="none",
        keyframe_interval=0,
        unique_counts=counts,
        clips=[[tensors] * teconerv.Tiling((height, width), tube).count],
    )
    header = VideoHeader(width=width, height=height, frame_count=cfg.hypo.frames, fps_num=25)
    return teconerv.write_payload(stream, header)


@pytest.fixture(scope="module")
def teconerv_file() -> bytes:
    """One clip of 64x64 (`synthetic_teconerv`)."""
    return synthetic_teconerv()


@pytest.fixture
def tensors_decoded(monkeypatch) -> list[tuple]:
    """The shape of every tensor the TeCoNeRV reader entropy-decodes."""
    shapes = []
    decode = teconerv.decode_smallest

    def recorded(data, shape, name):
        shapes.append(shape)
        return decode(data, shape, name)

    monkeypatch.setattr(teconerv, "decode_smallest", recorded)
    return shapes


def with_setup(data: bytes, **change) -> bytes:
    container = Container.from_bytes(data)
    values = teconerv.SETUP_FIELDS.parse(container.section(teconerv.SETUP_TAG), "setup")
    setup = teconerv.SETUP_FIELDS.write({**values, **change})
    return Container(container.codec, container.header, [(1, setup), container.sections[1]])


def test_the_synthetic_teconerv_file_decodes(teconerv_file, tensors_decoded):
    video = inrcodec.decode(teconerv_file)
    assert (video.num_frames, video.height, video.width) == (8, 64, 64)
    assert tensors_decoded == [(192,), (864,), (192,)] * 2  # read when parsed, and synthesised


def test_the_teconerv_reader_holds_one_clip_at_a_time(teconerv_file):
    container = Container.from_bytes(teconerv_file)
    clip = container.section(2)  # one clip, with its length
    clips = 4096  # 32 768 frames: 2.8 MB of clips
    header = replace(container.header, frame_count=8 * clips)
    sections = [container.sections[0], (2, clip * clips)]
    data = Container(container.codec, header, sections).to_bytes()
    tracemalloc.start()
    try:
        _, stream = teconerv.read_payload(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(stream.clips) == clips and len(stream.clips[-1][0][1].symbols) == 864
    assert peak < 2 * len(data)  # the sections' copies (3.7 MB); was 8.8 MB, with every clip


@pytest.mark.parametrize("inflated", [2**20, 2**24])
def test_an_inflated_unique_count_is_refused_before_any_clip_is_read(
    inflated, teconerv_file, tensors_decoded
):
    counts = teconerv.read_head(teconerv_file)[1].unique_counts
    data = with_setup(teconerv_file, unique_counts=(counts[0], inflated, *counts[2:]))
    tracemalloc.start()
    try:
        with pytest.raises(BitstreamError, match="tubelet layout does not match its model"):
            inrcodec.decode(data.to_bytes())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tensors_decoded == []  # was: every tensor decoded at the inflated size first
    assert peak < 4 * inflated  # not one int32 per inflated symbol


def test_more_clips_than_the_clips_section_can_hold_are_refused_before_the_first(
    tensors_decoded,
):
    data = golden("teconerv")
    header = Container.from_bytes(data).header.to_bytes()
    assert header[2] == 20  # frames
    many = with_header_bytes(data, header[:2] + encode_uvarint(2**20) + header[3:])
    with pytest.raises(BitstreamError, match=r"clips section \(131072 clips\): needs"):
        teconerv.read_payload(many)
    assert tensors_decoded == []


def constant_tensors(data: bytes, count: int) -> bytes:
    """``data`` (a TeCoNeRV file) with every layer declaring ``count`` unique parameters and
    every tensor of every clip holding ``count`` zeros (docs/bitstream.md 7.2): its range, then
    a Gaussian payload of a constant array, which is its header alone (3.3, 3.6)."""
    container = Container.from_bytes(data)
    setup = teconerv.read_setup(container.section(teconerv.SETUP_TAG))
    counts = tuple(count if n else 0 for n in setup.unique_counts)
    model = encode_uvarint(1) + encode_svarint(0) + encode_uvarint(0)  # Gaussian, mean, scale
    payload = model + encode_uvarint(TABLE_VERSION) + encode_svarint(0) + encode_uvarint(1)
    payload += encode_uvarint(count)  # no span, a tail of `count` lowest symbols
    tensor = bytes(4) + encode_uvarint(len(payload)) + payload
    tensors = setup.tiling(container.header).count * sum(1 for n in counts if n)
    clip = tensor * tensors
    clips = teconerv.clip_count(container.header.frame_count, setup.clip_frames)
    sections = [(1, with_setup(data, unique_counts=counts).section(1))]
    sections.append((2, (encode_uvarint(len(clip)) + clip) * clips))
    return Container(container.codec, container.header, sections).to_bytes()


def test_info_on_tensors_that_declare_2_24_constant_symbols_is_bounded_by_the_file(tmp_path):
    data = constant_tensors(golden("teconerv"), 2**24)  # 629 bytes, 36 tensors
    assert len(data) < 1000
    path = tmp_path / "constant.inrc"
    path.write_bytes(data)
    info = run_limited(["info", path, "--json"], memory_mb=256)  # was 2.4 GB, then MemoryError
    assert info.returncode == 0, info.stderr
    assert '"gaussian": 36' in info.stdout


def test_info_reads_the_clips_structure_whole():
    data = golden("teconerv")
    container = Container.from_bytes(data)
    clips = ByteReader(container.section(2))
    first = clips.take(clips.uvarint("length"), "clip")
    longer = encode_uvarint(len(first) + 1) + first + b"\0" + clips.rest()
    for section, where in [(longer, "clip 0"), (container.section(2) + b"\0", "clips section")]:
        sections = [container.sections[0], (2, section)]
        damaged = Container(container.codec, container.header, sections)
        with pytest.raises(BitstreamError, match=f"^{where}: 1 unexpected trailing bytes"):
            teconerv.describe(damaged.to_bytes())


# --------------------------------------------------------------------------- memory estimate


@pytest.mark.parametrize("codec", ["hinerv", "nvrc", "teconerv"])
def test_the_memory_estimate_is_enough_to_decode_720p(codec, tmp_path):
    if codec == "teconerv":
        data = synthetic_teconerv(1280, 720)
    else:  # the golden network, whose grids are coarser than 720p
        header = replace(Container.from_bytes(golden(codec)).header, width=1280, height=720)
        data = with_header_bytes(golden(codec), header.to_bytes())
    path = tmp_path / "720p.inrc"
    path.write_bytes(data)
    need = module_for_file(Container.from_bytes(data).codec)[1].decode_memory(data)
    decoded = run_limited(["decode", path, "-o", tmp_path / "out.y4m"], need // 2**20)
    assert decoded.returncode == 0, decoded.stderr


def test_the_nvrc_estimate_counts_the_grid_context_models_buffers():
    data = golden("nvrc")
    header, payload = nvrc.read_payload(data)
    plan = nvrc.coding_plan(header, payload)
    evaluator = plan.model.grid_coders.evaluator(*plan.levels())
    buffers = sum(buffer.numel() * buffer.element_size() for buffer in evaluator.buffers)
    assert buffers > 0
    assert nvrc.decode_memory(data) == network_memory(plan.model.net, header) + buffers
