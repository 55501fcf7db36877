"""The catalogue of framework changes (``harness/changes.py``): each patch really changes the
op it targets (or, for a change that must not be seen, leaves it within float32 rounding), and
exiting it puts the framework back bit for bit; the catalogue's fields are valid.

Each change is checked on a small probe of the op it targets (an Adam step on two small
parameters, a loss on 8x10 logits, one tiny layer), never on a model: a few milliseconds each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from harness import changes
from harness.errors import ConfigError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")  # before TensorFlow: the other order crashes on import
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

NULL_TOLERANCE = 1e-6  # relative L2: float32 rounding, a few ulps
CHANGED = 1e-5  # relative L2 a real change must move its probe by, at least


def _flat(*arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def _grads(rng, shape):
    g = rng.standard_normal(shape)
    g[rng.random(shape) < 0.3] = 0.0  # some exactly zero, as the numerics check feeds
    return g.astype(np.float32)


# --- probes: one per op a change targets -----------------------------------------------------


def t_adam():
    """Three steps at the numerics check's epsilon (0.5) and at a small one (1e-8), from small
    weights, so that the update dominates the result."""
    out = []
    for eps in (0.5, 1e-8):
        torch.manual_seed(0)
        params = [
            torch.nn.Parameter(0.01 * torch.randn(6, 5)),
            torch.nn.Parameter(0.01 * torch.randn(7)),
        ]
        optimizer = torch.optim.Adam(params, lr=0.1, eps=eps)  # as make_optimizer calls it
        rng = np.random.default_rng(1)
        for _ in range(3):
            for p in params:
                p.grad = torch.from_numpy(_grads(rng, tuple(p.shape)))
            optimizer.step()
        out += [p.detach() for p in params]
    return _flat(*out)


def t_ce():
    torch.manual_seed(0)
    logits = (torch.randn(8, 10) * 2).requires_grad_(True)
    loss = torch.nn.CrossEntropyLoss()(logits, torch.arange(8) % 10)
    loss.backward()
    return _flat(loss.detach(), logits.grad)


def t_linear():
    torch.manual_seed(0)
    hidden, head = torch.nn.Linear(6, 5), torch.nn.Linear(5, 4)
    x = torch.randn(3, 6)
    out = head(torch.nn.functional.relu(hidden(x)))
    (out * torch.arange(4.0)).sum().backward()
    return _flat(out.detach(), head.weight.grad, head.bias.grad, hidden.weight.grad)


def t_linear_init():
    torch.manual_seed(0)
    layer = torch.nn.Linear(20, 10)
    return _flat(layer.weight.detach(), layer.bias.detach())


def t_conv():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 6, 6).requires_grad_(True)
    out = conv(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return _flat(out.detach(), conv.weight.grad, x.grad)


def t_init():
    torch.manual_seed(0)
    stem = torch.nn.Conv2d(3, 8, 3)
    torch.nn.init.kaiming_normal_(stem.weight, mode="fan_out", nonlinearity="relu")  # ResNet's
    inner = torch.empty(8, 16, 3, 3)
    torch.nn.init.kaiming_normal_(inner)  # DenseNet's: the default mode
    return _flat(stem.weight.detach(), inner)


def t_bn():
    """Training and eval forward of a default BatchNorm2d (as torchvision builds it) on a batch
    of small variance (where epsilon shows) and on a tiny batch of large variance (where the
    running variance's n / (n - 1) shows)."""
    out = []
    for scale, shape in ((0.01, (6, 4, 5, 5)), (3.0, (2, 4, 2, 2))):
        torch.manual_seed(0)
        bn = torch.nn.BatchNorm2d(4)
        x = (scale * torch.randn(*shape) + 0.003).requires_grad_(True)
        bn.train()
        y = bn(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        bn.eval()
        with torch.no_grad():
            ev = bn(x)
        out += [y.detach(), x.grad, bn.running_mean, bn.running_var, ev]
    return _flat(*out)


def t_relu():
    x = torch.tensor([[-2.0, -0.5, 0.0, 0.0, 0.5, 2.0]]).requires_grad_(True)
    a = torch.nn.ReLU(inplace=True)(x * 1.0)  # torchvision's modules
    b = torch.nn.functional.relu(x)  # DenseNet's and the mirror's functional calls
    (a * torch.arange(6.0) + b).sum().backward()
    return _flat(a.detach(), b.detach(), x.grad)


def t_maxpool():
    torch.manual_seed(0)
    return _flat(torch.nn.MaxPool2d(3, 2, 1)(torch.randn(2, 3, 8, 8)))


def t_avgpool():
    torch.manual_seed(0)
    return _flat(torch.nn.AvgPool2d(2, 2)(torch.randn(2, 3, 8, 8)))  # DenseNet's transitions


def t_adaptive():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 4)
    f = torch.nn.functional.adaptive_avg_pool2d(x, (1, 1))
    return _flat(torch.nn.AdaptiveAvgPool2d((1, 1))(x), f)


def _images():
    return np.arange(256, dtype=np.uint8).reshape(1, 8, 8, 4)


def t_data():
    from harness.adapters import pytorch

    pytorch.import_framework()
    return _flat(pytorch._to_tensor(_images()))


def k_adam():
    """As ``t_adam``, with Keras' Adam."""
    out = []
    for eps in (0.5, 1e-8):
        rng = np.random.default_rng(0)
        variables = [
            keras.Variable((0.01 * rng.standard_normal((6, 5))).astype(np.float32)),
            keras.Variable((0.01 * rng.standard_normal(7)).astype(np.float32)),
        ]
        optimizer = keras.optimizers.Adam(learning_rate=0.1, epsilon=eps)  # as make_optimizer
        rng = np.random.default_rng(1)
        for _ in range(3):
            optimizer.apply_gradients(
                [(tf.constant(_grads(rng, tuple(v.shape))), v) for v in variables]
            )
        out += [v.numpy() for v in variables]
    return _flat(*out)


def k_scce():
    rng = np.random.default_rng(0)
    logits = tf.constant((2 * rng.standard_normal((8, 10))).astype(np.float32))
    y = np.arange(8) % 10
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        on_logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
        probabilities = keras.activations.softmax(logits)  # a zoo head's output
        on_probs = keras.losses.SparseCategoricalCrossentropy()(y, probabilities)
    g1, g2 = tape.gradient(on_logits, logits), tape.gradient(on_probs, logits)
    return _flat(on_logits, on_probs, g1, g2)


def k_dense():
    keras.utils.set_random_seed(0)
    hidden, head = keras.layers.Dense(5, activation="relu"), keras.layers.Dense(4)
    x = tf.constant(np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32))
    with tf.GradientTape() as tape:
        out = head(hidden(x))
        s = tf.reduce_sum(out * tf.range(4.0))
    weights = [head.kernel, head.bias, hidden.kernel]
    return _flat(out, *tape.gradient(s, weights))


