"""The `edgewright` command line (`pip install "kubeedge-cloudcore-sdk[cli]"`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    try:
        from .app import main as run
    except ImportError as err:  # the SDK without its cli extra
        sys.stderr.write(
            f"edgewright needs the cli extra: pip install 'kubeedge-cloudcore-sdk[cli]' ({err})\n"
        )
        sys.exit(2)
    run(argv)


__all__ = ["main"]
