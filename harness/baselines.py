"""Baselines: one JSON file per case, ``baselines/<profile>/<arch>/<case-id>.json``.

As pytest-regressions does it: one function serializes (``dumps``), one compares (``compare``).
Files have sorted keys, rounded floats and no timestamps or durations, so regenerating on the
same machine is byte-identical and a pull-request diff shows only real changes. Every file is
validated against ``resources/baseline.schema.json`` when read and before it is written, and
written atomically (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

from . import atomic, judge
from .errors import BaselineError, HarnessError
from .sides import FRAMEWORKS, SIDES, pair_key

FLOAT_DIGITS = 6  # significant digits: 0.100604, 2.30251, 1e-08
# A numerics record keeps float32's full precision (9 significant digits round-trip a float32):
# its allowances are parts per million and less, which 6 digits (5e-6) would eat.
NUMERICS_FLOAT_DIGITS = 9
CASE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
# every side's packages, from the registry: what drift and "since the baseline" name
FRAMEWORK_PACKAGES = {name: side.packages for name, side in SIDES.items()}


def regen_command(profile: str, case_id: str, options: tuple[str, ...] = ()) -> str:
    """The command that (re)writes one case's baseline, shell-quoted, with the ``options`` of
    the run that printed it (``--baselines-dir``, ``--data-dir``, ``--seeds``) so that following
    it writes where the check reads."""
    args = ["pytest", "difftests", "--profile", profile, "-k", case_id, *options]
    return shlex.join([*args, "--regen-baselines"])


def baseline_path(root: Path, profile: str, arch: str, case_id: str) -> Path:
    """Where a case's baseline lives; refuses any id that could point outside ``root``."""
    for name, value in (("profile", profile), ("arch", arch), ("case id", case_id)):
        if not CASE_ID_RE.match(value) or ".." in value:
            raise BaselineError(
                f"{name} {value!r} cannot name a baseline file: use lowercase letters, digits, "
                "'.', '+' and '-' only, without '..'"
            )
    return Path(root) / profile / arch / f"{case_id}.json"


def normalize(value, digits: int = FLOAT_DIGITS):
    """Round floats to ``digits`` significant digits; non-finite floats become null."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): normalize(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v, digits) for v in value]
    return value


def dumps(record: dict) -> str:
    digits = NUMERICS_FLOAT_DIGITS if kind_of(record) == "numerics" else FLOAT_DIGITS
    return json.dumps(normalize(record, digits), sort_keys=True, indent=2, allow_nan=False) + "\n"


SCHEMA_VERSION = 2  # a case record's
SCHEMA_VERSIONS = {"case": SCHEMA_VERSION, "numerics": 3}
SCHEMAS = {"case": "baseline.schema.json", "numerics": "numerics.schema.json"}


@cache
def schema(kind: str = "case", sides: tuple[str, ...] = FRAMEWORKS) -> dict:
    """The schema of ``kind``; for a case record of ``sides`` (the default pair, or the sides
    an N-side record lists) with every side-keyed block (results, environment, knobs) built from
    the side registry: the sides of ``sides``, and no other, must appear."""
    text = (resources.files("harness") / "resources" / SCHEMAS[kind]).read_text()
    loaded = json.loads(text)
    if kind != "case":
        return loaded
    props = loaded["properties"]
    for block, ref in (
        (props["results"], {"$ref": "#/$defs/result"}),
        (props["environment"], {"$ref": "#/$defs/framework_environment"}),
    ):
        block["required"] = [k for k in block["required"] if k not in FRAMEWORKS] + list(sides)
        block["properties"].update({s: ref for s in sides if s not in block["properties"]})
    if tuple(sides) != FRAMEWORKS:
        props["sides"] = {
            "type": "array",
            "items": {"enum": list(SIDES)},
            "minItems": 2,
            "uniqueItems": True,
        }
        pair = {
            "type": "object",
            "required": ["comparison", "verdict"],
            "additionalProperties": False,
            "properties": {"comparison": props["comparison"], "verdict": props["verdict"]},
        }
        props["pairs"] = {"type": "object", "additionalProperties": pair}
        props["vote"] = {
            "type": "object",
            "required": ["odd_one_out", "beyond_all", "agreeing_pairs"],
            "additionalProperties": False,
            "properties": {
                "odd_one_out": {"enum": [*SIDES, None]},
                "beyond_all": {"type": "array", "items": {"enum": list(SIDES)}},
                "agreeing_pairs": {"type": "array"},
            },
        }
        loaded["required"] = [*loaded["required"], "sides", "pairs", "vote"]
    return loaded


def sides_of(record: dict) -> tuple[str, ...]:
    """The sides a record holds, in its order: the default pair unless it lists its own."""
    listed = record.get("sides")
    if isinstance(listed, list) and all(isinstance(s, str) for s in listed):
        return tuple(listed)
    return FRAMEWORKS


@cache
def _registry():
    """The schemas by their ``$id``: the numerics schema refers to the case schema's parts."""
    from referencing import Registry, Resource

    resources_ = [Resource.from_contents(schema(kind)) for kind in SCHEMAS]
    return Registry().with_resources((r.id(), r) for r in resources_)


