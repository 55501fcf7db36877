"""The numerics check: the part of the gate that is exact enough to catch a changed kernel,
default or optimizer, and loose enough to hold on another CPU.

Why
    A test accuracy after hundreds of float32 steps is chaotic: one rounding difference (another
    CPU's kernels, another thread count) grows into a change of several hundredths, so it can
    only be judged as a distribution over seeds (``harness.judge``). What a framework computes
    in the *first* step from fixed weights on a fixed batch is not chaotic: it moves by float32
    rounding unless the framework changed. After one real optimizer step it is no longer so (on
    ResNet50 the loss moves by percents between two CPUs' kernels: batch norm over the last
    stage's 1x1 maps amplifies rounding), so nothing here is judged after a step on real
    gradients.

What is recorded
    For each architecture, arch source (zoo, mirror) and framework, from the seeded initial
    weights and the first ``BATCH`` training images, per tensor *summaries* (no tensors):
    the L2 norm (``<stage>/<tensor>``), ``PROJECTIONS`` fixed seeded random projections
    ``<t, r_k>`` (``#p0``, ``#p1``: these see a change of direction that leaves the norm alone,
    such as an elementwise perturbation) and the largest magnitude (``#max``). The stages:

    - ``init/<param>``: each initial weight tensor (the initializers);
    - ``loss``, ``output``: the training-mode loss and model output (the forward pass);
    - ``grad/<param>``: each parameter's gradient (the backward pass);
    - ``running/<stat>``: each batch-norm running mean and variance after that one
      training-mode forward pass (momentum, epsilon, running-variance convention);
    - ``eval_output``: the inference-mode output with those running statistics;
    - ``loss_fn``, ``loss_fn/grad``: the framework's training loss on fixed seeded synthetic
      logits (``LOGIT_SCALE``; given as probabilities where the framework's loss takes them)
      and its gradient with respect to those logits. A freshly initialised model's logits can be
      nearly uniform (VGG16's output norm is 0.002), where the loss is flat and a change to the
      loss function (label smoothing, a clip) does not show in ``loss``; here it does;
    - ``step/<param>``: how far ``STEPS`` steps of the case's own optimizer (``train``'s,
      through the adapter) move each parameter when fed seeded synthetic gradients, *different
      at every step*, with magnitudes spread over ``GRADIENT_DECADES`` around the optimizer's
      epsilon: every moment, bias correction and the epsilon term then shows (with the same
      gradient at every step Adam's bias-corrected moments are exactly g and g^2 whatever the
      betas). A share ``NO_GRADIENT_SHARE`` of each tensor's elements gets no gradient at any
      step: Adam moves them by exactly 0, and ``step/<param>#nograd`` (their movement) shows
      anything that moves a parameter without a gradient (weight decay, a regularizer). The
      optimizer's arithmetic is elementwise and well conditioned, so it travels between CPUs
      where a real step does not.

How it is judged
    At baseline time each framework runs the probe in float32 (the value recorded), on a
    float64 copy of the same model (``noise`` = |float32 - float64|: what float32 rounding
    does to that quantity) and, in fresh processes, at every other ISA level this CPU can run
    (``ISA_LEVELS``: the kernels capped to AVX2, or to AVX with PyTorch's dispatch at
    ``default``, or uncapped; ``spread`` = the largest |variant - value|: what other kernels do
    to it, as another machine's would). A rerun passes a quantity when

        |now - value| <= MULTIPLIER * max(noise, spread, UNIT_ROUNDOFF * scale)

    where ``scale`` is the quantity's magnitude (a projection's: its tensor's norm): each
    quantity is judged by its own measured noise, never by its stage's. (A stage-wide level
    hid every change of a well-conditioned layer behind its ill-conditioned neighbours: most
    of ResNet50's PyTorch gradients are 1e-3 away from float64 on 16 images, its head's 4e-6.)
    A quantity whose scale is below ``TINY`` times its stage's median scale is zero to within
    its stage (a conv bias before batch norm has a true gradient of 0, so its float32 value is
    pure rounding): it is judged against ``level * TINY`` times the stage's median scale, with
    ``level`` the stage's median relative ``max(noise, spread) / scale`` over the quantities
    that are not zero (such a quantity, with relative noise 1.0, never enters the level). An
    exact zero that stays exact in float64 and under every kernel variant (a zero-initialised
    bias, a parameter without gradient under Adam) must stay exact.
    ``MULTIPLIER`` is measured: ``docs/numerics.md`` (``benchmarks/numerics_isa.py``) holds a
    kernel variant out, builds every allowance from the rest and reports how far the held-out
    variant moved in units of it; and what the check catches is measured by realistic changes
    patched in one at a time (``benchmarks/sensitivity.py``, ``harness/changes.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import mirror
from .adapters import FRAMEWORKS, get_adapter
from .cases import ARCHS
from .data import Dataset
from .errors import ConfigError, HarnessError
from .profiles import Profile

BATCH = 16  # images in the fixed batch: the first BATCH of the profile's training subset
STEPS = 4  # optimizer steps on the synthetic gradients, a different draw each
# The optimizer's epsilon sits inside the synthetic gradients' magnitudes (GRADIENT_DECADES), so
# that elements where it dominates and elements where the second moment does are both present.
OPTIMIZER = {"optimizer": "adam", "learning_rate": 0.01, "adam_epsilon": 1e-3}
GRADIENT_SEED = 0
GRADIENT_DECADES = (-5, -1)  # |g| = |N(0, 1)| * U(1, 10) * 10^k, k in -5 .. -2, per element
NO_GRADIENT_SHARE = 0.25  # elements of each tensor that get no gradient at any step
PROJECTIONS = 2  # seeded random projections per tensor, beside its norm and largest magnitude
LOGIT_SCALE = 2.0  # synthetic logits ~ N(0, LOGIT_SCALE^2): a loss far from flat
MULTIPLIER = 50.0  # times the measured noise: docs/numerics.md has the measurement
TINY = 1e-3  # below TINY x its stage's median scale, a quantity is zero to within its stage
UNIT_ROUNDOFF = 2.0**-24  # float32's: no quantity is judged tighter than its own rounding
STAGES = ("init", "loss", "output", "grad", "running", "eval_output", "loss_fn", "step")
# Kernel variants measured at baseline time, best first: the ISA levels oneDNN (TensorFlow's CPU
# kernels) and PyTorch's CPU dispatch can be capped to, the /proc/cpuinfo flag each needs, and
# the environment that caps them. A baseline measures every level but the one in force.
ISA_LEVELS = (
    ("AVX512", "avx512f", {}),
    ("AVX2", "avx2", {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}),
    ("AVX", "avx", {"ONEDNN_MAX_CPU_ISA": "AVX", "ATEN_CPU_CAPABILITY": "default"}),
)
CAP_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def check_id(arch: str, arch_source: str) -> str:
    return f"{arch}-{arch_source}-numerics"


CHECKS = tuple((arch, source) for arch in ARCHS for source in ("zoo", "mirror"))  # built in


def stage_of(quantity: str) -> str:
    """``grad/conv1_conv/kernel#p0`` -> ``grad``."""
    return re.split(r"[/#]", quantity, maxsplit=1)[0]


