"""Fuzzing the two frameworks with small random mirror models, shrunk by Hypothesis.

Why
    LEMON and NNSmith generate or mutate models to find framework bugs; none of them shrinks
    what it finds to the smallest model that still shows it, and none speaks in terms of named
    defaults. Here Hypothesis draws small mirror models (``harness/mirror.py``) and optimizer
    settings, ``harness.localize`` runs one training step of each in both frameworks from the
    same weights, and a difference beyond the float32 noise is a *finding*: Hypothesis shrinks
    it to a minimal model, and the knob table (``harness/knobs.py``) says which default it is.

What is drawn (``examples()``)
    An input of 7x7x3 or 8x8x3 (odd and even sizes), a batch of ``BATCH`` images from a seed,
    then up to ``MAX_BLOCKS`` blocks, each one of: a conv (widths ``WIDTHS``, a window of
    ``CONV_SHAPES``: kernel 1, 2, 3 or 5, stride 1 or 2, dilation 2 at stride 1, symmetric
    padding or none; 2 groups where the channels divide, with or without bias; no tensor
    wider than 8 channels), a batch norm,
    a ReLU, a max or average pooling, a dropout, a residual block (3x3 conv + add) or a
    concatenation (1x1 conv branch + concat); then a head: global average pooling (its
    channels are the classes), optionally followed by a dense layer, or a flatten and a
    dense layer. Adam's learning rate and epsilon are drawn too. Convs are drawn twice as
    often as the other blocks. Blocks that would not fit the input are left out, so every draw is
    a valid model, and Hypothesis shrinks by deleting blocks.

    Not drawn, each for a reason: a stride with a dilation (Keras refuses ``strides > 1`` with
    ``dilation_rate > 1``); pooling with padding (the mirror pads a max pooling with zeros,
    exact only after a ReLU, and Keras' stride-1 'same' average pooling leaves the padding out
    of the mean where PyTorch counts it: known limits of the mirror builders, not framework
    defaults).

    Dropout is drawn but compared *off*: training-mode masks come from each framework's own
    random stream and cannot be made equal, so ``trace_mirror`` runs dropout as the identity.

The two properties
    (a) ``aligned``: with every knob aligned, forward, backward and one step agree within the
        float32 noise at every layer. A failure is a difference no knob names: ``new``.
    (b) ``native``: each framework's own defaults (``knobs.settings("native")``), weights
        transferred. A failure is a difference: it is *explained* by the first knob (in the
        knob table's order) that, moved alone to its aligned value (``knobs.with_knob``), makes
        the first diverging layer of the earliest diverging stage agree again; failing that
        (several knobs move the layer, each enough alone), every knob that alone left native
        makes it diverge, joined with ``+``; if none does, it is ``new``. Knobs that cannot
        matter are not tried: ``init`` (the weights are shared), knobs of other devices
        (``tf32`` on a CPU), batch-norm knobs without a batch norm, ``strided_padding``
        without a padded strided window.

    Each distinct (stage, explanation) is a distinct bug to Hypothesis, shrunk on its own.

What a finding becomes
    ``difftests/found/<id>.json`` (schema ``resources/found.schema.json``): the model (the
    Spec as JSON), the optimizer settings, the inputs' seed, the framework versions and the
    platform it was seen with, its localization and its explanation. The divergence suite runs
    each file as ``test_found[<id>]``: the finding must still reproduce (same stage, same
    layer, same explanation); when it no longer does the test fails naming the versions then
    and now: a framework that changed a default is news.

Bounded in CI, open-ended on a schedule
    ``tests/test_fuzz.py`` runs both properties with a fixed number of examples and a fixed
    Hypothesis seed (``derandomize``), ``deadline=None``, within a time budget;
    ``crossedwires fuzz --minutes N`` runs for N minutes with fresh seeds, printing progress,
    and writes what it finds into ``difftests/found/``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from . import knobs, localize, mirror
from .errors import ConfigError, HarnessError

PROPERTIES = ("aligned", "native")
INPUT_SIZES = (8, 7)
CHANNELS = 3
BATCH = 4
WIDTHS = (4, 2, 8)
CLASSES = 3  # units of a dense head
MAX_BLOCKS = 4
LEARNING_RATES = (0.01, 0.001, 0.1)
EPSILONS = (1e-3, 1e-7, 0.1, 1.0)  # Adam's epsilon: the published range is 1e-8 .. 1
INPUTS_SEED = 0
FOUND_SCHEMA_VERSION = 1
FOUND_FOLDER = Path("difftests") / "found"  # under the project root
MAX_FOUND_BYTES = 1 << 20
# Conv windows as (kernel, stride, dilation, padded): one draw, not four independent ones,
# which rarely met at a strided padded 3x3 (0 in 300 examples); Hypothesis draws the first
# entries most often, so the windows where defaults differ come first.
# Padded means symmetric, half the window: only odd windows. Keras refuses a stride with a
# dilation, so there is none.
CONV_SHAPES = (
    (3, 2, 1, True),
    (3, 1, 2, True),
    (5, 2, 1, True),
    (1, 1, 1, False),
    (3, 1, 1, True),
    (2, 2, 1, False),
    (3, 2, 1, False),
    (3, 1, 1, False),
    (2, 1, 1, False),
)
BLOCKS = ("bn", "relu", "conv", "maxpool", "avgpool", "dropout", "residual", "concat")


# --- what is drawn -------------------------------------------------------------------------


def _strategies():
    from hypothesis import strategies as st

    conv = st.fixed_dictionaries(
        {
            "kind": st.just("conv"),
            "units": st.sampled_from(WIDTHS),
            "shape": st.sampled_from(CONV_SHAPES),
            "groups": st.sampled_from((1, 2)),
            "bias": st.booleans(),
        }
    )
    pool = st.fixed_dictionaries(
        {
            "kind": st.sampled_from(("maxpool", "avgpool")),
            "kernel": st.sampled_from((2, 3)),
            "stride": st.sampled_from((2, 1)),
        }
    )
    block = st.one_of(
        st.fixed_dictionaries({"kind": st.sampled_from(("bn", "relu"))}),
        conv,
        conv,  # twice as likely: most of the knobs' and the new fields' cases are convs
        pool,
        st.fixed_dictionaries({"kind": st.just("dropout"), "rate": st.sampled_from((0.5, 0.1))}),
        st.fixed_dictionaries({"kind": st.just("residual")}),
        st.fixed_dictionaries({"kind": st.just("concat"), "units": st.sampled_from((2, 4))}),
    )
    model = st.fixed_dictionaries(
        {
            "size": st.sampled_from(INPUT_SIZES),
            "blocks": st.lists(block, max_size=MAX_BLOCKS),
            "head": st.sampled_from(("gap", "gap_dense", "flatten_dense")),
        }
    )
    optimizer = st.fixed_dictionaries(
        {
            "learning_rate": st.sampled_from(LEARNING_RATES),
            "adam_epsilon": st.sampled_from(EPSILONS),
        }
    )
    return st.tuples(model, optimizer)


def examples():
    """The Hypothesis strategy: (model draw, optimizer draw); ``build`` makes the Spec."""
    return _strategies()


def build(model: dict) -> mirror.Spec:
    """The mirror Spec of a model draw. Blocks that do not fit (a window larger than what
    reaches it) are left out; groups and dilation fall back to 1 where they cannot apply."""
    nodes: list[mirror.Node] = []
    x, c, h = "input", CHANNELS, model["size"]

    def add(node: mirror.Node) -> str:
        nodes.append(node)
        return node.name

    for i, b in enumerate(model["blocks"]):
        kind = b["kind"]
        name = f"{kind}{i}"
        if kind in ("bn", "relu"):
            x = add(mirror.Node(name, kind, (x,)))
        elif kind == "dropout":
            x = add(mirror.Node(name, "dropout", (x,), rate=b["rate"]))
        elif kind == "conv":
            k, s, d, padded = b["shape"]
            span = d * (k - 1) + 1
            p = (span - 1) // 2 if padded else 0
            g = 2 if b["groups"] == 2 and c % 2 == 0 and b["units"] % 2 == 0 else 1
            out = (h + 2 * p - span) // s + 1
            if out < 1:
                continue
            x = add(
                mirror.Node(
                    name,
                    "conv",
                    (x,),
                    units=b["units"],
                    kernel=k,
                    stride=s,
                    padding=p,
                    bias=b["bias"],
                    dilation=d,
                    groups=g,
                )
            )
            c, h = b["units"], out
        elif kind in ("maxpool", "avgpool"):
            out = (h - b["kernel"]) // b["stride"] + 1
            if out < 1:
                continue
            x = add(mirror.Node(name, kind, (x,), kernel=b["kernel"], stride=b["stride"]))
            h = out
        elif kind == "residual":
            y = add(mirror.Node(f"{name}_conv", "conv", (x,), units=c, kernel=3, padding=1))
            x = add(mirror.Node(name, "add", (x, y)))
        elif kind == "concat":
            if c + b["units"] > max(WIDTHS):
                continue  # widths stay at most max(WIDTHS)
            y = add(mirror.Node(f"{name}_conv", "conv", (x,), units=b["units"], kernel=1))
            x = add(mirror.Node(name, "concat", (x, y)))
            c += b["units"]
    head = model["head"]
    classes = c
    if head.startswith("gap"):
        x = add(mirror.Node("gap", "gap", (x,)))
    else:
        x = add(mirror.Node("flatten", "flatten", (x,)))
    if head.endswith("dense") or not any(n.op in ("conv", "bn") for n in nodes):
        # a dense head where nothing else would have parameters: a model must have some
        add(mirror.Node("dense", "dense", (x,), units=CLASSES, bias=True))
        classes = CLASSES
    spec = mirror.Spec("fuzz", 1.0, classes, tuple(nodes), (model["size"], model["size"], CHANNELS))
    spec.shapes()
    return spec


def hyperparameters(optimizer: dict) -> dict:
    return {**optimizer, "batch_size": BATCH}


def inputs(spec: mirror.Spec, seed: int, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The batch: uint8 images and labels from ``seed`` (NumPy's PCG64: the same everywhere)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(batch, *spec.input_shape), dtype=np.uint8)
    y = rng.integers(0, spec.num_classes, size=batch).astype(np.int64)
    return x, y


# --- the properties ----------------------------------------------------------------------


def candidate_knobs(spec: mirror.Spec, device: str = "cpu") -> list[str]:
    """The knobs that differ natively and can matter for ``spec`` (see the module's doc)."""
    ops = {n.op for n in spec.nodes}
    padded_stride = any(n.stride > 1 and n.padding > 0 for n in spec.nodes)
    out = []
    for name in knobs.differing(knobs.settings("native")):
        knob = knobs.BY_NAME[name]
        if name == "init" or device not in knob.devices:
            continue
        if name.startswith("bn_") and "bn" not in ops:
            continue
        if name == "strided_padding" and not padded_stride:
            continue
        out.append(name)
    return out


def _diverges(report: dict, stage: str, layer: str) -> bool:
    row = next(r for r in report["layers"] if r["node"] == layer)
    return row[stage] is not None and row[stage]["exceeds"]


def explain(spec, stage: str, layer: str, x, y, hp: dict, cache: dict) -> str:
    """The knob that explains the native divergence of ``layer`` in ``stage``: the first knob
    (in the knob table's order) that, aligned alone (``knobs.with_knob``), makes that layer
    agree. Failing that (a layer several knobs move at once, each enough on its own), every
    knob that alone left native (the rest aligned) makes it diverge, joined with ``+`` in the
    table's order; failing both, ``new``."""
    native, aligned = knobs.settings("native"), knobs.settings("aligned")
    candidates = candidate_knobs(spec)
    for knob in candidates:
        moved = localize.localize_spec(
            spec, knobs.with_knob(native, knob, "aligned"), x, y, hp, cache=cache
        )
        if not _diverges(moved, stage, layer):
            return knob
    alone = [
        knob
        for knob in candidates
        if _diverges(
            localize.localize_spec(
                spec, knobs.with_knob(aligned, knob, "native"), x, y, hp, cache=cache
            ),
            stage,
            layer,
        )
    ]
    return "+".join(alone) or "new"


def evaluate(
    prop: str, spec: mirror.Spec, hp: dict, seed: int = INPUTS_SEED, known=()
) -> dict | None:
    """What ``spec`` shows under property ``prop``: None when it holds, else the finding: per
    diverging stage its first diverging layer and explanation (``explanations``), and as *the*
    finding the earliest stage whose (stage, explanation) is not in ``known``; None also when
    every diverging stage is known."""
    if prop not in PROPERTIES:
        raise ConfigError(f"property={prop!r} is unknown: use one of {', '.join(PROPERTIES)}")
    x, y = inputs(spec, seed)
    cache: dict = {}
    report = localize.localize_spec(spec, knobs.settings(prop), x, y, hp, cache=cache)
    explanations = {}
    for stage in localize.STAGES:
        layer = report["first"][stage]
        if layer is None:
            continue
        why = explain(spec, stage, layer, x, y, hp, cache) if prop == "native" else "new"
        explanations[stage] = {"layer": layer, "explained_by": why}
    fresh = [s for s, e in explanations.items() if (s, e["explained_by"]) not in set(known)]
    if not fresh:
        return None
    stage = fresh[0]
    layer = explanations[stage]["layer"]
    return {
        "property": prop,
        "stage": stage,
        "layer": layer,
        "op": spec.node(layer).op,
        "explained_by": explanations[stage]["explained_by"],
        "explanations": explanations,
        "localization": {
            k: report[k] for k in ("first", "largest_rate", "layers", "loss", "stage_noise")
        },
    }


class Finding(AssertionError):
    """A property failed: ``finding`` holds what ``evaluate`` returned, with the example."""

    finding: dict


_KINDS: dict[str, type] = {}


def _raise(finding: dict) -> None:
    """Raise a Finding of a class of its own per (property, stage, explanation), so that
    Hypothesis keeps and shrinks each distinct difference separately."""
    key = f"{finding['property']}_{finding['stage']}_{finding['explained_by']}"
    cls = _KINDS.setdefault(key, type(f"Finding_{key}", (Finding,), {}))
    exc = cls(describe(finding))
    exc.finding = finding
    raise exc


def describe(f: dict) -> str:
    why = (
        "no knob explains it (new)"
        if f["explained_by"] == "new"
        else (f"explained by knob {f['explained_by']}")
    )
    return (
        f"{f['property']}: {f['stage']} diverges first at {f['layer']} ({f['op']}) in a model of "
        f"{len(f['spec']['nodes'])} layers: {why}"
    )


def _key(prop: str, model: dict, optimizer: dict) -> str:
    return json.dumps([prop, model, optimizer], sort_keys=True)


def search(
    prop: str,
    max_examples: int,
    seed: int | None = 0,
    budget_s: float = 60.0,
    progress=None,
    known=(),
) -> dict:
    """Run property ``prop`` over ``max_examples`` drawn examples (Hypothesis, ``seed`` fixed
    and derandomized when given), then shrink each distinct failure. Past ``budget_s`` seconds
    no new example is evaluated (examples already evaluated answer from memory, so Hypothesis
    can still replay its minimal ones). Differences in ``known`` ((stage, explanation) pairs)
    count as holding, so that a later search looks for others. Returns ``{"findings": [...],
    "examples": n, "seconds": s}``; each finding carries the shrunk model's Spec and settings."""
    from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.errors import Unsatisfiable

    start = time.monotonic()
    memo: dict[str, dict | None] = {}
    count = {"examples": 0}

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=True,
        print_blob=False,
    )
    @given(examples())
    def holds(example):
        model, optimizer = example
        key = _key(prop, model, optimizer)
        if key not in memo:
            assume(time.monotonic() - start < budget_s)
            spec = build(model)
            hp = hyperparameters(optimizer)
            found = evaluate(prop, spec, hp, known=known)
            if found is not None:
                found.update(
                    spec=localize.spec_to_json(spec),
                    hyperparameters=hp,
                    inputs={"seed": INPUTS_SEED, "batch": BATCH},
                )
            memo[key] = found
            count["examples"] += 1
            if progress is not None:
                progress(count["examples"], time.monotonic() - start, spec, found)
        if memo[key] is not None:
            _raise(memo[key])

    if seed is not None:
        holds = fixed_seed(seed)(holds)
    findings = []
    try:
        holds()
    except Finding as exc:
        findings.append(exc.finding)
    except BaseExceptionGroup as group:
        for exc in group.exceptions:
            if not isinstance(exc, Finding):
                raise
            findings.append(exc.finding)
    except Unsatisfiable:
        pass  # the budget ran out before any example: nothing found
    return {
        "findings": findings,
        "examples": count["examples"],
        "seconds": time.monotonic() - start,
    }