def kind_of(record: dict) -> str:
    """``numerics`` for a numerics check's record, ``case`` for a divergence case's."""
    return "numerics" if record.get("kind") == "numerics" else "case"


def validate(record: dict, where: str) -> None:
    """Raise BaselineError naming the file and the field when ``record`` breaks its schema."""
    version, reads = record.get("schema_version"), SCHEMA_VERSIONS[kind_of(record)]
    if isinstance(version, int) and version != reads:
        raise BaselineError(
            f"{where}: field schema_version: {version} was written by another version of "
            f"crossedwires (this one reads {reads} for a {kind_of(record)} record); regenerate "
            "the baseline"
        )
    sides = sides_of(record) if kind_of(record) == "case" else FRAMEWORKS
    validator = jsonschema.Draft202012Validator(
        schema(kind_of(record), sides), registry=_registry()
    )
    error = best_match(validator.iter_errors(record))
    if error is None:
        check_consistency(record, where)
        return
    field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [r for r in error.validator_value if r not in error.instance]
        prefix = f"{field}." if error.absolute_path else ""
        raise BaselineError(f"{where}: field {prefix}{missing[0]} is missing (required)")
    raise BaselineError(f"{where}: field {field}: {error.message}")


MAX_SEEDS = 100  # seeds per framework: each is a training run (pytest --seeds is bounded too)


def _close(a, b) -> bool:
    """Equal up to the FLOAT_DIGITS rounding of the file (and the float noise of a recompute)."""
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


