"""Every file the harness writes appears whole or not at all."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import HarnessError


@contextmanager
def atomic_open(path: Path, mode: str = "w"):
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A crash, a kill or an exception at any moment leaves ``path`` as it was (old or absent),
    never partial: readers see the old file or the new one. On an exception the temporary file
    is removed; after a SIGKILL a hidden ``.<name>.*.tmp`` may remain, which no reader opens
    and ``remove_stale_temporaries`` removes.
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


STALE_AFTER_S = 600  # a temporary file lives for one write (milliseconds); older ones were left


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary files ``atomic_open`` leaves when its process is killed mid-write
    (``.<name>.<random>.tmp``, anywhere under ``folder``, last touched more than
    ``older_than_s`` ago, so a concurrent writer's file is left alone); the removed paths."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for path in folder.rglob(".*.tmp"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone already, or not ours to remove: leave it
    return removed


def check_writable_folder(folder: Path, option: str) -> None:
    """Before any work: ``folder`` is (or can be made) a folder this process can write into.
    Otherwise HarnessError, one line naming ``option``, the path and the fix."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"{option} {folder}: is a file, not a folder; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".crossedwires-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HarnessError(
            f"{option} {folder}: cannot write there ({exc.strerror}); give a writable folder"
        ) from None
