"""Aligned means aligned: a mirror model trained in aligned mode follows the same trajectory in
PyTorch and in TensorFlow, as far as float32 allows.

Each architecture (width 0.125) trains one epoch in aligned mode in both frameworks from the
same initial weights, through the adapters' own ``train``: VGG16 24 steps of 16 images,
ResNet50 and DenseNet121 12 steps of 64 (``REGIME``; why fewer steps, below).
A third run, the same PyTorch model in float64, measures what float32 rounding alone does to
the trajectory. The test asserts, for weights and for inference-mode logits on held-out images:

    distance(PyTorch, TensorFlow) <= max(ABSOLUTE, RATIO * distance(PyTorch float32, float64))

where a distance is ``||a - b|| / ||a - start||``: for weights, how differently the two moved
relative to how far they moved; for logits, relative to their size. It also asserts that the
two accuracies differ by no more than float32 moves PyTorch's own (or one test image).

Why the float64 reference and not one fixed number (measured, see the README "aligned mode"):
VGG16 has no batch norm and its trajectories stay within 1e-5 of each other; ResNet50 and
DenseNet121 normalise with batch statistics, and in training mode they amplify a relative
weight perturbation of 1e-6 into logit changes of 3e-4 (ResNet50) and 5e-5 (DenseNet121), so
float32 rounding alone moves their trajectories within a few steps: PyTorch float32 against
PyTorch float64 drifts as far as PyTorch against TensorFlow (after 24 steps of 16 images their
inference logits are as far apart as they are large, in both comparisons). Batches of 64 and 12
steps keep float32 able to follow the trajectory, so the check still has teeth: a knob left at
its native values shows as a distance many times the float32 one (the last test).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness import knobs, mirror
from harness.data import load_digits32
from harness.judge import accuracy

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does

WIDTH, TEST = 0.125, 200
REGIME = {"vgg16": (384, 16), "resnet50": (768, 64), "densenet121": (768, 64)}  # images, batch
ABSOLUTE = 1e-4  # float32 over 24 steps where nothing amplifies rounding (VGG16: about 1e-6)
RATIO = 4.0


@pytest.fixture(scope="module")
def digits():
    return load_digits32()


def distance(a: np.ndarray, b: np.ndarray, start: np.ndarray | None = None) -> float:
    """||a - b|| / ||a - start||: how far apart two results are, relative to how far the first
    moved from ``start`` (the initial weights; zero for logits)."""
    start = 0.0 if start is None else start
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a - start), 1e-30))


def flat(weights: dict) -> np.ndarray:
    return np.concatenate([weights[k].ravel() for k in sorted(weights)])


def train_three(arch: str, digits, setting: dict, adam_epsilon: float):
    """(PyTorch float32, TensorFlow float32, PyTorch float64): weights, logits, accuracy."""
    images, batch = REGIME[arch]
    data = digits.subset(images, TEST)
    spec = mirror.spec(arch, 10, WIDTH)
    hp = {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": batch, "epochs": 1}
    hp["adam_epsilon"] = adam_epsilon
    pt.seed(0)
    model_pt = pt.build_mirror(spec, setting["pytorch"], "cpu")
    start = pt.get_mirror_weights(model_pt)
    model_64 = copy.deepcopy(model_pt).double()
    tf.seed(0)
    model_tf = tf.build_mirror(spec, setting["tensorflow"], "cpu")
    if setting["tensorflow"]["init"] == "shared":
        tf.set_mirror_weights(model_tf, start)
    out = {}
    for name, adapter, model in (
        ("pt", pt, model_pt),
        ("tf", tf, model_tf),
        ("pt64", pt, model_64),
    ):
        fw = "tensorflow" if name == "tf" else "pytorch"
        adapter.train(model, data.x_train, data.y_train, hp, 1, setting=setting[fw])
        logits = adapter.forward(model, data.x_test, training=False)
        out[name] = {
            "weights": flat(adapter.get_mirror_weights(model)).astype(np.float64),
            "start": flat(start).astype(np.float64),
            "logits": logits,
            "accuracy": accuracy(logits.argmax(1), data.y_test),
        }
    return out


# DenseNet121 (about a minute of a core) is the main-branch job's (`heavy`); the other two run
# on every push.
@pytest.mark.parametrize(
    "arch", ["vgg16", "resnet50", pytest.param("densenet121", marks=pytest.mark.heavy)]
)
def test_aligned_training_agrees_within_float32(arch, digits):
    runs = train_three(arch, digits, knobs.settings("aligned"), adam_epsilon=1e-3)
    pt32, tf32, pt64 = runs["pt"], runs["tf"], runs["pt64"]
    for what in ("weights", "logits"):
        start = pt32["start"] if what == "weights" else None
        cross = distance(pt32[what], tf32[what], start)
        noise = distance(pt64[what], pt32[what], start)
        print(f"{arch} {what}: PyTorch-TensorFlow {cross:.2e}, float32-float64 {noise:.2e}")
        assert cross <= max(ABSOLUTE, RATIO * noise), (
            f"{arch} {what}: the frameworks are {cross:.2e} apart, float32 rounding alone "
            f"{noise:.2e}: a knob is not aligned"
        )
    # Accuracies on the test images: equal where float32 does not move predictions; else no
    # further apart than float32 rounding moves PyTorch's own accuracy (plus one image).
    allowed = max(RATIO * abs(pt64["accuracy"] - pt32["accuracy"]), 1 / TEST) + 1e-12
    assert abs(pt32["accuracy"] - tf32["accuracy"]) <= allowed
    if arch == "vgg16":  # nothing amplifies rounding: agreement to the letter
        assert distance(pt32["logits"], tf32["logits"]) <= ABSOLUTE
        assert pt32["accuracy"] == tf32["accuracy"]


@pytest.mark.parametrize(
    "arch, knob, adam_epsilon, what",
    [("vgg16", "adam_epsilon", 0.5, "weights"), ("densenet121", "bn_momentum", 1e-3, "logits")],
)
def test_one_knob_left_native_is_caught(arch, knob, adam_epsilon, what, digits):
    """The check above has teeth: with one knob back at its native values (VGG16: PyTorch's
    eps against Keras' eps-hat at a large epsilon; DenseNet121: batch-norm momentum 0.1 against
    0.01, seen in inference-mode logits) the distance is far outside it."""
    setting = knobs.with_knob(knobs.settings("aligned"), knob, "native")
    runs = train_three(arch, digits, setting, adam_epsilon)
    start = runs["pt"]["start"] if what == "weights" else None
    cross = distance(runs["pt"][what], runs["tf"][what], start)
    noise = distance(runs["pt64"][what], runs["pt"][what], start)
    assert cross > 3 * max(ABSOLUTE, RATIO * noise), f"{cross:.2e} vs noise {noise:.2e}"