# --- found files -------------------------------------------------------------------------


def finding_id(f: dict) -> str:
    """``<property>-<explanation>-<stage>-<hash>``: stable for the same model and settings."""
    digest = hashlib.sha256(
        json.dumps([f["spec"], f["hyperparameters"], f["inputs"]], sort_keys=True).encode()
    ).hexdigest()[:10]
    what = f["explained_by"].replace("_", "-").replace("+", "-and-")
    return f"{f['property']}-{what}-{f['stage']}-{digest}"


def record_of(f: dict, hypothesis_seed) -> dict:
    """The found file's record of a finding (schema ``resources/found.schema.json``)."""
    from .environment import common_versions, cpu_platform

    return {
        "schema_version": FOUND_SCHEMA_VERSION,
        "kind": "found",
        "id": finding_id(f),
        "property": f["property"],
        "stage": f["stage"],
        "layer": f["layer"],
        "op": f["op"],
        "explained_by": f["explained_by"],
        "explanations": f["explanations"],
        "layers": len(f["spec"]["nodes"]),
        "spec": f["spec"],
        "hyperparameters": f["hyperparameters"],
        "inputs": f["inputs"],
        "hypothesis_seed": hypothesis_seed,
        "environment": {
            **common_versions(),
            "versions": localize.versions(),
            "platform": cpu_platform(),
        },
        "localization": f["localization"],
    }


