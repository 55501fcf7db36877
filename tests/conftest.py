"""Fixtures for the harness's own fast tests: records built by the real record code from
constructed framework runs (no training); and the headless browser that tests marked
``browser`` open pages in, checked when the run starts, not when the first such test runs."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from harness.cases import find_case
from harness.data import Dataset
from harness.profiles import get_profile
from harness.runner import build_record

BROWSER_VARIABLE = "CROSSEDWIRES_CHROMIUM"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
BROWSER_INSTALL = "sudo apt-get install chromium"  # Debian's package: /usr/bin/chromium


def find_browser() -> tuple[str | None, str]:
    """The headless browser's path, else None and why: $CROSSEDWIRES_CHROMIUM when it is set
    (a path or a command name; a wrong one is an error, not a fallback), else the first of
    ``BROWSER_NAMES`` on PATH."""
    named = os.environ.get(BROWSER_VARIABLE)
    if named:
        found = shutil.which(named)
        return found, "" if found else f"{BROWSER_VARIABLE}={named} is not an executable program"
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found, ""
    return None, f"no {', '.join(BROWSER_NAMES[:-1])} or {BROWSER_NAMES[-1]} on PATH"


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(config, items):
    """Fail the run at once, before any test runs, when a selected test needs the browser and
    there is none: not as one failure minutes into the run, and never as a skip."""
    needing = [item.nodeid for item in items if item.get_closest_marker("browser")]
    if not needing:
        return
    found, why = find_browser()
    if found is None:
        message = (
            f"{len(needing)} selected test(s) open a page in a headless browser "
            f"(marked browser, e.g. {needing[0]}), and {why}. Install one "
            f"(Debian: {BROWSER_INSTALL}), or point {BROWSER_VARIABLE} at a Chromium or Chrome "
            f'binary, or leave them out with -m "not browser" '
            f'(e.g. pytest -n 2 -m "not heavy and not browser")'
        )
        if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller says it
            config.workeroutput[BROWSER_VARIABLE] = message
        raise pytest.UsageError(message)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """With ``-n N``, in the controller: a worker stopped at the browser check above. Say its
    message once, as pytest's usage error (status 4), instead of xdist's internal error about a
    worker that never ran its tests."""
    message = (getattr(node, "workeroutput", None) or {}).get(BROWSER_VARIABLE)
    if message:
        raise pytest.UsageError(message)


@pytest.fixture(scope="session")
def browser() -> str:
    """The path of the headless browser (checked at collection: see above)."""
    found, why = find_browser()
    assert found, why  # unreachable when collected normally: the run stops first
    return found


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


def smoke_adapters():
    """The PyTorch and TensorFlow adapters, configured as the runner configures them for the
    smoke profile (threads, determinism): call it before any op runs in the process."""
    from harness.adapters import FRAMEWORKS, get_adapter

    smoke = get_profile("smoke")
    adapters = tuple(get_adapter(fw) for fw in FRAMEWORKS)
    for adapter in adapters:
        adapter.configure(smoke.intra_op_threads, smoke.inter_op_threads, "cpu")
    return adapters


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
