"""Atomic writes (`inrcodec.atomic`): nothing half-written is ever visible."""

import os

import pytest

from inrcodec.atomic import atomic_folder, write_atomic


def test_write_and_read_file(tmp_path):
    path = tmp_path / "out.bin"
    write_atomic(path, b"first")
    assert path.read_bytes() == b"first"
    write_atomic(path, b"replaced")  # overwrites an existing file
    assert path.read_bytes() == b"replaced"
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode  # umask respected, not 0o600


def test_atomic_write_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # fails while writing

    def failing_replace(source, destination):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(path, b"new")
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]
    assert path.read_bytes() == b"old"


def test_atomic_folder_refuses_to_replace_a_folder_with_other_files(tmp_path):
    precious = tmp_path / "frames"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing"):
        with atomic_folder(precious, ".png"):
            pass
    assert (precious / "notes.txt").read_text() == "keep me"


def test_atomic_folder_failure_keeps_the_old_folder(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.png").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_folder(frames, ".png") as temporary:
            (temporary / "a.png").write_bytes(b"new")
            raise RuntimeError("encoder crashed")
    assert (frames / "a.png").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["frames"]
