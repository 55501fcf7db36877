"""The numerics check: the part of the gate that is exact enough to catch a changed kernel,
default or optimizer, and loose enough to hold on another CPU.

Why
    A test accuracy after hundreds of float32 steps is chaotic: one rounding difference (another
    CPU's kernels, another thread count) grows into a change of several hundredths, so it can
    only be judged as a distribution over seeds (``harness.judge``). What a framework computes
    in the *first* step from fixed weights on a fixed batch is not chaotic: it moves by float32
    rounding, a few parts in a million, unless the framework changed. After one real
    optimizer step it is no longer so: on ResNet50 the loss moves by percents between two
    CPUs' kernels (reported when this check was asked for), because batch norm over the last
    stage's 1x1 maps amplifies rounding; so nothing here is judged after a step on real
    gradients.

What is recorded
    For each architecture, arch source (zoo, mirror) and framework, from the seeded initial
    weights and the first ``BATCH`` training images, per-layer summaries (L2 norms; no tensors):

    - ``init/<param>``: each initial weight tensor (the initializers);
    - ``loss``, ``output``: the training-mode loss and model output (the forward pass);
    - ``grad/<param>``: each parameter's gradient (the backward pass);
    - ``running/<stat>``: each batch-norm running mean and variance after that one
      training-mode forward pass (momentum, epsilon, running-variance convention);
    - ``eval_output``: the inference-mode output with those running statistics;
    - ``step/<param>``: how far ``STEPS`` steps of the case's own optimizer (``train``'s,
      through the adapter) move each parameter when fed a fixed synthetic gradient
      (seeded N(0, 1), the same every step): the optimizer's arithmetic alone, which is
      elementwise and well conditioned, so it travels between CPUs where a real step does not.

How it is judged
    At baseline time each framework runs the probe twice: in float32 (the value recorded) and
    on a float64 copy of the same model (the reference). ``noise`` = |float32 - float64| is
    what float32 rounding does to that quantity on that model; another CPU's kernels round
    differently but by amounts of the same order. A rerun passes a quantity when

        |now - value| <= max(MULTIPLIER * noise, floor(stage) * |value|)

    where ``noise`` is the larger of the quantity's own float32-vs-float64 difference and
    its stage's *noise level* (the 90th percentile, over the stage's quantities, of that
    difference relative to the value) times its value: one float64 comparison is one sample
    of the rounding error, and another CPU's kernels draw another (measured: a gradient norm
    moved 4000 times its own float64 difference between AVX-512 and AVX2 kernels, and 24
    times its stage's level). This is the idea of PyTorch's compiler accuracy checker, which
    judges a result against an fp64 reference with a multiplier. The numbers are measured, not
    assumed: ``docs/numerics.md`` has the cross-ISA measurement they come from.
"""

from __future__ import annotations

import numpy as np

from . import mirror
from .adapters import FRAMEWORKS, get_adapter
from .cases import ARCHS
from .data import Dataset
from .errors import ConfigError
from .profiles import Profile

BATCH = 16  # images in the fixed batch: the first BATCH of the profile's training subset
STEPS = 3  # optimizer steps on the synthetic gradient
OPTIMIZER = {"optimizer": "adam", "learning_rate": 0.01, "adam_epsilon": 0.5}  # eps in the
# published range (up to 1.0), large enough that where it enters the formula shows
GRADIENT_SEED = 0
MULTIPLIER = 50.0  # times the float32-vs-float64 noise; about twice what the ISAs need
# Relative floors, per stage, measured (docs/numerics.md): forward results, running statistics
# and the optimizer's arithmetic moved at most 8e-6 relative between AVX-512 and AVX2 kernels;
# gradient norms moved up to 8e-3 (a backward kernel's accumulation order is its own, and
# float64 does not predict it: DenseNet121's PyTorch gradients agree with float64 to 1e-6 and
# moved 4e-3 between the ISAs). Each floor is about 2.5 times the largest move measured.
RELATIVE_FLOOR = {"grad": 2e-2}
DEFAULT_FLOOR = 2e-5
STAGES = ("init", "loss", "output", "grad", "running", "eval_output", "step")


def check_id(arch: str, arch_source: str) -> str:
    return f"{arch}-{arch_source}-numerics"


CHECKS = tuple((arch, source) for arch in ARCHS for source in ("zoo", "mirror"))  # built in


def _norm(a) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


