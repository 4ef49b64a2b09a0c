"""Shared bits of the test agents: the READY line and tolerant argument handling."""

from __future__ import annotations

import os
import sys


def ready(*extra: object) -> None:
    """Tell the test we are up: `READY <pid> [extra...]`, flushed at once."""
    print("READY", os.getpid(), *extra, flush=True)


def positional(argv: list[str] | None = None) -> list[str]:
    """Our positional arguments, skipping `--tag X` and any other `--opt[=value]` flags."""
    args = list(sys.argv[1:] if argv is None else argv)
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--tag", "--comm", "--exec-b64"):
            skip = True
        elif not arg.startswith("--"):
            out.append(arg)
    return out


def option(flag: str, default: str | None = None) -> str | None:
    """The value after `flag` in argv, or `default`."""
    args = sys.argv[1:]
    for i, arg in enumerate(args[:-1]):
        if arg == flag:
            return args[i + 1]
    return default


def sleep_forever() -> None:
    """Idle until killed, without burning CPU."""
    import time

    while True:
        time.sleep(3600)
