"""A tiny codec for the harness tests: it "codes" by quantising luma, fast and deterministic.

``num_bytes`` is the zlib size of the quantised luma, so coarser steps give fewer bytes and
lower quality, like a real codec. Options: ``delay`` (seconds to sleep per point, to test
interrupted runs), ``log`` (a file that gets one line per coded point), ``fail_at`` (a rate
point that raises), ``crash_once`` (a file: the first point to find it absent creates it and
kills its own process after logging, as a worker that dies mid-run).

Run as a script, it is the `inrcodec` command with this codec registered as ``fake``:
``python tests/fake_codec.py bench run ...``. `write_small_clip` makes a clip small enough for
quick harness tests.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from inrcodec.codecs import CODECS, Codec, CodecEntry, CodecError, Coded
from inrcodec.io import Video, read_video, write_video

REGISTRY_ENTRY = CodecEntry("fake_codec", "FakeCodec")


class FakeCodec(Codec):
    name = "fake"
    rate_parameter = "step"

    def __init__(
        self,
        delay: float = 0.0,
        log: str | None = None,
        fail_at: int | None = None,
        crash_once: str | None = None,
    ):
        self.delay, self.log, self.fail_at, self.crash_once = delay, log, fail_at, crash_once

    def default_rate_points(self) -> list[int]:
        return [4, 8, 16, 32]

    def check_rate_point(self, rate_point) -> None:
        if not isinstance(rate_point, int) or not 1 <= rate_point <= 64:
            raise CodecError(f"fake: step must be an integer from 1 to 64, got {rate_point!r}")

    def code(self, video: Video, rate_point, workdir: Path) -> Coded:
        if rate_point == self.fail_at:
            raise RuntimeError(f"asked to fail at step {rate_point}")
        if self.log:
            with open(self.log, "a") as file:
                file.write(f"{rate_point} {video.num_frames}\n")
        if self.crash_once:
            try:
                os.close(os.open(self.crash_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        time.sleep(self.delay)
        luma = video.planes[0].astype(np.int32)
        quantised = np.clip((luma // rate_point) * rate_point + rate_point // 2, 0, 255)
        quantised = quantised.astype(video.format.dtype)
        num_bytes = len(zlib.compress(quantised.tobytes(), 6))
        decoded = Video((quantised, *(np.array(p) for p in video.planes[1:])), video.format)
        return Coded(num_bytes, decoded, 0.01, 0.01, {"quantiser": "luma"})

    def settings(self) -> dict:
        return {"delay": self.delay}

    def versions(self) -> dict[str, str]:
        return {"fake": "1.0"}


def write_small_clip(source: Path, path: Path, frames: int = 4) -> Path:
    """The top-left 64x48 of ``source`` (4:2:0): real content, and metrics ten times faster
    than on the whole 176x144 sample."""
    video = read_video(source, frames=frames)
    cropped = [video.planes[0][:, :48, :64], *(p[:, :24, :32] for p in video.planes[1:])]
    write_video(Video(tuple(cropped), video.format.with_(width=64, height=48)), path)
    return path


if __name__ == "__main__":
    from inrcodec.cli import main

    CODECS["fake"] = REGISTRY_ENTRY
    sys.exit(main(sys.argv[1:]))
