"""The HiNeRV codec: round trips, corrupt files, quantisation, pruning, Quant-Noise, the CLI.

Encodes use the `hinerv-tiny` preset for a handful of steps on 4 frames of the sample clip:
the network learns next to nothing, but every stage and every byte of the format runs.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.bench import get_codec
from inrcodec.cli import main
from inrcodec.codecs.hinerv import compress
from inrcodec.codecs.hinerv.bitstream import read_payload
from inrcodec.codecs.hinerv.codec import decode, encode, stage_steps
from inrcodec.codecs.network_section import parameter_specs
from inrcodec.codecs.synthesis import reconstruct, to_video
from inrcodec.coding import BitstreamError, Container
from inrcodec.io import convert_video
from inrcodec.nets.hinerv import HiNeRV, preset

pytestmark = pytest.mark.integration

TINY = dict(steps=3, progress=False, device="cpu")


@pytest.fixture(scope="module")
def clip(sample_y4m):
    return inrcodec.read_video(sample_y4m, frames=4).load()


def encode_with_own_frames(video, **options):
    """`encode` (hinerv-tiny), and the frames of the encoder's own trained network with the
    parameters it quantised loaded back, dequantised: what a decoder must give, computed
    without the file and without building a network from it."""
    kept, quantize = [], compress.quantize_per_channel

    def keep(model, bits, names):
        kept.append((model, quantize(model, bits, names)))
        return kept[-1][1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compress, "quantize_per_channel", keep)
        result = encode(video, "hinerv-tiny", **TINY, **options)
    [(model, tensors)] = kept
    model.load_state_dict(compress.dequantized_state(tensors))
    frames = reconstruct(model.eval(), video.num_frames).numpy()
    return result, to_video(frames, video.format, options.get("space", "rgb"))


@pytest.fixture(scope="module")
def encoded_and_own(clip):
    return encode_with_own_frames(clip)


@pytest.fixture(scope="module")
def encoded(encoded_and_own):
    return encoded_and_own[0]


def test_round_trip_is_bit_exact_and_keeps_the_format(clip, encoded_and_own):
    encoded, own = encoded_and_own
    decoded = decode(encoded.bitstream)
    assert decoded == own  # planes and format
    assert decoded.format == clip.format
    assert encoded.settings["stage_steps"] == stage_steps(3) == {"train": 1, "prune": 1, "quant": 1}
    assert encoded.bpp == pytest.approx(8 * len(encoded.bitstream) / (4 * 176 * 144))
    header, payload = read_payload(encoded.bitstream)
    assert (header.frame_count, payload.bits, payload.space) == (4, 6, "rgb")
    assert payload.config == preset("hinerv-tiny", 4, 144, 176)


def test_decoding_in_a_fresh_process_gives_identical_frames(encoded, tmp_path):
    source = tmp_path / "tiny.inrc"
    source.write_bytes(encoded.bitstream)
    out = tmp_path / "decoded.y4m"
    subprocess.run(
        [sys.executable, "-m", "inrcodec.cli", "decode", str(source), "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert inrcodec.read_video(out).load() == encoded.reconstruction


def test_ten_bit_input_stays_ten_bit_in_yuv_space(clip):
    ten_bit = convert_video(clip[0:4], bit_depth=10)
    result, own = encode_with_own_frames(ten_bit, space="yuv")
    decoded = decode(result.bitstream)
    assert decoded.format == ten_bit.format
    assert decoded.planes[0].dtype == np.uint16 and decoded.planes[0].max() <= 1023
    assert decoded == own


def test_truncated_and_flipped_files_raise_bitstream_error(encoded):
    data = encoded.bitstream
    container = Container.from_bytes(data)
    cuts = {0, 3, 5, 10, len(data) // 2, len(data) - 1}
    offset = len(data) - sum(len(p) + 4 for _, p in container.sections)
    for _, payload in container.sections:  # a cut inside every section
        cuts |= {offset + 1, offset + len(payload) // 2}
        offset += len(payload) + 6
    for cut in sorted(c for c in cuts if c < len(data)):
        with pytest.raises(BitstreamError):
            decode(data[:cut])
    rng = np.random.default_rng(0)
    for position in rng.choice(len(data), size=24, replace=False).tolist():
        flipped = bytearray(data)
        flipped[position] ^= 1 << int(rng.integers(8))
        with pytest.raises(BitstreamError):
            decode(bytes(flipped))
    with pytest.raises(BitstreamError):
        decode(data + b"\0")


def test_malformed_payloads_behind_valid_crcs_raise_bitstream_error(encoded):
    """Sections rewritten with valid CRCs: the HiNeRV parser itself must catch the damage."""
    container = Container.from_bytes(encoded.bitstream)
    model, params = container.section(1), container.section(2)
    bad = [
        [(1, model)],  # no parameters
        [(2, params), (1, model)],  # wrong order
        [(1, model), (2, params[:-1])],
        [(1, model), (2, params + b"\0")],
        [(1, model[:-1]), (2, params)],
        [(1, b"\x40" + model[1:]), (2, params)],  # name too long for the section
        [(1, model), (2, b"\xff\xff" + params[2:])],  # a NaN float16 bias
    ]
    for sections in bad:
        data = Container(container.codec, container.header, sections).to_bytes()
        with pytest.raises(BitstreamError):
            decode(data)
    # A changed configuration field may still describe a valid network (the file is then a
    # different, valid file); it must never fail with anything but BitstreamError.
    for index in range(12, len(model)):  # past the name and colour space
        changed = bytearray(model)
        changed[index] ^= 0x01
        data = Container(container.codec, container.header, [(1, bytes(changed)), (2, params)])
        try:
            decode(data.to_bytes())
        except BitstreamError:
            pass


def test_cli_decode_of_a_corrupt_file_exits_2_and_writes_nothing(encoded, tmp_path, capsys):
    bad = tmp_path / "bad.inrc"
    bad.write_bytes(encoded.bitstream[:-7])
    out = tmp_path / "out.y4m"
    assert main(["decode", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("inrcodec: error:") and "\n" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_cli_encode_and_decode(sample_y4m, tmp_path, capsys):
    stream, out = tmp_path / "clip.inrc", tmp_path / "clip.y4m"
    args = ["encode", str(sample_y4m), "--codec", "hinerv", "--frames", "4", "-o", str(stream)]
    args += ["--preset", "hinerv-tiny", "--steps", "3", "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    size = stream.stat().st_size
    assert f"{size} bytes" in printed and f"{8 * size / (4 * 176 * 144):.4f} bpp" in printed
    assert "PSNR RGB" in printed and "PSNR YUV" in printed and "MS-SSIM" in printed
    assert main(["decode", str(stream), "-o", str(out)]) == 0
    assert "decode" in capsys.readouterr().out
    assert inrcodec.read_video(out).format == inrcodec.read_video(sample_y4m).format
    assert main(["info", str(stream), "--json"]) == 0
    assert '"codec": "hinerv"' in capsys.readouterr().out


def test_cli_rejects_bad_options_in_one_line(sample_y4m, tmp_path, capsys):
    out = tmp_path / "x.inrc"
    hinerv = ["encode", str(sample_y4m), "--codec", "hinerv", "-o", str(out)]
    assert main([*hinerv, "--bits", "1"]) == 2
    assert main([*hinerv, "--preset", "nope"]) == 2
    assert not out.exists()
    assert capsys.readouterr().err.count("\n") == 2


# ----------------------------------------------------------------------------- compression


def test_per_channel_quantisation_error_is_at_most_half_a_step():
    torch.manual_seed(0)
    for shape in [(64, 48), (48, 64), (8, 3, 3), (30, 1, 3, 3), (4, 9, 11, 2)]:
        x = torch.randn(shape) * torch.rand(shape[0]).view(-1, *[1] * (len(shape) - 1))
        q, steps = compress.quantize(x, 6)
        assert q.dtype == torch.int32 and -32 <= q.min() and q.max() <= 31
        assert steps.dtype == torch.float16
        step = compress._broadcast(steps, shape)
        error = (compress.dequantize(q, steps) - x).abs()
        assert (error <= step / 2 + 1e-7).all()
    q, steps = compress.quantize(torch.zeros(30, 4), 6)  # an all-zero channel
    assert (q == 0).all() and (steps > 0).all()


def test_pruning_removes_fifteen_percent_and_keeps_masks_during_training():
    torch.manual_seed(0)
    model = HiNeRV(preset("hinerv-cpu", 8, 144, 176), 8, 144, 176)
    total = sum(p.numel() for p in model.parameters())
    pruned, counted = compress.prune(model)
    assert counted == total and pruned == int(0.15 * total)
    zeros = sum(int((m.weight == 0).sum()) for m in compress.prune_targets(model))
    assert zeros == pruned
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.tensor([0]), (0, 0, 32, 32)).square().mean().backward()
    optimizer.step()
    assert sum(int((m.weight == 0).sum()) for m in compress.prune_targets(model)) >= pruned
    compress.strip(model)
    names = {name for name, _ in parameter_specs(model.config, 8, 144, 176)}
    assert {name for name, _ in model.named_parameters()} == names


def test_quant_noise_replaces_about_p_of_the_weights_in_training_only():
    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 128)
    raw = layer.weight.detach().clone()
    torch.nn.utils.parametrize.register_parametrization(
        layer, "weight", compress.QuantNoise(6, 0.9)
    )
    quantised = compress.dequantize(*compress.quantize(raw, 6))
    layer.eval()
    assert torch.equal(layer.weight, raw)
    layer.train()
    noisy = layer.weight
    moved = (noisy != raw) & (quantised != raw)
    assert torch.equal(noisy[moved], quantised[moved])
    share = ((noisy == quantised) & (quantised != raw)).sum() / (quantised != raw).sum()
    assert 0.87 < float(share) < 0.93
    noisy.sum().backward()  # straight through: every entry gets the gradient
    grad = layer.parametrizations.weight.original.grad
    assert torch.equal(grad, torch.ones_like(grad))


def test_bench_plugin_is_registered():
    codec = get_codec("hinerv", preset="hinerv-tiny", steps=3)
    assert codec.rate_parameter == "bits" and codec.default_rate_points()
    codec.check_rate_point(6)
    with pytest.raises(inrcodec.InrcodecError):
        codec.check_rate_point(1)


def test_bench_harness_measures_hinerv(sample_y4m, tmp_path):
    """The whole plug-in path of `inrcodec bench run`: coding, metrics, settings, versions."""
    import json

    results = tmp_path / "results.jsonl"
    args = ["bench", "run", "--codec", "hinerv", "--rate-points", "6", "--option",
            "preset=hinerv-tiny", "--option", "steps=3", "--sequence", str(sample_y4m),
            "--frames", "2", "--no-progress", "-o", str(results)]  # fmt: skip
    assert main(args) == 0
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert (record["codec"], record["rate_point"], record["frames"]) == ("hinerv", 6, 2)
    assert record["bpp"] == pytest.approx(8 * record["bytes"] / (2 * 176 * 144))
    assert record["settings"]["preset"] == "hinerv-tiny"
    assert {"torch", "constriction"} <= set(record["versions"])
    assert 5 < record["psnr_rgb"] < 40
