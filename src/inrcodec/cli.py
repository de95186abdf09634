"""The `inrcodec` command."""


def main(argv=None) -> int:
    raise SystemExit("inrcodec: CLI under construction")
