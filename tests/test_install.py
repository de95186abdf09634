"""A non-editable install codes with TeCoNeRV: the CPU models ship in the wheel as package data.

Slow (about 15 s): a wheel is built from a copy of the checkout and installed, without its
dependencies, into a fresh virtual environment that reads torch and the rest from this
interpreter's site-packages (a ``.pth`` file); ``inrcodec encode --codec teconerv`` and
``inrcodec decode`` without ``--model`` then run there, outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from inrcodec.codecs.api import decode
from inrcodec.io import read_video

MODELS = ("nerv-enc-cpu", "patch-tubelet-cpu", "patch-tubelet-cpu-small", "teconerv-cpu",
          "teconerv-cpu-small")  # fmt: skip

INSTALLED_DECODER = """
import sys

import inrcodec
from inrcodec.codecs.api import decode

decode(open("clip.inrc", "rb").read())
print(inrcodec.__file__)
print(*sorted(m for m in sys.modules if m.startswith("inrcodec.codecs.teconerv")))
"""


def run(*command, **options) -> str:
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=300, **options
    )
    return done.stdout


@pytest.mark.slow
def test_a_wheel_install_finds_the_teconerv_models(tmp_path, sample_y4m):
    source = tmp_path / "source"
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp_path, source)
    [wheel] = tmp_path.glob("inrcodec-*.whl")
    packaged = sorted(n for n in zipfile.ZipFile(wheel).namelist() if "/models/" in n)
    folder = "inrcodec/codecs/teconerv/models"
    assert packaged == sorted(
        f"{folder}/{m}.{ext}" for m in MODELS for ext in ("json", "safetensors")
    )

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel)

    work = tmp_path / "work"
    work.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INRCODEC_TECONERV_MODELS")
    }
    inrcodec = venv / "bin" / "inrcodec"
    encode = ["encode", sample_y4m, "-o", "clip.inrc", "--codec", "teconerv", "--frames", "16"]
    assert "teconerv teconerv-cpu" in run(inrcodec, *encode, "--no-progress", cwd=work, env=env)
    assert "16 frames" in run(inrcodec, "decode", "clip.inrc", "-o", "out.y4m", cwd=work, env=env)
    assert read_video(work / "out.y4m").load() == decode((work / "clip.inrc").read_bytes())

    where, modules = run(python, "-c", INSTALLED_DECODER, cwd=work, env=env).splitlines()
    imported = set(modules.split())
    assert Path(where).is_relative_to(site)  # the installed package, not the checkout
    assert "inrcodec.codecs.teconerv.codec" in imported
    assert not imported & {"inrcodec.codecs.teconerv.train", "inrcodec.codecs.teconerv.data"}