def k_conv():
    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(4, 3, padding="same")
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = conv(x)
        s = tf.reduce_sum(out * tf.reshape(tf.linspace(-1.0, 1.0, 2 * 6 * 6 * 4), out.shape))
    gk, gx = tape.gradient(s, [conv.kernel, x])
    return _flat(out, gk, gx)


def k_init():
    keras.utils.set_random_seed(0)
    stem, inner, dense = keras.layers.Conv2D(8, 3), keras.layers.Conv2D(8, 3), keras.layers.Dense(5)
    stem.build((None, 8, 8, 3))
    inner.build((None, 8, 8, 16))
    dense.build((None, 7))
    return _flat(stem.kernel.numpy(), inner.kernel.numpy(), dense.kernel.numpy())


def k_bn():
    """As ``t_bn``, with BatchNormalization as keras.applications builds it."""
    out = []
    for scale, shape in ((0.01, (6, 5, 5, 4)), (3.0, (2, 2, 2, 4))):
        keras.utils.set_random_seed(0)
        bn = keras.layers.BatchNormalization(axis=-1, epsilon=1.001e-5)
        rng = np.random.default_rng(0)
        x = tf.constant((scale * rng.standard_normal(shape) + 0.003).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = bn(x, training=True)
            s = tf.reduce_sum(y * tf.reshape(tf.linspace(-1.0, 1.0, int(np.prod(shape))), shape))
        gx = tape.gradient(s, x)
        ev = bn(x, training=False)
        out += [y, gx, bn.moving_mean.numpy(), bn.moving_variance.numpy(), ev]
    return _flat(*out)


def k_relu():
    x = tf.constant([[-2.0, -0.5, 0.0, 0.0, 0.5, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = keras.layers.ReLU()(x)  # the mirror's
        b = keras.layers.Activation("relu")(x)  # keras.applications'
        s = tf.reduce_sum(a * tf.range(6.0) + b)
    return _flat(a, b, tape.gradient(s, x))


def k_gap():
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 4, 4, 5)).astype(np.float32))
    return _flat(keras.layers.GlobalAveragePooling2D()(x))


def k_data():
    from harness.adapters import tensorflow

    tensorflow.import_framework()
    return _flat(tensorflow._to_array(_images()))


PROBES = (  # name prefix -> the probe of the op those changes target (first match wins)
    ("torch-adam-", t_adam),
    ("torch-ce-", t_ce),
    ("torch-head-", t_linear),
    ("torch-linear-as-", t_linear),
    ("torch-linear-init", t_linear_init),
    ("torch-stem-", t_init),
    ("torch-kaiming-", t_init),
    ("torch-conv-", t_conv),
    ("torch-bn-", t_bn),
    ("torch-relu-", t_relu),
    ("torch-maxpool-", t_maxpool),
    ("torch-avgpool-", t_avgpool),
    ("torch-adaptive-", t_adaptive),
    ("torch-data-", t_data),
    ("keras-adam-", k_adam),
    ("keras-scce-", k_scce),
    ("keras-head-", k_dense),
    ("keras-dense-", k_dense),
    ("keras-stem-", k_init),
    ("keras-glorot-", k_init),
    ("keras-conv-", k_conv),
    ("keras-bn-", k_bn),
    ("keras-relu-", k_relu),
    ("keras-gap-", k_gap),
    ("keras-data-", k_data),
)


def probe_of(change):
    for prefix, probe in PROBES:
        if change.name.startswith(prefix):
            return probe
    raise AssertionError(f"{change.name} has no probe: add one to PROBES")


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def _watched():
    """Every object a patch may change, by a readable name."""
    import importlib

    from harness.adapters import pytorch, tensorflow

    pytorch.import_framework()  # sets the adapters' module globals torch, tf, keras
    tensorflow.import_framework()
    return {
        "torch.optim": torch.optim,
        "torch.optim.adam": importlib.import_module("torch.optim.adam"),
        "torch.nn": torch.nn,
        "torch.nn.functional": torch.nn.functional,
        "torch.nn.init": torch.nn.init,
        "torch.nn.Linear": torch.nn.Linear,
        "torch.nn.BatchNorm2d": torch.nn.BatchNorm2d,
        "keras.optimizers": keras.optimizers,
        "keras.losses.SparseCategoricalCrossentropy": keras.losses.SparseCategoricalCrossentropy,
        "keras.layers.Dense": keras.layers.Dense,
        "keras.layers.Conv2D": keras.layers.Conv2D,
        "keras.layers.BatchNormalization": keras.layers.BatchNormalization,
        "keras.layers.GlobalAveragePooling2D": keras.layers.GlobalAveragePooling2D,
        "keras.initializers.GlorotUniform": keras.initializers.GlorotUniform,
        "keras backend nn": importlib.import_module("keras.src.backend").nn,
        "harness.adapters.pytorch": pytorch,
        "harness.adapters.tensorflow": tensorflow,
    }


IGNORED = {"__annotations__"}  # created on a class when first read (Python 3.11)


def _snapshot() -> dict:
    return {
        name: {k: v for k, v in vars(owner).items() if k not in IGNORED}
        for name, owner in _watched().items()
    }


def _differences(before: dict, now: dict) -> list[str]:
    out = []
    for name, attributes in before.items():
        current = now[name]
        for key in set(attributes) | set(current):
            if attributes.get(key, changes._MISSING) is not current.get(key, changes._MISSING):
                out.append(f"{name}.{key}")
    return sorted(out)


# --- the catalogue -----------------------------------------------------------------------------


def test_the_catalogue_has_at_least_45_changes_and_5_that_must_not_be_seen():
    assert len(changes.CHANGES) >= 45
    assert sum(1 for c in changes.CHANGES if c.stages == ()) >= 5
    assert sum(1 for c in changes.CHANGES if c.kind == "null") >= 5
    assert {c.framework for c in changes.CHANGES} == set(changes.FRAMEWORKS)


def test_names_are_unique_kebab_case_and_name_their_framework():
    names = [c.name for c in changes.CHANGES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    prefix = {"pytorch": "torch-", "tensorflow": "keras-"}
    for c in changes.CHANGES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9.]+)+", c.name), c.name
        assert c.name.startswith(prefix[c.framework]), c.name


