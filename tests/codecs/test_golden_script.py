"""``tests/data/make_golden.py`` writes a complete golden set: every file parses, writes back
the same bytes and decodes, ``info.json`` is what ``inrcodec info --json`` prints, a second
run writes the same bytes, and a folder in use is written only with ``--force``."""

from __future__ import annotations

import importlib.util
import json

import pytest

import inrcodec
from conftest import REPO
from inrcodec.cli import main as inrcodec_main
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.codecs.teconerv.model_file import save_model

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]

SCRIPT = REPO / "tests" / "data" / "make_golden.py"
READERS = {"hinerv": hinerv, "nvrc": nvrc, "nvrc-latent": nvrc, "teconerv": teconerv}
#: (width, height, frames) of each file's video.
SIZES = {"hinerv": (48, 32, 4), "nvrc": (48, 32, 4), "nvrc-latent": (176, 144, 4),
         "teconerv": (40, 24, 20)}  # fmt: skip


def load_script():
    spec = importlib.util.spec_from_file_location("make_golden", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_golden = load_script()


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The folder of one run of the script."""
    folder = tmp_path_factory.mktemp("golden")
    assert make_golden.main([str(folder)]) == 0
    return folder


def test_the_set_holds_a_file_per_codec_and_info(golden):
    expected = sorted([f"{name}.inrc" for name in READERS] + ["info.json"])
    assert sorted(path.name for path in golden.iterdir()) == expected


@pytest.mark.parametrize("name", READERS)
def test_a_file_parses_and_writes_back_the_same_bytes(golden, name):
    data = (golden / f"{name}.inrc").read_bytes()
    header, payload = READERS[name].read_payload(data)
    assert READERS[name].write_payload(payload, header) == data


@pytest.mark.parametrize("name", READERS)
def test_a_file_decodes_to_frames_of_its_size(golden, name, tmp_path):
    options = {}
    if name == "teconerv":  # the file names an untrained model, which the script builds
        options["model"] = tmp_path / "golden-model.safetensors"
        save_model(make_golden.teconerv_model(), options["model"], make_golden.TECONERV_PRESET)
    video = inrcodec.decode((golden / f"{name}.inrc").read_bytes(), **options)
    assert (video.width, video.height, video.num_frames) == SIZES[name]


@pytest.mark.parametrize("name", READERS)
def test_info_json_is_what_the_command_prints(golden, name, capsys):
    path = golden / f"{name}.inrc"
    assert inrcodec_main(["info", "--json", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed.pop("file") == str(path)
    assert json.loads((golden / "info.json").read_text())[name] == printed


def test_a_folder_in_use_is_refused_without_force(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(SystemExit) as refusal:
        make_golden.main([str(tmp_path)])
    assert refusal.value.code == 2 and "--force" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_a_second_run_with_force_writes_the_same_bytes(golden, tmp_path):
    (tmp_path / "notes.txt").write_text("kept")
    assert make_golden.main([str(tmp_path), "--force"]) == 0
    names = sorted(path.name for path in golden.iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*names, "notes.txt"])
    for name in names:
        assert (tmp_path / name).read_bytes() == (golden / name).read_bytes(), name
    assert (tmp_path / "notes.txt").read_text() == "kept"
