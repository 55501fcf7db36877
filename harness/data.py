"""Datasets: the same uint8 NHWC arrays, in the same order, for both frameworks.

- ``digits32``: scikit-learn's bundled 8x8 handwritten digits (1797 real images, no download),
  upscaled to 32x32x3, with a fixed stratified train/test split. The embedded default.
- ``cifar10``: the standard CIFAR-10 "python version" (``cifar-10-python.tar.gz`` or the extracted
  ``cifar-10-batches-py/``), read with a restricted unpickler, downloaded with checksum
  verification where the network allows.

Scaling to [0, 1] happens in the adapters (``/ 255``, as the paper's ``ToTensor()`` did); nothing
is normalized, augmented or shuffled here.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from .errors import ConfigError, DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"
DATA_ENV = "CROSSEDWIRES_DATA"


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # uint8, (N, 32, 32, 3), NHWC
    y_train: np.ndarray  # int64, (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = 10

    def subset(self, train: int | None, test: int | None) -> Dataset:
        """The first ``train`` / ``test`` images, order kept (None keeps all)."""
        return Dataset(
            name=self.name,
            x_train=self.x_train[:train],
            y_train=self.y_train[:train],
            x_test=self.x_test[:test],
            y_test=self.y_test[:test],
            num_classes=self.num_classes,
        )

    def describe(self) -> dict:
        return {
            "dataset": self.name,
            "train_size": int(len(self.y_train)),
            "test_size": int(len(self.y_test)),
            "image_shape": list(self.x_train.shape[1:]),
            "scaling": "x / 255, no normalization, no augmentation",
            "shuffle": False,
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """sha256 of the arrays: the same data gives the same fingerprint on every machine."""
        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


# --- digits32 --------------------------------------------------------------------------------


def load_digits32(test_size: int = 497, seed: int = 0) -> Dataset:
    """sklearn's 8x8 digits, upscaled 4x (each pixel a 4x4 block) to 32x32, grey in 3 channels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    images = np.kron(images, np.ones((1, 4, 4), dtype=np.uint8))  # (N, 32, 32)
    images = np.repeat(images[..., None], 3, axis=-1)  # (N, 32, 32, 3)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return Dataset("digits32", x_train, y_train, x_test, y_test)


# --- cifar10 ---------------------------------------------------------------------------------


class _CifarUnpickler(pickle.Unpickler):
    """Builds only plain containers, bytes, numbers, strings and plain NumPy arrays.

    The CIFAR-10 batches hold a dict with a uint8 ``ndarray``; building one needs exactly these
    NumPy globals, which construct an array from a shape, a dtype and raw bytes and run no other
    code, plus ``_codecs.encode``, with which Python 3 writes bytes at pickle protocol 2 (a batch
    re-saved by Python 3). Every other global (``os.system``, ``builtins.eval``, ``__reduce__``
    payloads of any class) is refused before anything is called.
    """

    ALLOWED = {
        ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"global {module}.{name} is not allowed in a CIFAR-10 batch "
            "(only plain containers and NumPy arrays are)"
        )


def _load_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{where}: refused: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(
            f"{where}: truncated or not a CIFAR-10 batch ({type(exc).__name__}: {exc}); "
            "download the archive again"
        ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{where}: not a CIFAR-10 batch (expected a dict with b'data', b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"{where}: b'data' has shape {data.shape} {data.dtype}, want (N, 3072) uint8"
        )
    if len(labels) != len(data):
        raise DataError(f"{where}: {len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels outside 0..9")
    # Stored as (N, 3, 32, 32) row-major channel planes: to NHWC.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "crossedwires")


def _missing_message(root: Path) -> str:
    return (
        f"CIFAR-10 not found in {root}: put {CIFAR10_ARCHIVE} (md5 {CIFAR10_MD5}, from "
        f"{CIFAR10_URL}) or its extracted {CIFAR10_DIR}/ folder there, or point --data-dir "
        f"or {DATA_ENV} at the folder that holds it"
    )


def download_cifar10(root: Path, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5) -> Path:
    """Download the archive into ``root``, verify its checksum, then move it into place."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / CIFAR10_ARCHIVE
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".download-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        got = md5sum(Path(tmp))
        if got != md5:
            raise DataError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); nothing kept")
        os.replace(tmp, target)
    except OSError as exc:
        raise DataError(f"could not download {url} ({exc}). {_missing_message(root)}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load_cifar10(
    root: Path | str | None = None, *, download: bool = False, md5: str = CIFAR10_MD5
) -> Dataset:
    """CIFAR-10 from ``root`` (archive or extracted folder); 50,000 train and 10,000 test images.

    An archive is checked against ``md5`` before it is opened (the published one by default).
    """
    root = Path(root) if root else default_data_dir()
    folder = root / CIFAR10_DIR
    archive = root / CIFAR10_ARCHIVE
    names = (*CIFAR10_TRAIN, CIFAR10_TEST)
    if folder.is_dir():
        raw = {}
        for n in names:
            p = folder / n
            if not p.is_file():
                raise DataError(f"{p} is missing. {_missing_message(root)}")
            raw[n] = (p.read_bytes(), str(p))
    else:
        if not archive.is_file():
            if not download:
                raise DataError(_missing_message(root))
            root.mkdir(parents=True, exist_ok=True)
            # xdist workers share the data folder: one downloads, the others wait and reuse it.
            with FileLock(root / ".cifar-10-download.lock"):
                if not archive.is_file():
                    download_cifar10(root)
        got = md5sum(archive)
        if got != md5:
            raise DataError(
                f"{archive}: checksum mismatch (md5 {got}, expected {md5}): the file is "
                "truncated or not the CIFAR-10 python archive; delete it and download it again"
            )
        raw = _read_archive(archive, names)
    parts = {n: _load_batch(data, where) for n, (data, where) in raw.items()}
    x_train = np.concatenate([parts[n][0] for n in CIFAR10_TRAIN])
    y_train = np.concatenate([parts[n][1] for n in CIFAR10_TRAIN])
    x_test, y_test = parts[CIFAR10_TEST]
    return Dataset("cifar10", x_train, y_train, x_test, y_test)


def _read_archive(archive: Path, names) -> dict[str, tuple[bytes, str]]:
    raw = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for n in names:
                member = f"{CIFAR10_DIR}/{n}"
                try:
                    fh = tar.extractfile(member)
                except KeyError:
                    fh = None
                if fh is None:
                    raise DataError(f"{archive}: member {member} is missing; download it again")
                raw[n] = (fh.read(), f"{archive}:{member}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"{archive}: truncated or not a tar.gz archive ({exc}); download it again"
        ) from None
    return raw


DATASETS = ("digits32", "cifar10")


def load_dataset(
    name: str, data_dir: Path | str | None = None, *, download: bool = False
) -> Dataset:
    if name == "digits32":
        return load_digits32()
    if name == "cifar10":
        return load_cifar10(data_dir, download=download)
    raise ConfigError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")