def found_folder() -> Path:
    from .project import project_root

    return project_root() / FOUND_FOLDER


def write_found(record: dict, folder: Path) -> Path:
    """Write a found record as ``<folder>/<id>.json`` (sorted keys, rounded floats)."""
    from . import atomic
    from .baselines import dumps

    path = Path(folder) / f"{record['id']}.json"
    validate_found(record, str(path))
    atomic.write_text(path, dumps(record))
    return path


FIX = "fix the field, or delete the file and find it again with: crossedwires fuzz"


def _schema() -> dict:
    from importlib import resources

    return json.loads((resources.files("harness") / "resources" / "found.schema.json").read_text())


def validate_found(record, where: str) -> None:
    """HarnessError naming the file and the field when ``record`` is not a found record."""
    import jsonschema
    from jsonschema.exceptions import best_match

    if not isinstance(record, dict):
        raise HarnessError(f"{where}: field (top level): expected an object; {FIX}")
    error = best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(record))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [r for r in error.validator_value if r not in error.instance]
            prefix = f"{field}." if error.absolute_path else ""
            raise HarnessError(f"{where}: field {prefix}{missing[0]} is missing (required); {FIX}")
        raise HarnessError(f"{where}: field {field}: {error.message}; {FIX}")
    named = record["explained_by"]
    if named != "new" and not all(k in knobs.BY_NAME for k in named.split("+")):
        raise HarnessError(
            f"{where}: field explained_by: {named!r} is not a knob of harness/knobs.py (or "
            f"knobs joined with '+') nor 'new'; {FIX}"
        )
    try:
        spec = localize.spec_from_json(record["spec"])
        spec.shapes()
    except (TypeError, KeyError, ValueError, ConfigError) as exc:
        raise HarnessError(
            f"{where}: field spec: not a buildable mirror model ({exc}); {FIX}"
        ) from None
    names = {n.name for n in spec.nodes}
    if record["layer"] not in names:
        raise HarnessError(
            f"{where}: field layer: {record['layer']!r} is not a node of the model "
            f"({', '.join(sorted(names))}); {FIX}"
        )
    if Path(where).suffix == ".json" and Path(where).stem != record["id"]:
        raise HarnessError(
            f"{where}: field id: {record['id']!r} is not the file's name ({Path(where).stem}); "
            f"rename the file to {record['id']}.json or {FIX}"
        )


