"""Property: a baseline corrupted in any way is either refused, naming its file (and the field
where one is to blame), or is a valid record that every consumer handles: the check's
``compare``, ``diff``, ``export`` and ``report``. Never a traceback, never a pass on a corrupted
value (NaN, Infinity, a duplicate key).

Hypothesis draws the corruption (a value replaced by another of any JSON type, a key deleted or
added, a key duplicated, the text truncated, re-encoded, nested deeply); the examples are fixed
(``derandomize``) so CI sees the same ones on every run."""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import baselines, diff, export, htmlreport, numerics
from harness.cli import load_profile_baselines
from harness.errors import BaselineError, HarnessError

from .conftest import make_record, make_seeded_record

pytestmark = pytest.mark.bad_input

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "baselines" / "smoke"


def _sources() -> list[dict]:
    return [
        json.loads(baselines.dumps(r))
        for r in (
            make_record(),
            make_record(error="RuntimeError: out of memory"),
            make_record(diverged=True),
            make_seeded_record([50, 60, 55], [40, 50, 45]),
            baselines.read(
                SMOKE / "resnet50" / "resnet50-mirror-adam-lr0.0623-bs10-ep1-eps0.952.json"
            ),
            baselines.read(SMOKE / "vgg16" / "vgg16-zoo-numerics.json"),
        )
    ]


SOURCES = _sources()
NON_FINITE = (math.nan, math.inf, -math.inf)

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NON_FINITE),
    st.text(max_size=12),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2),
)


def paths_in(node, prefix=()) -> list[tuple]:
    """Every key path in a JSON value (for a list, its indices)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_in(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            out += paths_in(value, (*prefix, i))
    return out


def get(record, path):
    node = record
    for key in path:
        node = node[key]
    return node


def parent_of(record, path):
    return get(record, path[:-1])


@st.composite
def corrupted(draw):
    """(source record, text of the corrupted file, must it be refused?)."""
    source = draw(st.sampled_from(SOURCES))
    record = json.loads(json.dumps(source))
    text = json.dumps(record, indent=2, sort_keys=True)
    how = draw(
        st.sampled_from(["replace", "delete", "add", "duplicate", "truncate", "encode", "deep"])
    )
    must_refuse = how in ("duplicate", "truncate", "deep")
    if how in ("replace", "delete"):
        path = draw(st.sampled_from(paths_in(record)))
        parent = parent_of(record, path)
        if how == "replace":
            value = draw(json_values)
            parent[path[-1]] = value
            must_refuse = isinstance(value, float) and not math.isfinite(value)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
        text = json.dumps(record, indent=2, sort_keys=True)
    elif how == "add":
        objects = [(), *(p for p in paths_in(record) if isinstance(get(record, p), dict))]
        target = get(record, draw(st.sampled_from(objects)))
        value = draw(json_values)
        target[draw(st.text(min_size=1, max_size=8))] = value
        text = json.dumps(record, indent=2, sort_keys=True)
        must_refuse = isinstance(value, float) and not math.isfinite(value)
    elif how == "duplicate":
        key = draw(st.sampled_from(sorted(record)))
        text = text.replace("{\n", f'{{\n  "{key}": {json.dumps(record[key])},\n', 1)
    elif how == "truncate":
        text = text[: draw(st.integers(0, len(text) - 2))]
    elif how == "encode":
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252"]))
        text = (text + draw(st.text(max_size=3))).encode(encoding, errors="replace")
    else:  # deep
        depth = draw(st.integers(2_000, 100_000))
        text = '{"a": ' + "[" * depth + "]" * depth + "}"
    return source, text, must_refuse


def write_at_own_path(root: Path, source: dict, text) -> Path:
    profile, arch, case_id = baselines.identity(source)
    path = root / profile / arch / f"{case_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def has_non_finite(node) -> bool:
    if isinstance(node, float):
        return not math.isfinite(node)
    if isinstance(node, dict):
        return any(has_non_finite(v) for v in node.values())
    if isinstance(node, list):
        return any(has_non_finite(v) for v in node)
    return False


def consume(record: dict, source: dict) -> None:
    """Everything that reads a baseline, on a record the reader accepted."""
    changed = diff.compare_trees({"p": source}, {"p": record})
    diff.format_text(changed, "HEAD")
    diff.format_markdown(changed, "HEAD")
    if baselines.kind_of(record) == "numerics":
        if baselines.kind_of(source) == "numerics":
            for framework, bad in numerics.compare(
                record["frameworks"], source["frameworks"]
            ).items():
                numerics.describe(framework, bad)
        return
    if baselines.kind_of(source) == "case":
        for a, b in ((record, source), (source, record)):
            result = baselines.compare(a, b, drift_margin=0.1, alpha=0.05, family_size=4)
            assert result["status"] in ("ok", "reported", "verdict changed", "drift")
    export.to_csv(export.export_frame([record]))
    frame = htmlreport.frame([record])
    htmlreport.markdown(frame, [record], "smoke")


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(corrupted())
def test_a_corrupted_baseline_is_refused_by_name_or_handled_by_every_reader(tmp_path, example):
    source, text, must_refuse = example
    root = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    path = write_at_own_path(root, source, text)
    try:
        record = baselines.read(path, at_its_path=True)
    except BaselineError as exc:
        assert str(exc).startswith(f"{path}: "), exc
        assert "\n" not in str(exc)
        for reader in (
            lambda: diff.baselines_in(root),
            lambda: load_profile_baselines(root, "smoke"),
        ):
            with pytest.raises(HarnessError, match=f"^{re.escape(str(path))}: "):
                reader()
        return
    assert not must_refuse, f"accepted a corrupted file:\n{text[:300]}"
    assert not has_non_finite(record)
    consume(record, source)
