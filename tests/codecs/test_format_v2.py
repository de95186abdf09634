"""Files of format version 2 parse to the content they were written from: each reader's
result written again gives the very same bytes.

``tests/data/format_v2/`` holds one small file per codec, with the content of the version-1
golden files (``tests/data/format_v1/``, written by the code of commit 20f7b43) as the
version-1 readers of commit 170b23e decoded it, written by the version-2 writers: a freshly
initialised `hinerv-tiny` (6 bits, YUV space), an `nvrc-tiny` with fixed grid steps (ablation
V5, grid log-step -4.5) and perturbed grids and phi, and a synthetic TeCoNeRV stream (3 clips,
2 coded layers, residuals from keyframes every 2 clips, blend); ``info.json`` is what
``inrcodec info --json`` printed for each then (without ``file``). ``tests/data/make_golden.py``
writes such a set for the current format version.

``nvrc-latent.inrc`` is NVRC on the latent-grid backbone (model section tag 6, a shared
pointwise context model), trained 40 steps at lambda 300 on the bundled clip's first 4 frames;
its decoded frames must keep the SHA-256 they had when it was written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

import inrcodec
from conftest import REPO
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.network_section import network_values
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.nvrc.train import default_compression
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.coding import VideoHeader
from inrcodec.nets.hinerv import preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = REPO / "tests" / "data" / "format_v2"
HEADER = VideoHeader(width=48, height=32, frame_count=4, fps_num=25)
INFO = json.loads((DATA / "info.json").read_text())


def test_a_hinerv_file_parses_as_before():
    data = (DATA / "hinerv.inrc").read_bytes()
    header, payload = hinerv.read_payload(data)
    assert header == HEADER
    assert payload.config == preset("hinerv-tiny", 4, 32, 48)
    assert (payload.space, payload.bits) == ("yuv", 6)
    assert hinerv.write_payload(payload, header) == data


def test_an_nvrc_file_parses_as_before():
    data = (DATA / "nvrc.inrc").read_bytes()
    header, payload = nvrc.read_payload(data)
    assert header == HEADER
    assert payload.config == preset("nvrc-tiny", 4, 32, 48)
    compression = default_compression("nvrc-tiny")
    assert payload.compression == replace(compression, learn_grid_steps=False, grid_log_step=-4.5)
    assert payload.space == "rgb"
    assert nvrc.write_payload(payload, header) == data


LATENT_FRAMES_SHA256 = "e2af815c66f46729cf4b5d4b818e3101aa6538ab39bd2d14b744f4a84d2b22dc"


def test_a_latent_nvrc_file_parses_writes_back_and_decodes_as_before():
    data = (DATA / "nvrc-latent.inrc").read_bytes()
    header, payload = nvrc.read_payload(data)
    assert (header.width, header.height, header.frame_count) == (176, 144, 4)
    assert payload.config.name == "nvrc-latent" and payload.config.scales[:3] == (0, 1, 2)
    assert payload.compression.context_shared and payload.compression.context_pointwise
    assert nvrc.write_payload(payload, header) == data
    video = inrcodec.decode(data)
    digest = hashlib.sha256(b"".join(plane.tobytes() for plane in video.planes)).hexdigest()
    assert digest == LATENT_FRAMES_SHA256


def test_a_teconerv_file_parses_as_before():
    data = (DATA / "teconerv.inrc").read_bytes()
    header, stream = teconerv.read_payload(data)
    assert header == VideoHeader(
        width=40,
        height=24,
        frame_count=20,
        fps_num=30000,
        fps_den=1001,
        chroma_format="444",
        color_matrix="bt709",
        color_range="full",
    )
    assert (stream.model_hash, stream.model_name) == (bytes(range(100, 116)), "golden-model")
    assert (stream.clip_frames, stream.tube, stream.overlap) == (8, (16, 16), (4, 4))
    assert (stream.fusion, stream.bits, stream.residual) == ("blend", 5, "first")
    assert (stream.keyframe_interval, stream.unique_counts) == (2, (0, 12, 0, 7))
    assert len(stream.clips) == 3
    assert teconerv.write_payload(stream, header) == data


def described(module, codec: str) -> dict:
    """``module.describe`` of the codec's file, as ``inrcodec info --json`` prints it."""
    data = (DATA / f"{codec}.inrc").read_bytes()
    return json.loads(json.dumps(module.describe(data)))


@pytest.mark.parametrize(
    ("module", "codec"), [(hinerv, "hinerv"), (nvrc, "nvrc"), (teconerv, "teconerv")]
)
def test_describe_gives_what_info_printed(module, codec):
    description = described(module, codec)
    assert description == INFO[codec] and list(description) == list(INFO[codec])


def test_describe_of_hinerv_gives_the_model_section():
    model = described(hinerv, "hinerv")["model"]
    config = preset("hinerv-tiny", 4, 32, 48)
    assert list(model) == list(hinerv.MODEL_FIELDS.keys)
    expected = {**network_values(config), "space": "yuv", "bits": 6}
    assert model == json.loads(json.dumps(expected))
