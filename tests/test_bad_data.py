"""The bad-input catalogue for CIFAR-10 loading (issue 13): each test writes a small archive or
folder in the real CIFAR-10 python format with one thing wrong, and asserts the one-line
DataError that names the file or member, the field and the value, and says what to do."""

from __future__ import annotations

import http.client
import io
import os
import pickle
import signal
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from harness import data
from harness.errors import DataError

from .test_data import write_cifar

pytestmark = pytest.mark.bad_input

N = 4  # images per batch in these small archives
ARCHIVE_OR_FOLDER = pytest.mark.parametrize("archive", [True, False], ids=["archive", "folder"])


def _payload(n: int = N, **fields) -> dict:
    """A batch dict as the real one is (bytes keys, (n, 3072) uint8), with ``fields`` replaced."""
    rng = np.random.default_rng(n)
    payload = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": rng.integers(0, 10, size=n).tolist(),
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    payload.update({k.encode(): v for k, v in fields.items()})
    return payload


def _load_with(root: Path, raw: bytes, *, archive: bool = False, name: str = "test_batch"):
    """Write the six batches with ``name`` replaced by ``raw``; load them."""
    _, md5 = write_cifar(root, archive=archive, n=N, replace={name: raw})
    kw = {"md5": md5} if archive else {}
    return data.load_cifar10(root, images_per_batch=N, **kw)


def _refused(root: Path, raw: bytes, *, archive: bool = False, name: str = "test_batch") -> str:
    with pytest.raises(DataError) as info:
        _load_with(root, raw, archive=archive, name=name)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def _where(root: Path, archive: bool, name: str = "test_batch") -> str:
    if archive:
        return f"{root / data.CIFAR10_ARCHIVE}:{data.CIFAR10_DIR}/{name}: "
    return f"{root / data.CIFAR10_DIR / name}: "


def _fix(root: Path, archive: bool) -> str:
    if archive:
        return f"delete {root / data.CIFAR10_ARCHIVE} and download it again"
    return f"replace {root / data.CIFAR10_DIR} with the folder extracted from the original"


# --- b'labels' -----------------------------------------------------------------------------


@ARCHIVE_OR_FOLDER
def test_labels_that_are_strings_are_refused(tmp_path, archive):
    raw = pickle.dumps(_payload(labels=[b"cat", b"dog", b"cat", b"ship"]), protocol=2)
    msg = _refused(tmp_path, raw, archive=archive)
    assert msg.startswith(_where(tmp_path, archive) + "field b'labels'[0] is b'cat' (bytes), ")
    assert "want an integer 0..9" in msg and _fix(tmp_path, archive) in msg


def test_float_label_is_refused_not_truncated(tmp_path):
    raw = pickle.dumps(_payload(labels=[1, 2, 3.7, 4]), protocol=2)
    msg = _refused(tmp_path, raw)
    assert "field b'labels'[2] is 3.7 (float), want an integer 0..9" in msg


def test_bool_label_is_refused(tmp_path):
    raw = pickle.dumps(_payload(labels=[1, True, 3, 4]), protocol=2)
    assert "field b'labels'[1] is True (bool), want an integer 0..9" in _refused(tmp_path, raw)


def test_two_dimensional_labels_are_refused(tmp_path):
    raw = pickle.dumps(_payload(labels=[[1], [2], [3], [4]]), protocol=2)
    assert "field b'labels'[0] is [1] (list), want an integer 0..9" in _refused(tmp_path, raw)


def test_two_dimensional_label_array_is_refused(tmp_path):
    raw = pickle.dumps(_payload(labels=np.zeros((N, 1), dtype=np.int64)), protocol=2)
    msg = _refused(tmp_path, raw)
    assert f"field b'labels' is a int64 array of shape ({N}, 1), want a 1-D list" in msg


def test_float_label_array_is_refused(tmp_path):
    raw = pickle.dumps(_payload(labels=np.full(N, 3.7)), protocol=2)
    assert "field b'labels' is a float64 array of shape (4,)" in _refused(tmp_path, raw)


@pytest.mark.parametrize(
    "label", [10, -1, 10**30, 2**64 + 3], ids=["ten", "minus-one", "ten-to-30", "beyond-int64"]
)
def test_label_outside_0_to_9_is_named(tmp_path, label):
    raw = pickle.dumps(_payload(labels=[0, 1, 2, label]), protocol=2)
    msg = _refused(tmp_path, raw)
    assert f"field b'labels'[3] is {label}, want an integer 0..9" in msg


