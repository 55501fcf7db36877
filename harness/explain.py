"""``crossedwires explain``: which framework default carries an accuracy gap.

A mirror case (``harness/mirror.py``) is trained in mode ``native`` (each side is its
framework's zoo model of the architecture: ``knobs.settings("native", arch)``) and in mode
``aligned`` (every knob of ``harness/knobs.py`` equal). Then each knob is moved on its own:

- *only this knob native* (from the aligned side): aligned, except this knob at each
  framework's zoo value. Its gap minus the aligned gap is the knob's effect from the aligned side.
- *all native but this knob* (from the native side; plan ``full`` only): native, except this
  knob aligned. The native gap minus its gap is the knob's effect from the native side.

Gaps are signed, PyTorch accuracy minus TensorFlow accuracy. The *explainable* part is the native
gap minus the aligned gap; a knob's *share* is its effect over it. Each side has a *residual*:
the explainable part minus the sum of that side's effects (what no single knob carries: knobs
that act together, and noise). Where the two residuals, or a knob's two effects, differ beyond
the noise, the knobs interact, and the table says so.

Every configuration runs with K seeds (``seeds``; seed s gives both frameworks the profile's seed
+ s, and every configuration the same K). Each gap, effect and residual is a mean over the seeds
of per-seed differences, with a t-interval at the profile's significance level (K >= 2). A share
is printed only where its effect's interval excludes zero; otherwise it is shown as noise. One
seed gives numbers without intervals, and the table says that it cannot tell an effect from noise.

Knobs that cannot matter on the device (``tf32`` on a CPU) or do not apply to the architecture
(no batch norm in VGG16; both zoo models pad the same way) are skipped with the reason.

Runs are shared: each framework's training depends only on its own knob values and the seed, so
one run serves every configuration that gives its framework the same values. Plan ``cheap`` (the
default on a CPU) moves each knob from the aligned side only: about one new run per knob and seed,
since most knobs change one framework only (DenseNet121 on a CPU: 11 runs a seed). Plan ``full``
(the default on CUDA) also moves each knob from the native side, for both residuals and the
interactions (DenseNet121: 18 runs a seed). Runs go to ``jobs`` worker processes.

A zoo case is explained through its mirror counterpart at width 1.0, the zoo models' own width
(``docs/explain.md`` has a measured comparison of the zoo gap and the mirror-native gap).
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
from .errors import ConfigError
from .profiles import Profile

PLANS = ("cheap", "full")
DIRECTIONS = {"cheap": ("from_aligned",), "full": ("from_aligned", "from_native")}
DEFAULT_SEEDS = 3  # the fewest that give every number an interval with some width to spare


def plan(
    device: str, arch: str | None = None, which: str = "full"
) -> tuple[list[dict], dict[str, str]]:
    """The configurations to run for ``arch`` on ``device``, and the knobs skipped, with why."""
    if which not in PLANS:
        raise ConfigError(f"plan={which!r} is unknown: use one of {', '.join(PLANS)}")
    native, aligned = knobs.settings("native", arch), knobs.settings("aligned", arch)
    configs = [
        {"name": "native", "knob": None, "setting": native},
        {"name": "aligned", "knob": None, "setting": aligned},
    ]
    skipped = {}
    for knob in knobs.KNOBS:
        why = knob.not_applicable(arch)
        if not why and knob.native("pytorch", arch) == knob.native("tensorflow", arch):
            why = "both frameworks take the same value here"
        if device not in knob.devices:
            why = f"cannot matter on {device}"
        if why:
            skipped[knob.name] = why
            continue
        if "from_aligned" in DIRECTIONS[which]:
            configs.append(
                {
                    "name": f"aligned, {knob.name} native",
                    "knob": knob.name,
                    "direction": "from_aligned",
                    "setting": knobs.with_knob(aligned, knob.name, "native", arch),
                }
            )
        if "from_native" in DIRECTIONS[which]:
            configs.append(
                {
                    "name": f"native, {knob.name} aligned",
                    "knob": knob.name,
                    "direction": "from_native",
                    "setting": knobs.with_knob(native, knob.name, "aligned", arch),
                }
            )
    return configs, skipped


def default_plan(profile: Profile) -> str:
    return "full" if _device(profile) == "cuda" else "cheap"


def mirror_of(case: Case) -> Case:
    """The case explain trains for ``case``: itself when it is a mirror case; for a zoo case,
    its mirror counterpart (the same hyperparameters on structurally identical models, mode
    native). Knobs such as the initial weights can be set equal only on mirror models: the two
    zoo models have different layers, so no weights carry across."""
    if case.arch_source == "mirror":
        return case
    return replace(case, arch_source="mirror", mode="native")


ZOO_WIDTH = 1.0  # a zoo case's mirror runs at the zoo models' own width


def profile_for(case: Case, profile: Profile) -> Profile:
    """The profile a case is explained under: for a zoo case, its mirror at width 1.0."""
    if case.arch_source == "mirror":
        return profile
    return replace(profile, mirror_width=ZOO_WIDTH)


def zoo_note(case: Case, profile: Profile | None = None) -> str | None:
    """The line a command prints before it trains a zoo case's mirror counterpart, or None."""
    runs = mirror_of(case)
    if runs == case:
        return None
    width = (
        ""
        if profile is None or profile.mirror_width == ZOO_WIDTH
        else (
            f" at width {ZOO_WIDTH} (the zoo models' own, not the profile's {profile.mirror_width})"
        )
    )
    return (
        f"note: {case.case_id} is a zoo case (each framework's own published model, no weights "
        f"carry across); explain runs {runs.case_id}{width} instead: the same hyperparameters "
        "on mirror models that are each framework's zoo model in native mode, with every "
        "difference a knob"
    )


