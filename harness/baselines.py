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
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

from . import atomic
from .errors import BaselineError

FLOAT_DIGITS = 6  # significant digits: 0.100604, 2.30251, 1e-08
CASE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
FRAMEWORK_PACKAGES = {"pytorch": ("torch", "torchvision"), "tensorflow": ("tensorflow", "keras")}


def regen_command(profile: str, case_id: str) -> str:
    return f"pytest difftests --profile {profile} -k '{case_id}' --regen-baselines"


def baseline_path(root: Path, profile: str, arch: str, case_id: str) -> Path:
    """Where a case's baseline lives; refuses any id that could point outside ``root``."""
    for name, value in (("profile", profile), ("arch", arch), ("case id", case_id)):
        if not CASE_ID_RE.match(value) or ".." in value:
            raise BaselineError(
                f"{name} {value!r} cannot name a baseline file: use lowercase letters, digits, "
                "'.', '+' and '-' only, without '..'"
            )
    return Path(root) / profile / arch / f"{case_id}.json"


def normalize(value):
    """Round floats to FLOAT_DIGITS significant digits; non-finite floats become null."""
    if isinstance(value, float):
        return float(f"{value:.{FLOAT_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def dumps(record: dict) -> str:
    return json.dumps(normalize(record), sort_keys=True, indent=2, allow_nan=False) + "\n"


@cache
def schema() -> dict:
    text = (resources.files("harness") / "resources" / "baseline.schema.json").read_text()
    return json.loads(text)


def validate(record: dict, where: str) -> None:
    """Raise BaselineError naming the file and the field when ``record`` breaks the schema."""
    error = best_match(jsonschema.Draft202012Validator(schema()).iter_errors(record))
    if error is None:
        return
    field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [r for r in error.validator_value if r not in error.instance]
        prefix = f"{field}." if error.absolute_path else ""
        raise BaselineError(f"{where}: field {prefix}{missing[0]} is missing (required)")
    raise BaselineError(f"{where}: field {field}: {error.message}")


def read(path: Path) -> dict:
    """The baseline at ``path``; BaselineError names the file and what is wrong with it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not a text file ({exc})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{path}: truncated or not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from None
    if not isinstance(record, dict):
        raise BaselineError(
            f"{path}: field (top level): expected an object, got {type(record).__name__}"
        )
    validate(record, str(path))
    return record


def write(path: Path, record: dict) -> None:
    """Validate, then write atomically: readers see the old file or the new one, never a part."""
    text = dumps(record)
    validate(json.loads(text), str(path))
    atomic.write_text(Path(path), text)


def fingerprint(environment: dict, profile: dict, data: str) -> dict:
    """What must be equal for a baseline to stand for a rerun: the environment (versions,
    device, threads, determinism), the profile's settings and the data's fingerprint."""
    return normalize({"environment": environment, "profile": profile, "data": data})


def fingerprint_of(record: dict) -> dict:
    return fingerprint(record["environment"], record["profile"], record["data"]["fingerprint"])


def resumable(path: Path, current: dict) -> dict | None:
    """The baseline at ``path`` when it is valid and was written with fingerprint ``current``
    (a resumed regeneration keeps it); None for a missing, broken or foreign file."""
    try:
        record = read(path)
    except BaselineError:
        return None
    return record if fingerprint_of(record) == current else None


def seeds_in(record: dict) -> int:
    """How many seeds per framework the record holds (K)."""
    return len(record["results"]["pytorch"].get("seeds") or [None])


def versions_of(record: dict, framework: str) -> str:
    versions = record["environment"][framework]["versions"]
    return ", ".join(f"{p} {versions.get(p)}" for p in FRAMEWORK_PACKAGES[framework])


def _summary(record: dict) -> str:
    r = record["results"]
    acc = ", ".join(f"{fw} {_fmt(r[fw]['test_accuracy'])}" for fw in r)
    diff = record["comparison"]["accuracy_diff"] if record["comparison"] else None
    return f"{record['verdict']} ({acc}, difference {_fmt(diff)})"


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def drift_threshold(baseline: dict, record: dict, framework: str, drift_tolerance: float):
    """(threshold, rule): how far a framework's accuracy may move from its baseline. With K > 1
    seeds on both sides: three standard errors of the difference of the two means, from the
    baselined spread (std over the baseline's seeds); with one seed: the profile's tolerance."""
    then = baseline["results"][framework].get("accuracy_stats")
    now = record["results"][framework].get("accuracy_stats")
    if then and now and then["std"] > 0:
        se = then["std"] * math.sqrt(1 / then["n"] + 1 / now["n"])
        rule = (
            f"3 standard errors of the baselined spread: std {then['std']:.4f} over "
            f"{then['n']} seeds, now {now['n']} seeds"
        )
        return 3 * se, rule
    return drift_tolerance, f"drift tolerance {drift_tolerance}"


def compare(
    baseline: dict, record: dict, drift_tolerance: float
) -> tuple[str, list[str], dict[str, float]]:
    """Check a new record against its baseline: (status, problems, drifted). Status is ``ok``,
    ``verdict changed`` or ``drift``; a known mismatch that reproduces is ``ok``. ``drifted``
    maps each framework that moved beyond its threshold (``drift_threshold``) to the move."""
    problems = []
    drifted: dict[str, float] = {}
    status = "ok"
    if baseline["verdict"] != record["verdict"]:
        status = "verdict changed"
        problems.append(
            f"verdict changed: baseline {_summary(baseline)}, this run {_summary(record)}"
        )
    for fw in FRAMEWORK_PACKAGES:
        then = baseline["results"][fw]["test_accuracy"]
        now = record["results"][fw]["test_accuracy"]
        if then is None or now is None:
            continue  # an error on either side is a verdict question, reported above
        moved = now - then
        threshold, rule = drift_threshold(baseline, record, fw, drift_tolerance)
        if abs(moved) > threshold + 1e-12:
            drifted[fw] = moved
            status = "drift" if status == "ok" else status
            problems.append(
                f"{fw} drifted: test accuracy {then:.4f} -> {now:.4f} (moved {moved:+.4f}, "
                f"{rule}); versions then: {versions_of(baseline, fw)}; "
                f"now: {versions_of(record, fw)}"
            )
    return status, problems, drifted
