"""Run one case in both frameworks and assemble its record (what a baseline stores)."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import numpy as np

from . import atomic, baselines, judge, knobs, mirror, sides
from .adapters import FRAMEWORKS, get_adapter
from .cases import Case
from .data import Dataset
from .environment import common_versions, cpu_platform
from .errors import HarnessError
from .profiles import Profile

SCHEMA_VERSION = baselines.SCHEMA_VERSION


def epochs_to_run(case: Case, profile: Profile) -> int:
    """The profile's cap, unless the case carries its own budget (``epochs_reason``)."""
    if case.epochs_reason or not profile.epochs_cap:
        return case.epochs
    return min(case.epochs, profile.epochs_cap)


def tolerance_of(case: Case, profile: Profile) -> dict:
    """The case's override with its reason, else the profile's default; a case's own drift
    margin (with its reason) too, which ``baselines.compare`` uses in place of the profile's."""
    if case.tolerance is not None:
        out = {"accuracy_diff": case.tolerance, "source": f"case: {case.tolerance_reason}"}
    else:
        out = {"accuracy_diff": profile.accuracy_tolerance, "source": f"profile {profile.name}"}
    if case.drift_margin is not None:
        out["drift_margin"] = case.drift_margin
        out["drift_margin_source"] = f"case: {case.drift_margin_reason}"
    return out


def environment(profile: Profile, sides_: tuple[str, ...] = FRAMEWORKS) -> dict:
    """Configure both frameworks (each side of ``sides_`` that runs in this process) for
    ``profile`` (threads, device, determinism) and return what is in force with the versions:
    the environment block of a record, and its fingerprint. A side that runs in a subprocess
    has its versions only, read from the package metadata; its whole block replaces them when it
    has run (``run_case``), and a fingerprint counts such a side by its versions alone
    (``baselines.fingerprint``)."""
    env = common_versions()
    env["platform"] = cpu_platform()
    for framework in sides_:
        if sides.SIDES[framework].subprocess:
            env[framework] = {"versions": sides.versions(framework)}
            continue
        adapter = get_adapter(framework)
        env[framework] = adapter.configure(
            profile.intra_op_threads, profile.inter_op_threads, profile.device
        )
        env[framework]["versions"] = adapter.versions()
    return env


def mirror_spec(case: Case, profile: Profile, data: Dataset) -> mirror.Spec:
    return mirror.spec(
        case.arch, data.num_classes, profile.mirror_width, tuple(data.x_train.shape[1:])
    )


def seeds_of(case: Case, profile: Profile) -> list[int]:
    """The seeds a case runs with in each framework: the profile's seed, then the next K - 1."""
    k = case.seeds or profile.seeds
    return [profile.seed + i for i in range(k)]


def shared_initial_weights(case: Case, profile: Profile, data: Dataset, seed: int) -> dict:
    """Knob ``init="shared"``: PyTorch's seeded initial weights of the mirror model, in the
    neutral layout; every framework whose setting says ``shared`` starts from them."""
    adapter = get_adapter("pytorch")
    adapter.seed(seed)
    model = adapter.build_mirror(
        mirror_spec(case, profile, data), knobs.settings("aligned")["pytorch"], "cpu"
    )
    return adapter.get_mirror_weights(model)


def run_framework(
    framework: str,
    case: Case,
    profile: Profile,
    data: Dataset,
    device: str,
    weights_to: Path | None = None,
    setting: dict | None = None,
    initial_weights: dict | None = None,
    seed: int | None = None,
    builder=None,
) -> dict:
    """Train and evaluate one framework's model. A failing run is recorded, not raised; a
    problem of the set-up (a missing framework, bad input) is raised. With ``weights_to`` the
    trained weights are saved there as ``.npz`` (never pickle). ``setting`` is this framework's
    knobs (None: its defaults); a mirror model starts from ``initial_weights`` when given.
    ``seed`` defaults to the profile's; ``builder`` builds a custom pair's model."""
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
        # before the model is built: initial weights are seeded
        adapter.seed(profile.seed if seed is None else seed)
        shape = tuple(data.x_train.shape[1:])
        if case.arch_source == "custom":
            model = adapter.build_custom(builder, data.num_classes, shape, device)
        elif case.arch_source == "mirror":
            model = adapter.build_mirror(mirror_spec(case, profile, data), setting, device)
            if initial_weights is not None:
                adapter.set_mirror_weights(model, with_shared(adapter, model, initial_weights))
        else:
            model = adapter.build_zoo(case.arch, data.num_classes, shape, device)
        result.update(
            adapter.train(
                model,
                data.x_train,
                data.y_train,
                case.hyperparameters(),
                epochs_to_run(case, profile),
                setting=setting,
            )
        )
        predictions = adapter.predict(model, data.x_test)
        weights = adapter.weights(model) if weights_to is not None else None
        result["test_accuracy"] = judge.accuracy(predictions, data.y_test)
        result["collapsed"] = judge.collapsed(result["test_accuracy"], chance_band(profile, data))
    except (HarnessError, MemoryError):  # the set-up's or this machine's problem, not the run's
        raise
    except Exception as exc:  # the run failed: an outcome to record
        last = traceback.extract_tb(exc.__traceback__)[-1]
        result["error"] = f"{type(exc).__name__}: {exc} (at {last.filename}:{last.lineno})"
    else:
        if weights_to is not None:  # outside the except: a failed save is no failed training run
            save_weights(weights_to, weights)
    return {"result": result, "predictions": predictions}


