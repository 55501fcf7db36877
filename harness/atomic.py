"""Every file the harness writes appears whole or not at all."""

from __future__ import annotations

import os
import re
import stat
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


STALE_AFTER_S = 3600.0  # a temporary file lives for one write (seconds at most); older: left
# atomic_open's temporary names: mkstemp(prefix=".<name>.", suffix=".tmp") adds 8 of [a-z0-9_]
TEMPORARY_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary files ``atomic_open`` leaves when its process is killed mid-write,
    anywhere under ``folder``: only names of its pattern, only regular files (never a link),
    only those untouched for ``older_than_s`` (so a concurrent writer's file is left alone).
    The removed paths."""
    removed, cutoff = [], time.time() - older_than_s
    for parent, _dirs, names in os.walk(folder):  # does not follow links to folders
        for name in names:
            if not TEMPORARY_RE.match(name):
                continue
            path = Path(parent) / name
            try:
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError:  # gone meanwhile, or not ours to remove: leave it
                continue
    return sorted(removed)


def check_writable_folder(folder: Path, option: str) -> None:
    """Before any work: ``folder`` is (or can be made) a folder this process can write into,
    tried with a real write (permission bits say nothing for root or a read-only mount).
    Otherwise HarnessError, one line naming ``option``, the path and the fix."""
    folder = Path(folder)
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        what = "is" if blocking == folder else f"{blocking} is in the way:"
        raise HarnessError(
            f"{option} {folder}: {what} a file, not a folder; give a folder, or move the file"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".crossedwires-probe.", suffix=".tmp")
        try:
            os.write(fd, b"x")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise HarnessError(
            f"{option} {folder}: cannot write there ({exc.strerror}); make it writable, free "
            "some space, or give another folder"
        ) from None


def read_small_text(path: Path, max_bytes: int, what: str, error: type, fix: str = "") -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; otherwise ``error`` (a
    HarnessError) naming the path, what is wrong and ``fix``. A folder, FIFO or device is refused
    before it is opened (nothing blocks, nothing reads /dev/zero until memory runs out)."""
    path = Path(path)
    then = f"; {fix}" if fix else ""
    try:
        info = path.stat()
    except FileNotFoundError:
        why = "a dangling link: remove it" if path.is_symlink() else f"no such {what}"
        raise error(f"{path}: {why}{then}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}){then}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file; a {what} is a file: remove it{then}")
    if info.st_size > max_bytes:
        raise error(f"{path}: {info.st_size} bytes, more than a {what} holds ({max_bytes})")
    try:
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}){then}") from None
