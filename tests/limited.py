"""The `inrcodec` command in a child process whose memory is bounded: an address-space limit
(``RLIMIT_AS``) of what the child maps once torch and every decoder are imported, plus a
budget. A test that runs a command under it shows that the command's memory does not grow
with what a file declares."""

from __future__ import annotations

import os
import subprocess
import sys

_CHILD = """
import os, resource, sys
from importlib import import_module
import numpy, torch
from inrcodec.cli import main
from inrcodec.codecs.registry import file_codecs
torch.set_num_threads(1)
for entry in file_codecs().values():
    import_module(entry.module + ".codec")
import_module("inrcodec.metrics")  # what info imports when it runs
numpy.ones((64, 64)) @ numpy.ones((64, 64))  # OpenBLAS maps its buffers on the first product
mapped = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
limit = mapped + int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def run_limited(
    args: list[str], memory_mb: int, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``inrcodec ARGS`` with ``memory_mb`` MiB of address space beyond its imports, on one
    thread; its exit status and output (text)."""
    # One malloc arena: glibc gives a thread that allocates its own arena, reserving 64 MiB of
    # address space at once, which made the limit fail now and then on no real allocation.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MALLOC_ARENA_MAX": "1"}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(memory_mb), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
