"""Tables for people: the end-of-run summary of a pytest session."""

from __future__ import annotations

import pandas as pd

COLUMNS = ["case", "acc PyTorch", "acc TF", "difference", "verdict", "baseline"]


def summary_table(rows: list[dict]) -> str:
    """One line per case, sorted by case id: accuracies, difference, verdict, baseline status."""
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("case")
    return frame.to_string(index=False, na_rep="n/a", float_format=lambda x: f"{x:.4f}")


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
