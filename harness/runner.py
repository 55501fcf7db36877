"""Run one case in both frameworks and assemble its record (what a baseline stores)."""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np

from . import atomic, judge
from .adapters import FRAMEWORKS, get_adapter
from .cases import Case
from .data import Dataset
from .environment import common_versions
from .errors import HarnessError
from .profiles import Profile

SCHEMA_VERSION = 1


def epochs_to_run(case: Case, profile: Profile) -> int:
    return min(case.epochs, profile.epochs_cap) if profile.epochs_cap else case.epochs


def tolerance_of(case: Case, profile: Profile) -> dict:
    """The case's override with its reason, else the profile's default."""
    if case.tolerance is not None:
        return {"accuracy_diff": case.tolerance, "source": f"case: {case.tolerance_reason}"}
    return {"accuracy_diff": profile.accuracy_tolerance, "source": f"profile {profile.name}"}


def environment(profile: Profile) -> dict:
    """Configure both frameworks for ``profile`` (threads, device, determinism) and return what
    is in force with the versions: the environment block of a record, and its fingerprint."""
    env = common_versions()
    for framework in FRAMEWORKS:
        adapter = get_adapter(framework)
        env[framework] = adapter.configure(
            profile.intra_op_threads, profile.inter_op_threads, profile.device
        )
        env[framework]["versions"] = adapter.versions()
    return env


def run_framework(
    framework: str,
    case: Case,
    profile: Profile,
    data: Dataset,
    device: str,
    weights_to: Path | None = None,
) -> dict:
    """Train and evaluate one framework's model. A failing run is recorded, not raised; a
    problem of the set-up (a missing framework, bad input) is raised. With ``weights_to`` the
    trained weights are saved there as ``.npz`` (never pickle)."""
    adapter = get_adapter(framework)
    result: dict = {
        "error": None,
        "diverged": False,
        "collapsed": False,
        "training_loss": [],
        "test_accuracy": None,
    }
    predictions = None
    try:
        adapter.seed(profile.seed)  # before the model is built: initial weights are seeded
        shape = tuple(data.x_train.shape[1:])
        model = adapter.build_zoo(case.arch, data.num_classes, shape, device)
        result.update(
            adapter.train(
                model,
                data.x_train,
                data.y_train,
                case.hyperparameters(),
                epochs_to_run(case, profile),
            )
        )
        predictions = adapter.predict(model, data.x_test)
        if weights_to is not None:
            save_weights(weights_to, adapter.weights(model))
        result["test_accuracy"] = judge.accuracy(predictions, data.y_test)
        result["collapsed"] = judge.collapsed(
            result["test_accuracy"], data.num_classes, profile.chance_margin
        )
    except HarnessError:
        raise
    except Exception as exc:  # the run failed: an outcome to record
        last = traceback.extract_tb(exc.__traceback__)[-1]
        result["error"] = f"{type(exc).__name__}: {exc} (at {last.filename}:{last.lineno})"
    return {"result": result, "predictions": predictions}


def run_case(case: Case, profile: Profile, data: Dataset, weights_dir: Path | None = None) -> dict:
    """Train ``case`` in both frameworks under ``profile``; its record. With ``weights_dir``
    each trained model is saved as ``<weights_dir>/<case-id>.<framework>.npz``."""
    data = data.subset(profile.train_subset, profile.test_subset)
    env = environment(profile)
    runs = {
        fw: run_framework(
            fw,
            case,
            profile,
            data,
            env[fw]["device"],
            Path(weights_dir) / f"{case.case_id}.{fw}.npz" if weights_dir else None,
        )
        for fw in FRAMEWORKS
    }
    return build_record(case, profile, data, runs, env)


def save_weights(path: Path, arrays: dict) -> None:
    """``.npz``, written atomically; no pickle inside (``np.load(path, allow_pickle=False)``)."""
    with atomic.atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def profile_block(profile: Profile) -> dict:
    return {
        "name": profile.name,
        "seed": profile.seed,
        "epochs_cap": profile.epochs_cap,
        "train_subset": profile.train_subset,
        "test_subset": profile.test_subset,
    }


def build_record(
    case: Case, profile: Profile, data: Dataset, runs: dict[str, dict], env: dict
) -> dict:
    results = {fw: run["result"] for fw, run in runs.items()}
    tolerance = tolerance_of(case, profile)
    preds = [run["predictions"] for run in runs.values()]
    comparison = None
    if all(p is not None for p in preds):
        a, b = (r["test_accuracy"] for r in results.values())
        comparison = {
            "accuracy_diff": abs(a - b),
            "prediction_agreement": judge.prediction_agreement(*preds),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "case": {
            "id": case.case_id,
            "arch": case.arch,
            "arch_source": case.arch_source,
            "mode": case.mode,
            "case_set": case.case_set,
            "source_trial": case.source_trial,
            "published_epochs": case.published_epochs,
            "hyperparameters": case.hyperparameters(),
            "epochs_run": epochs_to_run(case, profile),
        },
        "profile": profile_block(profile),
        "data": data.describe(),
        "tolerance": tolerance,
        "results": results,
        "comparison": comparison,
        "verdict": judge.verdict(results, tolerance["accuracy_diff"]),
        "environment": env,
    }