def check_consistency(record: dict, where: str) -> None:
    """What the schema cannot say, for a case record: every derived number agrees with what it
    is derived from, so that an edited mean, verdict or statistic cannot stand in for the seeds
    the check gates on. BaselineError names the field."""
    if kind_of(record) == "numerics":
        _check_numerics(record, where)
        return

    def refuse(field: str, why: str):
        raise BaselineError(f"{where}: field {field}: {why}")

    from .cases import Case

    case = record["case"]
    hp = case["hyperparameters"]
    try:
        expected = Case(
            arch=case["arch"],
            learning_rate=hp["learning_rate"],
            batch_size=hp["batch_size"],
            epochs=hp["epochs"],
            adam_epsilon=hp["adam_epsilon"],
            arch_source=case["arch_source"],
            mode=case["mode"],
        ).case_id
    except HarnessError as exc:
        refuse("case.hyperparameters", str(exc))
    if case["id"] != expected and not case["id"].startswith(f"{expected}-"):
        refuse("case.id", f"{case['id']!r} but its hyperparameters make {expected!r}")
    results = record["results"]
    seeds = {fw: [s["seed"] for s in r.get("seeds") or []] for fw, r in results.items()}
    first, *others = sides_of(record)
    for fw in others:
        if seeds[fw] != seeds[first]:
            refuse(
                f"results.{fw}.seeds",
                f"seeds {seeds[fw] or 'none'} but results.{first}.seeds has "
                f"{seeds[first] or 'none'}; both frameworks run the same seeds",
            )
    if len(set(seeds[first])) != len(seeds[first]) or len(seeds[first]) > MAX_SEEDS:
        refuse(
            f"results.{first}.seeds", f"{len(seeds[first])} seeds, not distinct or > {MAX_SEEDS}"
        )
    for fw, r in results.items():
        runs = r.get("seeds") or [r]
        for i, run in enumerate(runs):
            at = f"results.{fw}.seeds.{i}" if r.get("seeds") else f"results.{fw}"
            if run["test_accuracy"] is None and not run["error"]:
                refuse(f"{at}.test_accuracy", "null without an error saying why the run failed")
        stats = r.get("accuracy_stats")
        if not r.get("seeds"):
            if stats is not None:
                refuse(f"results.{fw}.accuracy_stats", "present, but there are no seeds")
            continue
        accuracies = [run["test_accuracy"] for run in runs]
        if None in accuracies:
            if stats is not None or r["test_accuracy"] is not None:
                refuse(f"results.{fw}.test_accuracy", "a seed failed, so there is no mean")
        else:
            want = judge.accuracy_stats(accuracies)
            for key in ("n", "mean", "std", "min", "max"):
                if stats is None or not _close(stats[key], want[key]):
                    got = None if stats is None else stats[key]
                    refuse(
                        f"results.{fw}.accuracy_stats.{key}",
                        f"{got}, the seeds give {want[key]:.6g}",
                    )
            if not _close(r["test_accuracy"], want["mean"]):
                refuse(
                    f"results.{fw}.test_accuracy",
                    f"{r['test_accuracy']}, the seeds' mean is {want['mean']:.6g}",
                )
        if r["error"] != next((run["error"] for run in runs if run["error"]), None):
            refuse(f"results.{fw}.error", "not the first failed seed's error")
        if r["diverged"] != any(run["diverged"] for run in runs):
            refuse(f"results.{fw}.diverged", "disagrees with its seeds")
    accuracies = [results[fw]["test_accuracy"] for fw in sides_of(record)[:2]]
    comparison = record["comparison"]
    if (comparison is None) != (None in accuracies):
        refuse("comparison", "present without both accuracies, or missing with both")
    statistics = None
    band = None
    if comparison is not None:
        if not _close(comparison["accuracy_diff"], abs(accuracies[0] - accuracies[1])):
            refuse(
                "comparison.accuracy_diff",
                f"{comparison['accuracy_diff']}, the accuracies give "
                f"{abs(accuracies[0] - accuracies[1]):.6g}",
            )
        band = tuple(comparison["chance_band"]) if comparison.get("chance_band") else None
        stored = comparison.get("statistics")
        if bool(stored) != bool(seeds[first]):
            refuse("comparison.statistics", "present without seeds, or missing with them")
        if stored:
            lead = [results[fw] for fw in sides_of(record)[:2]]
            per_seed = [[s["test_accuracy"] for s in r["seeds"]] for r in lead]
            statistics = judge.gap_test(*per_seed, stored["tolerance"], stored["alpha"])
            if not _close(stored["tolerance"], record["tolerance"]["accuracy_diff"]):
                refuse("comparison.statistics.tolerance", "not the record's tolerance")
            for key in ("p_within", "p_beyond", "gap"):
                if not _close(stored[key], statistics[key]):
                    refuse(
                        f"comparison.statistics.{key}",
                        f"{stored[key]}, the seeds give {statistics[key]:.6g}",
                    )
    lead = {fw: results[fw] for fw in sides_of(record)[:2]}
    verdict = judge.verdict(lead, record["tolerance"]["accuracy_diff"], statistics, band)
    if record["verdict"] != verdict:
        refuse("verdict", f"{record['verdict']!r}, the results give {verdict!r}")
    if "pairs" in record:
        _check_pairs(record, refuse)


def _check_pairs(record: dict, refuse) -> None:
    """An N-side record: every pair of its sides is there with the verdict its seeds give, and
    the vote is the one its pairs' verdicts give."""
    order = sides_of(record)  # the schema built from them has held the results to them
    want = [f"{a}|{b}" for i, a in enumerate(order) for b in order[i + 1 :]]
    if sorted(record["pairs"]) != sorted(want):
        refuse("pairs", f"{sorted(record['pairs'])}, the sides make {want}")
    tolerance = record["tolerance"]["accuracy_diff"]
    for key in want:
        a, b = key.split("|")
        pair, results = record["pairs"][key], {a: record["results"][a], b: record["results"][b]}
        stored = (pair["comparison"] or {}).get("statistics")
        statistics = None
        if stored:
            per_seed = [[s["test_accuracy"] for s in r["seeds"]] for r in results.values()]
            statistics = judge.gap_test(*per_seed, stored["tolerance"], stored["alpha"])
            if not _close(stored["tolerance"], tolerance):
                refuse(f"pairs.{key}.comparison.statistics.tolerance", "not the record's tolerance")
            for name in ("p_within", "p_beyond", "gap"):
                if not _close(stored[name], statistics[name]):
                    refuse(
                        f"pairs.{key}.comparison.statistics.{name}",
                        f"{stored[name]}, the seeds give {statistics[name]:.6g}",
                    )
        band = tuple((pair["comparison"] or {}).get("chance_band") or ()) or None
        verdict = judge.verdict(results, tolerance, statistics, band)
        if pair["verdict"] != verdict:
            refuse(f"pairs.{key}.verdict", f"{pair['verdict']!r}, the results give {verdict!r}")
    vote = judge.vote(
        order, {k: p["verdict"] for k, p in record["pairs"].items()}, seeds_in(record) > 1
    )
    if record["vote"] != vote:
        refuse("vote", f"{record['vote']}, the pairs' verdicts give {vote}")


