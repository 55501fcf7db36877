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
import http.client
import io
import math
import os
import pickle
import pickletools
import stat
import tarfile
import tempfile
import urllib.request
import zlib
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


# What a CIFAR-10 batch is: checked for the archive and the extracted folder alike.
CIFAR10_IMAGES_PER_BATCH = 10_000  # each of the 5 train batches and the test batch
CIFAR10_PIXELS = 3 * 32 * 32  # one row of b'data': the R, G and B planes of one image
# A real batch file is ~31 MB (30,720,000 bytes of pixels, the labels and the file names): a
# file or archive member above this is refused before a byte of it is read.
MAX_BATCH_BYTES = 64 << 20
MAX_ARCHIVE_BYTES = 256 << 20  # the published archive is 170,498,071 bytes; hashed only below this
# A real batch is ~40,000 pickle opcodes (~90,000 when re-saved by Python 3): a pickle with more
# is refused before it is loaded, so that it cannot build millions of objects from 1-byte opcodes.
MAX_PICKLE_OPS = 1_000_000
_FIX = f"use the original CIFAR-10 python archive ({CIFAR10_ARCHIVE}): download it again"


class _NdarrayType:
    """Stands for ``numpy.ndarray`` in a batch: a marker for ``_reconstruct``, never called
    (``ndarray((10**13,))`` would allocate 9 TiB)."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError(
            f"numpy.ndarray{_short(args)} is not allowed (only NumPy's own array pickles are)"
        )


_NDARRAY = _NdarrayType()


class _DtypeSpec:
    """``numpy.dtype(spec, align, copy)`` as a pickle builds it: a plain numeric dtype only.

    Object, structured and sub-array dtypes are refused here, before NumPy sees them (NumPy 2.4
    crashes the interpreter on an object array whose pickled list is shorter than its shape).
    """

    _KINDS = "biuf"  # bool, signed, unsigned, float: refused later with a message if not wanted

    def __init__(self, spec, align=False, copy=False):
        if isinstance(spec, bytes):
            spec = spec.decode("latin1")
        if not isinstance(spec, str) or len(spec) > 4:
            raise pickle.UnpicklingError(f"dtype {_short(spec)} is not allowed")
        try:
            dtype = np.dtype(spec)
        except TypeError:
            raise pickle.UnpicklingError(f"dtype {_short(spec)} is not a NumPy dtype") from None
        if dtype.kind not in self._KINDS or dtype.fields is not None or dtype.subdtype:
            raise pickle.UnpicklingError(f"dtype {dtype} is not allowed (numbers only)")
        self.dtype = dtype

    def __setstate__(self, state):
        # (version, byte order, ...): of the state, a plain dtype needs only the byte order.
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if isinstance(order, bytes):
            order = order.decode("latin1")
        if order in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(order)
        elif order not in ("|", "="):
            raise pickle.UnpicklingError(f"dtype byte order {_short(order)} is not valid")


class _ArrayState:
    """``ndarray`` as a pickle builds it: ``_reconstruct`` makes an empty one, then its state
    (shape, dtype, Fortran order, raw bytes) fills it. Here the state is checked first (shape
    times item size must be exactly the bytes the file holds) and the array is a view of those
    bytes: nothing is allocated that the file does not hold, and NumPy's ``__setstate__`` is
    never called."""

    array: np.ndarray | None = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4):
            raise pickle.UnpicklingError("an array state that is not (shape, dtype, order, data)")
        shape, spec, fortran, raw = state
        if not isinstance(spec, _DtypeSpec):
            raise pickle.UnpicklingError("an array whose dtype is not a plain NumPy dtype")
        if not (
            isinstance(shape, tuple)
            and len(shape) <= 32
            and all(type(d) is int and d >= 0 for d in shape)
        ):
            raise pickle.UnpicklingError(f"an array shape {_short(shape)} that is not valid")
        if not isinstance(raw, bytes):
            raise pickle.UnpicklingError("an array whose data are not raw bytes")
        want = math.prod(shape) * spec.dtype.itemsize
        if want != len(raw):
            raise pickle.UnpicklingError(
                f"an array of shape {shape} {spec.dtype} ({want} bytes) "
                f"with {len(raw)} bytes of data"
            )
        self.array = np.frombuffer(raw, dtype=spec.dtype).reshape(
            shape, order="F" if fortran else "C"
        )


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NDARRAY or shape != (0,):
        raise pickle.UnpicklingError(
            f"_reconstruct({_short(subtype)}, {_short(shape)}, ...) is not how NumPy pickles "
            "an array"
        )
    return _ArrayState()


def _scalar(spec, raw=None):
    if not isinstance(spec, _DtypeSpec) or not isinstance(raw, bytes):
        raise pickle.UnpicklingError("a NumPy scalar that is not a number")
    if len(raw) != spec.dtype.itemsize:
        raise pickle.UnpicklingError(f"a {spec.dtype} scalar with {len(raw)} bytes")
    return np.frombuffer(raw, dtype=spec.dtype)[0]


def _latin1_encode(obj, encoding="utf-8", errors="strict"):
    # Python 3 writes bytes at protocol 2 as _codecs.encode(text, "latin1"); any other codec
    # ("hex", "zlib", ...) is refused: chained, "hex" alone would double the size at each call.
    if not isinstance(obj, str) or encoding != "latin1" or errors != "strict":
        raise pickle.UnpicklingError(
            f"_codecs.encode with codec {_short(encoding)} is not allowed (only bytes as latin1)"
        )
    return obj.encode("latin1")


class _CifarUnpickler(pickle.Unpickler):
    """Builds only plain containers, bytes, numbers, strings and plain numeric NumPy arrays.

    The CIFAR-10 batches hold a dict with a uint8 ``ndarray``; building one needs exactly the
    NumPy globals below, each replaced by a stand-in that checks its arguments, allocates
    nothing the file does not hold and runs no other code, plus ``_codecs.encode`` (latin1
    only), with which Python 3 writes bytes at pickle protocol 2 (a batch re-saved by Python 3).
    Every other global (``os.system``, ``builtins.eval``, ``__reduce__`` payloads of any class)
    is refused before anything is called.
    """

    ALLOWED = {
        ("_codecs", "encode"): _latin1_encode,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "scalar"): _scalar,
        ("numpy._core.multiarray", "scalar"): _scalar,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _DtypeSpec,
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[module, name]
        raise pickle.UnpicklingError(
            f"global {module}.{name} is not allowed in a CIFAR-10 batch "
            "(only plain containers and NumPy arrays are)"
        )


def _short(value, width: int = 40) -> str:
    """``repr`` cut to ``width`` characters: a message names a value, never megabytes of it."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _scan_pickle(raw: bytes, where: str, fix: str) -> None:
    """Walk the opcodes without building anything: refuse a length that points past the end of
    the file (the C unpickler would allocate it first: 1 TiB for a BINBYTES8 that says so) and
    more opcodes than a batch has."""
    try:
        for count, _ in enumerate(pickletools.genops(raw), 1):
            if count > MAX_PICKLE_OPS:
                raise DataError(
                    f"{where}: more than {MAX_PICKLE_OPS:,} pickle opcodes, far more than a "
                    f"CIFAR-10 batch has; {fix}"
                )
    except ValueError as exc:  # genops reads each declared length from what is there
        raise DataError(
            f"{where}: truncated or not a CIFAR-10 batch (pickle: {_short(str(exc), 100)}); {fix}"
        ) from None


