"""Every knob's framework values, pinned against the installed frameworks.

``harness/knobs.py`` states each framework's default; these tests check the statements against
torch and Keras as installed, so an upgrade that changes a default fails here by name. They also
check that the adapters' implementations of the other side's value (PyTorch's batch norm with a
biased running variance, PyTorch's Adam with Keras' epsilon) compute what Keras computes.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import knobs
from harness.adapters import get_adapter

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does
torch, keras = pt.torch, tf.keras
K = knobs.BY_NAME


def pins(name):
    """The knob a test pins (test_every_knob_is_pinned_by_a_test_here finds these calls)."""
    return K[name]


def nchw(rng, shape=(8, 4, 5, 5)):
    return rng.normal(2.0, 3.0, shape).astype(np.float32)


def test_bn_momentum_and_epsilon_defaults():
    momentum, eps = pins("bn_momentum"), pins("bn_epsilon")
    bn_pt, bn_tf = torch.nn.BatchNorm2d(4), keras.layers.BatchNormalization()
    assert bn_pt.momentum == momentum.pytorch and bn_pt.eps == eps.pytorch
    assert 1.0 - bn_tf.momentum == pytest.approx(momentum.tensorflow)
    assert bn_tf.epsilon == eps.tensorflow


def test_bn_running_variance_conventions_and_the_biased_pytorch_batch_norm():
    knob = pins("bn_running_variance")
    x = nchw(np.random.default_rng(0))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    biased = x.var(axis=(0, 2, 3))
    # momentum 1 (PyTorch) / 0 (Keras): the running variance is the batch's variance.
    bn_pt = torch.nn.BatchNorm2d(4, momentum=1.0)
    bn_pt(torch.from_numpy(x))
    stored_pt = bn_pt.running_var.numpy()
    bn_tf = keras.layers.BatchNormalization(momentum=0.0)
    bn_tf(x.transpose(0, 2, 3, 1), training=True)
    stored_tf = bn_tf.moving_variance.numpy()
    conventions = {"unbiased": biased * n / (n - 1), "biased": biased}
    np.testing.assert_allclose(stored_pt, conventions[knob.pytorch], rtol=1e-5)
    np.testing.assert_allclose(stored_tf, conventions[knob.tensorflow], rtol=1e-5)
    # The adapter's PyTorch batch norm, asked for Keras' convention, stores what Keras stores.
    from harness import mirror

    aligned = dict(knobs.settings("aligned")["pytorch"], bn_momentum=1.0)
    model = pt.build_mirror(mirror.spec("resnet50", 10, 0.125), aligned, "cpu")
    bn = model.layers["conv1_bn"]
    y = nchw(np.random.default_rng(1), (8, bn.num_features, 5, 5))
    out = bn(torch.from_numpy(y))
    np.testing.assert_allclose(bn.running_var.numpy(), y.var(axis=(0, 2, 3)), rtol=1e-5)
    reference = torch.nn.functional.batch_norm(
        torch.from_numpy(y), None, None, bn.weight, bn.bias, True, 0.0, bn.eps
    )
    torch.testing.assert_close(out, reference)


def test_pytorch_batch_norm_with_pytorch_values_is_torchs_own():
    from harness import mirror

    native = knobs.settings("native")["pytorch"]
    model = pt.build_mirror(mirror.spec("resnet50", 10, 0.125), native, "cpu")
    bn = model.layers["conv1_bn"]
    ref = torch.nn.BatchNorm2d(bn.num_features)
    y = torch.from_numpy(nchw(np.random.default_rng(2), (8, bn.num_features, 5, 5)))
    torch.testing.assert_close(bn(y), ref(y), rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, ref.running_var, rtol=0, atol=0)


def test_adam_epsilon_conventions():
    knob = pins("adam_epsilon")
    assert (knob.pytorch, knob.tensorflow) == ("eps", "epsilon_hat")
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(scale=0.01, size=w0.shape).astype(np.float32) for _ in range(5)]
    lr, eps = 0.01, 0.5

    def run_torch(make):
        w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
        opt = make([w])
        for g in grads:
            w.grad = torch.from_numpy(g)
            opt.step()
        return w.detach().numpy()

    w_tf = keras.Variable(w0.copy())
    opt = keras.optimizers.Adam(learning_rate=lr, epsilon=eps)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), w_tf)])
    keras_result = np.asarray(w_tf.numpy())
    ours = run_torch(lambda p: pt._epsilon_hat_adam()(p, lr=lr, eps=eps))
    torchs = run_torch(lambda p: torch.optim.Adam(p, lr=lr, eps=eps))
    np.testing.assert_allclose(ours, keras_result, rtol=0, atol=1e-7)
    # The same number means something else: PyTorch's steps are much larger at eps=0.5.
    assert np.abs(torchs - w0).mean() > 10 * np.abs(keras_result - w0).mean()


def test_strided_same_padding_puts_the_extra_pixel_bottom_right():
    knob = pins("strided_padding")
    assert (knob.pytorch, knob.tensorflow) == ("symmetric", "same")
    x = np.random.default_rng(4).normal(size=(1, 32, 32, 2)).astype(np.float32)
    k = np.random.default_rng(5).normal(size=(3, 3, 2, 1)).astype(np.float32)
    same = np.asarray(tf.tf.nn.conv2d(x, k, strides=2, padding="SAME"))
    xt, kt = torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(k.transpose(3, 2, 0, 1))
    pad01 = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (0, 1, 0, 1)), kt, stride=2)
    pad11 = torch.nn.functional.conv2d(xt, kt, stride=2, padding=1)
    np.testing.assert_allclose(same, pad01.numpy().transpose(0, 2, 3, 1), atol=1e-5)
    assert not np.allclose(same, pad11.numpy().transpose(0, 2, 3, 1), atol=1e-3)


def test_layer_default_initializers():
    knob = pins("init")
    assert (knob.pytorch, knob.tensorflow) == ("torch", "keras")
    conv_tf = keras.layers.Conv2D(8, 3)
    assert type(conv_tf.kernel_initializer).__name__ == "GlorotUniform"
    assert type(conv_tf.bias_initializer).__name__ == "Zeros"
    torch.manual_seed(0)
    conv_pt = torch.nn.Conv2d(64, 64, 3)
    fan_in = 64 * 9
    # kaiming_uniform(a=sqrt(5)) is U(+-1/sqrt(fan_in)); its std is 1/sqrt(3 fan_in)
    assert float(conv_pt.weight.detach().abs().max()) <= 1 / fan_in**0.5
    assert float(conv_pt.weight.detach().std()) == pytest.approx((3 * fan_in) ** -0.5, rel=0.02)
    assert float(conv_pt.bias.detach().abs().max()) > 0  # torch's biases are not zero


def test_cross_entropy_inputs():
    knob = pins("loss_input")
    assert (knob.pytorch, knob.tensorflow) == ("logits", "probabilities")
    assert keras.losses.SparseCategoricalCrossentropy().get_config()["from_logits"] is False
    assert (
        keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
        .layers[-1]
        .activation.__name__
        == "softmax"
    )


def test_tf32_defaults_in_a_fresh_process():
    knob = pins("tf32")
    code = (
        "import torch, tensorflow as tf;"
        "print(torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,"
        "tf.config.experimental.tensor_float_32_execution_enabled())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    matmul, conv, tf32 = out.stdout.split()[-3:]
    assert knob.pytorch == "matmul off, conv on" and (matmul, conv) == ("False", "True")
    assert knob.tensorflow == "on" and tf32 == "True"


# --- the zoo models' values (Knob.zoo) and why a knob does not apply (Knob.not_for) --------------


@pytest.fixture(scope="module")
def zoo():
    """Each architecture's two zoo models as the harness builds them (32x32, 10 classes)."""
    models = {}
    for arch in ("resnet50", "densenet121", "vgg16"):
        models[arch] = {
            fw: get_adapter(fw).build_zoo(arch, 10, (32, 32, 3), "cpu") for fw in knobs.FRAMEWORKS
        }
    return models