def read_found(path: Path) -> dict:
    """A found file, read strictly (as baselines are) and validated."""
    from . import atomic
    from .baselines import loads
    from .errors import BaselineError

    text = atomic.read_small_text(Path(path), MAX_FOUND_BYTES, "found file", HarnessError, FIX)
    try:
        record = loads(text, str(path))
    except BaselineError as exc:
        raise HarnessError(f"{exc}; {FIX}") from None
    validate_found(record, str(path))
    return record


def found_files(folder: Path | None = None) -> list[Path]:
    folder = found_folder() if folder is None else Path(folder)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def recheck(path: Path) -> str | None:
    """Re-run a found file's finding: None when it reproduces (same property, stage, layer and
    explanation), else the one message saying what changed and the versions then and now."""
    record = read_found(path)
    spec = localize.spec_from_json(record["spec"])
    now = evaluate(record["property"], spec, record["hyperparameters"], record["inputs"]["seed"])
    stage = record["stage"]
    now_stage = (now or {}).get("explanations", {}).get(stage)
    then = record["environment"]["versions"]
    versions_now = localize.versions()

    def fmt(v: dict) -> str:
        return ", ".join(f"{k} {x}" for fw in sorted(v) for k, x in sorted(v[fw].items()))

    seen = f"seen with {fmt(then)}; now {fmt(versions_now)}"
    if now_stage is None:
        return (
            f"{path}: finding {record['id']} no longer reproduces: {record['stage']} at "
            f"{record['layer']} ({record['explained_by']}) now agrees within float32 noise; "
            f"{seen}. A framework that changed a default is news: find out which, then delete "
            "the file"
        )
    got = (stage, now_stage["layer"], now_stage["explained_by"])
    want = (stage, record["layer"], record["explained_by"])
    if got != want:
        return (
            f"{path}: finding {record['id']} changed: recorded {want[0]} at {want[1]} explained "
            f"by {want[2]}, now {got[0]} at {got[1]} explained by {got[2]}; {seen}"
        )
    return None


