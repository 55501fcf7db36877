"""Cost model: how long regenerating a case set takes, from measured training throughput.

Input: the JSON that ``benchmarks/overhead.py --json FILE`` writes (harness images per second
per framework, architecture and batch size, on one device). For each case and framework:
``epochs * train_images / throughput(arch, batch_size) + test_images / (3 * throughput)``
(evaluation is a forward pass, about a third of a training step). Throughput at a batch size
that was not measured is interpolated linearly in log(batch size) between measured ones, and
held constant outside them. Sums are hours on the hardware the timings were measured on (the
file's ``device``: a CPU model, at the thread count the benchmark ran with, or a GPU); the
published runs' 259 GPU-hours are shown as context on a line of their own, never divided into
them: hours on different devices do not compare.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import defaultdict
from pathlib import Path

import numpy as np

from .cases import Case
from .errors import ConfigError
from .profiles import Profile
from .runner import epochs_to_run

PUBLISHED_GPU_HOURS = 259  # sum of the published trials' recorded runtimes (paper summary)
DATASET_SIZES = {"cifar10": (50_000, 10_000), "digits32": (1_300, 497)}  # (train, test)


def load_timings(path: Path) -> tuple[str, dict]:
    """(device name, {(framework, arch): [(batch_size, images_per_s), ...]})."""
    from .atomic import read_small_text

    text = read_small_text(
        Path(path), MAX_TIMINGS_BYTES, "timings file", ConfigError, _make_one(path)
    )
    try:
        doc = json.loads(text)
        rows = doc["rows"]
        table = defaultdict(list)
        for row in rows:
            size, rate = row["batch_size"], row["harness_images_per_s"]
            key = (row["framework"], row["arch"])
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"row {key}: batch_size {size!r} is not an integer >= 1")
            if isinstance(rate, bool) or not isinstance(rate, (int, float)):
                raise ValueError(f"row {key}: harness_images_per_s {rate!r} is not a number")
            if not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"row {key}: harness_images_per_s {rate} is not positive")
            if size in (b for b, _ in table[key]):
                raise ValueError(f"row {key}: batch size {size} appears twice")
            table[key].append((size, float(rate)))
        device = doc.get("device", "unknown device")
        if not isinstance(device, str):
            raise ValueError(f"device {device!r} is not a name")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a timings file from benchmarks/overhead.py --json ({exc})"
        ) from None
    return device, {k: sorted(v) for k, v in table.items()}


MAX_TIMINGS_BYTES = 2**20  # a timings file is a few kB


def format_hours(hours: float) -> str:
    """``1,721.6 h``; under an hour in minutes (``4.2 min``), so a small profile is not 0.0."""
    return f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:,.1f} min"


def published_context() -> str:
    """The published runs' hours, labelled as another device's: context, not a comparison."""
    return (
        f"for context only: the published runs took about {PUBLISHED_GPU_HOURS} GPU-hours on "
        "GPUs, a different device: not comparable with hours projected on other hardware"
    )


def _make_one(path) -> str:
    return f"make one with: python benchmarks/overhead.py --json {shlex.quote(str(path))}"


def throughput(points: list[tuple[int, float]], batch_size: int) -> float:
    sizes = np.log([b for b, _ in points])
    rates = np.array([r for _, r in points])
    return float(np.interp(math.log(batch_size), sizes, rates))


def case_seconds(case: Case, profile: Profile, timings: dict) -> dict[str, float]:
    """Estimated seconds per framework to train and evaluate ``case`` under ``profile``, all
    of its seeds."""
    train_images, test_images = DATASET_SIZES[profile.dataset]
    train_images = min(train_images, profile.train_subset or train_images)
    test_images = min(test_images, profile.test_subset or test_images)
    out = {}
    for framework in ("pytorch", "tensorflow"):
        key = (framework, case.arch)
        if key not in timings:
            raise ConfigError(
                f"the timings file has no {framework} {case.arch} row: measure it with "
                f"python benchmarks/overhead.py --framework {framework} --arch {case.arch}"
            )
        rate = throughput(timings[key], case.batch_size)
        seconds = epochs_to_run(case, profile) * train_images / rate + test_images / (3 * rate)
        out[framework] = seconds * cost_factor(case, profile) * (case.seeds or profile.seeds)
    return out


def cost_factor(case: Case, profile: Profile) -> float:
    """Timings are measured on the zoo models. A mirror model at width w does about w**2 of
    their convolution work (channels in and out both scale by w)."""
    return profile.mirror_width**2 if case.arch_source == "mirror" else 1.0


def estimate(cases: tuple[Case, ...], timings: dict, profile: Profile) -> dict:
    """Device-hours per (framework, arch) to run ``cases`` under ``profile``."""
    hours = defaultdict(float)
    for case in cases:
        for framework, seconds in case_seconds(case, profile, timings).items():
            hours[(framework, case.arch)] += seconds / 3600
    return dict(hours)