def synthetic_gradients(params: dict[str, np.ndarray], seed: int = GRADIENT_SEED) -> dict:
    """One N(0, 1) array per parameter (float64), drawn in sorted name order from ``seed``:
    the same numbers on every machine (NumPy's PCG64)."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(params[name].shape) for name in sorted(params)}


def probe(adapter, model, x: np.ndarray, y: np.ndarray, setting: dict | None) -> dict[str, float]:
    """Every quantity of the check for one model (float32 or its float64 copy)."""
    q: dict[str, float] = {}
    start = adapter.trainable(model)
    for name, w in start.items():
        q[f"init/{name}"] = _norm(w)
    first = adapter.first_step(model, x, y, setting)
    q["loss"] = first["loss"]
    q["output"] = _norm(first["output"])
    for name, g in first["gradients"].items():
        q[f"grad/{name}"] = _norm(g)
    for name, s in adapter.running_statistics(model).items():
        q[f"running/{name}"] = _norm(s)
    q["eval_output"] = _norm(adapter.forward(model, x, training=False))
    optimizer = adapter.make_optimizer(model, OPTIMIZER, setting)
    gradients = synthetic_gradients(start)
    for _ in range(STEPS):
        adapter.apply_gradients(model, optimizer, gradients)
    for name, w in adapter.trainable(model).items():
        q[f"step/{name}"] = _norm(np.asarray(w, np.float64) - np.asarray(start[name], np.float64))
    return q


def batch_of(data: Dataset, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    sub = data.subset(profile.train_subset, profile.test_subset)
    if len(sub.y_train) < BATCH:
        raise ConfigError(
            f"profile {profile.name}: the numerics check needs {BATCH} training images, "
            f"the data has {len(sub.y_train)}"
        )
    return sub.x_train[:BATCH], sub.y_train[:BATCH]


def build(
    adapter,
    framework: str,
    arch: str,
    arch_source: str,
    profile: Profile,
    data: Dataset,
    builders: dict | None = None,
):
    """The model the check probes, built from the profile's seed; its knob setting (mirror
    models: native, each framework's zoo model of the architecture; zoo and custom: None,
    the framework's).
    ``builders`` (custom pairs): per framework, ``builder(num_classes, input_shape)``."""
    from . import knobs

    adapter.seed(profile.seed)
    shape = tuple(data.x_train.shape[1:])
    if arch_source == "custom":
        return adapter.build_custom(builders[framework], data.num_classes, shape, "cpu"), None
    if arch_source == "mirror":
        setting = knobs.settings("native", arch)[framework]
        spec = mirror.spec(arch, data.num_classes, profile.mirror_width, shape)
        return adapter.build_mirror(spec, setting, "cpu"), setting
    return adapter.build_zoo(arch, data.num_classes, shape, "cpu"), None


def measure(
    arch: str,
    arch_source: str,
    profile: Profile,
    data: Dataset,
    reference: bool = True,
    builders: dict | None = None,
) -> dict[str, dict]:
    """Per framework ``{"quantities": {quantity: {"value": float32 result, "noise":
    |float32 - float64|}}, "stage_noise": {stage: noise level}}``; with ``reference=False``
    only the values (a check against a baseline needs no float64 run). ``builders``: a custom
    pair's model builders, per framework."""
    x, y = batch_of(data, profile)
    out = {}
    for framework in FRAMEWORKS:
        adapter = get_adapter(framework)
        model, setting = build(adapter, framework, arch, arch_source, profile, data, builders)
        model64 = _float64_copy(adapter, framework, model, arch) if reference else None
        values = probe(adapter, model, x, y, setting)
        if not reference:
            out[framework] = {"quantities": {k: {"value": v} for k, v in values.items()}}
            continue
        ref = probe(adapter, model64, x, y, setting)
        quantities = {k: {"value": v, "noise": abs(v - ref[k])} for k, v in values.items()}
        out[framework] = {"quantities": quantities, "stage_noise": stage_noise(quantities)}
    return out


def _float64_copy(adapter, framework: str, model, arch: str):
    """The float64 reference; a model that cannot be copied (a subclassed Keras model:
    ``clone_model`` rebuilds only Sequential and functional models) stops the check with the
    fix, not a traceback."""
    try:
        return adapter.float64_copy(model)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{arch}: the numerics check needs a float64 copy of the {framework} model and "
            f"cannot make one ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); build a "
            "Sequential or functional Keras model, or pass numerics=False"
        ) from None


