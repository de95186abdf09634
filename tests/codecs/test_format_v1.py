"""Files of format version 1 are refused with a message that says what to do: their
quantised payloads do not record their lowest-symbol tail (docs/bitstream.md 3.3), so a
reader could not prove that they hold the symbol counts their headers declare.

``tests/data/format_v1/`` holds one small file per codec, written by the code of commit
20f7b43 (`test_format_v2` describes them: the version-2 golden files hold their content).
"""

from __future__ import annotations

import pytest

from conftest import REPO
from inrcodec.cli import main
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.coding import BitstreamError, read_container

DATA = REPO / "tests" / "data" / "format_v1"
REFUSAL = "format version 1 is no longer read .*: re-encode the video with this inrcodec"
READERS = {
    "hinerv": hinerv.read_payload,
    "nvrc": nvrc.read_payload,
    "teconerv": teconerv.read_payload,
}


@pytest.mark.parametrize("codec", list(READERS))
def test_a_version_1_file_is_refused_with_what_to_do(codec):
    data = (DATA / f"{codec}.inrc").read_bytes()
    assert data[:5] == b"INRC\x01"
    with pytest.raises(BitstreamError, match=REFUSAL):
        READERS[codec](data)
    with pytest.raises(BitstreamError, match=REFUSAL):
        read_container(DATA / f"{codec}.inrc")


@pytest.mark.parametrize("command", ["info", "decode"])
def test_the_command_reports_a_version_1_file_in_one_line(command, tmp_path, capsys):
    output = ["-o", str(tmp_path / "out.y4m")] if command == "decode" else []
    assert main([command, str(DATA / "hinerv.inrc"), *output]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"inrcodec: error: {DATA / 'hinerv.inrc'}: format version 1 is no")
    assert "re-encode the video" in error and error.count("\n") == 1
    assert not (tmp_path / "out.y4m").exists()
