"""``python -m inrcodec``: the same as the `inrcodec` command."""

import sys

from inrcodec.cli import main

sys.exit(main())