def _check_numerics(record: dict, where: str) -> None:
    """A numerics record's noise levels are the ones its quantities give (an edited level would
    widen every allowance of its stage); no norm's noise exceeds twice its value (|float32 -
    float64| of a norm cannot); a spread is recorded exactly when kernel variants were
    measured; the check block's method is this version's (a record made another way would be
    judged by allowances it was not measured for)."""
    from . import numerics

    method = {
        "batch_size": numerics.BATCH,
        "optimizer": {**numerics.OPTIMIZER, "steps": numerics.STEPS},
        "gradient_seed": numerics.GRADIENT_SEED,
        "gradient_decades": list(numerics.GRADIENT_DECADES),
        "no_gradient_share": numerics.NO_GRADIENT_SHARE,
        "projections": numerics.PROJECTIONS,
        "logit_scale": numerics.LOGIT_SCALE,
        "multiplier": numerics.MULTIPLIER,
        "tiny": numerics.TINY,
    }
    for key, want in method.items():
        if record["check"][key] != want:
            raise BaselineError(
                f"{where}: field check.{key}: {record['check'][key]}, this version of "
                f"crossedwires measures with {want}; regenerate the baseline"
            )
    for fw, block in record["frameworks"].items():
        varied = bool(block["variants"])
        for name, entry in block["quantities"].items():
            if "#" not in name and entry["noise"] > 2 * abs(entry["value"]) + 1e-12:
                raise BaselineError(
                    f"{where}: field frameworks.{fw}.quantities.{name}.noise: {entry['noise']} "
                    f"exceeds twice the value {entry['value']}"
                )
            if ("spread" in entry) != varied:
                raise BaselineError(
                    f"{where}: field frameworks.{fw}.quantities.{name}.spread: "
                    + ("missing, though" if varied else "present, though no")
                    + f" kernel variants were measured ({block['variants']})"
                )
        want = numerics.stage_noise(block["quantities"])
        for stage, level in block["stage_noise"].items():
            if stage not in want or not _close(level, want[stage]):
                raise BaselineError(
                    f"{where}: field frameworks.{fw}.stage_noise.{stage}: {level}, its quantities "
                    f"give {want.get(stage)}"
                )
        if set(block["stage_noise"]) != set(want):
            raise BaselineError(
                f"{where}: field frameworks.{fw}.stage_noise: stages "
                f"{sorted(block['stage_noise'])}, its quantities give {sorted(want)}"
            )


MAX_BYTES = 16 * 2**20  # a baseline is a few kB; a 5-seed record with losses ~50 kB


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _Refused(f"key {key!r} appears twice in one object (JSON keeps only the last)")
        seen[key] = value
    return seen


def _no_constant(name: str):
    raise _Refused(f"{name} is not a number a baseline may hold (NaN and Infinity are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text} is out of range for a float (it would read as Infinity)")
    return value


class _Refused(ValueError):
    pass


def loads(text: str, where: str) -> dict:
    """Parse a baseline's text strictly: a JSON object, no NaN or Infinity (``json`` accepts
    them; every ``abs(nan) > x`` is false, so a NaN would switch the gate off), no duplicate keys
    (``json`` keeps the last silently), no nesting deeper than Python can walk. BaselineError
    names ``where`` and what is wrong."""
    try:
        record = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{where}: truncated or not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from None
    except _Refused as exc:
        raise BaselineError(f"{where}: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{where}: nested too deeply to be a baseline") from None
    if not isinstance(record, dict):
        raise BaselineError(
            f"{where}: field (top level): expected an object, got {type(record).__name__}"
        )
    return record


