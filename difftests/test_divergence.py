"""The divergence suite: two tests, parametrized from the case table (``harness/cases.py``) and
the numerics checks (``harness/numerics.py``).

- ``test_numerics[<arch>-<source>-numerics]``: each framework's first training step from fixed
  weights on a fixed batch, per layer, against its baseline within float32 noise: fast, and the
  same on any CPU unless a kernel, a default or an optimizer changed.
- ``test_case[<case-id>]``: each case trains one architecture with one set of hyperparameters
  in PyTorch and in TensorFlow/Keras with K seeds each, judges the gap and checks the record
  against the committed baseline, as distributions over seeds.

Select with ``-k``: ``-k densenet``, ``-k "resnet50 and bs10"``, ``-k mirror`` (mirror models,
both modes), ``-k aligned``, ``-k numerics``; ``--explain`` adds the knob table for each mirror
case.
"""

from __future__ import annotations

import pytest

from harness import baselines, numerics
from harness.environment import change, describe_change
from harness.errors import BaselineError
from harness.runner import (
    chance_band,
    environment,
    profile_block,
    promote_weights,
    run_case,
    seeds_of,
)


def _existing_baseline(path, case_id: str, create: str, report_row, profile, dataset):
    """The committed baseline, read before any training; a missing or broken one, or one made
    with other settings or data, fails."""
    if not path.exists() and not path.is_symlink():
        report_row(**_row(case_id, None, "missing"))
        pytest.fail(f"no baseline for {case_id} at {path}; create it with: {create}", pytrace=False)
    try:
        record = baselines.read(path, at_its_path=True)
        data = dataset.subset(profile.train_subset, profile.test_subset)
        band = None
        if baselines.kind_of(record) == "case":
            band = chance_band(profile, data, baselines.seeds_in(record))
        baselines.check_made_for(
            record, profile_block(profile), data.fingerprint(), str(path), band
        )
        return record
    except BaselineError as exc:
        report_row(**_row(case_id, None, "invalid"))
        pytest.fail(f"{exc}; regenerate it with: {create}", pytrace=False)


def test_numerics(
    numerics_check, profile, dataset, baselines_dir, regen, regen_command, report_row
):
    arch, source = numerics_check
    check = numerics.check_id(arch, source)
    path = baselines.baseline_path(baselines_dir, profile.name, arch, check)
    create = regen_command(check)
    baseline = None
    if not regen:
        baseline = _existing_baseline(path, check, create, report_row, profile, dataset)
    env = environment(profile)
    measured = numerics.measure(arch, source, profile, dataset, reference=regen)
    if regen:
        record = numerics.build_record(arch, source, profile, dataset, measured, env)
        baselines.write(path, record)
        report_row(**_row(check, None, "written", verdict="numerics"))
        return
    bad = numerics.compare(baseline["frameworks"], measured)
    report_row(**_row(check, None, "changed" if bad else "ok", verdict="numerics"))
    if bad:
        where = describe_change(change(baseline["environment"], env, baselines.FRAMEWORK_PACKAGES))
        pytest.fail(
            f"{check} ({path}):\n  "
            + "\n  ".join(numerics.describe(fw, b) for fw, b in bad.items())
            + f"\n  {where}\nIf the change is understood, regenerate with: {create}",
            pytrace=False,
        )


def test_case(
    case,
    profile,
    dataset,
    baselines_dir,
    regen,
    regen_command,
    resume_fingerprint,
    weights_root,
    report_row,
    explain_table,
    drift_family_size,
):
    path = baselines.baseline_path(baselines_dir, profile.name, case.arch, case.case_id)
    create = regen_command(case.case_id)
    baseline = None
    kept = resume_fingerprint and baselines.resumable(path, resume_fingerprint)
    if kept and baselines.seeds_in(kept) != len(seeds_of(case, profile)):
        kept = None  # written with another number of seeds
    if kept:  # written by this same environment before the run was stopped
        report_row(**_row(case.case_id, kept, "kept"))
        return
    if not regen:  # check the baseline before spending minutes on training
        baseline = _existing_baseline(path, case.case_id, create, report_row, profile, dataset)

    weights_dir = weights_root / profile.name / case.arch if weights_root else None
    record = baselines.normalize(run_case(case, profile, dataset, weights_dir))
    if explain_table and case.arch_source == "mirror" and case.mode == "native":
        explain_table(case)  # --explain: the table comes at the end of the run

    if regen:
        baselines.check_replaceable(path, record)  # a failed run keeps a good baseline
        baselines.write(path, record)
        promote_weights(weights_dir, case.case_id)
        report_row(**_row(case.case_id, record, "written"))
        return
    promote_weights(weights_dir, case.case_id)
    result = baselines.compare(
        baseline,
        record,
        profile.drift_margin,
        profile.significance_level,
        drift_family_size,
    )
    row = _row(case.case_id, record, result["status"], result["drifted"], baseline)
    report_row(**row, notes=result["notes"])  # reported at the end of the run, not failed
    if result["problems"]:
        pytest.fail(
            f"{case.case_id} ({path}):\n  "
            + "\n  ".join(result["problems"])
            + f"\n  {result['where']}\nIf the change is understood, regenerate with: {create}",
            pytrace=False,
        )


def _row(
    case_id: str,
    record: dict | None,
    status: str,
    drifted: dict | None = None,
    baseline: dict | None = None,
    verdict: str | None = None,
) -> dict:
    results = record["results"] if record else {}
    comparison = record["comparison"] if record else None
    drift = {
        fw: {
            "moved": moved,
            "then": baselines.versions_of(baseline, fw),
            "now": baselines.versions_of(record, fw),
        }
        for fw, moved in (drifted or {}).items()
    }
    return {
        "drift": drift,
        "case": case_id,
        "seeds": baselines.seeds_in(record) if record else None,
        "acc PyTorch": results.get("pytorch", {}).get("test_accuracy"),
        "acc TF": results.get("tensorflow", {}).get("test_accuracy"),
        "difference": comparison["accuracy_diff"] if comparison else None,
        "verdict": record["verdict"] if record else verdict,
        "baseline": status,
    }