def _stage_index(quantity: str) -> int:
    return STAGES.index(stage_of(quantity))


def _norm(a) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


# Every random number of the check comes from a few fixed seeded streams, drawn once per process
# (float32 draws and exact products only: no transcendental function, whose last bit can depend
# on the CPU's vector unit, so the same bits on every machine). A tensor reads a window of a
# stream at an offset its name gives: a new draw for every tensor would cost more than the
# probe itself on VGG16's 138 million parameters.
_OFFSETS = 1 << 16
_STREAMS: dict[str, np.ndarray] = {}
_DECADES = np.array([10.0**k for k in range(-9, 3)], dtype=np.float32)  # exact powers of ten


_BLOCK = 1 << 20


def _block(kind: str, index: int) -> np.ndarray:
    rng = np.random.default_rng([GRADIENT_SEED, zlib.crc32(kind.encode()), index])
    if kind == "uniform":
        return rng.random(_BLOCK, dtype=np.float32)
    if kind == "decade":
        low, high = GRADIENT_DECADES
        return _DECADES[rng.integers(low, high, size=_BLOCK) + 9]
    return rng.standard_normal(_BLOCK, dtype=np.float32)


def _stream(kind: str, n: int) -> np.ndarray:
    """The first ``n`` values of the stream ``kind``: ``normal`` N(0, 1), ``uniform``
    U(0, 1), ``decade`` 10^k with k uniform over the integer decades of ``GRADIENT_DECADES``,
    and ``direction<k>`` N(0, 1). Blocks of ``_BLOCK`` values, each seeded by its index, so a
    prefix is the same however much is drawn."""
    have = _STREAMS.get(kind, np.empty(0, np.float32))
    if len(have) < n:
        blocks = range(len(have) // _BLOCK, -(-n // _BLOCK))
        have = np.concatenate([have, *(_block(kind, i) for i in blocks)])
        _STREAMS[kind] = have
    return have[:n]


def _window(kind: str, tensor: str, n: int, salt: int = 0) -> np.ndarray:
    """``n`` values of stream ``kind`` from an offset seeded by the tensor's name (and salt)."""
    offset = zlib.crc32(f"{tensor}#{salt}".encode()) % _OFFSETS
    return _stream(kind, offset + n)[offset:]


def _direction(tensor: str, k: int, size: int) -> np.ndarray:
    """The k-th fixed random direction of a tensor: N(0, 1) per element, from its name (the
    same for its initial value, gradient and step), the same on every machine."""
    return _window(f"direction{k}", tensor, size)


def summarize(q: dict, key: str, tensor: str, array) -> None:
    """Into ``q``: the norm (``key``), the projections (``key#p<k>``, in float64) and the
    largest magnitude (``key#max``) of ``array``."""
    a = np.asarray(array, dtype=np.float64).ravel()
    q[key] = float(np.linalg.norm(a))
    for k in range(PROJECTIONS):
        q[f"{key}#p{k}"] = float(a @ _direction(tensor, k, a.size))
    q[f"{key}#max"] = float(np.max(np.abs(a))) if a.size else 0.0


def synthetic_gradients(params: dict[str, np.ndarray]):
    """(``STEPS`` dicts of float32 gradients by parameter name, the masks of the elements that
    get one): per tensor, element and step, N(0, 1) times U(1, 10) times 10^k, k uniform over
    the integer decades of ``GRADIENT_DECADES``; zero where the tensor's mask is off
    (``NO_GRADIENT_SHARE`` of its elements, the same at every step). Exact in float32 and
    float64 alike, the same bits on every machine."""
    steps: list[dict[str, np.ndarray]] = [{} for _ in range(STEPS)]
    masks = {}
    nine, one = np.float32(9.0), np.float32(1.0)
    for name in sorted(params):
        shape = np.shape(params[name])
        n = int(np.prod(shape))
        masks[name] = (_window("uniform", name, n, salt=-1) >= NO_GRADIENT_SHARE).reshape(shape)
        for t, step in enumerate(steps):
            g = _window("normal", name, n, t) * (_window("uniform", name, n, t) * nine + one)
            g *= _window("decade", name, n, t)
            step[name] = np.where(masks[name], g.reshape(shape), np.float32(0.0))
    return steps, masks


def synthetic_logits(batch: int, num_classes: int) -> np.ndarray:
    """Fixed float32 logits ~ N(0, LOGIT_SCALE^2) for the loss function's probe."""
    rng = np.random.default_rng([GRADIENT_SEED, 1])
    return rng.standard_normal((batch, num_classes), dtype=np.float32) * np.float32(LOGIT_SCALE)


def probe(
    adapter, model, x: np.ndarray, y: np.ndarray, setting: dict | None, num_classes: int
) -> dict[str, float]:
    """Every quantity of the check for one model (float32 or its float64 copy)."""
    q: dict[str, float] = {}
    start = adapter.trainable(model)
    dtype = "float64" if next(iter(start.values())).dtype == np.float64 else "float32"
    for name, w in start.items():
        summarize(q, f"init/{name}", name, w)
    first = adapter.first_step(model, x, y, setting)
    q["loss"] = first["loss"]
    summarize(q, "output", "output", first["output"])
    for name, g in first["gradients"].items():
        summarize(q, f"grad/{name}", name, g)
    for name, s in adapter.running_statistics(model).items():
        summarize(q, f"running/{name}", name, s)
    summarize(q, "eval_output", "output", adapter.forward(model, x, training=False))
    lf = adapter.loss_probe(synthetic_logits(len(y), num_classes), y, setting, dtype)
    q["loss_fn"] = lf["loss"]
    summarize(q, "loss_fn/grad", "logits", lf["gradient"])
    optimizer = adapter.make_optimizer(model, OPTIMIZER, setting)
    steps, masks = synthetic_gradients(start)
    for gradients in steps:
        adapter.apply_gradients(model, optimizer, gradients)
    for name, w in adapter.trainable(model).items():
        moved = np.asarray(w, np.float64) - np.asarray(start[name], np.float64)
        summarize(q, f"step/{name}", name, moved)
        q[f"step/{name}#nograd"] = _norm(moved[~masks[name]])
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
    the framework's). ``data`` gives the image shape and the classes only.
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


def _values(
    arch, arch_source, profile, data, x, y, builders, reference: bool, frameworks=FRAMEWORKS
) -> dict:
    """Per framework, the float32 values and (``reference``) the float64 ones."""
    out = {}
    for framework in frameworks:
        adapter = get_adapter(framework)
        model, setting = build(adapter, framework, arch, arch_source, profile, data, builders)
        model64 = _float64_copy(adapter, framework, model, arch) if reference else None
        values = probe(adapter, model, x, y, setting, data.num_classes)
        ref = probe(adapter, model64, x, y, setting, data.num_classes) if reference else None
        out[framework] = (values, ref)
    return out


def measure(
    arch: str,
    arch_source: str,
    profile: Profile,
    data: Dataset,
    reference: bool = True,
    builders: dict | None = None,
    variants: tuple[str, ...] | None = None,
    frameworks: tuple[str, ...] = FRAMEWORKS,
) -> dict[str, dict]:
    """Per framework ``{"quantities": {quantity: {"value": float32 result, "noise":
    |float32 - float64|, "spread": largest |variant - value|}}, "stage_noise": {stage:
    level}, "variants": [the ISA levels measured]}``; with ``reference=False`` only the values
    (a check against a baseline needs no float64 run and no variant). ``variants``: the ISA
    levels to measure the spread at (None: every other level this CPU runs,
    ``variants_here()``; a custom pair's builders cannot cross into another process, so it has
    none). ``builders``: a custom pair's
    model builders, per framework. ``frameworks``: the frameworks to probe (a check of one)."""
    x, y = batch_of(data, profile)
    measured = _values(arch, arch_source, profile, data, x, y, builders, reference, frameworks)
    if not reference:
        return {
            fw: {"quantities": {k: {"value": v} for k, v in values.items()}}
            for fw, (values, _) in measured.items()
        }
    if variants is None:
        variants = () if builders is not None else variants_here()
    others = [
        probe_variant(level, arch, arch_source, profile, x, y, data.num_classes)
        for level in variants
    ]
    out = {}
    for fw, (values, ref) in measured.items():
        quantities = {}
        for k, v in values.items():
            entry = {"value": v, "noise": abs(v - ref[k])}
            if others:
                entry["spread"] = max(abs(o[fw][k] - v) for o in others)
            quantities[k] = entry
        out[fw] = {
            "quantities": quantities,
            "stage_noise": stage_noise(quantities),
            "variants": list(variants),
        }
    return out


# --- kernel variants: the same probe in a fresh process with the ISA capped ------------------


def _flags() -> set[str]:
    from .environment import _cpuinfo

    return set(_cpuinfo().get("flags", "").split())


def level_in_force(environ=None, flags: set[str] | None = None) -> str:
    """The ISA level the kernels run at here: the best level the CPU's flags allow, at most the
    cap an environment variable sets (``ONEDNN_MAX_CPU_ISA`` for oneDNN,
    ``ATEN_CPU_CAPABILITY`` for PyTorch's dispatch: the lower of the two counts)."""
    environ = os.environ if environ is None else environ
    flags = _flags() if flags is None else flags
    names = [name for name, _, _ in ISA_LEVELS]
    index = next((i for i, (_, flag, _) in enumerate(ISA_LEVELS) if flag in flags), len(names) - 1)
    onednn = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    if onednn.startswith("AVX2"):
        index = max(index, names.index("AVX2"))
    elif onednn and not onednn.startswith(("AVX512", "ALL")):
        index = max(index, names.index("AVX"))
    aten = (environ.get("ATEN_CPU_CAPABILITY") or "").lower()
    if aten == "avx2":
        index = max(index, names.index("AVX2"))
    elif aten == "default":
        index = max(index, names.index("AVX"))
    return names[index]


def variants_here(environ=None, flags: set[str] | None = None) -> tuple[str, ...]:
    """Every ISA level this CPU can run but the one in force, best first: where a baseline
    measures its spread. Levels above a cap count too (the probe runs uncapped there): a level's
    kernels can compute in another precision altogether (``docs/numerics.md``), which no other
    level predicts, so a baseline measures all it can."""
    flags = _flags() if flags is None else flags
    current = level_in_force(environ, flags)
    runs = [name for name, flag, _ in ISA_LEVELS if flag in flags]
    return tuple(name for name in (runs or [ISA_LEVELS[-1][0]]) if name != current)


def probe_variant(
    level: str,
    arch: str,
    arch_source: str,
    profile: Profile,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
) -> dict[str, dict[str, float]]:
    """Per framework, the float32 values of the probe run in a fresh process with the kernels
    capped to ISA ``level`` (``python -m harness.numerics --probe``)."""
    caps = next((caps for name, _, caps in ISA_LEVELS if name == level), None)
    if caps is None:
        raise ConfigError(
            f"kernel variant {level!r}: use one of {', '.join(n for n, _, _ in ISA_LEVELS)}"
        )
    env = {k: v for k, v in os.environ.items() if k not in CAP_VARIABLES}
    env.update(caps)
    env.pop("PYTEST_XDIST_WORKER", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    with tempfile.TemporaryDirectory(prefix="cw-numerics-") as tmp:
        job, out = Path(tmp) / "job.npz", Path(tmp) / "out.json"
        spec = {"arch": arch, "arch_source": arch_source, "num_classes": num_classes,
                "profile": dataclasses.asdict(profile)}  # fmt: skip
        np.savez(job, x=x, y=y, spec=json.dumps(spec))
        done = subprocess.run(
            [sys.executable, "-m", "harness.numerics", "--probe", str(job), str(out)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise HarnessError(
                f"{check_id(arch, arch_source)}: the probe with the kernels capped to {level} "
                f"({' '.join(f'{k}={v}' for k, v in caps.items())}) failed:\n  " + "\n  ".join(tail)
            )
        return json.loads(out.read_text())


def _probe_main(job: str, out: str) -> int:
    """The other end of ``probe_variant``: configure as the parent did, probe, write."""
    from .profiles import Profile
    from .runner import environment

    loaded = np.load(job)
    spec = json.loads(str(loaded["spec"]))
    fields = spec["profile"]
    profile = Profile(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    environment(profile)
    x, y = loaded["x"], loaded["y"]
    data = SimpleNamespace(x_train=x, num_classes=spec["num_classes"])
    measured = _values(spec["arch"], spec["arch_source"], profile, data, x, y, None, False)
    Path(out).write_text(json.dumps({fw: values for fw, (values, _) in measured.items()}))
    return 0


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


# --- judging -----------------------------------------------------------------------------


def scale_of(name: str, quantities: dict[str, dict]) -> float:
    """A quantity's magnitude: its own, or for a projection its tensor's norm."""
    base, _, summary = name.partition("#")
    if summary.startswith("p") and base in quantities:
        return abs(quantities[base]["value"])
    return abs(quantities[name]["value"])


def _measured_noise(entry: dict) -> float:
    return max(entry.get("noise") or 0.0, entry.get("spread") or 0.0)


def stage_scales(quantities: dict[str, dict]) -> dict[str, float]:
    """Per stage, the median scale of its quantities."""
    scales: dict[str, list[float]] = {}
    for name in quantities:
        scales.setdefault(stage_of(name), []).append(scale_of(name, quantities))
    return {stage: float(np.median(s)) for stage, s in scales.items()}


def stage_noise(quantities: dict[str, dict]) -> dict[str, float]:
    """Per stage, the median of max(noise, spread) / scale over its quantities that are not
    zero to within the stage (their scale at least ``TINY`` times the stage's median)."""
    scales = stage_scales(quantities)
    relative: dict[str, list[float]] = {stage: [] for stage in scales}
    for name, e in quantities.items():
        stage, scale = stage_of(name), scale_of(name, quantities)
        if scale > 0 and scale >= TINY * scales[stage]:
            relative[stage].append(_measured_noise(e) / scale)
    return {stage: float(np.median(r)) if r else 0.0 for stage, r in relative.items()}


def allowance(name: str, quantities: dict, levels: dict, scales: dict) -> float:
    """How far a rerun may move quantity ``name`` of a baseline's ``quantities`` (absolute):
    MULTIPLIER times its own measured noise (at least float32's rounding of its scale); a
    quantity zero to within its stage, times its stage's level on the stage's scale."""
    stage, entry = stage_of(name), quantities[name]
    level, scale = levels.get(stage, 0.0), scale_of(name, quantities)
    if scale < TINY * scales.get(stage, 0.0):  # zero to within its stage
        return MULTIPLIER * max(_measured_noise(entry), level * TINY * scales[stage])
    return MULTIPLIER * max(_measured_noise(entry), UNIT_ROUNDOFF * scale)


def _allowances(block: dict) -> dict[str, float]:
    """Every quantity's allowance of one framework's baseline block (absolute)."""
    quantities = block["quantities"]
    levels = block.get("stage_noise") or stage_noise(quantities)
    scales = stage_scales(quantities)
    return {name: allowance(name, quantities, levels, scales) for name in quantities}


def compare(baseline: dict, now: dict) -> dict[str, list[dict]]:
    """{framework: the quantities outside their allowance, in stage order}: each as
    {quantity, then, now, moved, allowed (both relative to the quantity's scale), noise,
    spread}. A quantity present on one side only (a layer added or removed, renamed) is
    reported too, with ``then`` or ``now`` None."""
    out: dict[str, list[dict]] = {}
    for framework, then in baseline.items():
        then_q, limits = then["quantities"], _allowances(then)
        now_q = now.get(framework, {}).get("quantities", {})
        bad = []
        for name in sorted(set(then_q) | set(now_q), key=lambda n: (_stage_index(n), n)):
            a, b = then_q.get(name), now_q.get(name)
            if a is None or b is None:
                bad.append({"quantity": name, "then": a and a["value"], "now": b and b["value"]})
                continue
            moved = abs(b["value"] - a["value"])
            if not moved <= limits[name]:  # NaN fails too
                scale = scale_of(name, then_q) or stage_scales(then_q).get(stage_of(name)) or 1.0
                bad.append(
                    {
                        "quantity": name,
                        "then": a["value"],
                        "now": b["value"],
                        "moved": moved / scale,
                        "allowed": limits[name] / scale,
                        "noise": a.get("noise"),
                        "spread": a.get("spread"),
                    }
                )
        if bad:
            out[framework] = bad
    return out


def closest(baseline: dict, now: dict) -> dict[str, dict]:
    """{framework: {stage: (quantity, moved / allowed)}}: per stage the quantity that came
    closest to its allowance (the largest ratio; 0 where nothing moved)."""
    out: dict[str, dict] = {}
    for framework, then in baseline.items():
        limits = _allowances(then)
        now_q = now.get(framework, {}).get("quantities", {})
        worst: dict[str, tuple[str, float]] = {}
        for name, a in then["quantities"].items():
            if name not in now_q:
                continue
            moved, limit = abs(now_q[name]["value"] - a["value"]), limits[name]
            ratio = moved / limit if limit > 0 else (0.0 if moved == 0 else float("inf"))
            stage = stage_of(name)
            if stage not in worst or ratio > worst[stage][1]:
                worst[stage] = (name, ratio)
        out[framework] = worst
    return out


def _where(quantity: str) -> str:
    stage = stage_of(quantity)
    rest = quantity[len(stage) :].lstrip("/")
    tensor, _, summary = rest.partition("#")
    if not tensor and summary:  # output#p0
        tensor, summary = "", summary
    what = {"": "", "p0": " (projection 0)", "p1": " (projection 1)", "max": " (largest |x|)",
            "nograd": " (elements without gradient)"}.get(summary, f" ({summary})")  # fmt: skip
    return (f"{stage} of {tensor}" if tensor else stage) + what


def describe(framework: str, bad: list[dict], shown: int = 4) -> str:
    """One failure message for a framework: which layers and quantities moved, first stage
    first; one line per tensor (its first quantity out of its allowance), ``shown`` tensors."""
    firsts: dict[str, dict] = {}
    for b in bad:
        firsts.setdefault(b["quantity"].split("#")[0], b)
    lines = []
    for b in list(firsts.values())[:shown]:
        where = _where(b["quantity"])
        if b["then"] is None or b["now"] is None:
            what = "added" if b["then"] is None else "removed"
            lines.append(f"{where}: {what} (the model's layers changed)")
            continue
        lines.append(
            f"{where}: {b['then']:.9g} -> {b['now']:.9g} (moved {b['moved']:.2e} of its scale, "
            f"allowed {b['allowed']:.2e}: {MULTIPLIER:g} x its measured float32 noise)"
        )
    rest = len(firsts) - min(shown, len(firsts))
    more = f"; and {rest} more tensors" if rest else ""
    stages = sorted({stage_of(b["quantity"]) for b in bad}, key=STAGES.index)
    return (
        f"{framework} numerics changed in {', '.join(stages)} (first: {bad[0]['quantity']}; "
        f"{len(bad)} quantities of {len(firsts)} tensors):\n    " + "\n    ".join(lines) + more
    )


def build_record(
    arch: str, arch_source: str, profile: Profile, data: Dataset, measured: dict, env: dict
) -> dict:
    """The baseline record of one numerics check (schema: ``resources/numerics.schema.json``)."""
    from .baselines import SCHEMA_VERSIONS
    from .runner import profile_block

    return {
        "schema_version": SCHEMA_VERSIONS["numerics"],
        "kind": "numerics",
        "check": {
            "id": check_id(arch, arch_source),
            "arch": arch,
            "arch_source": arch_source,
            "width": profile.mirror_width if arch_source == "mirror" else None,
            "batch_size": BATCH,
            "optimizer": {**OPTIMIZER, "steps": STEPS},
            "gradient_seed": GRADIENT_SEED,
            "gradient_decades": list(GRADIENT_DECADES),
            "no_gradient_share": NO_GRADIENT_SHARE,
            "projections": PROJECTIONS,
            "logit_scale": LOGIT_SCALE,
            "multiplier": MULTIPLIER,
            "tiny": TINY,
        },
        "profile": profile_block(profile),
        "data": data.subset(profile.train_subset, profile.test_subset).describe(),
        "environment": env,
        "frameworks": measured,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="internal: a numerics probe in this process")
    parser.add_argument("--probe", nargs=2, metavar=("JOB", "OUT"), required=True)
    args = parser.parse_args(argv)
    return _probe_main(*args.probe)


if __name__ == "__main__":
    sys.exit(main())