def read_text(path: Path) -> str:
    """The text of the file at ``path``: a regular UTF-8 file of at most MAX_BYTES (a folder or
    a FIFO named ``*.json`` is refused before it is opened, so nothing blocks on it)."""
    return atomic.read_small_text(Path(path), MAX_BYTES, "baseline", BaselineError)


def identity(record: dict) -> tuple[str, str, str]:
    """(profile, arch, id) a record says it is: what its path must be made of."""
    block = record["check"] if kind_of(record) == "numerics" else record["case"]
    return record["profile"]["name"], block["arch"], block["id"]


def check_identity(record: dict, path: Path, where: str | None = None) -> None:
    """A record must sit where its own profile, arch and id put it (``<profile>/<arch>/<id>.json``):
    a record copied under another case's name would otherwise stand for that case."""
    path = Path(path)
    found = (path.parent.parent.name, path.parent.name, path.name.removesuffix(".json"))
    block = "check" if kind_of(record) == "numerics" else "case"
    fields = ("profile.name", f"{block}.arch", f"{block}.id")
    for field, said, at in zip(fields, identity(record), found, strict=True):
        if said != at:
            raise BaselineError(
                f"{where or path}: field {field}: the record says {said!r} but its path says "
                f"{at!r}; "
                "a baseline belongs at <profile>/<arch>/<id>.json: move it or regenerate it"
            )


def read(path: Path, at_its_path: bool = False) -> dict:
    """The baseline at ``path``; BaselineError names the file and what is wrong with it. With
    ``at_its_path`` the record must also be the one its path names (``check_identity``)."""
    record = loads(read_text(path), str(path))
    validate(record, str(path))
    if at_its_path:
        check_identity(record, path)
    return record


def write(path: Path, record: dict) -> None:
    """Validate, then write atomically: readers see the old file or the new one, never a part."""
    text = dumps(record)
    validate(json.loads(text), str(path))
    try:
        atomic.write_text(Path(path), text)
    except OSError as exc:
        kept = keep_elsewhere(Path(path), text)
        raise BaselineError(
            f"{path}: cannot write the baseline ({exc.strerror}); the old file is unchanged and "
            f"this run's record is {kept}: free the space or fix the folder's permissions, then "
            "move it there"
        ) from None


# Where a record goes when its baseline cannot be written; None: <system temp>/crossedwires-rescue
RESCUE_DIR: Path | None = None


def check_replaceable(path: Path, record: dict) -> None:
    """A regeneration whose training raised (out of memory on a busy machine, a driver fault)
    does not replace a baseline that holds results: BaselineError says where this run's record
    was kept and how to record the failure if it is the new behaviour."""
    failed = [s for s, r in record["results"].items() if r["error"]]
    if not failed:
        return
    try:
        old = read(path, at_its_path=True)
    except BaselineError:
        return  # nothing valid to keep
    if all(old["results"].get(s, {}).get("error") for s in failed):
        return  # it failed then too
    side = next(s for s in failed if not old["results"].get(s, {}).get("error"))
    error = record["results"][side]["error"]
    kept = keep_elsewhere(Path(path), dumps(record))
    raise BaselineError(
        f"{path}: training failed ({side}: {error}); the baseline (verdict {old['verdict']}) is "
        f"kept and this run's record is {kept}. If the failure is the new behaviour, delete the "
        "baseline and regenerate it"
    )


def keep_elsewhere(path: Path, text: str) -> str:
    """Keep a record that could not be written at ``path`` (a full disk, a read-only folder) as
    ``<RESCUE_DIR>/<profile>/<arch>/<id>.json``, or print it on stderr when that fails too, so
    that no training is lost; says where it went."""
    import sys
    import tempfile

    root = Path(RESCUE_DIR or Path(tempfile.gettempdir()) / "crossedwires-rescue")
    parts = Path(path).parts
    # <profile>/<arch>/<id>.json, under its sides-<a>+<b>+... folder when it has one
    keep = 4 if len(parts) >= 4 and parts[-4].startswith("sides-") else 3
    spare = root.joinpath(*parts[-keep:])
    try:
        atomic.write_text(spare, text)
    except OSError as exc:  # nowhere to save it either: the terminal holds the last copy
        print(
            f"--- record for {path} (cannot be saved at {spare} either: {exc.strerror})",
            file=sys.stderr,
        )
        print(f"{text}--- end of record for {path}", file=sys.stderr)
        return "printed on stderr"
    return f"saved at {spare}"


