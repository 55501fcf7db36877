"""``crossedwires explain``: which framework default carries an accuracy gap.

A mirror case (``harness/mirror.py``) is trained in mode ``native`` (each framework's defaults)
and in mode ``aligned`` (every knob of ``harness/knobs.py`` equal). Then each knob is moved on its
own, both ways:

- *only this knob native*: aligned, except this knob at each framework's default. Its gap minus
  the aligned gap is the knob's effect measured from the aligned side.
- *all native but this knob*: native, except this knob aligned. The native gap minus its gap is
  the knob's effect measured from the native side.

A knob's *share* is its effect over the part of the native gap the knobs can explain (native gap
minus aligned gap). The *residual* is that part minus the sum of the effects from the aligned
side: what no single knob explains (knobs that act together, and training noise). Gaps are
signed, PyTorch accuracy minus TensorFlow accuracy. Where the two directions disagree, the knob
interacts with others. Knobs that cannot matter on the device (``tf32`` on a CPU) are skipped
and listed.

Each framework's training depends only on its own knob values, so a training run is shared by
every configuration that gives its framework the same values (on a CPU, 7 knobs: 20 runs, not
32), and runs go to ``jobs`` worker processes.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace

from . import knobs
from .adapters import FRAMEWORKS
from .cases import Case
from .profiles import Profile


def plan(device: str) -> tuple[list[dict], list[str]]:
    """The configurations to run, and the knobs skipped on ``device``."""
    native, aligned = knobs.settings("native"), knobs.settings("aligned")
    configs = [
        {"name": "native", "knob": None, "setting": native},
        {"name": "aligned", "knob": None, "setting": aligned},
    ]
    skipped = []
    for knob in knobs.KNOBS:
        if device not in knob.devices:
            skipped.append(knob.name)
            continue
        configs.append(
            {
                "name": f"aligned, {knob.name} native",
                "knob": knob.name,
                "direction": "from_aligned",
                "setting": knobs.with_knob(aligned, knob.name, "native"),
            }
        )
        configs.append(
            {
                "name": f"native, {knob.name} aligned",
                "knob": knob.name,
                "direction": "from_native",
                "setting": knobs.with_knob(native, knob.name, "aligned"),
            }
        )
    return configs, skipped


def mirror_of(case: Case) -> Case:
    """The case explain trains for ``case``: itself when it is a mirror case; for a zoo case,
    its mirror counterpart (the same hyperparameters on structurally identical models, mode
    native). Knobs such as the initial weights can be set equal only on mirror models: the two
    zoo models have different layers, so no weights carry across."""
    if case.arch_source == "mirror":
        return case
    return replace(case, arch_source="mirror", mode="native")


def zoo_note(case: Case) -> str | None:
    """The line a command prints before it trains a zoo case's mirror counterpart, or None."""
    runs = mirror_of(case)
    if runs == case:
        return None
    return (
        f"note: {case.case_id} is a zoo case (each framework's own published model, no weights "
        f"carry across); explain runs {runs.case_id} instead: the same hyperparameters on "
        "structurally identical models"
    )


def _key(framework: str, setting: dict) -> str:
    return framework + json.dumps(setting[framework], sort_keys=True)


# --- one framework run, in this process or in a worker ------------------------------------

_WORKER: dict = {}


def _prepare(profile: Profile, data_dir: str | None) -> None:
    """Once per process: threads and device from the profile, the data loaded."""
    if _WORKER.get("profile") == profile:
        return
    # Workers report failures as Python exceptions; TF's log lines (its start-up notices,
    # tf.data's harmless "NodeDef mentions attribute ..." on every fit) would only break up the
    # progress bar.
    from .logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .data import load_dataset
    from .runner import environment

    env = environment(profile)
    data = load_dataset(profile.dataset, data_dir).subset(profile.train_subset, profile.test_subset)
    _WORKER.update(profile=profile, env=env, data=data)


def _run(framework: str, case: Case, profile: Profile, data_dir, setting: dict) -> dict:
    from .runner import run_framework, shared_initial_weights

    _prepare(profile, data_dir)
    data = _WORKER["data"]
    initial = None
    if setting["init"] == "shared":
        initial = shared_initial_weights(case, profile, data, profile.seed)
    run = run_framework(
        framework,
        case,
        profile,
        data,
        _WORKER["env"][framework]["device"],
        setting=setting,
        initial_weights=initial,
    )
    return run["result"]