_DEFAULTS = {f.name: f.default for f in fields(mirror.Node)}


def localize_found(path: Path) -> dict:
    """``crossedwires localize difftests/found/<id>.json``: the finding's model localized again
    under its property's knob settings, on its recorded batch, as ``localize_case`` reports."""
    record = read_found(path)
    spec = localize.spec_from_json(record["spec"])
    x, y = inputs(spec, record["inputs"]["seed"], record["inputs"]["batch"])
    report = localize.localize_spec(
        spec, knobs.settings(record["property"]), x, y, record["hyperparameters"]
    )
    return {
        "case": record["id"],
        "mode": record["property"],
        "profile": f"fuzz, input {'x'.join(map(str, spec.input_shape))}",
        "batch": int(len(y)),
        "hyperparameters": record["hyperparameters"],
        "model": [  # each node's fields that are not the defaults
            {k: v for k, v in node.items() if k in ("name", "op", "inputs") or v != _DEFAULTS[k]}
            for node in record["spec"]["nodes"]
        ],
        "explained_by": record["explained_by"],
        "score": localize.SCORE,
        "versions": localize.versions(),
        **report,
    }


def hunt(
    prop: str,
    max_examples: int,
    seed: int | None = 0,
    budget_s: float = 60.0,
    progress=None,
    known=(),
    rounds: int | None = None,
) -> dict:
    """Rounds of ``search``, each counting what the earlier rounds found as known (so that it
    looks for other differences), until a round finds nothing new, ``rounds`` are done or the
    budget is spent. Round r uses Hypothesis seed ``seed + r`` (None: fresh seeds).
    Returns ``{"findings": [...], "examples": n, "seconds": s, "rounds": r}``."""
    start = time.monotonic()
    known = set(known)
    findings, examples, done = [], 0, 0
    while rounds is None or done < rounds:
        left = budget_s - (time.monotonic() - start)
        if left <= 0:
            break
        result = search(
            prop, max_examples, None if seed is None else seed + done, left, progress, known
        )
        done += 1
        examples += result["examples"]
        new = [f for f in result["findings"] if (f["stage"], f["explained_by"]) not in known]
        for f in new:
            f["hypothesis_seed"] = None if seed is None else seed + done - 1
        findings += new
        known |= {(f["stage"], f["explained_by"]) for f in new}
        if not new:
            break
    return {
        "findings": findings,
        "examples": examples,
        "seconds": time.monotonic() - start,
        "rounds": done,
    }


