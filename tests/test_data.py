"""Datasets: digits32, and CIFAR-10 read from small archives in the real format."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from harness import data
from harness.errors import DataError


def test_digits32_is_fixed_real_and_stratified():
    a, b = data.load_digits32(), data.load_digits32()
    assert a.fingerprint() == b.fingerprint()
    assert a.x_train.shape == (1300, 32, 32, 3) and a.x_test.shape == (497, 32, 32, 3)
    assert a.x_train.dtype == np.uint8 and a.x_train.max() == 255
    assert set(np.unique(a.y_test)) == set(range(10))
    # an 8x8 digit upscaled: every 4x4 block is one grey value in all three channels
    img = a.x_train[0].astype(int)
    assert (img[..., 0] == img[..., 2]).all()
    assert (img[::4, ::4, 0].repeat(4, 0).repeat(4, 1) == img[..., 0]).all()


def test_subset_keeps_order():
    d = data.load_digits32()
    s = d.subset(100, 50)
    assert (s.x_train == d.x_train[:100]).all() and (s.y_test == d.y_test[:50]).all()


# --- a CIFAR-10 archive in the real format, made small ------------------------------------


def _batch(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A batch pickle as the real one is: protocol 2, bytes keys, (N, 3072) uint8 planes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).tolist()
    planes = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    payload = {
        b"batch_label": f"batch {seed}".encode(),
        b"labels": labels,
        b"data": planes,
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(payload, protocol=2), images, np.array(labels)


def write_cifar(
    root: Path,
    *,
    archive: bool,
    n: int = 4,
    test_batch: bytes | None = None,
    replace: dict[str, bytes] | None = None,
):
    """Write CIFAR-10's six batches (n images each) as the folder or the tar.gz; return the
    expected arrays and the archive's md5. ``replace`` gives some batches' bytes instead."""
    batches = {}
    for i, name in enumerate((*data.CIFAR10_TRAIN, data.CIFAR10_TEST)):
        batches[name] = _batch(n, i)
    if test_batch is not None:
        batches[data.CIFAR10_TEST] = (test_batch, None, None)
    for name, raw in (replace or {}).items():
        batches[name] = (raw, None, None)
    folder = root / data.CIFAR10_DIR
    if archive:
        path = root / data.CIFAR10_ARCHIVE
        with tarfile.open(path, "w:gz") as tar:
            for name, (raw, _, _) in batches.items():
                info = tarfile.TarInfo(f"{data.CIFAR10_DIR}/{name}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
    else:
        folder.mkdir(parents=True)
        for name, (raw, _, _) in batches.items():
            (folder / name).write_bytes(raw)
        md5 = None
    return batches, md5


@pytest.mark.parametrize("archive", [True, False], ids=["archive", "folder"])
def test_cifar10_reads_the_real_format(tmp_path, archive):
    batches, md5 = write_cifar(tmp_path, archive=archive)
    kw = {"md5": md5} if archive else {}
    ds = data.load_cifar10(tmp_path, images_per_batch=4, **kw)
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    assert (ds.x_train[:4] == batches["data_batch_1"][1]).all()
    assert (ds.x_test == batches["test_batch"][1]).all()
    assert (ds.y_test == batches["test_batch"][2]).all()


def _py2_batch(planes: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2's cPickle wrote the published ones: str (bytes) keys and data as
    BINSTRING, numpy.core.multiarray._reconstruct, a dtype built from b'u1' and b'|'."""
    n = len(planes)
    shape = b"K\x01M" + struct.pack("<H", n) + b"M\x00\x0c\x86"  # version 1, (n, 3072)
    dtype = (  # dtype('u1', 0, 1) with state (3, '|', None, None, None, -1, -1, 0)
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"
        b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    raw = planes.tobytes()
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R("
        + shape
        + dtype
        + b"\x89T"
        + struct.pack("<I", len(raw))
        + raw
        + b"tb"
    )
    label_ops = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(U\x04data" + array + b"U\x06labels" + label_ops + b"u."


def test_cifar10_reads_a_python2_pickle(tmp_path):
    """The published batches were written by Python 2: the stand-ins accept its spelling."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    labels = [3, 0, 9, 1]
    raw = _py2_batch(images.transpose(0, 3, 1, 2).reshape(4, 3072), labels)
    write_cifar(tmp_path, archive=False, replace={data.CIFAR10_TEST: raw})
    ds = data.load_cifar10(tmp_path, images_per_batch=4)
    assert (ds.x_test == images).all() and ds.y_test.tolist() == labels
    assert ds.y_test.dtype == np.int64


@pytest.mark.parametrize(
    "labels",
    [np.array([1, 2, 3, 4], dtype=np.uint8), [np.int64(1), np.int16(2), 3, 4], (1, 2, 3, 4)],
    ids=["uint8-array", "numpy-scalars", "tuple"],
)
def test_cifar10_labels_as_a_re_saved_batch_may_hold_them(tmp_path, labels):
    rng = np.random.default_rng(3)
    planes = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    raw = pickle.dumps({b"data": planes, b"labels": labels}, protocol=2)
    write_cifar(tmp_path, archive=False, replace={data.CIFAR10_TEST: raw})
    ds = data.load_cifar10(tmp_path, images_per_batch=4)
    assert ds.y_test.tolist() == [1, 2, 3, 4] and ds.y_test.dtype == np.int64


def test_cifar10_from_environment_variable(tmp_path, monkeypatch):
    write_cifar(tmp_path, archive=False)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    monkeypatch.setattr(data, "CIFAR10_IMAGES_PER_BATCH", 4)
    assert data.load_dataset("cifar10").x_train.shape[0] == 20


def test_missing_cifar10_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as info:
        data.load_cifar10(tmp_path / "nowhere")
    msg = str(info.value)
    assert msg.startswith(
        f"CIFAR-10 not found in {tmp_path / 'nowhere'}: put cifar-10-python.tar.gz"
    )
    assert "--data-dir" in msg and "CROSSEDWIRES_DATA" in msg


def test_archive_with_wrong_checksum_is_refused(tmp_path):
    _, md5 = write_cifar(tmp_path, archive=True)
    with pytest.raises(DataError, match=r"checksum mismatch \(md5 [0-9a-f]{32}, expected c58f3010"):
        data.load_cifar10(tmp_path)  # the published checksum, not this archive's


def test_truncated_archive_is_reported(tmp_path):
    write_cifar(tmp_path, archive=True)
    path = tmp_path / data.CIFAR10_ARCHIVE
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="truncated or not a tar.gz archive"):
        data.load_cifar10(tmp_path, md5=md5, images_per_batch=4)


def test_truncated_batch_is_reported(tmp_path):
    write_cifar(tmp_path, archive=False)
    p = tmp_path / data.CIFAR10_DIR / "data_batch_3"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataError, match="data_batch_3: truncated or not a CIFAR-10 batch"):
        data.load_cifar10(tmp_path, images_per_batch=4)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_batch_with_reduce_payload_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({b"data": _Payload(), b"labels": []}, protocol=2)
    write_cifar(tmp_path, archive=False, test_batch=evil)
    with pytest.raises(
        DataError, match=r"test_batch: refused: global (posix|os)\.system is not allowed"
    ):
        data.load_cifar10(tmp_path, images_per_batch=4)
    assert not (tmp_path / "PWNED").exists()


def test_download_failure_keeps_nothing(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        data.download_cifar10(tmp_path, url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_download_with_wrong_checksum_keeps_nothing(tmp_path):
    src = tmp_path / "src.tar.gz"
    src.write_bytes(b"not the archive")
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="checksum mismatch"):
        data.download_cifar10(dest, url=src.as_uri())
    assert list(dest.iterdir()) == []


def test_workers_sharing_a_data_folder_download_once(tmp_path, monkeypatch):
    """Four loaders at once (as four xdist workers): the file lock lets one download."""
    import threading
    import time

    staging = tmp_path / "staging"
    staging.mkdir()
    _, md5 = write_cifar(staging, archive=True)
    calls = []

    def fake_download(root, url=data.CIFAR10_URL, md5=data.CIFAR10_MD5):
        calls.append(root)
        time.sleep(0.5)
        part = root / "part"  # as the real download: a temporary file, then a rename
        part.write_bytes((staging / data.CIFAR10_ARCHIVE).read_bytes())
        part.replace(root / data.CIFAR10_ARCHIVE)

    monkeypatch.setattr(data, "download_cifar10", fake_download)
    shared = tmp_path / "shared"
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                data.load_cifar10(shared, download=True, md5=md5, images_per_batch=4)
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 4 and len({r.fingerprint() for r in results}) == 1