def with_shared(adapter, model, shared: dict) -> dict:
    """The mirror model's weights with every tensor the shared initial weights also have taken
    from them. A tensor only this side has (a conv bias under ``conv_bias="all"``) keeps this
    framework's initializer: the sides share what they both have."""
    own = adapter.get_mirror_weights(model)
    return {name: (shared[name] if name in shared else value) for name, value in own.items()}


def case_setting(case: Case) -> dict | None:
    """Per framework, the knobs a case runs with: its mode's for a mirror case (in native mode
    each framework's zoo model of the architecture); None (each framework's defaults, nothing to
    record) for a zoo case."""
    return knobs.settings(case.mode, case.arch) if case.arch_source == "mirror" else None


def run_case(
    case: Case,
    profile: Profile,
    data: Dataset,
    weights_dir: Path | None = None,
    setting: dict | None = None,
    builders: dict | None = None,
    sides_: tuple[str, ...] = FRAMEWORKS,
) -> dict:
    """Train ``case`` in both frameworks (every side of ``sides_`` that builds its kind of model)
    under ``profile``; its record. ``builders`` (custom
    pairs): per framework, ``builder(num_classes, input_shape)`` returning the model. With
    ``weights_dir`` each trained model is saved as
    ``<weights_dir>/<case-id>.<framework>.npz.staged``, which ``promote_weights`` renames to
    ``.npz`` once the record is safe (a run stopped half-way leaves the previous pair whole,
    never one framework's new weights beside the other's old ones). ``setting``
    (``{framework: {knob: value}}``, mirror cases only) replaces the case mode's knobs, as
    ``crossedwires explain`` does."""
    data = data.subset(profile.train_subset, profile.test_subset)
    sides_ = sides.runnable(tuple(sides_), case.arch_source)
    env = environment(profile, sides_)
    if setting is not None and case.arch_source != "mirror":
        raise HarnessError(f"{case.case_id}: knobs apply to mirror cases only")
    setting = setting or case_setting(case)
    seeds = seeds_of(case, profile)
    runs: dict[str, list[dict]] = {fw: [] for fw in sides_}
    here = tuple(fw for fw in sides_ if not sides.SIDES[fw].subprocess)

    def shares(fw: str) -> bool:  # whether side fw starts from the shared initial weights
        return setting is not None and setting[sides.SIDES[fw].knobs]["init"] == "shared"

    initials = []  # per seed: the shared initial weights (None where no side shares them)
    for seed in seeds:
        initial = None
        if any(shares(fw) for fw in sides_):
            initial = shared_initial_weights(case, profile, data, seed)
        initials.append(initial)
        suffix = "" if len(seeds) == 1 else f".seed{seed}"
        for fw in here:
            name = f"{case.case_id}{suffix}.{fw}.npz"
            shared = shares(fw)
            runs[fw].append(
                run_framework(
                    fw,
                    case,
                    profile,
                    data,
                    env[fw]["device"],
                    Path(weights_dir) / f"{name}{STAGED}" if weights_dir else None,
                    setting=setting[sides.SIDES[fw].knobs] if setting else None,
                    initial_weights=initial if shared else None,
                    seed=seed,
                    builder=builders[fw] if builders else None,
                )
            )
    for fw in sides_:
        if fw in here:
            continue
        suffix = [("" if len(seeds) == 1 else f".seed{seed}") for seed in seeds]
        weights = [
            Path(weights_dir) / f"{case.case_id}{x}.{fw}.npz{STAGED}" if weights_dir else None
            for x in suffix
        ]
        from .sidework import run_seeds

        side_setting = setting[sides.SIDES[fw].knobs] if setting else None
        runs[fw], env[fw] = run_seeds(
            sides.SIDES[fw],
            case,
            profile,
            data,
            seeds,
            side_setting,
            weights,
            initials if shares(fw) else None,
        )
    if len(seeds) == 1:
        return build_record(case, profile, data, {fw: r[0] for fw, r in runs.items()}, env, setting)
    return build_record(case, profile, data, runs, env, setting, seeds)


STAGED = ".staged"  # weights of a run whose record is not written yet


def promote_weights(weights_dir: Path | None, case_id: str) -> list[Path]:
    """Rename a case's staged weights to their final names (each rename atomic); the paths."""
    if weights_dir is None:
        return []
    promoted = []
    for staged in sorted(Path(weights_dir).glob(f"{case_id}.*.npz{STAGED}")):
        final = staged.with_name(staged.name.removesuffix(STAGED))
        os.replace(staged, final)
        promoted.append(final)
    return promoted


