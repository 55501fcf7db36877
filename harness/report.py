"""Tables for people: the end-of-run summary of a pytest session."""

from __future__ import annotations

import pandas as pd

from . import judge
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


def baseline_seeds(baseline: dict, record: dict | None = None) -> dict:
    """What ``detectable_section`` needs of a gated case's baseline: every side's per-seed
    accuracies (None where a seed has none), the sides the new ``record`` has too, and the
    baseline's chance band."""
    from .baselines import per_seed, sides_of

    names = [s for s in sides_of(baseline) if record is None or s in record["results"]]
    band = (baseline.get("comparison") or {}).get("chance_band")
    margin = (baseline.get("tolerance") or {}).get("drift_margin")  # a case's own, if it has one
    return {
        "then": {s: per_seed(baseline, s) for s in names},
        "chance_band": band,
        "drift_margin": margin,
    }


def detectable_lines(
    cases: list[tuple[str, dict, int]], family_size: int, alpha: float, margin: float
) -> dict[str, dict[str, dict]]:
    """{case: {side: judge.detectable(...)}} for ``(case, baseline_seeds(...), K now)``: each
    side at its baseline's own spread, a side at chance or whose seeds do not vary at the
    spread of these baselines' sides that learn (``judge.learning_spread``); at the case's own
    drift margin where it has one, else ``margin``."""
    pool = [
        (then, tuple(b["chance_band"]) if b["chance_band"] else None)
        for _, b, _ in cases
        for then in b["then"].values()
        if then
    ]
    spread = judge.learning_spread(pool)
    out = {}
    for case, b, k_now in cases:
        band = tuple(b["chance_band"]) if b["chance_band"] else None
        own = b.get("drift_margin") or margin  # the case's own margin replaces the profile's
        out[case] = {
            side: (
                judge.detectable(then, k_now, family_size, alpha, own, band, spread)
                if then
                else None
            )
            for side, then in b["then"].items()
        }
    return out


def detectable_cell(result: dict | None) -> str:
    """One side's answer as the summary and the report print it: ``>= 0.21 (std 0.059, at
    chance: ...)``, ``none (std 0.300)``, ``not gated`` or ``n/a`` (a seed failed)."""
    if result is None:
        return "n/a (a seed failed)"
    text = judge.detectable_text(result)
    if not result["gated"]:
        return text
    sigma = "" if result["sigma"] is None else f"std {result['sigma']:.3f}"
    said = ", ".join(p for p in (sigma, result["borrowed"]) if p)
    return f"{text} ({said})"


def detectable_section(rows: list[dict], family_size: int, alpha: float, margin: float) -> str:
    """Per gated case, one line: per side, the smallest drift of its mean test accuracy the
    drift test finds with 80% power at this run's K and family size, from the case's baseline
    seeds (``judge.detectable``). Empty when no case was judged against a baseline."""
    cases = [(r["case"], r["power"], r["seeds"]) for r in rows if r.get("power") and r["seeds"]]
    if not cases:
        return ""
    found = detectable_lines(cases, family_size, alpha, margin)
    ks = sorted({k for *_, k in cases if k > 1}) or [1]
    lines = [
        f"per side, the smallest move of its mean test accuracy that the drift test finds with "
        f"{judge.POWER:.0%} power (K = {', '.join(map(str, ks))} seeds now, {family_size} drift "
        f"tests: Bonferroni at alpha {alpha}, margin {margin} unless a case has its own)",
        "from the spread of each case's baseline seeds; a side at chance or whose seeds do not "
        "vary at the median spread of the sides that learn",
    ]
    width = max(len(c) for c, *_ in cases)
    own = {case: b.get("drift_margin") for case, b, _ in cases}
    for case in sorted(found):
        cells = [f"{side} {detectable_cell(r)}" for side, r in found[case].items()]
        note = f"  (its margin {own[case]})" if own[case] else ""
        lines.append(f"{case:<{width}}  " + "; ".join(cells) + note)
    return "\n".join(lines)


def records_detectable(records: list[dict]) -> dict | None:
    """For a set of baselines (``crossedwires report``): per case and side, the smallest drift
    a rerun of all of them at each case's K would detect with 80% power (``detectable_lines``):
    the family is every case's sides, alpha and the margin are the profile's. None without a
    case record or for a profile this version does not know."""
    from .baselines import kind_of, seeds_in, sides_of
    from .errors import HarnessError
    from .profiles import get_profile

    cases = [r for r in records if kind_of(r) == "case"]
    if not cases:
        return None
    try:
        profile = get_profile(cases[0]["profile"]["name"])
    except HarnessError:
        return None
    family = sum(len(sides_of(r)) for r in cases)
    alpha, margin = profile.significance_level, profile.drift_margin
    rows = [(r["case"]["id"], baseline_seeds(r), seeds_in(r)) for r in cases]
    return {
        "family_size": family,
        "alpha": alpha,
        "margin": margin,
        "cases": detectable_lines(rows, family, alpha, margin),
    }
