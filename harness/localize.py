"""``crossedwires localize``: the first layer where the two frameworks part, per pass.

Why
    A case's accuracy gap (``harness.judge``) says *that* the frameworks differ, ``explain``
    says *which default* carries it; neither says *where in the network* the arithmetic
    first differs. This is CRADLE's question (Pham et al., ICSE 2019: localize an inference
    inconsistency to a layer) asked of training, as Muffin (Gu et al., ICSE 2022) asks it of
    the forward and the backward pass.

What is compared
    A mirror model (``harness/mirror.py``) is built in both frameworks, each with its own knob
    setting (the case's: in mode ``native`` each framework's zoo model of the architecture,
    ``knobs.settings("native", arch)``: batch-norm momentum and epsilon, loss input, Adam
    epsilon semantics, and the structural knobs), and both start from the *same* weights
    (PyTorch's seeded draw, carried across in the neutral layout by ``set_mirror_weights``: in
    native mode the initial weights differ by design, here they never do; a tensor only one
    side has, a conv bias under ``conv_bias="all"``, keeps its framework's initializer). A
    layer whose output or gradient has another shape on the two sides (ResNet50's v1 stride
    position) has an infinite distance and ``shapes_differ``: it diverges by structure. Each
    framework runs one training step on the same batch (``adapter.trace_mirror``), and per
    layer (per mirror node) three stages are compared:

    - ``forward``: the node's output in training mode;
    - ``backward``: the loss's gradient with respect to the node's input(s) and to its
      parameters;
    - ``step``: what one step of the case's Adam moves the node's parameters by, and what the
      training-mode forward pass moves its running statistics by.

How it is judged
    As the numerics check does (``harness.numerics``): each framework also runs the same step
    on a float64 copy of the same model; the float32-vs-float64 difference of a quantity is its
    rounding noise. Per node and stage, with ``a`` and ``b`` the two frameworks' float32 arrays
    (flattened and concatenated over the node's tensors), the distance ``|a - b|`` (L2, in
    float64) *exceeds the noise* when it is beyond ``allowed``: ``MULTIPLIER`` times the noise
    ``|a32 - a64| + |b32 - b64|``, at least the stage's relative floor (``RELATIVE_FLOOR``:
    two frameworks' kernels differ more than one framework's on two CPUs, and float64 does
    not predict by how much; these are the cross-ISA floors the numerics check used before it
    measured kernel variants itself, ``docs/localize.md``). The *first diverging
    layer* of forward and step is the first node in execution order that exceeds; of
    backward, the first in backpropagation order (from the loss back).

    One thing the numerics check does is left out: its *stage noise level* (the 90th
    percentile of the stage's relative noise, applied to every quantity). The check needs it
    because it compares *norms*, and the float64 difference of one norm can be small by
    cancellation; here the noise is the norm of a *difference tensor*, which cannot cancel.
    And one noisy layer must not hide another: on the smoke DenseNet121 mirror case with
    each framework's layer defaults (Keras' batch-norm epsilon 1e-3, ``same`` padding),
    TensorFlow's float32 gradients were 2% away from float64 from ``final_bn`` down
    (measured; aligning ``bn_epsilon`` or ``strided_padding`` brought them back to 1e-5),
    and that level times ``MULTIPLIER`` would allow 120% at every layer, the classifier's
    included, whose own noise is 2e-5. The levels are still reported (``stage_noise``).

The score: rate of change
    CRADLE scores a layer by the *rate of change* of the distance from its inputs to its
    output; Muffin ranks layers the same way. Here, with ``delta`` the relative distance
    ``|a - b| / |a|``:

        rate = (delta_out - delta_in) / (delta_in + EPSILON)

    where ``delta_in`` is, for forward, the largest ``delta`` of the node's inputs (0 for the
    images); for backward, the ``delta`` of the gradient arriving at the node's output; for
    step, the ``delta`` of the node's parameter gradients. A large rate marks the layer that
    *makes* the difference rather than passing it on; near 0 (or negative), the layer only
    carries what it was given.
"""

from __future__ import annotations

import json

import numpy as np

from . import knobs, numerics
from .adapters import FRAMEWORKS, get_adapter
from .errors import ConfigError

STAGES = ("forward", "backward", "step")
NUMERICS_STAGE = {"forward": "output", "backward": "grad", "step": "step"}  # stage levels
MULTIPLIER = 50.0  # times the float32-vs-float64 noise of the two frameworks together
RELATIVE_FLOOR = {"forward": 2e-5, "backward": 2e-2, "step": 2e-5}  # relative to |a|