def _field(batch: dict, key: bytes):
    value = batch[key]
    if isinstance(value, _ArrayState):
        return value.array  # None if the pickle never gave it its data
    return value


def _check_labels(labels, n: int, where: str, fix: str) -> np.ndarray:
    """A 1-D list (or integer array) of ints 0..9, one per image: anything else is named."""
    head = f"{where}: field b'labels'"
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise DataError(
                f"{head} is a {labels.dtype} array of shape {labels.shape}, want a 1-D list of "
                f"integers 0..9; {fix}"
            )
        values = labels.astype(np.int64)
        bad = np.flatnonzero((values < 0) | (values > 9))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{head}[{i}] is {labels[i]}, want an integer 0..9; {fix}")
    elif isinstance(labels, list | tuple):
        for i, v in enumerate(labels):
            if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
                raise DataError(
                    f"{head}[{i}] is {_short(v)} ({type(v).__name__}), want an integer 0..9; {fix}"
                )
            if not 0 <= v <= 9:
                raise DataError(f"{head}[{i}] is {_short(v)}, want an integer 0..9; {fix}")
        values = np.array(labels, dtype=np.int64)
    else:
        raise DataError(f"{head} is a {type(labels).__name__}, want a list of integers 0..9; {fix}")
    if len(values) != n:
        raise DataError(f"{head} has {len(values)} labels for {n} images; {fix}")
    return values