def run(
    minutes: float,
    folder: Path,
    props=PROPERTIES,
    seed: int | None = None,
    examples_per_round: int = 25,
    out=sys.stderr,
) -> list[Path]:
    """``crossedwires fuzz --minutes N``: ``hunt`` each property in turn, with fresh Hypothesis
    seeds (or from ``seed``), until the time is spent, printing progress on ``out``; each
    finding is written into ``folder``. Returns the paths written."""
    import random

    stop = time.monotonic() + minutes * 60
    written: list[Path] = []
    known: dict[str, set] = {prop: set() for prop in props}
    passes = 0

    def progress(n, seconds, spec, found):
        what = "holds" if found is None else describe(found)
        print(f"  [{seconds:6.1f} s] example {n}: {len(spec.nodes)} layers: {what}", file=out)

    while time.monotonic() < stop:
        for prop in props:
            left = stop - time.monotonic()
            if left <= 0:
                break
            first = (
                seed + 1000 * passes if seed is not None else random.SystemRandom().randrange(2**31)
            )
            print(f"property {prop}, Hypothesis seeds from {first}:", file=out, flush=True)
            result = hunt(prop, examples_per_round, first, left, progress, known[prop])
            for f in result["findings"]:
                known[prop].add((f["stage"], f["explained_by"]))
                path = write_found(record_of(f, f.get("hypothesis_seed")), folder)
                written.append(path)
                print(f"  found: {describe(f)} -> {path}", file=out, flush=True)
        passes += 1
    print(f"{len(written)} finding(s) written into {folder}", file=out, flush=True)
    return written