def explain(
    case: Case,
    profile: Profile,
    data_dir: str | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> dict:
    """Run the plan for ``case`` under ``profile``; the table's numbers as a dict."""
    case = mirror_of(case)
    configs, skipped = plan(_device(profile))
    todo = {}
    for config in configs:
        for fw in FRAMEWORKS:
            todo.setdefault(_key(fw, config["setting"]), (fw, config["setting"][fw]))
    results = _run_all(todo, case, profile, data_dir, jobs, progress)

    def gap_of(config) -> dict:
        acc = {fw: results[_key(fw, config["setting"])]["test_accuracy"] for fw in FRAMEWORKS}
        failed = {
            fw: results[_key(fw, config["setting"])].get("error")
            or ("diverged" if results[_key(fw, config["setting"])]["diverged"] else None)
            for fw in FRAMEWORKS
        }
        gap = None if None in acc.values() else acc["pytorch"] - acc["tensorflow"]
        return {
            "pytorch": acc["pytorch"],
            "tensorflow": acc["tensorflow"],
            "gap": gap,
            **{f"{fw}_problem": failed[fw] for fw in FRAMEWORKS if failed[fw]},
        }

    by_name = {c["name"]: gap_of(c) for c in configs}
    native_gap, aligned_gap = by_name["native"]["gap"], by_name["aligned"]["gap"]
    explainable = None if None in (native_gap, aligned_gap) else native_gap - aligned_gap
    rows = []
    for knob in knobs.KNOBS:
        if knob.name in skipped:
            continue
        alone = by_name[f"aligned, {knob.name} native"]
        without = by_name[f"native, {knob.name} aligned"]
        effect_a = _sub(alone["gap"], aligned_gap)
        effect_n = _sub(native_gap, without["gap"])
        rows.append(
            {
                "knob": knob.name,
                "pytorch": knob.pytorch,
                "tensorflow": knob.tensorflow,
                "aligned": knob.aligned,
                "gap_only_this_knob_native": alone["gap"],
                "effect_from_aligned": effect_a,
                "share_from_aligned": _share(effect_a, explainable),
                "gap_all_native_but_this_knob": without["gap"],
                "effect_from_native": effect_n,
                "share_from_native": _share(effect_n, explainable),
            }
        )
    effects = [r["effect_from_aligned"] for r in rows]
    residual = None if explainable is None or None in effects else explainable - sum(effects)
    return {
        "case": case.case_id,
        "profile": profile.name,
        "width": profile.mirror_width,
        "device": _device(profile),
        "gap": "PyTorch test accuracy minus TensorFlow test accuracy",
        "native": by_name["native"],
        "aligned": by_name["aligned"],
        "explainable": explainable,
        "knobs": rows,
        "residual": residual,
        "residual_share": _share(residual, explainable),
        "skipped": {name: f"cannot matter on {_device(profile)}" for name in skipped},
        "training_runs": len(todo),
    }


def _device(profile: Profile) -> str:
    if profile.device != "cuda":
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _sub(a, b):
    return None if a is None or b is None else a - b


def _share(effect, total):
    if effect is None or total is None or abs(total) < 1e-12:
        return None
    return effect / total


def _run_all(todo: dict, case, profile, data_dir, jobs: int, progress: bool) -> dict:
    from tqdm import tqdm

    bar = tqdm(
        total=len(todo),
        desc=f"explain {case.case_id}",
        unit="run",
        disable=not progress,
        file=sys.stderr,
    )
    results = {}
    try:
        if jobs <= 1:
            for key, (fw, setting) in todo.items():
                results[key] = _run(fw, case, profile, data_dir, setting)
                bar.update()
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # fresh frameworks, own threads
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {
                    pool.submit(_run, fw, case, profile, data_dir, setting): key
                    for key, (fw, setting) in todo.items()
                }
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
    finally:
        bar.close()
    return results


def default_jobs(profile: Profile) -> int:
    """As many worker processes as the cores hold at the profile's thread count; one on CUDA."""
    if profile.device == "cuda":
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, profile.intra_op_threads))


def format_table(report: dict) -> str:
    def f(value, pct=False):
        if value is None:
            return "     n/a"
        return f"{value * 100:+7.1f}%" if pct else f"{value:+8.4f}"

    def accuracies(which: str) -> str:
        r = report[which]
        pt, tf = ("n/a" if r[fw] is None else f"{r[fw]:.4f}" for fw in ("pytorch", "tensorflow"))
        return f"PyTorch {pt}  TensorFlow {tf}  gap {f(r['gap'])}"

    head = f"{'gap':>8} {'effect':>8} {'share':>8}"
    lines = [
        f"crossedwires explain {report['case']}  (profile {report['profile']}, mirror width "
        f"{report['width']}, {report['device']}, {report['training_runs']} training runs)",
        "gap = PyTorch test accuracy - TensorFlow test accuracy",
        f"  native : {accuracies('native')}",
        f"  aligned: {accuracies('aligned')}",
        f"  native gap - aligned gap = {f(report['explainable'])}  (what the knobs can explain)",
        "",
        f"{'knob':<20} | {'only this knob native':^28} | {'all native but this knob':^28}",
        f"{'':<20} | {head}   | {head}",
        "-" * 84,
    ]
    rows = sorted(report["knobs"], key=lambda r: -abs(r["effect_from_aligned"] or 0.0))
    for r in rows:
        lines.append(
            f"{r['knob']:<20} | {f(r['gap_only_this_knob_native'])} {f(r['effect_from_aligned'])} "
            f"{f(r['share_from_aligned'], True)}   | {f(r['gap_all_native_but_this_knob'])} "
            f"{f(r['effect_from_native'])} {f(r['share_from_native'], True)}"
        )
    lines.append("-" * 84)
    lines.append(
        f"{'residual':<20} | {'':>8} {f(report['residual'])} {f(report['residual_share'], True)}"
        "   | (native - aligned gap minus the effects from aligned: interactions and noise)"
    )
    for name, why in report["skipped"].items():
        lines.append(f"skipped: {name} ({why})")
    for which in ("native", "aligned"):
        for fw in FRAMEWORKS:
            if report[which].get(f"{fw}_problem"):
                lines.append(f"note: {which} {fw}: {report[which][f'{fw}_problem']}")
    return "\n".join(lines)