@pytest.mark.parametrize("change", changes.CHANGES, ids=lambda c: c.name)
def test_every_field_is_valid(change):
    assert change.framework in changes.FRAMEWORKS
    assert change.kind in changes.KINDS
    d = change.description
    assert d and d.endswith(".") and "\n" not in d, d
    assert change.source.startswith(("http", "synthetic: ")) or "/" in change.source
    assert change.source.strip() == change.source and len(change.source) > 10
    assert isinstance(change.stages, tuple) and set(change.stages) <= set(changes.STAGES)
    assert len(set(change.stages)) == len(change.stages)
    if change.kind == "null":
        assert change.stages == ()
    assert change.archs and set(change.archs) <= set(changes.ARCHS)
    assert change.sources and set(change.sources) <= set(changes.SOURCES)
    if change.kind == "batchnorm" or "-bn-" in change.name:
        assert "vgg16" not in change.archs, "VGG16 has no batch norm in either source"
    assert callable(change.patch)
    probe_of(change)


def test_get_finds_a_change_and_refuses_a_bad_name_listing_the_valid_ones():
    first = changes.CHANGES[0]
    assert changes.get(first.name) is first
    with pytest.raises(ConfigError) as excinfo:
        changes.get("torch-adam-beta1-minus-0.002")
    message = str(excinfo.value)
    assert "torch-adam-beta1-minus-0.002" in message
    assert all(c.name in message for c in changes.CHANGES)


