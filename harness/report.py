"""Tables for people: the end-of-run summary of a pytest session."""

from __future__ import annotations

import pandas as pd

from .judge import VERDICTS

COLUMNS = ["case", "seeds", "acc PyTorch", "acc TF", "difference", "verdict", "baseline"]


def summary_table(rows: list[dict]) -> str:
    """One line per case (and numerics check), sorted by id: seeds, accuracies (means over the
    seeds), difference, verdict, baseline status."""
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("case")
    for column in ("acc PyTorch", "acc TF", "difference"):
        frame[column] = pd.to_numeric(frame[column])
    frame["seeds"] = frame["seeds"].map(lambda k: "" if pd.isna(k) else str(int(k)))
    return frame.to_string(index=False, na_rep="n/a", float_format=lambda x: f"{x:.4f}")


def verdict_counts(rows: list[dict]) -> str:
    """``verdicts: 3 agree, 2 mismatch, ...`` over the cases of the run (numerics checks are
    counted apart), every verdict named, zeros included."""
    cases = [r for r in rows if r.get("verdict") in VERDICTS]
    counts = {v: sum(r["verdict"] == v for r in cases) for v in VERDICTS}
    numerics = [r for r in rows if r.get("verdict") == "numerics"]
    line = "verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items())
    if numerics:
        held = sum(r["baseline"] == "ok" for r in numerics)
        bad = sum(r["baseline"] == "changed" for r in numerics)
        written = sum(r["baseline"] == "written" for r in numerics)
        line += f"; numerics checks: {held} held, {bad} changed, {written} written"
    return line


def gating_note(rows: list[dict]) -> str:
    """Said when cases ran with one seed: their accuracies did not gate the run."""
    single = [r["case"] for r in rows if r.get("seeds") == 1 and r["baseline"] != "written"]
    if not single:
        return ""
    return (
        f"{len(single)} case(s) ran with one seed per framework: their accuracies and verdicts "
        "were reported, not gated (one chaotic run moves with the platform); the numerics "
        "checks gate this run"
    )


def drift_by_framework(rows: list[dict]) -> str:
    """The drifted cases grouped by framework, with the versions then and now: what an upgrade
    gate reports. Empty when nothing drifted."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for row in rows:
        for fw, d in (row.get("drift") or {}).items():
            groups.setdefault(fw, []).append((row["case"], d))
    lines = []
    for fw in sorted(groups):
        cases = sorted(groups[fw], key=lambda item: -abs(item[1]["moved"]))
        versions = sorted({(d["then"], d["now"]) for _, d in cases})
        lines.append(f"{fw}: {len(cases)} case(s) drifted")
        for then, now in versions:
            lines.append(f"  versions then: {then}; now: {now}")
        for case, d in cases:
            lines.append(f"  {d['moved']:+.4f}  {case}")
    return "\n".join(lines)