def test_label_array_outside_0_to_9_is_named(tmp_path):
    raw = pickle.dumps(_payload(labels=np.array([0, 1, 12, 3], dtype=np.int16)), protocol=2)
    assert "field b'labels'[2] is 12, want an integer 0..9" in _refused(tmp_path, raw)


def test_labels_that_are_one_string_are_refused(tmp_path):
    raw = pickle.dumps(_payload(labels="0123"), protocol=2)
    assert "field b'labels' is a str, want a list of integers 0..9" in _refused(tmp_path, raw)


def test_labels_that_are_not_a_list_are_refused(tmp_path):
    raw = pickle.dumps(_payload(labels={b"a": 1}), protocol=2)
    assert "field b'labels' is a dict, want a list of integers 0..9" in _refused(tmp_path, raw)


def test_fewer_labels_than_images_are_refused(tmp_path):
    raw = pickle.dumps(_payload(labels=[1, 2, 3]), protocol=2)
    assert "field b'labels' has 3 labels for 4 images" in _refused(tmp_path, raw)


# --- b'data' and the batch sizes -------------------------------------------------------------


def test_float_image_data_is_refused(tmp_path):
    raw = pickle.dumps(_payload(data=np.zeros((N, 3072), dtype=np.float32)), protocol=2)
    msg = _refused(tmp_path, raw)
    assert (
        "field b'data' is a float32 array of shape (4, 3072), want a uint8 array of shape " in msg
    )


def test_image_data_of_the_wrong_shape_is_refused(tmp_path):
    raw = pickle.dumps(_payload(data=np.zeros((N, 32, 32, 3), dtype=np.uint8)), protocol=2)
    msg = _refused(tmp_path, raw)
    assert "field b'data' is a uint8 array of shape (4, 32, 32, 3), want a uint8 array of " in msg


def test_image_data_that_is_a_list_is_refused(tmp_path):
    raw = pickle.dumps(_payload(data=[[0] * 3072] * N), protocol=2)
    assert "field b'data' is a list, want a uint8 array of shape (4, 3072)" in _refused(
        tmp_path, raw
    )


@ARCHIVE_OR_FOLDER
def test_batch_with_too_few_images_is_refused(tmp_path, archive):
    raw = pickle.dumps(_payload(n=N - 1), protocol=2)
    msg = _refused(tmp_path, raw, archive=archive, name="data_batch_2")
    assert msg.startswith(
        _where(tmp_path, archive, "data_batch_2")
        + "field b'data' holds 3 images, a CIFAR-10 batch holds 4; "
    )


def test_extracted_folder_is_held_to_the_published_layout(tmp_path):
    """Without ``images_per_batch``, a folder of small batches is refused: 10,000 per batch."""
    write_cifar(tmp_path, archive=False, n=N)
    with pytest.raises(DataError, match=r"holds 4 images, a CIFAR-10 batch holds 10000; replace"):
        data.load_cifar10(tmp_path)


def test_folder_without_a_train_batch_is_refused(tmp_path):
    write_cifar(tmp_path, archive=False, n=N)
    (tmp_path / data.CIFAR10_DIR / "data_batch_5").unlink()
    with pytest.raises(DataError, match=r"data_batch_5 is missing. CIFAR-10 not found in "):
        data.load_cifar10(tmp_path, images_per_batch=N)


