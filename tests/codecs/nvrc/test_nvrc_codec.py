"""The NVRC codec: round trips, decoder determinism, corrupt files, the CLI, the harness.

Encodes use the `nvrc-tiny` preset for 20 steps on 4 frames of the sample clip: the network
learns little, but every part of the payload (psi, the four phi groups, layers, grids under
the context model) is written, decoded and checked.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.bench import get_codec
from inrcodec.cli import main
from inrcodec.codecs import CodecError
from inrcodec.codecs.nvrc import codec
from inrcodec.codecs.nvrc.backbones import HINERV
from inrcodec.codecs.nvrc.bitstream import (
    GRIDS_TAG,
    LAYERS_TAG,
    PHI_TAG,
    PSI_TAG,
    CodingPlan,
    coding_plan,
    part_bytes,
    quantize_with_learned_steps,
    read_payload,
    tags,
    write_payload,
)
from inrcodec.codecs.nvrc.hierarchy import PHI_GROUPS, phi_group
from inrcodec.codecs.nvrc.presets import ABLATIONS
from inrcodec.codecs.nvrc.train import build, default_compression
from inrcodec.codecs.synthesis import reconstruct, to_video
from inrcodec.coding import BitstreamError, CodecId, Container, VideoHeader
from inrcodec.coding.varint import ByteReader
from inrcodec.metrics import compare

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]

FRAMES = 4
SETTINGS = dict(steps=20, device="cpu", progress=False)
RATE_SPLIT = ("header", "model", "psi", *PHI_GROUPS, "layers", "grids")


@pytest.fixture(scope="module")
def clip(sample_y4m):
    return inrcodec.read_video(sample_y4m, frames=FRAMES).load()


@pytest.fixture(scope="module")
def encoded(clip, one_torch_thread):
    return codec.encode(clip, "nvrc-tiny", 1.0, **SETTINGS)


@pytest.fixture(scope="module")
def decoded_video(encoded):
    """`codec.decode` of the encoded file."""
    return codec.decode(encoded.bitstream)


@pytest.fixture(scope="module")
def decoded_payload(encoded):
    """``(header, payload, plan)`` of the encoded file, read in this process."""
    header, payload = read_payload(encoded.bitstream)
    return header, payload, coding_plan(header, payload)


# ----------------------------------------------------------------------------- round trip


def own_frames(encoded, video, space: str = "rgb"):
    """The frames of the encoder's trained network with the parameters it quantised loaded
    back, dequantised under the steps its own phi gives: what a decoder must give, computed
    without the file and without building a network from it."""
    model = copy.deepcopy(encoded.training.model)
    payload = quantize_with_learned_steps(model, space)
    with torch.no_grad():
        for name, value in CodingPlan(model, payload.psi, payload.phi).theta(payload).items():
            model.net.get_parameter(name).copy_(value)
    frames = reconstruct(model.net.eval(), video.num_frames).numpy()
    return to_video(frames, video.format, space)


def test_round_trip_is_bit_exact(clip, encoded, decoded_payload, decoded_video):
    header, payload, _ = decoded_payload
    assert payload.same_integers(quantize_with_learned_steps(encoded.training.model, "rgb"))
    assert (header.frame_count, header.width, header.height) == (FRAMES, 176, 144)
    assert (payload.space, payload.config.name) == ("rgb", "nvrc-tiny")
    assert payload.compression == default_compression("nvrc-tiny")
    decoded = decoded_video
    assert decoded.format == clip.format
    for mine, theirs in zip(decoded.planes, own_frames(encoded, clip).planes, strict=True):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    # The decoder's video has the quality training measured on the quantised model (20 steps
    # of the tiny preset: 11.67 dB, measured), so its parameters are the trained ones.
    psnr = compare(clip, decoded, "rgb").means["psnr"]
    assert psnr > 8 and psnr == pytest.approx(encoded.training.psnr, abs=0.1)


def test_frames_are_handed_over_one_at_a_time(encoded, decoded_video):
    parts = list(codec.decode_frames(encoded.bitstream))
    assert [part.num_frames for part in parts] == [1] * FRAMES
    for index, plane in enumerate(decoded_video.planes):
        np.testing.assert_array_equal(np.concatenate([p.planes[index] for p in parts]), plane)


def test_sizes_rate_and_estimate(encoded, decoded_payload):
    _, payload, _ = decoded_payload
    assert encoded.num_bytes == len(encoded.bitstream) > 0
    assert encoded.bpp == pytest.approx(8 * encoded.num_bytes / (FRAMES * 176 * 144))
    sections = encoded.parts
    assert tuple(sections) == RATE_SPLIT
    assert sum(sections.values()) == encoded.num_bytes
    assert sections == part_bytes(encoded.bitstream)
    assert all(size > 0 for size in sections.values())
    assert any(np.any(level != 0) for level in payload.grids)  # a non-trivial grid stream
    # The coded theta, phi and psi are within 5 % of eq. (9)'s estimate (measured +0.76 %).
    gap = encoded.settings["rate_gap"]
    assert math.isfinite(gap) and abs(gap) < 0.05, gap
    coded_bits = 8 * (encoded.num_bytes - sections["header"] - sections["model"])
    assert gap == pytest.approx(coded_bits / encoded.estimated["bits"] - 1)


# --------------------------------------------------------------------------- determinism

_FRESH_DECODER = """
import sys