def _load_batch(
    raw: bytes, where: str, fix: str = _FIX, images: int = CIFAR10_IMAGES_PER_BATCH
) -> tuple[np.ndarray, np.ndarray]:
    """One batch's pickle to (NHWC uint8 images, int64 labels), or a DataError that names the
    batch (``where``), the field and the value, and ends with ``fix``."""
    _scan_pickle(raw, where, fix)
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{where}: refused: {exc}; {fix}") from None
    except (
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        RecursionError,
    ) as exc:
        raise DataError(
            f"{where}: truncated or not a CIFAR-10 batch ({type(exc).__name__}: "
            f"{_short(str(exc), 100)}); {fix}"
        ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(
            f"{where}: not a CIFAR-10 batch (expected a dict with b'data', b'labels'); {fix}"
        )
    data = _field(batch, b"data")
    want = f"want a uint8 array of shape ({images}, {CIFAR10_PIXELS})"
    if not isinstance(data, np.ndarray):
        raise DataError(f"{where}: field b'data' is a {type(data).__name__}, {want}; {fix}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR10_PIXELS:
        raise DataError(
            f"{where}: field b'data' is a {data.dtype} array of shape {data.shape}, {want}; {fix}"
        )
    if len(data) != images:
        raise DataError(
            f"{where}: field b'data' holds {len(data)} images, a CIFAR-10 batch holds "
            f"{images}; {fix}"
        )
    labels = _check_labels(_field(batch, b"labels"), len(data), where, fix)
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


def _unwritable_message(path: Path, exc: OSError, root: Path) -> str:
    return (
        f"{path}: cannot write there ({exc.strerror or exc}): make {root} a writable folder, "
        f"or put {CIFAR10_ARCHIVE} there yourself, or point --data-dir or {DATA_ENV} at a "
        "writable folder"
    )


def download_cifar10(root: Path, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5) -> Path:
    """Download the archive into ``root``, verify its checksum, then move it into place.

    The bytes go to a temporary file next to the target, renamed onto it only once the checksum
    matches: the target is either absent or complete, never half-written.
    """
    target = root / CIFAR10_ARCHIVE
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".download-", suffix=".part")
    except OSError as exc:
        raise DataError(_unwritable_message(Path(exc.filename or root), exc, root)) from None
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise DataError(
                f"could not download {url} ({exc or type(exc).__name__}). {_missing_message(root)}"
            ) from None
        got = md5sum(Path(tmp))
        if got != md5:
            raise DataError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); nothing kept")
        os.replace(tmp, target)
    except OSError as exc:  # writing the temporary file, or renaming it onto the target
        raise DataError(_unwritable_message(target, exc, root)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _path_kind(path: Path) -> str | None:
    """'file', 'folder', another kind's name, or None where nothing is; DataError if the
    path cannot be looked at."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise DataError(
            f"{path}: cannot look at it ({exc.strerror or exc}): make it and its folders "
            f"readable, or point --data-dir or {DATA_ENV} elsewhere"
        ) from None
    return _kind(st.st_mode)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def _open_regular(path: Path, fix: str, limit: int | None, what: str = "a CIFAR-10 batch"):
    """Open ``path`` for reading, refusing without blocking anything that is not a regular file
    (a FIFO is opened non-blocking, so that no writer is waited for) or is over ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        if isinstance(exc, IsADirectoryError):  # where a folder cannot be opened
            raise DataError(f"{path}: not a regular file (a folder); {fix}") from None
        raise DataError(
            f"{path}: cannot read it ({exc.strerror or exc}): make it readable, or point "
            f"--data-dir or {DATA_ENV} elsewhere"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{path}: not a regular file (a {_kind(st.st_mode)}); {fix}")
        if limit is not None and st.st_size > limit:
            raise DataError(
                f"{path}: {st.st_size:,} bytes, more than {what} can be ({limit >> 20} MiB); {fix}"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_batch_file(path: Path, fix: str) -> bytes:
    with _open_regular(path, fix, MAX_BATCH_BYTES) as fh:
        try:
            raw = fh.read(MAX_BATCH_BYTES + 1)
        except OSError as exc:
            raise DataError(f"{path}: cannot read it ({exc.strerror or exc}); {fix}") from None
    if len(raw) > MAX_BATCH_BYTES:  # it grew after it was looked at
        raise DataError(
            f"{path}: more than a CIFAR-10 batch can be ({MAX_BATCH_BYTES >> 20} MiB); {fix}"
        )
    return raw


def load_cifar10(
    root: Path | str | None = None,
    *,
    download: bool = False,
    md5: str | None = None,
    images_per_batch: int | None = None,
) -> Dataset:
    """CIFAR-10 from ``root`` (archive or extracted folder); 50,000 train and 10,000 test images.

    An archive is checked against ``md5`` before it is opened (the published one by default).
    Archive and folder then go through the same checks: six batches, each a regular file of at
    most ``MAX_BATCH_BYTES``, each holding ``images_per_batch`` uint8 images (10,000, the
    published layout, unless given: tests write small archives in the real format) and as
    many labels, integers 0..9.
    """
    images = CIFAR10_IMAGES_PER_BATCH if images_per_batch is None else images_per_batch
    md5 = CIFAR10_MD5 if md5 is None else md5  # read here, not at import: tests set both
    root = Path(root) if root else default_data_dir()
    folder = root / CIFAR10_DIR
    archive = root / CIFAR10_ARCHIVE
    names = (*CIFAR10_TRAIN, CIFAR10_TEST)
    folder_kind = _path_kind(folder)
    if folder_kind not in (None, "folder"):
        raise DataError(
            f"{folder}: not a folder (a {folder_kind}); remove it, and extract "
            f"{CIFAR10_ARCHIVE} there again or put the archive itself in {root}"
        )
    if folder_kind == "folder":
        fix = (
            f"replace {folder} with the folder extracted from the original {CIFAR10_ARCHIVE} "
            "(download it again)"
        )
        raw = {}
        for n in names:
            p = folder / n
            if _path_kind(p) is None:
                raise DataError(f"{p} is missing. {_missing_message(root)}")
            raw[n] = (_read_batch_file(p, fix), str(p))
    else:
        fix = f"delete {archive} and download it again"
        archive_kind = _path_kind(archive)
        if archive_kind not in (None, "file"):
            raise DataError(f"{archive}: not a regular file (a {archive_kind}); {fix}")
        if archive_kind is None:
            if not download:
                raise DataError(_missing_message(root))
            _download_once(root, archive)
        raw = _read_archive(archive, names, md5, fix)
    parts = {n: _load_batch(data, where, fix, images) for n, (data, where) in raw.items()}
    x_train = np.concatenate([parts[n][0] for n in CIFAR10_TRAIN])
    y_train = np.concatenate([parts[n][1] for n in CIFAR10_TRAIN])
    x_test, y_test = parts[CIFAR10_TEST]
    return Dataset("cifar10", x_train, y_train, x_test, y_test)


def _download_once(root: Path, archive: Path) -> None:
    lock = root / ".cifar-10-download.lock"
    try:
        root.mkdir(parents=True, exist_ok=True)
        # xdist workers share the data folder: one downloads, the others wait and reuse it.
        with FileLock(lock):
            if not archive.is_file():
                download_cifar10(root)
    except OSError as exc:
        raise DataError(_unwritable_message(Path(exc.filename or lock), exc, root)) from None


def _read_archive(archive: Path, names, md5: str, fix: str) -> dict[str, tuple[bytes, str]]:
    """The six batches' bytes from the archive: checksum first, then each member checked (a
    regular file, at most ``MAX_BATCH_BYTES`` by its header) before a byte of it is read."""
    wanted = {f"{CIFAR10_DIR}/{n}": n for n in names}
    raw: dict[str, tuple[bytes, str]] = {}
    with _open_regular(archive, fix, MAX_ARCHIVE_BYTES, "the CIFAR-10 archive") as fh:
        try:
            h = hashlib.md5()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        except OSError as exc:
            raise DataError(f"{archive}: cannot read it ({exc.strerror or exc}); {fix}") from None
        got = h.hexdigest()
        if got != md5:
            raise DataError(
                f"{archive}: checksum mismatch (md5 {got}, expected {md5}): the file is "
                "truncated or not the CIFAR-10 python archive; delete it and download it again"
            )
        fh.seek(0)
        try:
            with tarfile.open(fileobj=fh, mode="r:gz") as tar:
                for member in tar:
                    n = wanted.get(member.name)
                    if n is None:
                        continue
                    where = f"{archive}:{member.name}"
                    if n in raw:
                        raise DataError(f"{where}: the member appears twice; {fix}")
                    if not member.isreg():
                        raise DataError(f"{where}: not a regular file in the archive; {fix}")
                    if member.size > MAX_BATCH_BYTES:
                        raise DataError(
                            f"{where}: its header says {member.size:,} bytes, more than a "
                            f"CIFAR-10 batch can be ({MAX_BATCH_BYTES >> 20} MiB); {fix}"
                        )
                    data = tar.extractfile(member).read(member.size)
                    if len(data) != member.size:
                        raise EOFError(f"{member.name} is cut short")
                    raw[n] = (data, where)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise DataError(
                f"{archive}: truncated or not a tar.gz archive ({exc}); {fix}"
            ) from None
    for n in names:
        if n not in raw:
            raise DataError(f"{archive}: member {CIFAR10_DIR}/{n} is missing; {fix}")
    return {n: raw[n] for n in names}


DATASETS = ("digits32", "cifar10")


def load_dataset(
    name: str, data_dir: Path | str | None = None, *, download: bool = False
) -> Dataset:
    if name == "digits32":
        return load_digits32()
    if name == "cifar10":
        return load_cifar10(data_dir, download=download)
    raise ConfigError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")