def test_archive_without_a_train_batch_is_refused(tmp_path):
    path = tmp_path / data.CIFAR10_ARCHIVE
    with tarfile.open(path, "w:gz") as tar:
        raw = pickle.dumps(_payload(), protocol=2)
        for name in ("data_batch_1", "test_batch"):
            info = tarfile.TarInfo(f"{data.CIFAR10_DIR}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(DataError, match=r"member cifar-10-batches-py/data_batch_2 is missing"):
        data.load_cifar10(tmp_path, md5=data.md5sum(path), images_per_batch=N)


def test_batch_that_is_not_a_dict_is_refused(tmp_path):
    msg = _refused(tmp_path, pickle.dumps([1, 2, 3], protocol=2))
    assert "not a CIFAR-10 batch (expected a dict with b'data', b'labels')" in msg


def test_batch_with_text_keys_is_refused(tmp_path):
    payload = {k.decode(): v for k, v in _payload().items()}
    msg = _refused(tmp_path, pickle.dumps(payload, protocol=2))
    assert "not a CIFAR-10 batch (expected a dict with b'data', b'labels')" in msg


# --- pickles that lie about sizes, or ask for more than they hold ----------------------------


def _proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


@pytest.mark.parametrize(
    "raw, kind",
    [
        (_proto(4) + b"\x8e" + struct.pack("<Q", 1 << 40) + b"xx.", "bytes8"),  # BINBYTES8
        (_proto(4) + b"\x8d" + struct.pack("<Q", 1 << 40) + b"xx.", "unicodestring8"),
        (_proto(3) + b"B" + struct.pack("<I", 2**32 - 1) + b"xx.", "bytes4"),  # BINBYTES
        (_proto(3) + b"C\xff" + b"xx.", "bytes1"),  # SHORT_BINBYTES, 255 declared
        (_proto(4) + b"\x8e" + struct.pack("<Q", 2**64 - 1) + b"xx.", "sys.maxsize"),
    ],
    ids=["binbytes8-1TiB", "binunicode8-1TiB", "binbytes-4GiB", "short-binbytes", "beyond-ssize"],
)
def test_pickle_declaring_more_bytes_than_it_holds_is_refused_before_allocating(
    tmp_path, raw, kind
):
    # The C unpickler allocates a BINBYTES8 before reading it: 1 TiB here, a MemoryError at
    # best. The opcodes are walked first, each length against what the file holds.
    msg = _refused(tmp_path, raw)
    assert msg.startswith(_where(tmp_path, False) + "truncated or not a CIFAR-10 batch (pickle: ")
    assert kind in msg


def test_pickle_with_too_many_opcodes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_PICKLE_OPS", 1000)
    raw = _proto(2) + b"]" * 2000 + b"."  # 2000 empty lists from 2000 bytes
    assert "more than 1,000 pickle opcodes" in _refused(tmp_path, raw)


def _array_pickle(shape, dtype: str, payload) -> bytes:
    """NumPy's own pickle of an array, with any shape, dtype and data put in its state."""

    class Fake:
        def __reduce__(self):
            from numpy._core.multiarray import _reconstruct

            return (
                _reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, shape, np.dtype(dtype), False, payload),
            )

    return pickle.dumps(_payload(data=Fake()), protocol=2)


def test_array_whose_shape_claims_a_terabyte_is_refused(tmp_path):
    raw = _array_pickle((10**9, 3072), "u1", b"\x00" * 3072)
    msg = _refused(tmp_path, raw)
    assert "refused: an array of shape (1000000000, 3072) uint8 (3072000000000 bytes)" in msg
    assert "with 3072 bytes of data" in msg


def test_object_array_is_refused_before_numpy_sees_it(tmp_path):
    # NumPy 2.4 crashes the interpreter (SIGSEGV) on this pickle: a 10**7-element object array
    # whose list holds one item. Refused at the dtype.
    raw = _array_pickle((10**7,), "O", [1])
    assert "refused: dtype object is not allowed (numbers only)" in _refused(tmp_path, raw)


def test_reconstruct_with_a_huge_shape_is_refused(tmp_path):
    class Fake:
        def __reduce__(self):
            from numpy._core.multiarray import _reconstruct

            return (_reconstruct, (np.ndarray, (10**13,), b"b"))

    raw = pickle.dumps(_payload(data=Fake()), protocol=2)
    msg = _refused(tmp_path, raw)
    assert "refused: _reconstruct(" in msg and "is not how NumPy pickles an array" in msg


def test_ndarray_called_with_a_huge_shape_is_refused(tmp_path):
    class Fake:
        def __reduce__(self):
            return (np.ndarray, ((10**13,),))

    raw = pickle.dumps(_payload(data=Fake()), protocol=2)
    assert "refused: numpy.ndarray((10000000000000,),) is not allowed" in _refused(tmp_path, raw)


