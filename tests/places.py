"""Real places that cannot be written, or fill up: what a full or read-only disk does.

Root ignores mode bits, so a `chmod 0500` directory is no read-only place for it. As root
(these tests run as root in the dev container) a small tmpfs is mounted and remounted
read-only; as anyone else `chmod 0500` is enough. Where neither works the test is skipped
with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `path` (root only; skipped elsewhere)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    out = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield path
    finally:
        for _ in range(20):
            if _run("umount", str(path)).returncode == 0:
                break
            _run("sync")


@contextlib.contextmanager
def read_only(path: Path, populate: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """`path` as a directory this process cannot write, after `populate(path)` filled it."""
    if os.geteuid() != 0:
        path.mkdir(parents=True, exist_ok=True)
        if populate is not None:
            populate(path)
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(0o700)
        return
    with tmpfs(path, "8m"):
        if populate is not None:
            populate(path)
        out = _run("mount", "-o", "remount,ro", str(path))
        if out.returncode != 0:
            pytest.skip(f"cannot remount a tmpfs read-only here: {out.stderr.strip()}")
        yield path


def fill(directory: Path) -> Path:
    """Write a file until the filesystem of `directory` is full; returns it (delete it to
    give the space back)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 4096
        while True:
            os.write(fd, block)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler
