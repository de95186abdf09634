"""The dependency rules of docs/design.md, read from the code's own imports: every import in
src/inrcodec (at module level or inside a function) goes down the floors, never up, and no
codec sub-package imports another."""

from __future__ import annotations

import subprocess
import sys

import pytest

from code_structure import SRC, dotted, imports, room
from inrcodec.codecs.registry import file_codecs

#: Each room of the package and the rooms it may import (docs/design.md, "Dependency rules").
FOUNDATION = {"errors", "atomic", "lazy"}
ALLOWED = {
    "errors": set(),
    "atomic": {"errors"},
    "lazy": set(),
    "coding": {"errors", "atomic"},
    "io": {"errors", "atomic"},
    "nets": {"errors"},
    "quant": {"errors", "lazy"},
    "metrics": {"errors", "io"},
    "codecs": FOUNDATION | {"coding", "io", "nets", "quant", "metrics"},
    "baselines": FOUNDATION | {"codecs", "io", "coding", "metrics"},
    "bench": FOUNDATION | {"codecs", "baselines", "io", "coding", "metrics", "__init__"},
    "cli": FOUNDATION | {"codecs", "bench", "baselines", "io", "coding", "metrics", "__init__"},
    "__main__": {"cli"},
    "__init__": {"lazy"},
}
#: The codec sub-packages (`codecs/training/` is what they share).
CODEC_PACKAGES = {entry.module.rpartition(".")[2] for entry in file_codecs().values()}


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_the_floors(path):
    mine = room(dotted(path))
    if path.parent == SRC and path.stem not in ALLOWED:
        pytest.fail(f"{path.name}: a new top-level module needs a row in ALLOWED")
    for name in imports(path):
        theirs = room(name)
        if theirs != mine and theirs in ALLOWED:  # a module of the room, not a name of inrcodec
            assert theirs in ALLOWED[mine], f"{path.relative_to(SRC)} imports {name}"


@pytest.mark.parametrize("package", sorted(CODEC_PACKAGES))
def test_codec_packages_do_not_import_each_other(package):
    for path in (SRC / "codecs" / package).rglob("*.py"):
        for name in imports(path):
            parts = name.split(".")
            if len(parts) > 2 and parts[1] == "codecs" and parts[2] in CODEC_PACKAGES:
                assert parts[2] == package, f"{path.relative_to(SRC)} imports {name}"


#: Modules that train (and `codecs/training/`): a decoder must not load them.
TRAINING = ("training", "train", "objective", "data")


@pytest.mark.integration
def test_decoding_loads_no_training_module(sample_y4m, tmp_path):
    """Decode a real file of every codec in a fresh process and list what it imported."""
    from inrcodec.codecs import api
    from inrcodec.codecs.registry import file_codecs
    from inrcodec.io import read_video

    video = read_video(sample_y4m, frames=8).load()
    options = {
        "nvrc": dict(preset="nvrc-tiny", lam=1.0, steps=6),
        "hinerv": dict(preset="hinerv-tiny", steps=3),
        "teconerv": {},
    }
    assert set(options) == set(file_codecs())
    files = []
    for name, extra in options.items():
        result = api.encode(video, name, device="cpu", progress=False, **extra)
        files.append(tmp_path / f"{name}.inrc")
        files[-1].write_bytes(result.bitstream)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from inrcodec.codecs.api import decode\n"
        "for path in sys.argv[1:]:\n"
        "    decode(Path(path).read_bytes())\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('inrcodec'))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.split()
    assert "inrcodec.codecs.synthesis" in loaded and "inrcodec.codecs.teconerv.codec" in loaded
    training = [
        m for m in loaded if m.startswith("inrcodec.codecs.") and set(m.split(".")) & set(TRAINING)
    ]
    assert not training, f"decoding imported training modules: {training}"