def test_codec_other_than_latin1_is_refused(tmp_path):
    # _codecs.encode(x, "hex") doubles x: thirty in a row make a few bytes into gigabytes.
    class Hex:
        def __init__(self, inner):
            self.inner = inner

        def __reduce__(self):
            import _codecs

            return (_codecs.encode, (self.inner, "hex"))

    blob: object = b"ab"
    for _ in range(30):
        blob = Hex(blob)
    raw = pickle.dumps(_payload(data=blob), protocol=2)
    assert "refused: _codecs.encode with codec 'hex' is not allowed" in _refused(tmp_path, raw)


# --- sizes before reading, and things that are not regular files ----------------------------


def test_batch_file_over_the_bound_is_refused_unread(tmp_path):
    write_cifar(tmp_path, archive=False, n=N)
    p = tmp_path / data.CIFAR10_DIR / "data_batch_1"
    with open(p, "r+b") as fh:
        fh.truncate(data.MAX_BATCH_BYTES + 1)  # sparse: no disk used, and never read
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path, images_per_batch=N)
    assert str(info.value).startswith(
        f"{p}: 67,108,865 bytes, more than a CIFAR-10 batch can be (64 MiB); replace "
    )


def _tar_with_member(path: Path, info: tarfile.TarInfo, body: bytes = b"") -> None:
    raw = pickle.dumps(_payload(), protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        for name in data.CIFAR10_TRAIN:
            good = tarfile.TarInfo(f"{data.CIFAR10_DIR}/{name}")
            good.size = len(raw)
            tar.addfile(good, io.BytesIO(raw))
        # the header as written, whatever its size says; then a few bytes, not that many
        tar.fileobj.write(info.tobuf(format=tarfile.GNU_FORMAT) + body + b"\0" * 1024)
        tar.offset += 512 + len(body) + 1024


def test_archive_member_whose_header_claims_a_terabyte_is_refused_unread(tmp_path):
    path = tmp_path / data.CIFAR10_ARCHIVE
    info = tarfile.TarInfo(f"{data.CIFAR10_DIR}/test_batch")
    info.size = 1 << 40
    _tar_with_member(path, info, b"\x80\x02}.")
    with pytest.raises(DataError) as info_:
        data.load_cifar10(tmp_path, md5=data.md5sum(path), images_per_batch=N)
    assert str(info_.value) == (
        f"{path}:{data.CIFAR10_DIR}/test_batch: its header says 1,099,511,627,776 bytes, more "
        f"than a CIFAR-10 batch can be (64 MiB); delete {path} and download it again"
    )


def test_archive_member_that_is_a_symlink_is_refused(tmp_path):
    path = tmp_path / data.CIFAR10_ARCHIVE
    info = tarfile.TarInfo(f"{data.CIFAR10_DIR}/test_batch")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    _tar_with_member(path, info)
    with pytest.raises(DataError, match=r"test_batch: not a regular file in the archive; delete"):
        data.load_cifar10(tmp_path, md5=data.md5sum(path), images_per_batch=N)


def test_archive_member_that_appears_twice_is_refused(tmp_path):
    path = tmp_path / data.CIFAR10_ARCHIVE
    raw = pickle.dumps(_payload(), protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        for name in (*data.CIFAR10_TRAIN, "test_batch", "test_batch"):
            info = tarfile.TarInfo(f"{data.CIFAR10_DIR}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(DataError, match=r"test_batch: the member appears twice; delete"):
        data.load_cifar10(tmp_path, md5=data.md5sum(path), images_per_batch=N)


@pytest.fixture
def no_hang():
    """Fail instead of hanging if a FIFO is ever opened for a blocking read."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def hung(signum, frame):
        raise AssertionError("the loader blocked on a FIFO")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def test_batch_that_is_a_folder_is_refused(tmp_path):
    write_cifar(tmp_path, archive=False, n=N)
    p = tmp_path / data.CIFAR10_DIR / "data_batch_4"
    p.unlink()
    p.mkdir()
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path, images_per_batch=N)
    assert str(info.value).startswith(f"{p}: not a regular file (a folder); replace ")


@needs_fifo
def test_batch_that_is_a_fifo_is_refused_without_hanging(tmp_path, no_hang):
    write_cifar(tmp_path, archive=False, n=N)
    p = tmp_path / data.CIFAR10_DIR / "test_batch"
    p.unlink()
    os.mkfifo(p)
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path, images_per_batch=N)
    assert str(info.value).startswith(f"{p}: not a regular file (a FIFO); replace ")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_batch_that_links_to_an_endless_device_is_refused(tmp_path, no_hang):
    write_cifar(tmp_path, archive=False, n=N)
    p = tmp_path / data.CIFAR10_DIR / "data_batch_1"
    p.unlink()
    p.symlink_to("/dev/zero")
    with pytest.raises(DataError, match=r"data_batch_1: not a regular file \(a character device\)"):
        data.load_cifar10(tmp_path, images_per_batch=N)


def test_archive_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / data.CIFAR10_ARCHIVE).mkdir()
    for download in (False, True):  # never downloaded over it either
        with pytest.raises(DataError) as info:
            data.load_cifar10(tmp_path, download=download)
        assert str(info.value) == (
            f"{tmp_path / data.CIFAR10_ARCHIVE}: not a regular file (a folder); delete "
            f"{tmp_path / data.CIFAR10_ARCHIVE} and download it again"
        )


@needs_fifo
def test_archive_that_is_a_fifo_is_refused_without_hanging(tmp_path, no_hang):
    os.mkfifo(tmp_path / data.CIFAR10_ARCHIVE)
    with pytest.raises(DataError, match=r"tar\.gz: not a regular file \(a FIFO\); delete"):
        data.load_cifar10(tmp_path)


def test_batches_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / data.CIFAR10_DIR).write_bytes(b"not a folder")
    with pytest.raises(DataError, match=r"cifar-10-batches-py: not a folder \(a file\); remove it"):
        data.load_cifar10(tmp_path)


# --- OSErrors reading and writing ------------------------------------------------------------


def test_unreadable_batch_names_the_file(tmp_path, monkeypatch):
    # Simulated (the tests may run as root, whom chmod does not stop): open says EACCES.
    write_cifar(tmp_path, archive=False, n=N)
    p = tmp_path / data.CIFAR10_DIR / "data_batch_2"
    real_open = os.open

    def deny(path, *args, **kwargs):
        if Path(path) == p:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path, images_per_batch=N)
    assert str(info.value) == (
        f"{p}: cannot read it (Permission denied): make it readable, or point --data-dir or "
        f"{data.DATA_ENV} elsewhere"
    )


def test_download_into_a_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    root = blocker / "cifar"  # its parent is a file: mkdir fails, as root too
    for call in (
        lambda: data.download_cifar10(root, url="http://127.0.0.1:9/x"),
        lambda: data.load_cifar10(root, download=True),
    ):
        with pytest.raises(DataError) as info:
            call()
        msg = str(info.value)
        assert msg.startswith(f"{root}: cannot write there (Not a directory): make {root} a ")
        assert "point --data-dir or CROSSEDWIRES_DATA at a writable folder" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_download_into_a_read_only_folder(tmp_path, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path, download=True)
    assert str(info.value).startswith(f"{tmp_path}: cannot write there (Permission denied): ")


def test_download_cut_short_keeps_nothing(tmp_path, monkeypatch):
    class CutShort:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            raise http.client.IncompleteRead(b"abc", 170_000_000)

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: CutShort())
    with pytest.raises(DataError, match=r"could not download https://.*IncompleteRead"):
        data.download_cifar10(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_that_cannot_be_moved_into_place_keeps_nothing(tmp_path):
    src = tmp_path / "src.tar.gz"
    src.write_bytes(b"archive bytes")
    dest = tmp_path / "dest"
    (dest / data.CIFAR10_ARCHIVE).mkdir(parents=True)  # os.replace onto a folder fails
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: cannot write there \(Is a d"):
        data.download_cifar10(dest, url=src.as_uri(), md5=data.md5sum(src))
    assert [p.name for p in dest.iterdir()] == [data.CIFAR10_ARCHIVE]


def test_an_archive_larger_than_cifar10_is_refused_before_it_is_hashed(tmp_path):
    """A 1 TB (sparse) file named like the archive: refused by its size in no time, not hashed
    for hours."""
    archive = tmp_path / "cifar-10-python.tar.gz"
    with open(archive, "wb") as fh:
        fh.truncate(1 << 40)
    with pytest.raises(DataError, match=r"more than the CIFAR-10 archive can be \(256 MiB\)"):
        data.load_cifar10(tmp_path)