def check_made_for(record: dict, profile: dict, data: str, where: str, chance_band=None) -> None:
    """A baseline is checked only against a run of the settings it was made with: the profile's
    block (seed, epochs cap, subsets), the data's fingerprint and, given ``chance_band`` (the
    profile's band for the record's number of seeds), the band its verdict used. Otherwise the
    accuracies would be compared across settings (or judged against a widened band, where every
    verdict is ``uninformative`` and nothing gates) and a failure would blame versions or the
    platform."""
    for key, value in profile.items():
        if record["profile"].get(key) != value:
            raise BaselineError(
                f"{where}: field profile.{key}: {record['profile'].get(key)!r}, but profile "
                f"{profile['name']} runs with {value!r}: the baseline was made with other "
                "settings"
            )
    if record["data"]["fingerprint"] != data:
        raise BaselineError(
            f"{where}: field data.fingerprint: {record['data']['fingerprint']}, but this run's "
            f"data ({record['data']['dataset']} as the profile subsets it) is {data}: the "
            "baseline was made with other data"
        )
    stored = (record.get("comparison") or {}).get("chance_band")
    if chance_band is not None and stored is not None:
        if not all(_close(a, b) for a, b in zip(stored, chance_band, strict=True)):
            raise BaselineError(
                f"{where}: field comparison.chance_band: {stored}, but profile "
                f"{profile['name']} puts chance at {[round(x, 6) for x in chance_band]} for "
                "these seeds and test images: the baseline was judged against another band"
            )


def fingerprint(environment: dict, profile: dict, data: str) -> dict:
    """What must be equal for a baseline to stand for a rerun: the environment (versions,
    device, threads, determinism), the profile's settings and the data's fingerprint. A side
    that runs in a subprocess counts by its versions only: the rest of its block is known only
    once it has run."""
    environment = {
        k: {"versions": (v or {}).get("versions")} if k in SIDES and SIDES[k].subprocess else v
        for k, v in environment.items()
    }
    return normalize({"environment": environment, "profile": profile, "data": data})


def fingerprint_of(record: dict) -> dict:
    return fingerprint(record["environment"], record["profile"], record["data"]["fingerprint"])


def resumable(path: Path, current: dict) -> dict | None:
    """The baseline at ``path`` when it is valid and was written with fingerprint ``current``
    (a resumed regeneration keeps it); None for a missing, broken or foreign file."""
    try:
        record = read(path, at_its_path=True)
    except BaselineError:
        return None
    return record if fingerprint_of(record) == current else None


def seeds_in(record: dict) -> int:
    """How many seeds per framework the record holds (K)."""
    return len(record["results"][sides_of(record)[0]].get("seeds") or [None])


def per_seed(record: dict, framework: str) -> list[float] | None:
    """A framework's per-seed test accuracies (None where a seed has none)."""
    result = record["results"][framework]
    if result.get("seeds"):
        accuracies = [s["test_accuracy"] for s in result["seeds"]]
    else:
        accuracies = [result["test_accuracy"]]
    return None if None in accuracies else accuracies


def versions_of(record: dict, framework: str) -> str:
    versions = record["environment"][framework]["versions"]
    return ", ".join(f"{p} {versions.get(p)}" for p in FRAMEWORK_PACKAGES[framework])


