"""The framework adapters: the zoo models are the paper's, the facts they rest on still hold in
the installed versions, and a case gives the same numbers whatever ran before it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from harness.cases import Case
from harness.data import load_digits32
from harness.profiles import get_profile
from harness.runner import run_case

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does


def test_pytorch_vgg16_is_the_papers_variant():
    model = pt.build_zoo("vgg16", 10, (32, 32, 3), "cpu")
    first = model.classifier[0]
    assert (first.in_features, first.out_features) == (512, 4096)
    assert isinstance(model.avgpool, pt.torch.nn.Identity)
    assert sum(isinstance(m, pt.torch.nn.Dropout) for m in model.classifier) == 2
    weight, bias = first.weight.detach(), first.bias.detach()
    assert abs(float(weight.std()) - 0.01) < 0.001 and float(bias.abs().max()) == 0
    assert model(pt.torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("arch", ["vgg16", "resnet50", "densenet121"])
def test_keras_zoo_models_end_in_softmax_over_ten_classes(arch):
    tf.seed(0)
    model = tf.build_zoo(arch, 10, (32, 32, 3), "cpu")
    probs = np.asarray(model(np.zeros((2, 32, 32, 3), np.float32)))
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_framework_defaults_the_knobs_rest_on():
    """reference/framework-defaults.md, pinned against the installed versions."""
    torch = pt.torch
    bn = torch.nn.BatchNorm2d(4)
    assert (bn.momentum, bn.eps) == (0.1, 1e-5)
    assert torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["eps"] == 1e-8
    keras = tf.keras
    assert keras.optimizers.Adam().epsilon == 1e-7
    kbn = keras.layers.BatchNormalization()
    assert (kbn.momentum, kbn.epsilon) == (0.99, 1e-3)
    tf.seed(0)
    resnet = tf.build_zoo("resnet50", 10, (32, 32, 3), "cpu")
    bns = [layer for layer in resnet.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert {(b.momentum, b.epsilon) for b in bns} == {(0.99, 1.001e-5)}


@pytest.mark.heavy  # two minutes of a core: the main-branch job's (docs/performance.md)
def test_a_case_gives_the_same_record_whatever_ran_before_it():
    """What makes `--regen-baselines` byte-identical under -n 0 and -n 2."""
    profile = replace(get_profile("smoke"), train_subset=64, test_subset=64, epochs_cap=1, seeds=2)
    data = load_digits32()
    a = Case("vgg16", 1e-3, 32, 1, 1e-7, case_set="test")
    b = Case("vgg16", 5e-2, 16, 1, 0.5, case_set="test")
    first = run_case(a, profile, data)
    run_case(b, profile, data)
    again = run_case(a, profile, data)
    assert first == again
    assert first["results"]["pytorch"]["error"] is None
    assert first["results"]["tensorflow"]["error"] is None
    env = first["environment"]
    assert env["pytorch"]["intra_op_threads"] == env["tensorflow"]["intra_op_threads"] == 1


@pytest.mark.parametrize("mode", ["native", "aligned"])
def test_keras_resident_loop_trains_as_fit_does(mode):
    """On a GPU the TF adapter trains by ``_train_resident`` (data on the device, one compiled
    loop per epoch) instead of ``fit``; here on the CPU both run and must agree bit for bit:
    epoch losses and every weight, BN running statistics included. 40 images in batches of 16
    leave a last batch of 8, as fit's does."""
    from harness.knobs import settings
    from harness.mirror import spec

    setting = settings(mode)["tensorflow"]
    data = load_digits32()
    x, y = data.x_train[:40], data.y_train[:40]
    hp = {"learning_rate": 1e-3, "batch_size": 16, "adam_epsilon": 1e-3}
    keras = tf.keras
    out = {}
    for how in ("fit", "resident"):
        tf.seed(0)
        model = tf.build_mirror(spec("resnet50", 10, width=0.0625), setting, "cpu")
        if how == "fit":
            losses = tf.train(model, x, y, hp, 2, setting=setting)["training_loss"]
        else:
            losses = tf._train_resident(
                model,
                x,
                y,
                hp["batch_size"],
                2,
                keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-3),
                keras.losses.SparseCategoricalCrossentropy(
                    from_logits=setting["loss_input"] == "logits"
                ),
            )
        out[how] = (losses, tf.weights(model))
    (fit_losses, fit_weights), (res_losses, res_weights) = out["fit"], out["resident"]
    assert len(fit_losses) == len(res_losses) == 2
    assert res_losses == fit_losses  # bit for bit: the same ops in the same order
    assert fit_weights.keys() == res_weights.keys()
    assert any("moving" in k for k in fit_weights), "no batch-norm statistics compared"
    for k in fit_weights:
        np.testing.assert_array_equal(res_weights[k], fit_weights[k], err_msg=k)
