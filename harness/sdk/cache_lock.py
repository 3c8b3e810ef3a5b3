"""What every adapter needs to build into the shared cache: one exclusive file lock (concurrent
pytest-xdist workers, or two pytest runs, build a venv or a driver once) and the tail of a failed
tool's output for the error message."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (created with its folder) for the block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` lines of a tool's output: enough to show why a build failed."""
    return "\n".join(text.strip().splitlines()[-lines:])
