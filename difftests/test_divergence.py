"""The divergence cases: one test, parametrized from the case table (``harness/cases.py``).

Each case trains one architecture with one set of hyperparameters in PyTorch and in
TensorFlow/Keras, judges the two results and checks them against the committed baseline.
Select with ``-k``: ``-k densenet``, ``-k "resnet50 and bs10"``, ``-k mirror`` (mirror models,
both modes), ``-k aligned``; ``--explain`` adds the knob table for each mirror case.
"""

from __future__ import annotations

import pytest

from harness import baselines
from harness.errors import BaselineError
from harness.runner import run_case, seeds_of


def test_case(
    case,
    profile,
    dataset,
    baselines_dir,
    regen,
    resume_fingerprint,
    weights_root,
    report_row,
    explain_table,
):
    path = baselines.baseline_path(baselines_dir, profile.name, case.arch, case.case_id)
    create = baselines.regen_command(profile.name, case.case_id)
    baseline = None
    kept = resume_fingerprint and baselines.resumable(path, resume_fingerprint)
    if kept and baselines.seeds_in(kept) != len(seeds_of(case, profile)):
        kept = None  # written with another number of seeds
    if kept:  # written by this same environment before the run was stopped
        report_row(**_row(case.case_id, kept, "kept"))
        return
    if not regen:  # check the baseline before spending minutes on training
        if not path.exists():
            report_row(**_row(case.case_id, None, "missing"))
            pytest.fail(
                f"no baseline for {case.case_id} at {path}; create it with: {create}", pytrace=False
            )
        try:
            baseline = baselines.read(path)
        except BaselineError as exc:
            report_row(**_row(case.case_id, None, "invalid"))
            pytest.fail(f"{exc}; regenerate it with: {create}", pytrace=False)

    weights_dir = weights_root / profile.name / case.arch if weights_root else None
    record = baselines.normalize(run_case(case, profile, dataset, weights_dir))
    if explain_table and case.arch_source == "mirror" and case.mode == "native":
        explain_table(case)  # --explain: the table comes at the end of the run

    if regen:
        baselines.write(path, record)
        report_row(**_row(case.case_id, record, "written"))
        return
    status, problems, drifted = baselines.compare(baseline, record, profile.drift_tolerance)
    report_row(**_row(case.case_id, record, status, drifted, baseline))
    if problems:
        pytest.fail(
            f"{case.case_id} ({path}):\n  "
            + "\n  ".join(problems)
            + f"\nIf the change is understood, regenerate with: {create}",
            pytrace=False,
        )


def _row(
    case_id: str,
    record: dict | None,
    status: str,
    drifted: dict | None = None,
    baseline: dict | None = None,
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
        "acc PyTorch": results.get("pytorch", {}).get("test_accuracy"),
        "acc TF": results.get("tensorflow", {}).get("test_accuracy"),
        "difference": comparison["accuracy_diff"] if comparison else None,
        "verdict": record["verdict"] if record else None,
        "baseline": status,
    }
