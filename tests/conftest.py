"""Fixtures for the harness's own fast tests: records built by the real record code from
constructed framework runs (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cases import find_case
from harness.data import Dataset
from harness.profiles import get_profile
from harness.runner import build_record

PLATFORM = {
    "machine": "x86_64",
    "cpu_vendor": "GenuineIntel",
    "cpu_model": "test cpu",
    "cpu_family_model": "6/143",
    "onednn_isa": "AVX512_CORE",
    "kernel_variables": {},
}
ENV = {
    "pytorch": {
        "versions": {"torch": "2.14.1", "torchvision": "0.29.1"},
        "device": "cpu",
        "device_name": "test cpu",
        "intra_op_threads": 1,
        "inter_op_threads": 1,
        "determinism": {"torch.use_deterministic_algorithms": True},
        "tf32_matmul": False,
        "kernels": {"cpu_capability": "AVX512"},
    },
    "tensorflow": {
        "versions": {"tensorflow": "2.21.0", "keras": "3.15.1"},
        "device": "cpu",
        "device_name": "test cpu",
        "intra_op_threads": 1,
        "inter_op_threads": 1,
        "determinism": {"tf.config.experimental.enable_op_determinism": True},
        "tf32_matmul": True,
        "kernels": {"onednn": True, "onednn_isa": "AVX512_CORE"},
    },
}


def tiny_dataset(n_test: int = 20) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n_test, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n_test, dtype=np.int64) % 10
    return Dataset("digits32", x, y, x, y)


def make_record(
    correct_pt: int = 14,
    correct_tf: int = 14,
    n_test: int = 20,
    error: str | None = None,
    diverged: bool = False,
    case_id: str = "resnet50-adam-lr0.00349-bs10-ep1-eps0.61",
    versions: dict | None = None,
) -> dict:
    """A record as the runner writes it, for PyTorch and TF getting the first k images right."""
    data = tiny_dataset(n_test)
    runs, env = {}, {"python": "3.11.7", "numpy": "2.4.6", "platform": PLATFORM}
    for fw, k in (("pytorch", correct_pt), ("tensorflow", correct_tf)):
        pred = data.y_test.copy()
        pred[k:] = (pred[k:] + 1) % 10
        failed = error is not None and fw == "tensorflow"
        runs[fw] = {
            "result": {
                "error": error if failed else None,
                "diverged": diverged and fw == "tensorflow",
                "collapsed": 0.066 <= k / n_test <= 0.135,
                "training_loss": [2.3, 1.9] if not diverged else [2.3, None],
                "test_accuracy": None if failed else k / n_test,
            },
            "predictions": None if failed else pred,
        }
        env[fw] = {**ENV[fw], "versions": (versions or {}).get(fw, ENV[fw]["versions"])}
    return build_record(find_case(case_id), get_profile("smoke"), data, runs, env)


@pytest.fixture
def record():
    return make_record()


def make_seeded_record(
    correct_pt: list[int],
    correct_tf: list[int],
    n_test: int = 100,
    case_id: str = "resnet50-mirror-aligned-adam-lr0.00349-bs10-ep1-eps0.61",
    versions: dict | None = None,
) -> dict:
    """A K-seed record as the runner writes it: seed i of each framework gets the first
    ``correct[i]`` of ``n_test`` images right."""
    data = tiny_dataset(n_test)
    runs, env = {}, {"python": "3.11.7", "numpy": "2.4.6", "platform": PLATFORM}
    for fw, ks in (("pytorch", correct_pt), ("tensorflow", correct_tf)):
        runs[fw] = []
        for k in ks:
            pred = data.y_test.copy()
            pred[k:] = (pred[k:] + 1) % 10
            result = {
                "error": None,
                "diverged": False,
                "collapsed": False,
                "training_loss": [2.3],
                "test_accuracy": k / n_test,
            }
            runs[fw].append({"result": result, "predictions": pred})
        env[fw] = {**ENV[fw], "versions": (versions or {}).get(fw, ENV[fw]["versions"])}
    seeds = list(range(len(correct_pt)))
    profile = get_profile("smoke")
    return build_record(find_case(case_id), profile, data, runs, env, None, seeds)
