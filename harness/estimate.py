"""Cost model: how long regenerating a case set takes, from measured training throughput.

Input: the JSON that ``benchmarks/overhead.py --json FILE`` writes (harness images per second
per framework, architecture and batch size, on one device). For each case and framework:
``epochs * train_images / throughput(arch, batch_size) + test_images / (3 * throughput)``
(evaluation is a forward pass, about a third of a training step). Throughput at a batch size
that was not measured is interpolated linearly in log(batch size) between measured ones, and
held constant outside them. Sums are device-hours, set beside the published runs' 259 hours.
"""

from __future__ import annotations

import json
import math
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
    try:
        doc = json.loads(Path(path).read_text())
        rows = doc["rows"]
        table = defaultdict(list)
        for row in rows:
            size, rate = int(row["batch_size"]), float(row["harness_images_per_s"])
            if size < 1 or not math.isfinite(rate) or rate <= 0:
                raise ValueError(
                    f"row {row['framework']}/{row['arch']}: batch size {size} and "
                    f"{rate} images/s must be positive and finite"
                )
            table[(row["framework"], row["arch"])].append((size, rate))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such timings file; make one with: "
            f"python benchmarks/overhead.py --json {path}"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: not a timings file from benchmarks/overhead.py --json ({exc!r})"
        ) from None
    return doc.get("device", "unknown device"), {k: sorted(v) for k, v in table.items()}


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
