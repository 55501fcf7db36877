"""Nothing the harness writes can execute code when read: no pickle anywhere in its output."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from harness import runner
from harness.cases import Case
from harness.data import load_digits32
from harness.profiles import get_profile

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def test_the_harness_source_writes_no_pickle():
    writers = re.compile(r"pickle\.dump|torch\.save|\.to_pickle|allow_pickle=True|joblib\.dump")
    offenders = [
        f"{p.relative_to(HARNESS)}:{n}"
        for p in HARNESS.rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if writers.search(line)
    ]
    assert offenders == []


def test_saved_weights_are_npz_that_load_without_pickle(tmp_path):
    profile = replace(get_profile("tiny"), train_subset=32, test_subset=32, seeds=1)
    case = Case("vgg16", 1e-3, 32, 1, 1e-7, case_set="test")
    runner.run_case(case, profile, load_digits32(), weights_dir=tmp_path)
    staged = sorted(p.name for p in tmp_path.iterdir())  # until the record is written
    assert staged == [f"{case.case_id}.pytorch.npz.staged", f"{case.case_id}.tensorflow.npz.staged"]
    runner.promote_weights(tmp_path, case.case_id)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{case.case_id}.pytorch.npz", f"{case.case_id}.tensorflow.npz"]
    pt = np.load(tmp_path / files[0], allow_pickle=False)
    tf = np.load(tmp_path / files[1], allow_pickle=False)
    assert pt["classifier.0.weight"].shape == (4096, 512)  # the paper's VGG16 head
    assert sum(a.size for a in (pt[k] for k in pt.files)) > 10_000_000
    assert sum(a.size for a in (tf[k] for k in tf.files)) > 10_000_000
    for name in files:  # every member is a plain .npy array, none holds Python objects
        with zipfile.ZipFile(tmp_path / name) as z:
            assert all(m.endswith(".npy") for m in z.namelist())