def _summary(record: dict) -> str:
    r = record["results"]
    acc = ", ".join(f"{fw} {_fmt(r[fw]['test_accuracy'])}" for fw in r)
    comparison = record["comparison"]
    diff = comparison["accuracy_diff"] if comparison else None
    stats = (comparison or {}).get("statistics")
    interval = ""
    if stats:
        lo, hi = stats["interval"]
        interval = f", {100 * (1 - 2 * stats['alpha']):.0f}% interval [{lo:+.4f}, {hi:+.4f}]"
    return f"{record['verdict']} ({acc}, difference {_fmt(diff)}{interval})"


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def compare(
    baseline: dict,
    record: dict,
    drift_margin: float,
    alpha: float = 0.05,
    family_size: int = 1,
) -> dict:
    """Check a new record against its baseline. Returns ``status`` (``ok``, ``reported``,
    ``verdict changed`` or ``drift``), ``problems`` (what fails the check), ``notes`` (what is
    reported without failing), ``drifted`` ({framework: move} for each that drifted) and
    ``change`` (what differs between the two environments: versions, platform).

    With K > 1 seeds on both sides: a flip between ``agree`` and ``mismatch`` fails, as does a
    run that now errs; a move into or out of ``inconclusive`` (or ``uninformative``,
    ``diverged``) is reported. A framework has drifted when Welch's test on its per-seed
    accuracies, Bonferroni-corrected over the ``family_size`` drift tests of the run, is
    significant at ``alpha`` and the move exceeds ``drift_margin`` (``judge.drift_test``; a
    case's own margin, ``record["tolerance"]["drift_margin"]``, replaces the argument).
    With one seed on either side nothing about the accuracies gates but a new error: the
    accuracy of one chaotic run moves with the platform, so it is reported, and the numerics
    check gates."""
    from .environment import change, describe_change

    # a case's own drift margin (the case table's, carried by the new record) wins
    drift_margin = record.get("tolerance", {}).get("drift_margin", drift_margin)
    delta = change(baseline["environment"], record["environment"], FRAMEWORK_PACKAGES)
    problems: list[str] = []
    notes: list[str] = []
    drifted: dict[str, float] = {}
    gated = seeds_in(baseline) > 1 and seeds_in(record) > 1
    status = "ok"
    changes = [  # (line, then, now): the record's verdict, then every other pair's (N sides)
        (
            f"verdict changed: baseline {_summary(baseline)}, this run {_summary(record)}",
            baseline["verdict"],
            record["verdict"],
        )
    ]
    for key, pair in (record.get("pairs") or {}).items():
        before = (baseline.get("pairs") or {}).get(key)
        if before is not None and key != pair_key(*FRAMEWORKS):
            line = f"pair {key}: verdict changed {before['verdict']} -> {pair['verdict']}"
            changes.append((line, before["verdict"], pair["verdict"]))
    for line, then_v, now_v in changes:
        if then_v == now_v:
            continue
        if now_v == "error" or (gated and judge.flip_fails(then_v, now_v)):
            status = "verdict changed"
            problems.append(line)
        else:
            why = "not gated with one seed" if not gated else "a move of the noise, not gated"
            notes.append(f"{line} ({why})")
    odd_then = (baseline.get("vote") or {}).get("odd_one_out")
    odd_now = (record.get("vote") or {}).get("odd_one_out")
    if "vote" in record and "vote" in baseline and odd_then != odd_now:
        notes.append(f"the vote's odd one out changed: {odd_then} -> {odd_now}")
    for fw in sides_of(record):
        if fw not in baseline["results"]:
            continue
        then, now = per_seed(baseline, fw), per_seed(record, fw)
        if then is None or now is None:
            continue  # an error on either side is a verdict question, answered above
        versions = f"versions then: {versions_of(baseline, fw)}; now: {versions_of(record, fw)}"
        then_mean, now_mean = sum(then) / len(then), sum(now) / len(now)
        moved = now_mean - then_mean
        if not gated:
            if abs(moved) > drift_margin + 1e-12:
                notes.append(
                    f"{fw} moved: test accuracy {then_mean:.4f} -> {now_mean:.4f} ({moved:+.4f}, "
                    f"beyond the margin {drift_margin}); one seed: not gated, the numerics "
                    "check gates"
                )
            continue
        test = judge.drift_test(then, now, drift_margin, alpha, family_size)
        if test["drifted"]:
            drifted[fw] = moved
            status = "drift" if status == "ok" else status
            problems.append(
                f"{fw} drifted: mean test accuracy over {len(then)} -> {len(now)} seeds "
                f"{then_mean:.4f} -> {now_mean:.4f} (moved {moved:+.4f}, beyond the margin "
                f"{drift_margin}; Welch p = {test['p_value']:.2g}, x {family_size} tests "
                f"(Bonferroni) = {test['p_adjusted']:.2g} < {alpha}); {versions}"
            )
        elif abs(moved) > drift_margin + 1e-12:
            notes.append(
                f"{fw} moved {then_mean:.4f} -> {now_mean:.4f} ({moved:+.4f}) but within the "
                f"noise (Welch p = {test['p_value']:.2g}, adjusted {test['p_adjusted']:.2g})"
            )
    if notes and status == "ok":
        status = "reported"
    return {
        "status": status,
        "problems": problems,
        "notes": notes,
        "drifted": drifted,
        "change": delta,
        "where": describe_change(delta),
    }
