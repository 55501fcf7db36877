"""``crossedwires diff [REV]``: what changed in the baselines, for a reviewer.

Compares the baselines in the working tree with those at a git revision (default ``HEAD``) and
says, per case, which results moved and by how much and which verdicts flipped, sorted by size:
flips first, then the largest move. The raw JSON diff stays the record; this is the summary a
pull-request comment needs (``--format markdown``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from . import baselines
from .errors import HarnessError
from .sides import FRAMEWORKS, SIDES

SIDES_PREFIX = "sides-"  # runs of other sides keep theirs in <folder>/sides-<a>+<b>+.../


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    if shutil.which("git") is None:
        raise HarnessError("git is not installed; crossedwires diff reads revisions with git")
    try:
        out = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=True)
    except OSError as exc:
        raise HarnessError(f"cannot run git in {repo}: {exc.strerror}") from None
    except subprocess.CalledProcessError as exc:
        raise HarnessError(
            f"git {' '.join(args)} failed: {exc.stderr.decode(errors='replace').strip()}"
        ) from None
    return out.stdout


def baselines_at(rev: str, folder: Path) -> dict[str, dict]:
    """{path under ``folder``: record} for every JSON baseline at git revision ``rev``."""
    folder = Path(folder).resolve()
    where = folder if folder.exists() else folder.parent
    if not where.is_dir():
        raise HarnessError(
            f"--baselines-dir {folder}: no such folder (nor its parent); give the baselines "
            "folder of a git checkout"
        )
    try:
        repo = Path(_git(where, "rev-parse", "--show-toplevel").decode().strip())
    except HarnessError:
        raise HarnessError(
            f"--baselines-dir {folder}: not inside a git checkout; diff compares the baselines "
            "with a git revision"
        ) from None
    prefix = folder.relative_to(repo).as_posix()  # "." when the folder is the repository
    under = "" if prefix == "." else f"{prefix}/"
    try:
        _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
    except HarnessError:
        raise HarnessError(
            f"{rev!r} is not a commit of {repo}; give a branch, tag or commit (default HEAD)"
        ) from None
    listing = _git(repo, "ls-tree", "-r", "--name-only", rev, "--", prefix).decode()
    names = [n for n in listing.splitlines() if n.startswith(under) and _at_depth(n[len(under) :])]
    if not names and not folder.is_dir():
        raise HarnessError(
            f"--baselines-dir {folder}: no such folder, in the working tree or at {rev}; give "
            "the baselines folder (default: baselines)"
        )
    if not names:
        return {}
    batch = _git(repo, "cat-file", "--batch", stdin="".join(f"{rev}:{n}\n" for n in names).encode())
    out, pos = {}, 0
    for name in names:  # "<sha> blob <size>\n<content>\n" per object, in request order
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        start = header_end + 1
        out[name[len(under) :]] = _parse(
            batch[start : start + size].decode("utf-8", errors="replace"),
            f"{rev}:{name}",
            Path(name),
        )
        pos = start + size + 1
    return out


def _at_depth(name: str) -> bool:
    """Whether a path under the baselines folder is a baseline: ``<profile>/<arch>/<id>.json``,
    or the same under a ``sides-<a>+<b>+...`` folder (a run with ``--sides``)."""
    parts = name.split("/")
    if parts[0].startswith(SIDES_PREFIX):
        parts = parts[1:]
    return name.endswith(".json") and len(parts) == 3


def baselines_in(folder: Path) -> dict[str, dict]:
    """{path under ``folder``: record} for every JSON baseline in the working tree."""
    folder = Path(folder)
    found = [  # glob follows linked folders, as the check does
        *folder.glob("*/*/*.json"),
        *folder.glob(f"{SIDES_PREFIX}*/*/*/*.json"),
    ]
    return {
        p.relative_to(folder).as_posix(): _parse(baselines.read_text(p), str(p), p)
        for p in sorted(found)
        if _at_depth(p.relative_to(folder).as_posix())
    }


def _parse(text: str, where: str, path: Path) -> dict:
    """A baseline read as the check reads it: strict JSON, its schema, at its own path; a file
    the check would refuse is named here too, never summarised as a change."""
    record = baselines.loads(text, where)
    baselines.validate(record, where)
    baselines.check_identity(record, path, where)
    return record


def _accuracy(record: dict | None, fw: str):
    if record is None or fw not in record.get("results", {}):  # numerics, or not this side's
        return None
    return record["results"][fw]["test_accuracy"]


def _sides(*records: dict | None) -> list[str]:
    """The sides of the records (the default pair unless a record names its own), in the
    registry's order."""
    named = {s for r in records if r is not None for s in r.get("sides") or FRAMEWORKS}
    return [s for s in SIDES if s in named]


