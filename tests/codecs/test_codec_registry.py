"""The codec registry: a fourth codec (tests/toycodec) added by one package and one registry
entry goes through ``inrcodec encode`` / ``info`` / ``decode``, `inrcodec.codecs.api` and the
benchmark harness, with no change to any of them."""

from __future__ import annotations

import json

import pytest

import toycodec
from inrcodec.bench import get_codec, read_results
from inrcodec.cli import main
from inrcodec.codecs import CODECS, CodecError, FileCodec, api
from inrcodec.io import read_video


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(CODECS, "toy", toycodec.ENTRY)


@pytest.fixture
def clip(tmp_path):
    from conftest import SAMPLE_Y4M
    from fake_codec import write_small_clip

    return write_small_clip(SAMPLE_Y4M, tmp_path / "small.y4m", frames=3)


def test_a_registered_codec_goes_through_the_command_line(toy, clip, tmp_path, capsys):
    coded, decoded = tmp_path / "toy.inrc", tmp_path / "decoded.y4m"
    assert main(["encode", str(clip), "-o", str(coded), "--codec", "toy", "--step", "8"]) == 0
    out = capsys.readouterr().out
    assert "toy toy, step 8" in out and f"{coded.stat().st_size} bytes" in out
    assert "planes" in out  # the codec's own bytes by part

    assert main(["info", str(coded), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["file"], info["kind"], info["codec"]) == (str(coded), "inrcodec bitstream", "test")
    assert (info["size"], info["frames"], info["step"]) == ("64x48", 3, 8)
    assert info["bytes"] == coded.stat().st_size

    assert main(["decode", str(coded), "-o", str(decoded)]) == 0
    source = read_video(clip).load()
    assert read_video(decoded).load() == toycodec.expected_frames(source, 8)


def test_options_of_other_codecs_are_refused(toy, clip, tmp_path, capsys):
    out = tmp_path / "toy.inrc"
    assert main(["encode", str(clip), "-o", str(out), "--codec", "toy", "--bits", "4"]) == 2
    assert "--bits does not apply to codec toy" in capsys.readouterr().err
    assert not out.exists()
    assert main(["encode", str(clip), "-o", str(out), "--codec", "nvrc", "--step", "4"]) == 2
    assert "--step does not apply to codec nvrc" in capsys.readouterr().err


def test_a_registered_codec_goes_through_the_api(toy, clip):
    source = read_video(clip).load()
    result = api.encode(source, "toy", step=4)
    assert api.decode(result.bitstream) == toycodec.expected_frames(source, 4)
    assert sum(result.parts.values()) == result.num_bytes
    with pytest.raises(CodecError, match="takes no model"):
        api.decode(result.bitstream, model="some.safetensors")


def test_a_registered_codec_goes_through_the_harness(toy, clip, tmp_path):
    assert get_codec("toy").rate_parameter == "step"
    results = tmp_path / "results.jsonl"
    command = ["bench", "run", "--codec", "toy", "--sequence", str(clip), "-o", str(results)]
    assert main([*command, "--rate-points", "4,32", "--no-progress"]) == 0
    records = read_results(results)
    assert [r["rate_point"] for r in records] == [4, 32]
    pixels = 3 * 64 * 48
    for record in records:
        assert record["bpp"] == pytest.approx(8 * record["bytes"] / pixels)
    assert records[0]["bytes"] > records[1]["bytes"]  # a finer step costs more
    assert records[0]["psnr_rgb"] > records[1]["psnr_rgb"]


def test_every_codec_package_provides_the_same_names(toy, clip):
    """`CodecPackage`: every registered package, the toy included, has the names the
    registry's readers use; the writer, the reader and the bytes by part agree on a file."""
    from inrcodec.codecs.registry import CodecPackage, file_codecs

    assert set(file_codecs()) == {"nvrc", "hinerv", "teconerv", "toy"}
    for name, entry in file_codecs().items():
        package = entry.load()
        assert isinstance(package, CodecPackage), name
        assert issubclass(entry.harness_class(), FileCodec), name
    data = api.encode(read_video(clip).load(), "toy", step=8).bitstream
    header, payload = toycodec.read_payload(data)
    assert toycodec.write_payload(payload, header) == data
    assert sum(toycodec.part_bytes(data).values()) == len(data)