def _key(framework: str, setting: dict, seed: int) -> str:
    return f"{framework}{json.dumps(setting[framework], sort_keys=True)}seed{seed}"


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


def _run(framework: str, case: Case, profile: Profile, data_dir, setting: dict, seed: int) -> dict:
    from .runner import run_framework, shared_initial_weights

    _prepare(profile, data_dir)
    data = _WORKER["data"]
    initial = None
    if setting["init"] == "shared":
        initial = shared_initial_weights(case, profile, data, seed)
    run = run_framework(
        framework,
        case,
        profile,
        data,
        _WORKER["env"][framework]["device"],
        setting=setting,
        initial_weights=initial,
        seed=seed,
    )
    return run["result"]


def explain(
    case: Case,
    profile: Profile,
    data_dir: str | None = None,
    jobs: int = 1,
    progress: bool = True,
    seeds: int = DEFAULT_SEEDS,
    which: str | None = None,
) -> dict:
    """Run the plan for ``case`` under ``profile`` with ``seeds`` seeds; the table as a dict."""
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} must be >= 1 (3 or more give intervals worth reading)")
    profile = profile_for(case, profile)
    case = mirror_of(case)
    which = which or default_plan(profile)
    configs, skipped = plan(_device(profile), case.arch, which)
    seed_list = [profile.seed + i for i in range(seeds)]
    todo = {}
    for config in configs:
        for fw in FRAMEWORKS:
            for seed in seed_list:
                todo.setdefault(
                    _key(fw, config["setting"], seed), (fw, config["setting"][fw], seed)
                )
    results = _run_all(todo, case, profile, data_dir, jobs, progress)
    level = profile.significance_level

    def per_seed_gaps(config) -> list[float | None]:
        gaps = []
        for seed in seed_list:
            acc = [results[_key(fw, config["setting"], seed)]["test_accuracy"] for fw in FRAMEWORKS]
            gaps.append(None if None in acc else acc[0] - acc[1])
        return gaps

    def summary(config) -> dict:
        out = {}
        for fw in FRAMEWORKS:
            runs = [results[_key(fw, config["setting"], seed)] for seed in seed_list]
            accs = [r["test_accuracy"] for r in runs]
            out[fw] = None if None in accs else float(sum(accs) / len(accs))
            out[f"{fw}_per_seed"] = accs
            problems = [r.get("error") or ("diverged" if r["diverged"] else None) for r in runs]
            problems = [p for p in problems if p]
            if problems:
                out[f"{fw}_problem"] = problems[0]
        gaps = per_seed_gaps(config)
        out.update(_estimate(gaps, level, "gap"))
        return out

    by_name = {c["name"]: c for c in configs}
    gaps = {name: per_seed_gaps(c) for name, c in by_name.items()}
    native, aligned = gaps["native"], gaps["aligned"]
    explainable = _diff(native, aligned)
    rows = []
    sums = {d: [0.0] * len(seed_list) for d in DIRECTIONS["full"]}
    for knob in knobs.KNOBS:
        if knob.name in skipped:
            continue
        row = {
            "knob": knob.name,
            "pytorch": knob.native("pytorch", case.arch),
            "tensorflow": knob.native("tensorflow", case.arch),
            "aligned": knob.aligned,
        }
        effects = {}
        if f"aligned, {knob.name} native" in gaps:
            alone = gaps[f"aligned, {knob.name} native"]
            effects["from_aligned"] = _diff(alone, aligned)
            row.update(_estimate(alone, level, "gap_only_this_knob_native"))
        if f"native, {knob.name} aligned" in gaps:
            without = gaps[f"native, {knob.name} aligned"]
            effects["from_native"] = _diff(native, without)
            row.update(_estimate(without, level, "gap_all_native_but_this_knob"))
        for direction, effect in effects.items():
            row.update(_estimate(effect, level, f"effect_{direction}"))
            row[f"share_{direction}"] = _share(row[f"effect_{direction}"], _mean(explainable))
            row[f"share_{direction}_supported"] = _excludes_zero(row, f"effect_{direction}")
            sums[direction] = _add(sums[direction], effect)
        if len(effects) == 2:
            row.update(
                _estimate(
                    _diff(effects["from_aligned"], effects["from_native"]), level, "interaction"
                )
            )
        rows.append(row)
    report = {
        "case": case.case_id,
        "profile": profile.name,
        "width": profile.mirror_width,
        "device": _device(profile),
        "plan": which,
        "seeds": seed_list,
        "significance_level": level,
        "gap": "PyTorch test accuracy minus TensorFlow test accuracy",
        "native": summary(by_name["native"]),
        "aligned": summary(by_name["aligned"]),
        **_estimate(explainable, level, "explainable"),
        "knobs": rows,
        "skipped": skipped,
        "training_runs": len(todo),
    }
    for direction in DIRECTIONS[which]:
        residual = _diff(explainable, sums[direction])
        report.update(_estimate(residual, level, f"residual_{direction}"))
        report[f"residual_{direction}_share"] = _share(
            report[f"residual_{direction}"], report["explainable"]
        )
    if which == "full":
        report.update(
            _estimate(_diff(sums["from_native"], sums["from_aligned"]), level, "interactions")
        )
    return report


