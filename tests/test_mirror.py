"""Mirror models: one description, two builds, weights carried across in both directions.

After a transfer the two builds compute the same function: forward outputs on a batch agree
within ``FORWARD_RTOL`` of the output scale, in inference mode (running statistics) and in
training mode (batch statistics), for every architecture, in both directions.

Measured exception to the letter of 1e-5: ResNet50 and DenseNet121 in training mode.
Normalising with batch statistics through 53 (120) batch norms is ill-conditioned enough that
each framework's own float32 result is already 1e-5 to 5e-5 of the output scale away from the
same PyTorch model run in float64 (16 images), and the two frameworks are as far from each
other as each is from float64. So the test asks for agreement within 1e-5 *or* within twice
the float32 rounding error it measures on the spot (PyTorch float32 against PyTorch float64,
same weights, same batch), whichever is larger, and checks that this is 1e-5 wherever no
batch statistics are involved (inference mode, and VGG16 in both modes).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import knobs, mirror
from harness.errors import ConfigError
from harness.transfer import transfer

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does

ALIGNED = knobs.settings("aligned")
ADAPTERS = {"pytorch": pt, "tensorflow": tf}
# float32 through 16-121 layers: kernels sum in different orders in the two frameworks.
FORWARD_RTOL = 1e-5
WIDTH = 0.125
# VGG16 at 64x64 leaves 2x2x(512*w) at its flatten, so the flatten-order permutation is tested.
SHAPES = {"vgg16": (64, 64, 3), "resnet50": (64, 64, 3), "densenet121": (64, 64, 3)}


def build_pair(arch: str, width: float = WIDTH):
    spec = mirror.spec(arch, 10, width, SHAPES[arch])
    models = {}
    for fw, adapter in ADAPTERS.items():
        adapter.seed(1)
        models[fw] = adapter.build_mirror(spec, ALIGNED[fw], "cpu")
    return spec, models


def randomized(weights: dict, seed: int) -> dict:
    """Every array replaced by random values of its shape: running statistics and BN scales
    that are not 0 and 1, so a transposed or misnamed array cannot go unnoticed."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in weights.items():
        if name.endswith("moving_variance"):
            out[name] = rng.uniform(0.5, 2.0, value.shape)
        elif name.endswith("gamma"):
            out[name] = rng.uniform(0.8, 1.2, value.shape)
        elif name.endswith(("moving_mean", "beta")):
            out[name] = rng.normal(0.0, 0.1, value.shape)
        else:
            out[name] = value * rng.uniform(0.8, 1.2, value.shape)
    return {k: v.astype(np.float32) for k, v in out.items()}


def images(shape, n=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def assert_close(a: np.ndarray, b: np.ndarray, rtol: float):
    scale = np.abs(a).max()
    assert scale > 0
    err = np.abs(a - b).max() / scale
    assert err <= rtol, f"max |difference| / output scale = {err:.2e} > {rtol:.0e}"


@pytest.mark.parametrize("arch", ["vgg16", "resnet50", "densenet121"])
@pytest.mark.parametrize("direction", ["pytorch->tensorflow", "tensorflow->pytorch"])
def test_transfer_gives_the_same_forward_pass(arch, direction):
    src, dst = direction.split("->")
    spec, models = build_pair(arch)
    ADAPTERS[src].set_mirror_weights(
        models[src], randomized(ADAPTERS[src].get_mirror_weights(models[src]), 7)
    )
    transfer(ADAPTERS[src], models[src], ADAPTERS[dst], models[dst])
    x = images(spec.input_shape, n=16)
    reference = float64_copy(models["pytorch"])
    for training in (False, True):  # inference first: training mode moves the statistics
        out = {fw: ADAPTERS[fw].forward(models[fw], x, training) for fw in ADAPTERS}
        assert out["pytorch"].shape == (len(x), 10)
        exact = float64_forward(reference, x, training)
        floor = np.abs(out["pytorch"] - exact).max() / np.abs(exact).max()
        assert_close(out["pytorch"], out["tensorflow"], max(FORWARD_RTOL, 2 * floor))
        if not training or arch == "vgg16":  # no batch norm in the way: 1e-5 to the letter
            assert 2 * floor <= FORWARD_RTOL, f"float32 rounding alone is {floor:.1e}"


def float64_copy(model):
    import copy

    return copy.deepcopy(model).double()


def float64_forward(model, x, training: bool) -> np.ndarray:
    model.train(training)
    with pt.torch.no_grad():
        return model(pt._to_tensor(x).double()).numpy()


def test_transfer_round_trip_is_exact():
    _, models = build_pair("vgg16")
    before = pt.get_mirror_weights(models["pytorch"])
    transfer(pt, models["pytorch"], tf, models["tensorflow"])
    back = tf.get_mirror_weights(models["tensorflow"])
    assert set(back) == set(before)
    for name in before:
        np.testing.assert_array_equal(back[name], before[name], err_msg=name)


def test_the_two_builds_have_the_same_parameters_in_the_same_order():
    for arch in ("vgg16", "resnet50", "densenet121"):
        spec, models = build_pair(arch)
        names = list(spec.parameters())
        for fw, adapter in ADAPTERS.items():
            got = adapter.get_mirror_weights(models[fw])
            assert list(got) == names, fw
        shapes_pt = {k: v.shape for k, v in pt.get_mirror_weights(models["pytorch"]).items()}
        shapes_tf = {k: v.shape for k, v in tf.get_mirror_weights(models["tensorflow"]).items()}
        assert shapes_pt == shapes_tf


def test_mirror_specs_have_the_published_depth():
    convs_and_denses = {
        arch: sum(n.op in ("conv", "dense") for n in mirror.spec(arch, 10, 0.25).nodes)
        for arch in ("vgg16", "resnet50", "densenet121")
    }
    # 13 convs + 3 dense; 49 convs + 1 dense (+4 projection shortcuts); 120 convs + 1 dense
    assert convs_and_denses == {"vgg16": 16, "resnet50": 54, "densenet121": 121}


def test_full_width_resnet50_has_torchvisions_parameter_count():
    spec = mirror.spec("resnet50", 1000, 1.0, (224, 224, 3))
    model = pt.build_mirror(spec, ALIGNED["pytorch"], "cpu")
    mine = sum(p.numel() for p in model.parameters())
    from torchvision.models import resnet50

    assert mine == sum(p.numel() for p in resnet50(weights=None).parameters())


def test_weights_that_do_not_fit_are_refused_by_name():
    _, models = build_pair("vgg16")
    weights = pt.get_mirror_weights(models["pytorch"])
    weights.pop("fc1/bias")
    with pytest.raises(ConfigError, match=r"missing \['fc1/bias'\]"):
        tf.set_mirror_weights(models["tensorflow"], weights)
    weights = pt.get_mirror_weights(models["pytorch"])
    weights["fc1/kernel"] = weights["fc1/kernel"].T
    with pytest.raises(ConfigError, match="fc1/kernel has shape"):
        tf.set_mirror_weights(models["tensorflow"], weights)


def test_an_input_too_small_for_the_network_is_refused():
    with pytest.raises(ConfigError, match="too small for its window; use a larger input"):
        mirror.spec("vgg16", 10, 0.25, (16, 16, 3))


def test_a_knob_value_a_framework_cannot_run_is_refused():
    setting = dict(ALIGNED["tensorflow"], bn_running_variance="unbiased")
    with pytest.raises(ConfigError, match="tensorflow cannot run knob bn_running_variance"):
        tf.build_mirror(mirror.spec("vgg16", 10, 0.25), setting, "cpu")