def _odd(record: dict | None):
    """The side the vote of an N-side record names the odd one out (None: none, or no vote)."""
    return ((record or {}).get("vote") or {}).get("odd_one_out")


def _id(record: dict) -> str:
    return record["check"]["id"] if record.get("kind") == "numerics" else record["case"]["id"]


def _shown(value) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)


def environment_groups(
    then: dict, now: dict, sides: tuple[str, ...] | list[str] = FRAMEWORKS
) -> list[tuple[str, list[str]]]:
    """What differs between two environment blocks, grouped for a reader: per framework its
    versions (``tensorflow``: ``keras 3.15.1 -> 3.16.0``) and its platform fields
    (``tensorflow platform``: device, device name, kernels), the versions both share
    (``common``: python, numpy) and the CPU (``platform``); each field ``name then -> now``.
    Versions and platform stay apart: a platform change is never shown as a version change."""
    from .environment import differences

    delta = differences(then, now, sides)
    groups: dict[str, list[str]] = {}
    for what, fields in delta.items():
        for key, a, b in fields:
            head, _, rest = key.partition(".")
            if what == "platform":
                group = "platform" if head == "cpu" else f"{head} platform"
            else:
                group = head if head in sides else "common"
                rest = rest or head
            groups.setdefault(group, []).append(f"{rest} {_shown(a)} -> {_shown(b)}")
    order = [*sides, "common", *(f"{fw} platform" for fw in sides), "platform"]
    return [(g, groups[g]) for g in order if g in groups]


def _environment_change(then: dict | None, now: dict | None) -> list[tuple[str, list[str]]]:
    """The environment groups that changed between the two records (empty when none did)."""
    if then is None or now is None or then.get("environment") == now.get("environment"):
        return []
    return environment_groups(
        then.get("environment") or {}, now.get("environment") or {}, _sides(then, now)
    )


def describe_environment(groups: list[tuple[str, list[str]]]) -> str:
    """``tensorflow: tensorflow 2.21.0 -> 2.22.0, keras 3.15.1 -> 3.16.0; platform: ...``"""
    return "; ".join(f"{group}: {', '.join(fields)}" for group, fields in groups)


def changed_fields(groups: list[tuple[str, list[str]]]) -> str:
    """The names alone: ``tensorflow: tensorflow, keras; platform: cpu_model``."""
    return "; ".join(
        f"{group}: {', '.join(f.split(' ', 1)[0] for f in fields)}" for group, fields in groups
    )


def compare_trees(old: dict[str, dict], new: dict[str, dict]) -> list[dict]:
    """One row per case whose accuracies, verdict or presence changed; largest first."""
    rows = []
    for path in sorted(set(old) | set(new)):
        then, now = old.get(path), new.get(path)
        moves = {}
        for fw in _sides(then, now):
            a, b = _accuracy(then, fw), _accuracy(now, fw)
            moves[fw] = {"then": a, "now": b, "moved": None if None in (a, b) else b - a}
        verdict_then = then.get("verdict") if then else None
        verdict_now = now.get("verdict") if now else None
        status = "added" if then is None else "removed" if now is None else "changed"
        moved = [abs(m["moved"]) for m in moves.values() if m["moved"] is not None]
        size = max(moved, default=0.0)
        vote_then, vote_now = _odd(then), _odd(now)
        flipped = None not in (then, now) and (verdict_then != verdict_now or vote_then != vote_now)
        if status == "changed" and not flipped and size < 5e-7:
            envs_differ = then.get("environment") != now.get("environment")
            if not envs_differ and then == now:
                continue
            status = "environment only" if envs_differ else "other fields"
        case = _id(now or then)
        if path.startswith(SIDES_PREFIX):  # the same case of another set of sides
            case = f"{case} ({path.split('/', 1)[0]})"
        rows.append(
            {
                "case": case,
                "environment": _environment_change(then, now),
                "path": path,
                "status": status,
                "verdict_then": verdict_then,
                "verdict_now": verdict_now,
                "odd_then": vote_then,
                "odd_now": vote_now,
                "flipped": flipped,
                "moves": moves,
                "size": size,
            }
        )
    order = {"changed": 0, "added": 1, "removed": 2, "environment only": 3, "other fields": 4}
    rows.sort(key=lambda r: (not r["flipped"], order[r["status"]], -r["size"], r["case"]))
    return rows