def save_weights(path: Path, arrays: dict) -> None:
    """``.npz``, written atomically; no pickle inside (``np.load(path, allow_pickle=False)``).
    A failed write raises HarnessError: the run stops before any baseline is touched."""
    try:
        with atomic.atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)
    except OSError as exc:
        raise HarnessError(
            f"--save-weights: cannot write {path} ({exc.strerror}); choose a writable folder"
        ) from None


def _seeded_result(runs: list[dict], seeds: list[int], data: Dataset, profile: Profile) -> dict:
    per_seed = [
        {
            "seed": seed,
            "test_accuracy": run["result"]["test_accuracy"],
            "training_loss": run["result"]["training_loss"],
            "diverged": run["result"]["diverged"],
            "error": run["result"]["error"],
        }
        for seed, run in zip(seeds, runs, strict=True)
    ]
    accuracies = [s["test_accuracy"] for s in per_seed]
    complete = None not in accuracies
    stats = judge.accuracy_stats(accuracies) if complete else None
    band = chance_band(profile, data, len(seeds))
    return {
        "error": next((s["error"] for s in per_seed if s["error"]), None),
        "diverged": any(s["diverged"] for s in per_seed),
        "collapsed": bool(stats and judge.collapsed(stats["mean"], band)),
        "training_loss": per_seed[0]["training_loss"],  # the first seed's, as with K = 1
        "test_accuracy": stats["mean"] if stats else None,
        "accuracy_stats": stats,
        "seeds": per_seed,
    }


def compare_pair(
    results: dict[str, dict],
    preds: tuple,
    tolerance: float,
    alpha: float,
    band: tuple[float, float],
    seeded: bool,
) -> dict:
    """One pair of sides judged: its comparison block (None when a side has no accuracy) and
    its verdict, the same judgement for every pair."""
    comparison = None
    statistics = None
    if all(p is not None for p in preds) and all(
        r["test_accuracy"] is not None for r in results.values()
    ):
        accuracies = [r["test_accuracy"] for r in results.values()]
        comparison = {
            "accuracy_diff": abs(accuracies[0] - accuracies[1]),
            # with several seeds: the first seed's models
            "prediction_agreement": judge.prediction_agreement(*preds),
            "chance_band": list(band),
        }
        if seeded:
            per_seed = [[s["test_accuracy"] for s in r["seeds"]] for r in results.values()]
            statistics = judge.gap_test(*per_seed, tolerance, alpha)
            comparison["statistics"] = statistics
    verdict = judge.verdict(results, tolerance, statistics, band)
    return {"comparison": comparison, "verdict": verdict}


def chance_band(profile: Profile, data: Dataset, seeds: int = 1) -> tuple[float, float]:
    """Where the mean test accuracy of ``seeds`` models that learned nothing falls."""
    return judge.chance_band(data.num_classes, len(data.y_test), seeds, profile.chance_level)


def profile_block(profile: Profile) -> dict:
    return {
        "name": profile.name,
        "seed": profile.seed,
        "epochs_cap": profile.epochs_cap,
        "train_subset": profile.train_subset,
        "test_subset": profile.test_subset,
    }


def build_record(
    case: Case,
    profile: Profile,
    data: Dataset,
    runs: dict[str, dict],
    env: dict,
    setting: dict | None = None,
    seeds: list[int] | None = None,
) -> dict:
    """The record of a case. ``runs[framework]`` is one run (``{"result", "predictions"}``), or
    with ``seeds`` a list of runs, one per seed: each framework's result then holds every seed's
    values, their mean as ``test_accuracy`` and ``accuracy_stats``, and the comparison holds the
    significance test the verdict used."""
    if seeds is None:
        results = {fw: run["result"] for fw, run in runs.items()}
        first = runs
    else:
        results = {fw: _seeded_result(rs, seeds, data, profile) for fw, rs in runs.items()}
        first = {fw: rs[0] for fw, rs in runs.items()}
    tolerance = tolerance_of(case, profile)
    band = chance_band(profile, data, len(seeds) if seeds else 1)
    order = tuple(results)
    pairs = {
        sides.pair_key(a, b): compare_pair(
            {a: results[a], b: results[b]},
            (first[a]["predictions"], first[b]["predictions"]),
            tolerance["accuracy_diff"],
            profile.significance_level,
            band,
            seeds is not None,
        )
        for i, a in enumerate(order)
        for b in order[i + 1 :]
    }
    # the first pair (pytorch, tensorflow when both run) is the record's comparison and verdict
    lead = pairs[sides.pair_key(*order[:2])]
    record = {
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
        "comparison": lead["comparison"],
        "verdict": lead["verdict"],
        "environment": env,
    }
    if order != FRAMEWORKS:  # three or more sides: every pair judged, and the vote
        record["sides"] = list(order)
        record["pairs"] = pairs
        record["vote"] = judge.vote(
            order, {k: p["verdict"] for k, p in pairs.items()}, seeds is not None
        )
    if case.arch_source == "mirror":
        record["mirror"] = {
            "width": profile.mirror_width,
            "knobs": knobs.record(setting or case_setting(case)),
        }
    return record
