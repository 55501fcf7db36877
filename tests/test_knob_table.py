"""The knob table on its own: settings per mode, moving one knob, refusals and the rendered
table, exactly (no framework imported; ``tests/test_knobs.py`` pins each value against the
installed frameworks)."""

from __future__ import annotations

import pytest

from harness import knobs
from harness.errors import ConfigError


def test_native_and_aligned_settings_are_the_table_columns():
    native = knobs.settings("native")
    assert list(native) == ["pytorch", "tensorflow"]
    assert native["pytorch"] == {k.name: k.pytorch for k in knobs.KNOBS}
    assert native["tensorflow"] == {k.name: k.tensorflow for k in knobs.KNOBS}
    assert native["pytorch"]["bn_momentum"] == 0.1 and native["tensorflow"]["bn_momentum"] == 0.01
    aligned = knobs.settings("aligned")
    assert aligned["pytorch"] == aligned["tensorflow"] == {k.name: k.aligned for k in knobs.KNOBS}
    assert knobs.BY_NAME["bn_epsilon"].native("tensorflow") == 1e-3
    assert knobs.BY_NAME["bn_epsilon"].native("pytorch") == 1e-5
    with pytest.raises(ConfigError) as info:
        knobs.settings("exact")
    assert str(info.value) == "mode='exact' is unknown: use one of native, aligned"


def test_moving_one_knob_and_what_still_differs():
    aligned = knobs.settings("aligned")
    assert knobs.differing(aligned) == []
    assert knobs.differing(knobs.settings("native")) == [
        "init",
        "bn_momentum",
        "bn_epsilon",
        "bn_running_variance",
        "adam_epsilon",
        "loss_input",
        "strided_padding",
        "tf32",
    ]  # the structural knobs have no layer default: a model of your own has neither side's
    assert knobs.differing(knobs.settings("native", "resnet50"), "resnet50") == [
        "init",
        "bn_momentum",
        "bn_epsilon",
        "bn_running_variance",
        "adam_epsilon",
        "loss_input",
        "tf32",
        "resnet_stride_position",
        "conv_bias",
    ]
    assert knobs.differing(knobs.settings("native", "vgg16"), "vgg16") == [
        "init",
        "adam_epsilon",
        "loss_input",
        "tf32",
        "vgg_head_dropout",
    ]
    one = knobs.with_knob(aligned, "bn_momentum", "native")
    assert knobs.differing(one) == ["bn_momentum"]
    assert one["pytorch"] == {**aligned["pytorch"], "bn_momentum": 0.1}
    assert one["tensorflow"] == {**aligned["tensorflow"], "bn_momentum": 0.01}
    assert aligned == knobs.settings("aligned")  # the base is not changed
    back = knobs.with_knob(knobs.settings("native"), "init", "aligned")
    assert back["pytorch"]["init"] == back["tensorflow"]["init"] == "shared"
    with pytest.raises(ConfigError) as info:
        knobs.with_knob(aligned, "momentum", "native")
    assert str(info.value) == (
        "knob='momentum' is unknown: use one of init, bn_momentum, bn_epsilon, "
        "bn_running_variance, adam_epsilon, loss_input, strided_padding, tf32, "
        "resnet_stride_position, conv_bias, vgg_head_dropout"
    )


def test_native_for_an_architecture_is_its_zoo_models():
    densenet = knobs.settings("native", "densenet121")
    assert densenet["pytorch"]["init"] == "torchvision"
    assert densenet["tensorflow"]["bn_epsilon"] == 1.001e-5
    assert densenet["tensorflow"]["strided_padding"] == "symmetric"
    assert knobs.settings("native")["tensorflow"]["bn_epsilon"] == 1e-3  # the layer default
    resnet = knobs.settings("native", "resnet50")
    assert (
        resnet["pytorch"]["resnet_stride_position"],
        resnet["tensorflow"]["resnet_stride_position"],
    ) == ("3x3", "1x1")
    assert knobs.settings("aligned", "resnet50") == knobs.settings("aligned")
    moved = knobs.with_knob(knobs.settings("aligned"), "conv_bias", "native", "resnet50")
    assert knobs.differing(moved, "resnet50") == ["conv_bias"]
    assert moved["tensorflow"]["conv_bias"] == "all"
    assert knobs.BY_NAME["bn_epsilon"].not_applicable("vgg16") == "VGG16 has no batch norm"
    assert knobs.BY_NAME["bn_epsilon"].not_applicable("resnet50") is None
    assert knobs.zoo_summary(knobs.BY_NAME["bn_epsilon"]) == (
        "vgg16: n/a (VGG16 has no batch norm); resnet50: 1e-05 / 1.001e-05; "
        "densenet121: 1e-05 / 1.001e-05"
    )


def test_a_record_stores_every_knob_per_framework():
    native = knobs.settings("native")
    stored = knobs.record(native)
    assert list(stored) == [k.name for k in knobs.KNOBS]
    assert stored["adam_epsilon"] == {"pytorch": "eps", "tensorflow": "epsilon_hat"}
    assert stored["tf32"] == {"pytorch": "matmul off, conv on", "tensorflow": "on"}


def test_an_unsupported_value_is_refused_naming_framework_knob_value_and_choices():
    setting = knobs.settings("native")["tensorflow"]
    knobs.check_supported("tensorflow", setting, {"bn_momentum": None, "init": ["keras"]})
    knobs.check_supported("tensorflow", setting, {})
    with pytest.raises(ConfigError) as info:
        knobs.check_supported(
            "tensorflow",
            setting,
            {"init": None, "bn_epsilon": [1e-5, 1e-3], "loss_input": ["logits"]},
        )
    assert str(info.value) == (
        "tensorflow cannot run knob loss_input='probabilities'; it supports 'logits' (the "
        "knob's PyTorch, TensorFlow and aligned values are in harness/knobs.py)"
    )
    error = knobs.unsupported("pytorch", "init", "keras", ("torch", "shared"))
    assert isinstance(error, ConfigError)
    assert str(error) == (
        "pytorch cannot run knob init='keras'; it supports 'torch', 'shared' (the knob's "
        "PyTorch, TensorFlow and aligned values are in harness/knobs.py)"
    )


def test_the_markdown_table_has_one_row_per_knob():
    lines = knobs.markdown_table().split("\n")
    assert lines[:2] == [
        "| knob | what | PyTorch | TensorFlow/Keras | zoo models (PyTorch / Keras) | aligned | "
        "source |",
        "|---|---|---|---|---|---|---|",
    ]
    assert len(lines) == 2 + len(knobs.KNOBS)
    k = knobs.BY_NAME["bn_epsilon"]
    assert lines[4] == (
        f"| `bn_epsilon` | {k.what} | 1e-05 | 0.001 | {knobs.zoo_summary(k)} | 1e-05 | {k.source} |"
    )