def _acc(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _move(m: dict) -> str:
    if m["moved"] is None:
        return f"{_acc(m['then'])} -> {_acc(m['now'])}"
    return f"{_acc(m['then'])} -> {_acc(m['now'])} ({m['moved']:+.4f})"


def _verdict(r: dict) -> str:
    verdict = r["verdict_now"] or r["verdict_then"] or "-"
    if r["flipped"] and r["verdict_then"] != r["verdict_now"]:
        verdict = f"{r['verdict_then']} -> {r['verdict_now']}"
    odd_then, odd_now = r.get("odd_then"), r.get("odd_now")
    if r["status"] in ("added", "removed"):  # an N-side record's vote, as it is (or was)
        if odd_then or odd_now:
            verdict += f"; odd one out {odd_then or odd_now}"
    elif odd_then != odd_now:  # an N-side record's vote changed
        verdict += f"; odd one out {odd_then or 'none'} -> {odd_now or 'none'}"
    return verdict


def headline(rows: list[dict], rev: str) -> str:
    flips = sum(r["flipped"] for r in rows)
    moved = sum(r["status"] == "changed" and not r["flipped"] and r["size"] >= 5e-7 for r in rows)
    added = sum(r["status"] == "added" for r in rows)
    removed = sum(r["status"] == "removed" for r in rows)
    if not rows:
        return f"baselines: no change against {rev}"
    return (
        f"baselines against {rev}: {flips} verdict(s) flipped, {moved} other case(s) with "
        f"moved results, {added} added, {removed} removed, "
        f"{len(rows) - flips - moved - added - removed} with other changes only"
    )


def format_text(rows: list[dict], rev: str) -> str:
    lines = [headline(rows, rev)]
    for r in rows:
        moves = "; ".join(f"{SIDES[fw].label} {_move(m)}" for fw, m in r["moves"].items())
        lines.append(f"  {r['status']:<8} {r['case']}: verdict {_verdict(r)}; {moves}")
        if r["environment"]:
            lines.append(f"           environment: {describe_environment(r['environment'])}")
    return "\n".join(lines)


def format_markdown(rows: list[dict], rev: str) -> str:
    lines = [f"**crossedwires**: {headline(rows, rev)}"]
    if rows:
        others = [s for s in SIDES if s not in FRAMEWORKS and any(s in r["moves"] for r in rows)]
        lines += [
            "",
            "| case | change | verdict | PyTorch accuracy | TF accuracy |"
            + "".join(f" {SIDES[s].label} accuracy |" for s in others),
            "|---|---|---|---|---|" + "---|" * len(others),
        ]
        for r in rows:
            verdict = _verdict(r)
            if r["flipped"]:
                verdict = f"**{verdict}**"
            status = r["status"]
            if status == "environment only":  # the fields by name; their values below
                status = f"{status} ({changed_fields(r['environment'])})"
            cells = [
                _move(r["moves"][s]) if s in r["moves"] else "-" for s in (*FRAMEWORKS, *others)
            ]
            lines.append(f"| `{r['case']}` | {status} | {verdict} | " + " | ".join(cells) + " |")
        cases_of: dict[str, int] = {}
        for r in rows:
            if r["environment"]:
                text = describe_environment(r["environment"])
                cases_of[text] = cases_of.get(text, 0) + 1
        if cases_of:
            lines += ["", "Environment, then -> now:"]
            lines += [f"- {text} ({n} case(s))" for text, n in sorted(cases_of.items())]
    return "\n".join(lines)
