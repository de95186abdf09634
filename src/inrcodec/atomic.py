"""Atomic writes: build the output under a temporary name next to it, then rename it into place.

A reader of the destination sees either the old content or the complete new one, never a
half-written file, and a write that fails (an exception, a full disk) leaves the destination as
it was and removes its temporary file or folder. This module is a leaf: it imports nothing from
inrcodec, so both `inrcodec.io` and `inrcodec.coding` use it (docs/design.md, "Dependency rules").
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _sibling(destination: Path, role: str) -> Path:
    """A hidden, unused name in the destination's folder (same file system: rename is atomic)."""
    return destination.with_name(f".{destination.name}.{secrets.token_hex(6)}.{role}")


@contextmanager
def atomic_file(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary file to fill; on success it replaces ``destination``.

    The temporary file is created exclusively with the usual permissions (0o666 minus umask),
    synced to disk before the rename, and the rename itself is made durable.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_dir():
        raise IsADirectoryError(f"{destination} is a folder, not a file")
    temporary = _sibling(destination, "tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, destination)
        _fsync(destination.parent, os.O_RDONLY)
    finally:
        temporary.unlink(missing_ok=True)


def check_destination(destination: str | os.PathLike, *, folder: bool = False) -> None:
    """Raise an `OSError` naming ``destination`` if a file (``folder``: a folder) could not be
    written there now: the folder it goes in is missing or not writable (a probe file is
    created and removed in it), or a file's destination is a folder. A command calls this
    before its work, as ffmpeg opens its output first."""
    destination = Path(destination)
    parent = destination.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{destination}: there is no folder {parent} (create it first)")
    if not folder and destination.is_dir():
        raise IsADirectoryError(f"{destination} is a folder, not a file")
    probe = _sibling(destination, "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        raise type(error)(f"{destination}: cannot write in {parent} ({error.strerror})") from None
    probe.unlink()


def write_atomic(destination: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``destination`` atomically (see `atomic_file`)."""
    with atomic_file(destination) as temporary:
        temporary.write_bytes(memoryview(data))


@contextmanager
def atomic_folder(destination: str | os.PathLike, replaceable_suffix: str) -> Iterator[Path]:
    """Yield a new empty folder to fill; on success it takes the place of ``destination``.

    An existing destination is replaced only if it is a folder holding nothing but files ending
    in ``replaceable_suffix`` (frames of an earlier run), so a mistyped path never deletes
    anything else. The swap is two renames; if the second fails the old folder is put back.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(destination, replaceable_suffix)
    temporary = _sibling(destination, "tmp")
    temporary.mkdir()
    try:
        yield temporary
        if destination.exists():
            previous = _sibling(destination, "old")
            os.rename(destination, previous)
            try:
                os.rename(temporary, destination)
            except BaseException:
                os.rename(previous, destination)
                raise
            shutil.rmtree(previous)
        else:
            os.rename(temporary, destination)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def check_replaceable(folder: Path, suffix: str) -> None:
    """Raise `FileExistsError` if ``folder`` exists and is not a folder of ``suffix`` files
    only, which `atomic_folder` would refuse to replace."""
    if folder.exists() and not _holds_only(folder, suffix):
        raise FileExistsError(
            f"{folder} exists and holds more than {suffix} files; refusing to replace it"
        )


def _holds_only(folder: Path, suffix: str) -> bool:
    return folder.is_dir() and all(
        entry.is_file() and entry.suffix.lower() == suffix for entry in folder.iterdir()
    )


def _fsync(path: Path, flags: int) -> None:
    """Flush a file's (or, on POSIX, a folder's) data to disk."""
    if path.is_dir() and os.name != "posix":
        return  # folders cannot be opened on Windows
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