def allowed(entry: dict, stage: str) -> float:
    """How far apart the two frameworks may be at a node and stage: MULTIPLIER times their
    noise, at least the stage's floor."""
    return max(MULTIPLIER * entry["noise"], RELATIVE_FLOOR[stage] * abs(entry["value"]))


EPSILON = 1e-7  # CRADLE's epsilon in the rate of change
SCORE = "rate of change: (delta - delta_in) / (delta_in + 1e-7), delta = |a - b| / |a|"


def shared_weights(spec, seed: int) -> dict:
    """PyTorch's seeded initial weights of ``spec`` in the neutral layout: what both frameworks
    start from (knob ``init="shared"``, as ``runner.shared_initial_weights``)."""
    adapter = get_adapter("pytorch")
    adapter.seed(seed)
    model = adapter.build_mirror(spec, knobs.settings("aligned")["pytorch"], "cpu")
    return adapter.get_mirror_weights(model)


def trace(framework: str, spec, setting: dict, weights: dict, x, y, hp: dict):
    """One framework's step on ``spec`` with ``setting`` (its knobs), from ``weights``, in
    float32 (``value``) and on a float64 copy of the same model (``reference``). Nothing here
    draws random numbers (the weights are given, dropout is off), so nothing is seeded."""
    from .runner import with_shared

    adapter = get_adapter(framework)
    model = adapter.build_mirror(spec, setting, "cpu")
    # A structural knob (a conv bias on one side only) leaves a tensor the other side lacks: it
    # keeps this framework's initializer, as in training (runner.with_shared).
    adapter.set_mirror_weights(model, with_shared(adapter, model, weights))
    model64 = adapter.float64_copy(model)
    return {
        "value": adapter.trace_mirror(model, x, y, hp, setting),
        "reference": adapter.trace_mirror(model64, x, y, hp, setting),
    }


def _tensors(spec, node, stage: str, t: dict) -> list[np.ndarray]:
    if stage == "forward":
        return [t["outputs"][node.name]]
    params = [p for p in spec.parameters() if p.split("/")[0] == node.name]
    if stage == "backward":
        grads = [t["gradients"][i] for i in node.inputs]
        return grads + [
            t["parameter_gradients"][p] for p in params if p in t["parameter_gradients"]
        ]
    return [t["updates"][p] for p in params]


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


def _relative(distance: float, value: float) -> float:
    return distance / value if value > 0 else (0.0 if distance == 0 else float("inf"))


def compare(spec, traces: dict) -> dict:
    """Per node and stage the distance, its allowance and the rate of change; per stage the
    first diverging node. ``traces``: {framework: ``trace(...)``} for the two frameworks."""
    pt, tf = (traces[fw] for fw in FRAMEWORKS)
    rows: dict[str, dict] = {}
    entries: dict[str, dict] = {}
    for node in spec.nodes:
        rows[node.name] = {"node": node.name, "op": node.op}
        for stage in STAGES:
            arrays = [
                _tensors(spec, node, stage, t[k]) for t in (pt, tf) for k in ("value", "reference")
            ]
            if not arrays[0]:
                rows[node.name][stage] = None
                continue
            a32, a64, b32, b64 = (_flat(a) for a in arrays)
            value = float(np.linalg.norm(a32))
            noise = float(np.linalg.norm(a32 - a64) + np.linalg.norm(b32 - b64))
            entry = {"value": value, "noise": noise}
            if a32.shape == b32.shape:
                entry["distance"] = float(np.linalg.norm(a32 - b32))
            else:  # a structural knob (ResNet v1 against v1.5) changes this layer's shape
                entry["distance"], entry["shapes_differ"] = float("inf"), True
            entries[f"{NUMERICS_STAGE[stage]}/{node.name}"] = entry
            rows[node.name][stage] = entry
    levels = numerics.stage_noise(entries)
    for node in spec.nodes:
        for stage in STAGES:
            e = rows[node.name][stage]
            if e is None:
                continue
            e["allowed"] = allowed(e, stage)  # no stage level: see the doc above
            e["exceeds"] = not e["distance"] <= e["allowed"]  # NaN exceeds too
            e["relative"] = _relative(e["distance"], e["value"])
    for node in spec.nodes:
        for stage in STAGES:
            e = rows[node.name][stage]
            if e is not None:
                before = _delta_in(spec, node, stage, rows, pt, tf)
                e["rate"] = (e["relative"] - before) / (before + EPSILON)
    order = {
        "forward": list(spec.nodes),
        "backward": list(reversed(spec.nodes)),
        "step": list(spec.nodes),
    }
    first, largest = {}, {}
    for stage in STAGES:
        judged = [n.name for n in order[stage] if rows[n.name][stage] is not None]
        over = [name for name in judged if rows[name][stage]["exceeds"]]
        first[stage] = over[0] if over else None
        largest[stage] = max(over, key=lambda name: rows[name][stage]["rate"]) if over else None
    return {
        "layers": [rows[n.name] for n in spec.nodes],
        "first": first,
        "largest_rate": largest,
        "stage_noise": levels,
        "loss": {fw: traces[fw]["value"]["loss"] for fw in FRAMEWORKS},
    }