def test_the_module_imports_without_the_frameworks():
    code = (
        "import sys\n"
        "for m in ('torch', 'tensorflow', 'keras', 'torchvision'): sys.modules[m] = None\n"
        "import harness.changes as c\n"
        "assert len(c.CHANGES) >= 45\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())


# --- the patches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("change", changes.CHANGES, ids=lambda c: c.name)
def test_the_patch_changes_its_op_and_reverts_bit_for_bit(change):
    probe = probe_of(change)
    before_attributes = _snapshot()
    before = probe()
    with change.patch():
        replaced = _differences(before_attributes, _snapshot())
        during = probe()
    after = probe()
    assert replaced, f"{change.name} replaced nothing that the harness uses"
    assert _differences(before_attributes, _snapshot()) == []
    assert np.array_equal(before, after), f"{change.name}: not the same bits after exit"
    moved = _relative(before, during)
    if change.stages:
        assert moved > CHANGED, f"{change.name} moved its probe by only {moved:.2e}"
    else:
        assert moved <= NULL_TOLERANCE, f"{change.name} (must not be seen) moved {moved:.2e}"


@pytest.mark.parametrize("change", changes.CHANGES, ids=lambda c: c.name)
def test_the_patch_reverts_when_the_body_raises(change):
    before = _snapshot()
    with pytest.raises(RuntimeError, match="inside"):
        with change.patch():
            raise RuntimeError("inside")
    assert _differences(before, _snapshot()) == []


def test_the_variant_adam_steps_match_the_frameworks_own_when_unchanged():
    """The optimizer changes that rewrite Adam's update (epsilon placement, bias correction)
    differ from the framework's own in that one respect only: unchanged, they are bit-identical."""
    torch_own, keras_own = t_adam(), k_adam()
    with changes._torch_adam(step=changes._adam_variant_step())():
        assert np.array_equal(t_adam(), torch_own)
    with changes._keras_adam(update_step=changes._keras_adam_update_step())():
        assert np.array_equal(k_adam(), keras_own)


def test_the_rounding_helpers_round_to_nearest_even_as_bfloat16_does():
    x = torch.randn(1000, dtype=torch.float32) * 100
    expected = x.to(torch.bfloat16).to(torch.float32)
    assert torch.equal(changes._torch_round_mantissa(x, 7), expected)
    t = changes._tf_round_mantissa(tf.constant(x.numpy()), 7)
    assert np.array_equal(t.numpy(), expected.numpy())
    tf32 = changes._torch_round_mantissa(x, 10)
    assert torch.equal(tf32.view(torch.int32) & 0x1FFF, torch.zeros(1000, dtype=torch.int32))
    assert float((tf32 - x).abs().max() / x.abs().max()) < 2.0**-10


@pytest.mark.parametrize(
    ("name", "probe", "stem_size"),
    [
        ("torch-stem-conv-init-perturbed-1e-3", t_init, 8 * 3 * 3 * 3),
        ("keras-stem-conv-init-perturbed-1e-3", k_init, 3 * 3 * 3 * 8),
    ],
)
def test_the_stem_perturbation_changes_the_first_conv_only_by_1e_3(name, probe, stem_size):
    """Only the conv with 3 input channels moves, each weight by 1e-3 relative, and the
    framework's random stream is untouched (the layers built after it draw the same)."""
    before = probe()
    with changes.get(name).patch():
        during = probe()
    ratio = during[:stem_size] / before[:stem_size]
    assert np.allclose(np.abs(ratio - 1.0), 1e-3, rtol=1e-3)
    assert np.array_equal(during[stem_size:], before[stem_size:])


def test_a_call_time_patch_acts_on_layers_built_before_it():
    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 2)
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    x = np.ones((1, 3), np.float32)

    def grads():
        linear.zero_grad()
        linear(torch.from_numpy(x)).sum().backward()
        with tf.GradientTape() as tape:
            s = tf.reduce_sum(dense(x))
        return linear.weight.grad.numpy().copy(), tape.gradient(s, dense.kernel).numpy()

    torch_before, keras_before = grads()
    with changes.get("torch-head-weight-grad-times-1.01").patch():
        with changes.get("keras-head-kernel-grad-times-1.01").patch():
            torch_now, keras_now = grads()
    assert np.allclose(torch_now, 1.01 * torch_before, rtol=1e-6)
    assert np.allclose(keras_now, 1.01 * keras_before, rtol=1e-6)