def torch_modules(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


def keras_layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_zoo_batch_norm_epsilon_and_momentum(zoo):
    eps, momentum = pins("bn_epsilon"), pins("bn_momentum")
    for arch in ("resnet50", "densenet121"):
        bns_pt = torch_modules(zoo[arch]["pytorch"], torch.nn.BatchNorm2d)
        bns_tf = keras_layers(zoo[arch]["tensorflow"], keras.layers.BatchNormalization)
        assert {m.eps for m in bns_pt} == {eps.native("pytorch", arch)}
        assert {layer.epsilon for layer in bns_tf} == {eps.native("tensorflow", arch)} == {1.001e-5}
        assert {m.momentum for m in bns_pt} == {momentum.native("pytorch", arch)}
        assert {round(1 - layer.momentum, 6) for layer in bns_tf} == {
            momentum.native("tensorflow", arch)
        }
    assert not torch_modules(zoo["vgg16"]["pytorch"], torch.nn.BatchNorm2d)
    assert not keras_layers(zoo["vgg16"]["tensorflow"], keras.layers.BatchNormalization)
    for knob in (eps, momentum, pins("bn_running_variance")):
        assert knob.not_applicable("vgg16") == "VGG16 has no batch norm"


def test_zoo_initialisation(zoo):
    knob = pins("init")
    for arch in ("resnet50", "densenet121", "vgg16"):
        assert (knob.native("pytorch", arch), knob.native("tensorflow", arch)) == (
            "torchvision",
            "keras",
        )
        conv = torch_modules(zoo[arch]["pytorch"], torch.nn.Conv2d)[1]
        out_ch, in_ch, kh, kw = conv.weight.shape
        fan = (in_ch if arch == "densenet121" else out_ch) * kh * kw  # kaiming_normal's fan
        assert float(conv.weight.detach().std()) == pytest.approx((2 / fan) ** 0.5, rel=0.05)
        for layer in keras_layers(zoo[arch]["tensorflow"], keras.layers.Conv2D):
            assert type(layer.kernel_initializer).__name__ == "GlorotUniform"


def test_zoo_padding_is_explicit_in_keras(zoo):
    knob = pins("strided_padding")
    for arch in ("resnet50", "densenet121", "vgg16"):
        model = zoo[arch]["tensorflow"]
        strided = [
            layer
            for layer in model.layers
            if max(getattr(layer, "strides", None) or (1,)) > 1
            and not isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D)
            or isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D)
        ]
        assert strided and all(layer.padding == "valid" for layer in strided), arch
        assert knob.native("tensorflow", arch) == "symmetric" and knob.not_applicable(arch)
    assert any(
        isinstance(layer, keras.layers.ZeroPadding2D)
        for layer in zoo["resnet50"]["tensorflow"].layers
    )