def _delta_in(spec, node, stage: str, rows: dict, pt: dict, tf: dict) -> float:
    """The relative distance of what flows into ``node`` in ``stage`` (see the module's doc)."""
    if stage == "forward":
        return max(
            (rows[i]["forward"]["relative"] for i in node.inputs if i != spec.input_name),
            default=0.0,
        )
    if stage == "backward":
        a, b = pt["value"]["gradients"][node.name], tf["value"]["gradients"][node.name]
    else:
        params = [p for p in spec.parameters() if p.split("/")[0] == node.name]
        grads = [p for p in params if p in pt["value"]["parameter_gradients"]]
        if not grads:
            return 0.0
        a = _flat([pt["value"]["parameter_gradients"][p] for p in grads])
        b = _flat([tf["value"]["parameter_gradients"][p] for p in grads])
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:  # a structural knob changed what flows in
        return float("inf")
    return _relative(float(np.linalg.norm(a - b)), float(np.linalg.norm(a)))


def localize_spec(spec, setting: dict, x, y, hp: dict, seed: int = 0, cache=None) -> dict:
    """Localize ``spec`` under ``setting`` ({framework: knobs}) from PyTorch's seeded weights
    on the batch ``x, y``. ``cache``: a dict to share framework traces between calls with the
    same spec, batch and weights (a framework's trace depends only on its own setting)."""
    cache = {} if cache is None else cache
    if "weights" not in cache:
        cache["weights"] = shared_weights(spec, seed)
    traces = {}
    for fw in FRAMEWORKS:
        key = fw + json.dumps(setting[fw], sort_keys=True)
        if key not in cache:
            cache[key] = trace(fw, spec, setting[fw], cache["weights"], x, y, hp)
        traces[fw] = cache[key]
    out = compare(spec, traces)
    out["settings"] = knobs.record(setting)
    out["differing_knobs"] = knobs.differing(setting, spec.arch)
    return out


def spec_to_json(spec) -> dict:
    """A mirror ``Spec`` as plain JSON (every Node field; tuples as lists)."""
    from dataclasses import asdict

    d = asdict(spec)
    d["input_shape"] = list(spec.input_shape)
    d["nodes"] = [{**asdict(n), "inputs": list(n.inputs)} for n in spec.nodes]
    return d


def spec_from_json(d: dict):
    from .mirror import Node, Spec

    nodes = tuple(Node(**{**n, "inputs": tuple(n["inputs"])}) for n in d["nodes"])
    return Spec(
        d["arch"], d["width"], d["num_classes"], nodes, tuple(d["input_shape"]), d["input_name"]
    )


def versions() -> dict:
    """Every framework's package versions (``adapter.versions``)."""
    return {fw: get_adapter(fw).versions() for fw in FRAMEWORKS}


# --- a case of the case table ------------------------------------------------------------


def case_of(case_id: str):
    """The mirror case ``case_id`` names; a zoo id or an unknown id stops with the fix."""
    from .cases import find_case, parse_case_id
    from .explain import mirror_of

    try:
        case = find_case(case_id)
    except ConfigError:
        try:
            case = parse_case_id(case_id)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; known cases: crossedwires cases --profile NAME") from None
    if case.arch_source != "mirror":
        raise ConfigError(
            f"{case_id} is a zoo case: its two models have different layers, so no layer of one "
            "maps onto the other; localize its mirror counterpart: crossedwires localize "
            f"{mirror_of(case).case_id}"
        )
    return case