# --- per-seed arithmetic: None where a run failed ------------------------------------------


def _diff(a: list, b: list) -> list:
    return [None if x is None or y is None else x - y for x, y in zip(a, b, strict=True)]


def _add(a: list, b: list) -> list:
    return [None if x is None or y is None else x + y for x, y in zip(a, b, strict=True)]


def _mean(values: list) -> float | None:
    if not values or None in values:
        return None
    return float(sum(values) / len(values))


def _estimate(values: list, level: float, name: str) -> dict:
    """``name``: the mean over seeds; ``name_interval``: its two-sided t-interval at ``level``
    (None with one seed or a failed run); ``name_per_seed``: the values."""
    mean = _mean(values)
    interval = None
    if mean is not None and len(values) >= 2:
        from scipy import stats

        sem = stats.sem(values)
        if sem == 0:
            interval = [mean, mean]
        else:
            low, high = stats.t.interval(1 - level, len(values) - 1, loc=mean, scale=sem)
            interval = [float(low), float(high)]
    return {name: mean, f"{name}_interval": interval, f"{name}_per_seed": values}


def _excludes_zero(row: dict, name: str) -> bool:
    interval = row.get(f"{name}_interval")
    return interval is not None and (interval[0] > 0 or interval[1] < 0)


def _device(profile: Profile) -> str:
    if profile.device != "cuda":
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


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
            for key, (fw, setting, seed) in todo.items():
                results[key] = _run(fw, case, profile, data_dir, setting, seed)
                bar.update()
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # fresh frameworks, own threads
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {
                    pool.submit(_run, fw, case, profile, data_dir, setting, seed): key
                    for key, (fw, setting, seed) in todo.items()
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
    seeds = len(report["seeds"])
    pct = round(100 * (1 - report["significance_level"]))

    def f(value) -> str:
        return "    n/a" if value is None else f"{value:+7.4f}"

    def ci(name: str, source: dict = report) -> str:
        interval = source.get(f"{name}_interval")
        if interval is None:
            return " " * 18
        return f"[{interval[0]:+6.3f}, {interval[1]:+6.3f}]"

    def share(row: dict, direction: str) -> str:
        value = row.get(f"share_{direction}")
        if value is None:
            return "    n/a"
        if seeds >= 2 and not row[f"share_{direction}_supported"]:
            return "  noise"  # the effect's interval includes zero: no share to quote
        return f"{value * 100:+6.0f}%"

    def accuracies(which: str) -> str:
        r = report[which]
        pt, tf = ("n/a" if r[fw] is None else f"{r[fw]:.4f}" for fw in ("pytorch", "tensorflow"))
        return f"PyTorch {pt}  TensorFlow {tf}  gap {f(r['gap'])} {ci('gap', r)}"

    full = report["plan"] == "full"
    lines = [
        f"crossedwires explain {report['case']}  (profile {report['profile']}, mirror width "
        f"{report['width']}, {report['device']}, plan {report['plan']}, {seeds} seed"
        f"{'s' if seeds > 1 else ''}, {report['training_runs']} training runs)",
        "gap = PyTorch test accuracy - TensorFlow test accuracy; every number is a mean over the "
        f"seeds with its {pct}% t-interval",
        f"  native : {accuracies('native')}",
        f"  aligned: {accuracies('aligned')}",
        f"  native gap - aligned gap = {f(report['explainable'])} {ci('explainable')}  "
        "(what the knobs can explain)",
        "",
    ]
    head = f"{'effect':>7} {f'{pct}% interval':^18} {'share':>7}"
    title = f"{'knob':<22} | {'only this knob native':^34}"
    sub = f"{'':<22} | {head}"
    if full:
        title += f" | {'all native but this knob':^34}"
        sub += f" | {head}"
    lines += [title, sub, "-" * len(title)]
    rows = sorted(report["knobs"], key=lambda r: -abs(r.get("effect_from_aligned") or 0.0))
    for r in rows:
        line = (
            f"{r['knob']:<22} | {f(r['effect_from_aligned'])} {ci('effect_from_aligned', r)} "
            f"{share(r, 'from_aligned')}"
        )
        if full:
            line += (
                f" | {f(r['effect_from_native'])} {ci('effect_from_native', r)} "
                f"{share(r, 'from_native')}"
            )
        lines.append(line)
    lines.append("-" * len(title))
    residuals = [("from_aligned", "residual, aligned side")]
    if full:
        residuals.append(("from_native", "residual, native side"))
    for direction, label in residuals:
        value = report[f"residual_{direction}"]
        row = {
            f"share_{direction}": report[f"residual_{direction}_share"],
            f"share_{direction}_supported": _excludes_zero(report, f"residual_{direction}"),
        }
        lines.append(
            f"{label:<22} | {f(value)} {ci(f'residual_{direction}')} {share(row, direction)}"
        )
    lines.append(
        "a share is an effect over what the knobs can explain; 'noise': the effect's interval "
        "includes zero"
    )
    if full:
        together = report["interactions"]
        verdict = (
            "the knobs act together: the two residuals differ beyond the noise"
            if _excludes_zero(report, "interactions")
            else "within the noise: no interaction shows"
        )
        if seeds < 2:
            verdict = "one seed: cannot tell from noise"
        lines.append(
            f"interaction (effects from native minus from aligned, summed): {f(together)} "
            f"{ci('interactions')}: {verdict}"
        )
        for r in rows:
            if _excludes_zero(r, "interaction"):
                lines.append(
                    f"  {r['knob']} interacts: its effect is {f(r['effect_from_aligned'])} from "
                    f"the aligned side and {f(r['effect_from_native'])} from the native side"
                )
    if seeds < 2:
        lines.append("one seed: no intervals, so no effect here can be told from noise (--seeds 3)")
    for name, why in report["skipped"].items():
        lines.append(f"skipped: {name} ({why})")
    for which in ("native", "aligned"):
        for fw in FRAMEWORKS:
            if report[which].get(f"{fw}_problem"):
                lines.append(f"note: {which} {fw}: {report[which][f'{fw}_problem']}")
    return "\n".join(lines)