def stage_noise(quantities: dict[str, dict]) -> dict[str, float]:
    """Per stage, the 90th percentile of |float32 - float64| / |value| over its quantities."""
    relative: dict[str, list[float]] = {}
    for name, e in quantities.items():
        rel = e["noise"] / abs(e["value"]) if e["value"] else 0.0
        relative.setdefault(name.split("/", 1)[0], []).append(rel)
    return {stage: float(np.quantile(r, 0.9)) for stage, r in relative.items()}


def floor(stage: str) -> float:
    return RELATIVE_FLOOR.get(stage, DEFAULT_FLOOR)


def allowed(entry: dict, level: float = 0.0, stage: str = "") -> float:
    """How far a rerun may move a quantity from its baseline ``entry`` (value, noise), given
    its stage's noise ``level``: MULTIPLIER times the noise, at least the stage's floor."""
    value = abs(entry["value"])
    noise = max(entry.get("noise") or 0.0, level * value)
    return max(MULTIPLIER * noise, floor(stage) * value)


def _stage(quantity: str) -> int:
    return STAGES.index(quantity.split("/", 1)[0])


def compare(baseline: dict, now: dict) -> dict[str, list[dict]]:
    """{framework: the quantities outside their allowance, in stage order}: each as
    {quantity, then, now, moved (relative), allowed (relative), noise}. A quantity present on
    one side only (a layer added or removed, renamed) is reported too, with ``then`` or ``now``
    None."""
    out: dict[str, list[dict]] = {}
    for framework, then in baseline.items():
        then_q, levels = then["quantities"], then.get("stage_noise", {})
        now_q = now.get(framework, {}).get("quantities", {})
        bad = []
        for name in sorted(set(then_q) | set(now_q), key=lambda n: (_stage(n), n)):
            a, b = then_q.get(name), now_q.get(name)
            if a is None or b is None:
                bad.append({"quantity": name, "then": a and a["value"], "now": b and b["value"]})
                continue
            stage = name.split("/", 1)[0]
            limit = allowed(a, levels.get(stage, 0.0), stage)
            moved = abs(b["value"] - a["value"])
            if not moved <= limit:  # NaN fails too
                scale = abs(a["value"]) or 1.0
                bad.append(
                    {
                        "quantity": name,
                        "then": a["value"],
                        "now": b["value"],
                        "moved": moved / scale,
                        "allowed": limit / scale,
                        "noise": a.get("noise"),
                    }
                )
        if bad:
            out[framework] = bad
    return out


def describe(framework: str, bad: list[dict], shown: int = 4) -> str:
    """One failure message for a framework: which layer and quantity moved, first stage first."""
    lines = []
    for b in bad[:shown]:
        stage, _, layer = b["quantity"].partition("/")
        where = f"{stage} of {layer}" if layer else stage
        if b["then"] is None or b["now"] is None:
            what = "added" if b["then"] is None else "removed"
            lines.append(f"{where}: {what} (the model's layers changed)")
            continue
        lines.append(
            f"{where}: {b['then']:.6g} -> {b['now']:.6g} (moved {b['moved']:.2e} relative, "
            f"allowed {b['allowed']:.2e}: {MULTIPLIER:g} x the float32-vs-float64 noise, at "
            f"least {floor(stage):g})"
        )
    more = f"; and {len(bad) - shown} more" if len(bad) > shown else ""
    stages = sorted({b["quantity"].split("/", 1)[0] for b in bad}, key=STAGES.index)
    return (
        f"{framework} numerics changed in {', '.join(stages)} (first: {bad[0]['quantity']}):\n    "
        + "\n    ".join(lines)
        + more
    )


def build_record(
    arch: str, arch_source: str, profile: Profile, data: Dataset, measured: dict, env: dict
) -> dict:
    """The baseline record of one numerics check (schema: ``resources/numerics.schema.json``)."""
    from .baselines import SCHEMA_VERSION
    from .runner import profile_block

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "numerics",
        "check": {
            "id": check_id(arch, arch_source),
            "arch": arch,
            "arch_source": arch_source,
            "width": profile.mirror_width if arch_source == "mirror" else None,
            "batch_size": BATCH,
            "optimizer": {**OPTIMIZER, "steps": STEPS},
            "gradient_seed": GRADIENT_SEED,
            "multiplier": MULTIPLIER,
            "relative_floor": {stage: floor(stage) for stage in STAGES},
        },
        "profile": profile_block(profile),
        "data": data.subset(profile.train_subset, profile.test_subset).describe(),
        "environment": env,
        "frameworks": measured,
    }