def localize_case(case_id: str, profile, data_dir: str | None = None) -> dict:
    """``crossedwires localize CASE-ID``: the case's mirror model, its mode's knob settings,
    the profile's seed, width and numerics batch (``numerics.batch_of``)."""
    from .data import load_dataset
    from .runner import case_setting, environment, mirror_spec

    case = case_of(case_id)
    env = environment(profile)  # threads and determinism, before any op runs
    data = load_dataset(profile.dataset, data_dir)
    spec = mirror_spec(case, profile, data)
    x, y = numerics.batch_of(data, profile)
    hp = case.hyperparameters()
    out = localize_spec(spec, case_setting(case), x, y, hp, profile.seed)
    return {
        "case": case.case_id,
        "mode": case.mode,
        "profile": profile.name,
        "width": profile.mirror_width,
        "batch": int(len(y)),
        "seed": profile.seed,
        "hyperparameters": hp,
        "score": SCORE,
        "multiplier": MULTIPLIER,
        "versions": {fw: env[fw]["versions"] for fw in FRAMEWORKS},
        **out,
    }


def _fmt(e: dict | None) -> str:
    if e is None:
        return f"{'':>9} {'':>9} {'':>9} {'':1}"
    mark = "*" if e["exceeds"] else " "
    return f"{e['relative']:9.2e} {e['allowed'] / (e['value'] or 1):9.2e} {e['rate']:+9.2e} {mark}"


def format_table(report: dict, shown: int | None = None) -> str:
    """The terminal table: per layer and stage the relative distance, the relative allowance,
    the rate of change and ``*`` where the distance exceeds the noise; the first diverging
    layers on top. ``shown``: at most this many layers (the diverging ones first kept)."""
    first = report["first"]
    model = [
        f"  {n['name']}: {n['op']}("
        + ", ".join(f"{k}={v}" for k, v in n.items() if k not in ("name", "op"))
        + ")"
        for n in report.get("model", [])
    ]
    lines = [
        f"crossedwires localize {report.get('case') or report.get('id', '')}  (mode "
        f"{report.get('mode', '?')}, profile {report.get('profile', '?')}, batch "
        f"{report.get('batch', '?')}, same initial weights in both frameworks)",
        *(["model:", *model] if model else []),
        *(
            [f"optimizer: {report['hyperparameters']}"]
            if "hyperparameters" in report and model
            else []
        ),
        "knobs that differ: " + (", ".join(report["differing_knobs"]) or "none"),
        f"loss: PyTorch {report['loss']['pytorch']:.6g}, TensorFlow "
        f"{report['loss']['tensorflow']:.6g}",
    ]
    for stage in STAGES:
        node = first[stage]
        if node is None:
            lines.append(f"first diverging layer, {stage:<8}: none (all within float32 noise)")
            continue
        row = next(r for r in report["layers"] if r["node"] == node)
        e = row[stage]
        lines.append(
            f"first diverging layer, {stage:<8}: {node} ({row['op']}): relative distance "
            f"{e['relative']:.3g}, allowed {e['allowed'] / (e['value'] or 1):.3g}, rate of "
            f"change {e['rate']:+.3g}; largest rate: {report['largest_rate'][stage]}"
        )
    head = f"{'dist':>9} {'allowed':>9} {'rate':>9}  "
    lines += [
        "",
        f"{'layer':<26} {'op':<8} | {'forward':^30} | {'backward':^30} | {'step':^30}",
        f"{'':<26} {'':<8} | {head}| {head}| {head}",
    ]
    layers = report["layers"]
    if shown is not None and len(layers) > shown:
        keep = {first[s] for s in STAGES} | {report["largest_rate"][s] for s in STAGES}
        picked = [r for r in layers if r["node"] in keep]
        rest = [r for r in layers if r["node"] not in keep][: max(0, shown - len(picked))]
        chosen = {r["node"] for r in picked + rest}
        layers = [r for r in layers if r["node"] in chosen]
    for r in layers:
        lines.append(
            f"{r['node'][:26]:<26} {r['op']:<8} | {_fmt(r['forward'])}| {_fmt(r['backward'])}| "
            f"{_fmt(r['step'])}"
        )
    if len(layers) < len(report["layers"]):
        lines.append(f"({len(report['layers']) - len(layers)} more layers: --json has them all)")
    lines.append(
        "dist = |PyTorch - TensorFlow| / |PyTorch| (float32, L2 over the layer's tensors); "
        f"allowed = {MULTIPLIER:g} x the float32-vs-float64 noise "
        "(at least the stage's floor), relative; * = beyond it; rate = " + SCORE.split(": ")[1]
    )
    return "\n".join(lines)