import numpy as np
import torch

torch.set_num_threads(int(sys.argv[1]))
from inrcodec.codecs.nvrc.bitstream import read_payload
from inrcodec.codecs.nvrc.codec import synthesize

data = open(sys.argv[2], "rb").read()
header, payload = read_payload(data)
video = synthesize(header, payload).collect()  # the rest of `decode`
arrays = {"psi": payload.psi}
arrays.update({"phi " + k: v for k, v in payload.phi.items()})
arrays.update({"layer " + k: v for k, v in payload.layers.items()})
arrays.update({f"grid {i}": g for i, g in enumerate(payload.grids)})
arrays.update({f"plane {i}": p for i, p in enumerate(video.planes)})
np.savez(sys.argv[3], **arrays)
assert torch.get_num_threads() == int(sys.argv[1])
"""


def payload_arrays(payload) -> dict[str, np.ndarray]:
    arrays = {"psi": payload.psi}
    arrays.update({"phi " + k: v for k, v in payload.phi.items()})
    arrays.update({"layer " + k: v for k, v in payload.layers.items()})
    arrays.update({f"grid {i}": g for i, g in enumerate(payload.grids)})
    return arrays


def test_decoding_with_one_or_two_threads_gives_the_same_integers(
    encoded, decoded_payload, tmp_path
):
    source = tmp_path / "tiny.inrc"
    source.write_bytes(encoded.bitstream)
    runs = {}
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}.npz"
        command = [sys.executable, "-c", _FRESH_DECODER, str(threads), str(source), str(out)]
        runs[threads] = (subprocess.Popen(command, stderr=subprocess.PIPE), out)
    results = {}
    for threads, (process, out) in runs.items():
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()
        with np.load(out) as data:
            results[threads] = {key: data[key] for key in data.files}
    expected = payload_arrays(decoded_payload[1])
    for result in results.values():
        for key, value in expected.items():  # bit for bit (float16 psi and phi included)
            assert (result[key].dtype, result[key].shape) == (value.dtype, value.shape), key
            assert result[key].tobytes() == value.tobytes(), key
    # The synthesis network runs in float32, where thread counts may change the order of
    # sums: at most one code value on at most 0.1 % of the samples (measured: identical).
    one, two, here = (
        np.concatenate([p.ravel() for p in planes]).astype(np.int32)
        for planes in (
            [results[1][f"plane {i}"] for i in range(3)],
            [results[2][f"plane {i}"] for i in range(3)],
            encoded.reconstruction.planes,
        )
    )
    assert one.size == FRAMES * 176 * 144 * 3 // 2
    for a, b in ((one, two), (one, here)):
        differ = np.abs(a - b)
        assert differ.max() <= 1 and np.mean(differ != 0) <= 1e-3, (differ.max(), differ.mean())


# ----------------------------------------------------------------------------- corruption


def section_offsets(data: bytes) -> dict[int, tuple[int, int]]:
    """File offsets ``[start, end)`` of each section's payload."""
    container = Container.from_bytes(data)
    offsets, end = {}, len(data)
    for tag, payload in reversed(container.sections):
        end -= 4  # CRC
        offsets[tag] = (end - len(payload), end)
        end -= len(payload)
        assert data[offsets[tag][0] : offsets[tag][1]] == payload
        end -= 2 if len(payload) < 128 else 3  # tag and length varints
    return offsets


