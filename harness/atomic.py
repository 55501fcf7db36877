"""Every file the harness writes appears whole or not at all."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path: Path, mode: str = "w"):
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A crash, a kill or an exception at any moment leaves ``path`` as it was (old or absent),
    never partial: readers see the old file or the new one. On an exception the temporary file
    is removed; after a SIGKILL a hidden ``.<name>.*.tmp`` may remain, which no reader opens.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() would not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)
