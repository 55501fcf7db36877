"""Mirror-native is each framework's zoo model (issue 16).

For every architecture at width 1.0, the native PyTorch mirror (``knobs.settings("native",
arch)``) is checked against torchvision's model as the harness builds it, and the native Keras
mirror against keras.applications': the same weighted layers in the same order with the same
shapes and hyperparameters, the same parameter count, initial weights drawn from the same
distributions (per-layer mean and standard deviation within sampling error), and, with the zoo
model's weights copied in, the same outputs in inference mode. A mirror that passes explains
the zoo case, not a cousin of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import knobs, mirror

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does
torch, keras = pt.torch, tf.keras

ARCHS = ("vgg16", "resnet50", "densenet121")
SHAPE = (32, 32, 3)  # the smoke and full profiles' input
CLASSES = 10
# Keras names the mirror's stem conv and DenseNet's last batch norm its own way.
KERAS_NAMES = {"conv1": "conv1_conv", "final_bn": "bn"}


def images(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8)


def same_distribution(zoo: np.ndarray, ours: np.ndarray, what: str) -> None:
    """Two independent draws of one initializer: equal when constant, else mean and standard
    deviation within sampling error (six standard errors; the std's relative error is about
    1/sqrt(2n))."""
    zoo, ours = zoo.astype(np.float64).ravel(), ours.astype(np.float64).ravel()
    if zoo.std() == 0:
        np.testing.assert_array_equal(ours, zoo, err_msg=f"{what}: constant init differs")
        return
    n = zoo.size
    assert ours.std() == pytest.approx(zoo.std(), rel=6 / np.sqrt(2 * n)), what
    assert abs(ours.mean() - zoo.mean()) <= 6 * zoo.std() / np.sqrt(n), what


# --- PyTorch: torchvision -------------------------------------------------------------------


def torch_layers(modules) -> list:
    kinds = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)
    return [m for m in modules if isinstance(m, kinds)]


def torch_signature(m) -> tuple:
    if isinstance(m, torch.nn.Conv2d):
        return ("conv", tuple(m.weight.shape), m.stride, m.padding, m.bias is not None)
    if isinstance(m, torch.nn.BatchNorm2d):
        return ("bn", m.num_features, m.eps, m.momentum)
    return ("dense", tuple(m.weight.shape), m.bias is not None)


@pytest.mark.parametrize("arch", ARCHS)
def test_native_pytorch_mirror_is_torchvisions_model(arch):
    pt.seed(0)
    zoo = pt.build_zoo(arch, CLASSES, SHAPE, "cpu")
    pt.seed(1)
    ours = pt.build_mirror(
        mirror.spec(arch, CLASSES, 1.0, SHAPE), knobs.settings("native", arch)["pytorch"], "cpu"
    )
    zl, ol = torch_layers(zoo.modules()), torch_layers(ours.layers.values())
    assert [torch_signature(m) for m in ol] == [torch_signature(m) for m in zl]
    count = sum(p.numel() for p in zoo.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert [type(m).__name__ for m in ours.modules() if isinstance(m, torch.nn.Dropout)] == [
        type(m).__name__ for m in zoo.modules() if isinstance(m, torch.nn.Dropout)
    ]
    for i, (z, o) in enumerate(zip(zl, ol, strict=True)):
        for name, tensor in z.named_parameters(recurse=False):
            same_distribution(
                tensor.detach().numpy(), getattr(o, name).detach().numpy(), f"{arch} #{i} {name}"
            )
    # The zoo's weights copied in, layer by layer: the same function.
    with torch.no_grad():
        for z, o in zip(zl, ol, strict=True):
            for name, tensor in [
                *z.named_parameters(recurse=False),
                *z.named_buffers(recurse=False),
            ]:
                getattr(o, name).copy_(tensor)
    x = images()
    np.testing.assert_allclose(
        pt.forward(ours, x, training=False),
        pt.forward(zoo, x, training=False),
        rtol=1e-4,
        atol=1e-5,
    )


# --- Keras: keras.applications ----------------------------------------------------------------


def keras_layers(model) -> dict:
    kinds = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense)
    return {layer.name: layer for layer in model.layers if isinstance(layer, kinds)}


def keras_signature(layer) -> tuple:
    if isinstance(layer, keras.layers.Conv2D):
        return ("conv", tuple(layer.kernel.shape), tuple(layer.strides), layer.use_bias)
    if isinstance(layer, keras.layers.BatchNormalization):
        return ("bn", layer.epsilon, layer.momentum)
    return ("dense", tuple(layer.kernel.shape), layer.use_bias)


@pytest.mark.parametrize("arch", ARCHS)
def test_native_keras_mirror_is_keras_applications_model(arch):
    tf.seed(0)
    zoo = tf.build_zoo(arch, CLASSES, SHAPE, "cpu")
    zl = keras_layers(zoo)
    tf.seed(1)
    ours = tf.build_mirror(
        mirror.spec(arch, CLASSES, 1.0, SHAPE), knobs.settings("native", arch)["tensorflow"], "cpu"
    )
    ol = {KERAS_NAMES.get(name, name): layer for name, layer in keras_layers(ours).items()}
    assert sorted(ol) == sorted(zl)
    for name, layer in ol.items():
        assert keras_signature(layer) == keras_signature(zl[name]), name
    assert ours.count_params() == zoo.count_params()
    dropouts = [layer.rate for layer in ours.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == [
        layer.rate for layer in zoo.layers if isinstance(layer, keras.layers.Dropout)
    ]
    assert isinstance(ours.layers[-1], keras.layers.Softmax)  # the zoo's softmax head
    for name, layer in ol.items():
        for z, o in zip(zl[name].weights, layer.weights, strict=True):
            same_distribution(np.asarray(z.numpy()), np.asarray(o.numpy()), f"{arch} {z.path}")
    for name, layer in ol.items():
        layer.set_weights(zl[name].get_weights())
    x = images()
    np.testing.assert_allclose(
        tf.forward(ours, x, training=False),
        tf.forward(zoo, x, training=False),
        rtol=1e-4,
        atol=1e-6,
    )


def test_aligned_mode_takes_the_description_on_both_sides():
    """The structural knobs' aligned values rebuild nothing: aligned mirrors are the
    description (torchvision's structure), identical in both frameworks."""
    aligned = knobs.settings("aligned")
    for arch in ARCHS:
        spec = mirror.spec(arch, CLASSES, 0.25, SHAPE)
        for fw in ("pytorch", "tensorflow"):
            assert mirror.structured(spec, aligned[fw]) is spec
