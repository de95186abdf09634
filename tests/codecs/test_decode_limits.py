"""What a file may ask of the decoder: frames synthesised and handed over a chunk at a time
(`decode_frames`), the pixel limit (`max_pixels`, ``--max-pixels``) checked on the container's
header before anything else, and the memory limit (`max_memory`, ``--max-memory``) checked on
the header and the model before any payload; a decoder out of memory all the same says so in
one line. Runs on a HiNeRV file of an untrained hinerv-tiny (4 frames of 48x32, made without
training), and on the same network in files whose headers ask for more."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import INTERRUPTIBLE
from inrcodec.cli import main
from inrcodec.codecs import CodecError, api
from inrcodec.codecs.hinerv import compress
from inrcodec.codecs.hinerv.bitstream import HiNeRVPayload, write_payload
from inrcodec.codecs.hinerv.codec import decode
from inrcodec.codecs.network_section import parameter_specs
from inrcodec.coding import BitstreamError, CodecId, Container, VideoHeader
from inrcodec.io import read_video
from inrcodec.nets.hinerv import HiNeRV, preset
from limited import run_limited

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HEADER = VideoHeader(width=48, height=32, frame_count=4, fps_num=25)
PIXELS = 4 * 48 * 32  # frames x height x width of `hinerv_file`


@pytest.fixture(scope="module")
def payload() -> HiNeRVPayload:
    """A freshly initialised hinerv-tiny, quantised as the encoder quantises one."""
    config = preset("hinerv-tiny", 4, 32, 48)
    torch.manual_seed(0)
    model = HiNeRV(config, 4, 32, 48)
    names = [name for name, _ in parameter_specs(config, 4, 32, 48)]
    return HiNeRVPayload(config, "rgb", 6, compress.quantize_per_channel(model, 6, names))


@pytest.fixture(scope="module")
def hinerv_file(payload) -> bytes:
    return write_payload(payload, HEADER)


def the_same_network(payload: HiNeRVPayload, frames: int, height: int, width: int) -> bytes:
    """`hinerv_file`'s network in a file whose header asks for ``frames`` of ``width`` x
    ``height`` (a valid file: its grids are coarser than that video, not finer)."""
    header = VideoHeader(width=width, height=height, frame_count=frames, fps_num=25)
    return write_payload(payload, header)


def asking_for(frames: int, height: int, width: int) -> bytes:
    """A HiNeRV file whose header asks for ``frames`` of ``width`` x ``height`` and whose
    payload is junk: any decoder that reads the payload refuses it."""
    header = VideoHeader(width=width, height=height, frame_count=frames, fps_num=25)
    return Container(CodecId.HINERV, header, [(1, b"junk"), (2, b"junk")]).to_bytes()


def test_frames_are_handed_over_one_at_a_time(hinerv_file):
    whole = decode(hinerv_file)
    chunks = api.decode_frames(hinerv_file)
    assert (chunks.format, chunks.num_frames) == (whole.format, 4)
    parts = list(chunks)
    assert [part.num_frames for part in parts] == [1, 1, 1, 1]
    for index, plane in enumerate(whole.planes):
        np.testing.assert_array_equal(np.concatenate([p.planes[index] for p in parts]), plane)
    assert api.decode(hinerv_file) == whole


def test_the_limit_counts_frames_times_height_times_width(hinerv_file):
    assert api.decode(hinerv_file, max_pixels=PIXELS).num_frames == 4
    with pytest.raises(BitstreamError, match="4 frames of 48x32, 6,144 pixels, more than the"):
        api.decode(hinerv_file, max_pixels=PIXELS - 1)
    with pytest.raises(BitstreamError, match="limit of 6,143"):
        api.decode_frames(hinerv_file, max_pixels=PIXELS - 1)


def test_the_limit_is_checked_before_the_payload_is_read():
    huge = asking_for(2**20, 16384, 16384)  # 67 bytes asking for 2.8e14 pixels
    with pytest.raises(BitstreamError, match=r"--max-pixels N, or decode\(\.\.\., max_pixels=N\)"):
        api.decode(huge)
    with pytest.raises(BitstreamError) as payload_error:
        api.decode(huge, max_pixels=None)  # no limit: the junk payload is read, and refused
    assert "pixels" not in str(payload_error.value)


def test_the_default_allows_a_4k_video_of_12000_frames():
    with pytest.raises(BitstreamError) as error:
        api.decode(asking_for(12_000, 2160, 3840))
    assert "pixels" not in str(error.value)  # past the limit, refused for its payload
    with pytest.raises(BitstreamError, match="more than the decoder's limit of 100,000,000,000"):
        api.decode(asking_for(12_100, 2160, 3840))


@pytest.mark.parametrize("limit", ["max_pixels", "max_memory"])
@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "1e9"])
def test_a_limit_that_is_not_a_positive_integer_is_refused(limit, bad, hinerv_file):
    with pytest.raises(CodecError, match=f"{limit} must be a positive integer or None"):
        api.decode(hinerv_file, **{limit: bad})


def test_the_command_line_refuses_a_file_above_the_limit_in_one_line(tmp_path, capsys):
    source, out = tmp_path / "huge.inrc", tmp_path / "out.y4m"
    source.write_bytes(asking_for(2**20, 16384, 16384))
    assert main(["decode", str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"inrcodec: error: {source}: the file asks for 1048576 frames of 16384x")
    assert "--max-pixels" in err and err.count("\n") == 1
    assert main(["decode", str(source), "-o", str(out), "--max-pixels", "3e14"]) == 2
    assert "pixels" not in capsys.readouterr().err  # allowed: refused for its payload instead
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.inrc"]


def test_max_pixels_on_the_command_line(hinerv_file, tmp_path, capsys):
    source, out = tmp_path / "hinerv.inrc", tmp_path / "out.y4m"
    source.write_bytes(hinerv_file)
    assert main(["decode", str(source), "-o", str(out), "--max-pixels", str(PIXELS - 1)]) == 2
    assert "6,144 pixels" in capsys.readouterr().err and not out.exists()
    assert main(["decode", str(source), "-o", str(out), "--max-pixels", str(PIXELS)]) == 0
    assert read_video(out).load() == decode(hinerv_file)
    for bad in ["0", "-1", "1.5", "many"]:
        with pytest.raises(SystemExit) as exit_:
            main(["decode", str(source), "-o", str(out), "--max-pixels", bad])
        assert exit_.value.code == 2
        assert "expected a positive whole number" in capsys.readouterr().err


@pytest.mark.parametrize("codec", [CodecId.NVRC, CodecId.TECONERV])
def test_every_codec_has_the_limit(codec):
    header = VideoHeader(width=16384, height=16384, frame_count=2**20, fps_num=25)
    data = Container(codec, header, [(1, b"junk")]).to_bytes()
    with pytest.raises(BitstreamError, match="1048576 frames of 16384x16384"):
        api.decode(data)


def test_a_device_torch_cannot_decode_on_is_one_line(hinerv_file, tmp_path, capsys):
    source, out = tmp_path / "hinerv.inrc", tmp_path / "out.y4m"
    source.write_bytes(hinerv_file)
    for device, message in [("meta", "expected cpu or cuda"), ("cuda:99", "CUDA device(s)")]:
        assert main(["decode", str(source), "-o", str(out), "--device", device]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"inrcodec: error: --device {device}: ") and message in err
    assert not out.exists()


# ------------------------------------------------------------------------------ memory


def test_the_memory_limit_is_checked_on_the_model_before_the_payload(payload):
    data = Container.from_bytes(the_same_network(payload, 4, 16384, 16384))
    junk = Container(CodecId.HINERV, data.header, [data.sections[0], (2, b"junk")]).to_bytes()
    with pytest.raises(BitstreamError, match=r"needs about \d+\.\d GiB at once \(estimated from "
                       r"its header, for frames of 16384x16384\), more than the decoder's limit "
                       r"of 32\.0 GiB; .* --max-memory N, or decode\(\.\.\., max_memory=N\)"):
        api.decode_frames(junk)  # fmt: skip
    with pytest.raises(BitstreamError, match="parameters section"):
        api.decode_frames(junk, max_memory=None)  # no limit: the junk payload is refused


def test_the_memory_limit_on_the_command_line(payload, tmp_path, capsys):
    source, out = tmp_path / "big.inrc", tmp_path / "out.y4m"
    source.write_bytes(the_same_network(payload, 4, 2160, 3840))
    assert main(["decode", str(source), "-o", str(out), "--max-memory", "1G"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"inrcodec: error: {source}: decoding this file needs about 2.2 GiB")
    assert "more than the decoder's limit of 1.0 GiB" in err and err.count("\n") == 1
    for bad in ["0", "-1", "1.5", "many", "8X"]:
        with pytest.raises(SystemExit) as exit_:
            main(["decode", str(source), "-o", str(out), "--max-memory", bad])
        assert exit_.value.code == 2
        assert "expected a size such as 8G or 512M" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.inrc"]


@pytest.mark.integration
def test_a_decoder_out_of_memory_says_so_in_one_line_and_leaves_nothing(payload, tmp_path):
    source, out = tmp_path / "4k.inrc", tmp_path / "out.y4m"
    source.write_bytes(the_same_network(payload, 4, 2160, 3840))  # about 1 GB per frame
    decoded = run_limited(["decode", source, "-o", out], memory_mb=400)
    assert decoded.returncode == 2, decoded.stderr  # was 1, and 46 lines of torch's traceback
    assert decoded.stderr.startswith(
        "inrcodec: error: out of memory decoding 4 frames of 3840x2160: could not allocate "
    )
    assert "expect to need about 2.2 GiB" in decoded.stderr and decoded.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["4k.inrc"]


def test_decode_bounds_the_video_it_collects_and_points_to_decode_frames(payload):
    data = the_same_network(payload, 2**20, 144, 176)  # 2.7e10 pixels: within the pixel limit
    with pytest.raises(BitstreamError, match=r"decode\(\) collects the whole video, 1048576 "
                       r"frames of 176x144 in 37\.1 GiB, .* decode_frames\(\) hands the frames"):
        api.decode(data)  # fmt: skip  # was a MemoryError (24.8 GiB asked of numpy)
    first = next(iter(api.decode_frames(data)))  # streamed, the same file is no trouble
    assert (first.num_frames, first.height, first.width) == (1, 144, 176)
    whole = api.decode(the_same_network(payload, 8, 144, 176), max_memory=2**30)
    assert whole.num_frames == 8


# ------------------------------------------------------------------------------ signals


@pytest.mark.integration
@pytest.mark.parametrize(("stop", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_decode_stopped_by_a_signal_leaves_nothing_behind(stop, status, payload, tmp_path):
    source, out = tmp_path / "long.inrc", tmp_path / "out.y4m"
    source.write_bytes(the_same_network(payload, 3000, 144, 176))  # minutes of frames
    command = "import sys; from inrcodec.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE + command, "decode", source, "-o", out],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while process.poll() is None and not any(p.suffix == ".tmp" for p in tmp_path.iterdir()):
            time.sleep(0.05)  # until the decoder writes its temporary output
        process.send_signal(stop)
        err = process.communicate(timeout=120)[1]
    finally:
        process.kill()
    assert process.returncode == status, err  # SIGTERM was -15, its partial file left
    assert err.endswith(("inrcodec: terminated\n", "inrcodec: interrupted\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.inrc"]
