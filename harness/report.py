"""Tables for people: the end-of-run summary of a pytest session."""

from __future__ import annotations

import pandas as pd

from .judge import VERDICTS
from .sides import FRAMEWORKS, SIDES

COLUMNS = ["case", "seeds", "acc PyTorch", "acc TF", "difference", "verdict", "baseline"]


def summary_table(rows: list[dict]) -> str:
    """One line per case (and numerics check), sorted by id: seeds, accuracies (means over the
    seeds), difference, verdict, baseline status."""
    shown = {s for r in rows for s in r.get("sides") or {}}
    others = [s for s in SIDES if s not in FRAMEWORKS and s in shown]
    extra = [f"acc {SIDES[s].label}" for s in others]  # a column per side beyond the pair
    rows = [
        {**r, **{f"acc {SIDES[s].label}": (r.get("sides") or {}).get(s) for s in others}}
        for r in rows
    ]
    columns = [*COLUMNS[:4], *extra, *COLUMNS[4:]]
    frame = pd.DataFrame(rows, columns=columns).sort_values("case")
    for column in ("acc PyTorch", "acc TF", *extra, "difference"):
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


def sides_row(record: dict) -> dict:
    """What a table row adds for a record of three or more sides: its seeds, every side's mean
    accuracy, each pair's gap, interval and verdict, and the vote. Empty for the default pair's
    record."""
    if "sides" not in record:
        return {}
    from .baselines import seeds_in

    return {
        "seeds": seeds_in(record),
        "sides": {s: record["results"][s]["test_accuracy"] for s in record["sides"]},
        "pairs": {
            key: {
                "gap": (p["comparison"] or {}).get("accuracy_diff"),
                "interval": ((p["comparison"] or {}).get("statistics") or {}).get("interval"),
                "verdict": p["verdict"],
            }
            for key, p in record["pairs"].items()
        },
        "vote": record["vote"],
    }


def pairs_section(rows: list[dict]) -> str:
    """For each case run with three or more sides: the pairwise gap matrix (row side's mean
    accuracy minus column side's, with the pair's verdict) and the vote. Empty otherwise."""
    blocks = []
    for row in sorted((r for r in rows if r.get("pairs")), key=lambda r: r["case"]):
        names = list(row["sides"])
        width = max(14, *(len(SIDES[s].label) + 2 for s in names))
        lines = [f"{row['case']}  (gap = row - column, mean test accuracy; verdict)"]
        cell = width + 10  # a signed gap, a space and the longest verdict ("uninformative")
        lines.append(" " * width + "".join(f"{SIDES[s].label:>{cell}}" for s in names))
        for a in names:
            cells = []
            for b in names:
                pair = row["pairs"].get(f"{a}|{b}") or row["pairs"].get(f"{b}|{a}")
                acc_a, acc_b = row["sides"][a], row["sides"][b]
                if a == b:
                    cells.append(f"{'':>{cell}}")
                elif acc_a is None or acc_b is None:
                    cells.append(f"{'n/a ' + pair['verdict']:>{cell}}")
                else:
                    cells.append(f"{acc_a - acc_b:>+{width - 4}.4f} {pair['verdict']:<13}")
            lines.append(f"{SIDES[a].label:<{width}}" + "".join(cells))
        vote = row["vote"]
        if vote["odd_one_out"]:
            said = (
                f"vote: {vote['odd_one_out']} is the odd one out (mismatch with every other side, "
                "the others agree)"
            )
        elif vote["beyond_all"] and row.get("seeds", 1) > 1:
            said = (
                f"vote: no odd one out ({', '.join(vote['beyond_all'])}: a mismatch with every "
                "other side, but the other sides do not all agree significantly)"
            )
        elif vote["beyond_all"]:
            said = (
                f"vote: none with one seed ({', '.join(vote['beyond_all'])} beyond the "
                "tolerance on all its pairs, but one run has no noise floor: run K >= 2 seeds)"
            )
        else:
            said = "vote: no odd one out (no side is beyond the tolerance on all its pairs)"
        agreeing = ", ".join(f"{a}~{b}" for a, b in vote["agreeing_pairs"]) or "none"
        lines.append(f"{said}; agreeing pairs: {agreeing}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