def test_every_section_corrupted_or_truncated_raises(encoded):
    data = encoded.bitstream
    offsets = section_offsets(data)
    assert sorted(offsets) == list(tags(HINERV))
    for _tag, (start, end) in offsets.items():
        for position in (start, (start + end) // 2, end - 1):
            flipped = bytearray(data)
            flipped[position] ^= 0x10
            with pytest.raises(BitstreamError):
                read_payload(bytes(flipped))
        for cut in (start, (start + end) // 2, end - 1):
            with pytest.raises(BitstreamError):
                read_payload(data[:cut])
    with pytest.raises(BitstreamError):
        read_payload(data + b"\0")


def coded_words(payload: bytes) -> tuple[int, int]:
    """``[start, end)`` of the ANS words of an `encode_quantized` payload."""
    reader = ByteReader(payload)
    reader.uvarint("version")
    reader.svarint("low", -(2**31), 2**31)
    reader.uvarint("span")
    return reader.position, len(payload)


def flip_middle(payload: bytes, start: int, end: int) -> bytes:
    assert end - start >= 4, "no coded words to corrupt"
    changed = bytearray(payload)
    changed[(start + end) // 2] ^= 0x5A
    return bytes(changed)


def rebuild(container: Container, **sections: bytes) -> bytes:
    """The file with some sections replaced (by tag name), with valid CRCs."""
    tags = {"model": HINERV.model_tag, "psi": PSI_TAG, "phi": PHI_TAG, "layers": LAYERS_TAG}
    tags["grids"] = GRIDS_TAG
    new = {tags[name]: payload for name, payload in sections.items()}
    pairs = [(tag, new.get(tag, payload)) for tag, payload in container.sections]
    return Container(CodecId.NVRC, container.header, pairs).to_bytes()


def test_corrupt_content_behind_valid_crcs_raises(encoded, decoded_payload):
    container = Container.from_bytes(encoded.bitstream)
    model = decoded_payload[2].model
    layers, grids = container.section(LAYERS_TAG), container.section(GRIDS_TAG)
    bad = {
        "layers": flip_middle(layers, *coded_words(layers)),
        "grids": flip_middle(grids, *coded_words(grids)),
    }
    # Phi: the coded stream of the grid_em group, past its float16 tensors.
    phi = container.section(PHI_TAG)
    reader = ByteReader(phi)
    for group in PHI_GROUPS:
        length = reader.uvarint("length")
        start = reader.position
        reader.take(length, group)
        if group == "grid_em":
            names = [n for n in model.phi_names() if phi_group(n) == group]
            stored = sum(2 * model.hierarchy.sizes[n] for n in names if n not in model.coded_phi)
            part = phi[start + stored : start + length]
            words_start, words_end = coded_words(part)
            offset = start + stored
            bad_phi = flip_middle(phi, offset + words_start, offset + words_end)
    for name, payload in [*bad.items(), ("phi", bad_phi)]:
        with pytest.raises(BitstreamError):
            read_payload(rebuild(container, **{name: payload}))
    broken = [
        rebuild(container, layers=grids, grids=layers),  # swapped contents
        rebuild(container, layers=layers[:-4]),  # one ANS word short
        rebuild(container, grids=grids + (1).to_bytes(4, "little")),  # one word too many
        rebuild(container, psi=container.section(PSI_TAG)[:-1]),
        rebuild(container, psi=b"\xff\x7f" + container.section(PSI_TAG)[2:]),  # a NaN
        rebuild(container, model=b"\x02" + container.section(HINERV.model_tag)[1:]),  # version 2
        rebuild(container, phi=phi + b"\0"),
    ]
    sections = list(container.sections)
    swapped = sections[:3] + [sections[4], sections[3]]
    broken += [
        Container(CodecId.NVRC, container.header, swapped).to_bytes(),  # order of tags
        Container(CodecId.NVRC, container.header, sections[:4]).to_bytes(),  # no grids
        Container(CodecId.NVRC, container.header, sections[1:]).to_bytes(),  # no model
        Container(CodecId.HINERV, container.header, sections).to_bytes(),  # wrong codec
        Container(CodecId.NVRC, container.header, [*sections, (6, b"")]).to_bytes(),
    ]
    for data in broken:
        with pytest.raises(BitstreamError):
            read_payload(data)
    # Rebuilding with the untouched sections gives the original file back.
    assert rebuild(container, layers=layers, grids=grids) == encoded.bitstream


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_encoded(sample_y4m, tmp_path_factory, one_torch_thread):
    """One `inrcodec encode` run: (file, what it printed)."""
    stream = tmp_path_factory.mktemp("cli") / "clip.inrc"
    args = ["encode", str(sample_y4m), "--frames", str(FRAMES), "-o", str(stream)]
    args += ["--preset", "nvrc-tiny", "--lambda", "1", "--steps", "20", "--device", "cpu"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--no-progress"]) == 0
    return stream, out.getvalue()


def test_cli_encode_prints_size_quality_and_rate_split(cli_encoded, encoded):
    stream, printed = cli_encoded
    size = stream.stat().st_size
    assert f"{size} bytes" in printed
    assert f"{8 * size / (FRAMES * 176 * 144):.4f} bpp" in printed
    assert "PSNR RGB" in printed and "PSNR YUV" in printed and "MS-SSIM" in printed
    assert "nvrc nvrc-tiny, lambda 1, ablation full" in printed
    table = {line.split()[0]: line.split()[1:] for line in printed.splitlines() if line}
    sections = part_bytes(stream.read_bytes())
    for part in RATE_SPLIT:
        assert int(table[part][0]) == sections[part], part
        assert int(table[part][1]) == 8 * sections[part], part
    # The same settings in the same process train the same model: the same file.
    assert stream.read_bytes() == encoded.bitstream


def test_cli_decode_and_info(cli_encoded, encoded, decoded_video, tmp_path, capsys):
    stream, _ = cli_encoded
    out = tmp_path / "decoded.y4m"
    assert main(["decode", str(stream), "-o", str(out)]) == 0
    assert "decode" in capsys.readouterr().out
    assert stream.read_bytes() == encoded.bitstream  # so `decoded_video` decodes this file
    assert inrcodec.read_video(out).load() == decoded_video
    assert main(["info", str(stream), "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["codec"] == "nvrc" and description["frames"] == FRAMES
    assert description["bytes"] == stream.stat().st_size
    split = description["rate_split"]
    assert tuple(split) == RATE_SPLIT
    assert sum(int(entry.split(" B")[0]) for entry in split.values()) == stream.stat().st_size


def test_cli_decode_of_a_corrupt_file_exits_2_and_writes_nothing(cli_encoded, tmp_path, capsys):
    data = cli_encoded[0].read_bytes()
    start, end = section_offsets(data)[GRIDS_TAG]
    bad = tmp_path / "bad.inrc"
    bad.write_bytes(data[: (start + end) // 2])
    out = tmp_path / "out.y4m"
    assert main(["decode", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("inrcodec: error:") and "\n" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_cli_refuses_a_rate_point_with_a_lambda(sample_y4m, tmp_path, capsys):
    out = tmp_path / "x.inrc"
    args = ["encode", str(sample_y4m), "--frames", "1", "-o", str(out)]
    assert main([*args, "--rate-point", "cpu2", "--lambda", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inrcodec: error:") and "--rate-point" in err
    assert not out.exists()


# -------------------------------------------------------------------------------- harness


def test_bench_plugin_codes_a_clip(clip, encoded, tmp_path):
    nvrc = get_codec("nvrc", preset="nvrc-tiny", steps=20, device="cpu")
    assert nvrc.rate_parameter == "lambda" and nvrc.default_rate_points()
    coded = nvrc.code(clip, 1.0, tmp_path)
    assert coded.num_bytes > 0 and coded.decoded.format == clip.format
    assert coded.num_bytes == encoded.num_bytes  # the same training, the same file
    assert coded.decoded == encoded.reconstruction
    assert coded.settings["preset"] == "nvrc-tiny"
    assert coded.settings["rate_gap"] == pytest.approx(encoded.settings["rate_gap"])
    for bad in (0, -1.0):
        with pytest.raises(CodecError):
            nvrc.check_rate_point(bad)
    with pytest.raises(CodecError):
        get_codec("nvrc", preset="hinerv-tiny")


# ------------------------------------------------------------------------------ ablations


@pytest.mark.parametrize("ablation", ["v1", "v2", "v3", "v4", "v5"])
def test_ablation_payloads_round_trip(ablation):
    overrides, _ = ABLATIONS[ablation]
    compression = replace(default_compression("nvrc-tiny"), **overrides)
    model = build((4, 32, 48), "nvrc-tiny", compression)
    generator = torch.Generator().manual_seed(len(ablation))
    with torch.no_grad():
        for name, grid in model.net.named_parameters():
            if name.startswith("grids."):
                grid.copy_(torch.randn(grid.shape, generator=generator) * 0.05)
        for name in model.phi_names():
            phi = model.get_parameter(name)
            phi.add_(torch.randn(phi.shape, generator=generator) * 0.05)
    header = VideoHeader(width=48, height=32, frame_count=4, fps_num=25)
    payload = quantize_with_learned_steps(model, "rgb")
    data = write_payload(payload, header, model)
    read_header, decoded = read_payload(data)
    plan = coding_plan(read_header, decoded)
    assert read_header == header and decoded.compression == compression
    assert decoded.same_integers(payload)
    assert any(np.any(level != 0) for level in decoded.grids)
    sizes = part_bytes(data)
    assert sizes["grids"] > 3 and sizes["layers"] > 3  # coded words, not just a header
    if compression.phi_coding == "half":
        assert decoded.psi.size == 0 and sizes["psi"] == 0
    else:  # the tiny V2/V3 models have no phi tensor of 16 values: nothing Gaussian-coded
        assert decoded.psi.shape == (len(model.coded_phi), 3)
        assert (len(model.coded_phi) > 0) == (compression.grid_model == "context")
    # The decoder's parameters are the model's within half a step.
    theta = plan.theta(decoded)
    params = dict(model.net.named_parameters())
    for name in model.layer_names:
        step = plan.layer_step(name)
        value = params[name].detach().double().reshape(step.shape)
        error = (theta[name].double().reshape(step.shape) - value).abs()
        assert (error <= step / 2 + 1e-6 * value.abs() + 1e-12).all(), name


# ------------------------------------------------------------------------------ the Python API


def test_top_level_decode_dispatches_on_the_codec_id(encoded, decoded_video):
    video = inrcodec.decode(encoded.bitstream)
    pairs = zip(video.planes, decoded_video.planes, strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)
    header = Container.from_bytes(encoded.bitstream).header
    with pytest.raises(BitstreamError, match="no decoder for codec test"):
        inrcodec.decode(Container(CodecId.TEST, header, [(1, b"")]).to_bytes())
    with pytest.raises(inrcodec.InrcodecError, match="unknown codec"):
        inrcodec.encode(decoded_video, codec="nope")