def test_resnet_stride_position(zoo):
    knob = pins("resnet_stride_position")
    block_pt = zoo["resnet50"]["pytorch"].layer2[0]
    assert (block_pt.conv1.stride, block_pt.conv2.stride) == ((1, 1), (2, 2))
    assert knob.native("pytorch", "resnet50") == "3x3"
    keras_resnet = zoo["resnet50"]["tensorflow"]
    first, second = (keras_resnet.get_layer(f"conv3_block1_{i}_conv") for i in (1, 2))
    assert (tuple(first.strides), tuple(second.strides)) == ((2, 2), (1, 1))
    assert knob.native("tensorflow", "resnet50") == "1x1"
    assert knob.not_applicable("densenet121") and knob.not_applicable("vgg16")


def test_conv_bias(zoo):
    knob = pins("conv_bias")
    assert all(m.bias is None for m in torch_modules(zoo["resnet50"]["pytorch"], torch.nn.Conv2d))
    assert knob.native("pytorch", "resnet50") == "description"  # the description: no conv bias
    assert all(
        layer.use_bias for layer in keras_layers(zoo["resnet50"]["tensorflow"], keras.layers.Conv2D)
    )
    assert knob.native("tensorflow", "resnet50") == "all"
    for arch, has_bias in (("densenet121", False), ("vgg16", True)):
        assert {
            m.bias is not None for m in torch_modules(zoo[arch]["pytorch"], torch.nn.Conv2d)
        } == {has_bias}
        assert {
            layer.use_bias for layer in keras_layers(zoo[arch]["tensorflow"], keras.layers.Conv2D)
        } == {has_bias}
        assert knob.not_applicable(arch)


def test_vgg_head_dropout(zoo):
    knob = pins("vgg_head_dropout")
    rates = [m.p for m in torch_modules(zoo["vgg16"]["pytorch"], torch.nn.Dropout)]
    assert rates == [knob.native("pytorch", "vgg16")] * 2 == [0.5, 0.5]
    assert not keras_layers(zoo["vgg16"]["tensorflow"], keras.layers.Dropout)
    assert knob.native("tensorflow", "vgg16") == 0.0
    assert knob.not_applicable("resnet50") and knob.not_applicable("densenet121")


def test_every_knob_is_pinned_by_a_test_here():
    """Read from this file's source, not from what ran: under pytest -n N the pin tests are
    spread over workers, so no one process sees them all."""
    tree = ast.parse(Path(__file__).read_text())
    pinned = {
        call.args[0].value
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_")
        for call in ast.walk(fn)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "pins"
    }
    assert pinned == set(K), f"knobs without a pin test: {sorted(set(K) - pinned)}"


def test_aligned_values_are_runnable_on_both_sides_and_native_values_on_their_own():
    for fw in knobs.FRAMEWORKS:
        adapter = get_adapter(fw)
        for arch in (None, "resnet50", "densenet121", "vgg16"):
            knobs.check_supported(fw, knobs.settings("native", arch)[fw], adapter.SUPPORTED)
        knobs.check_supported(fw, knobs.settings("aligned")[fw], adapter.SUPPORTED)


def test_a_knob_whose_zoo_models_agree_says_why_it_does_not_apply():
    for k in knobs.KNOBS:
        for arch in ("resnet50", "densenet121", "vgg16"):
            same = k.native("pytorch", arch) == k.native("tensorflow", arch)
            if same and k.devices == ("cpu", "cuda"):
                assert k.not_applicable(arch), f"{k.name} on {arch}: the zoo models agree; say why"


def test_docs_knobs_md_is_current_and_the_readme_names_every_knob():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "knobs.md").read_text()
    assert doc.rstrip().endswith(knobs.markdown_table()), (
        "docs/knobs.md is stale: crossedwires knobs --format markdown, then keep its header"
    )
    readme = (root / "README.md").read_text()
    for k in knobs.KNOBS:
        assert f"| `{k.name}`" in readme, f"README's knob table lacks {k.name}"
