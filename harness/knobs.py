"""Knobs: every known default difference between the frameworks that matters for these models.

One table, ``KNOBS``. Each knob has its value on the PyTorch side and on the TensorFlow/Keras side
when each framework keeps its own default (mode ``native``), the one value both sides take in
mode ``aligned``, and its source. The facts are from ``reference/framework-defaults.md``; each
is pinned against the installed frameworks by ``tests/test_knobs.py``.

Knobs apply to mirror models (``harness/mirror.py``), which are the same network in both
frameworks; a zoo model keeps every default of its framework (only ``tf32`` is set, to the
framework's own default, so that it is explicit). The adapters read a *setting*, a dict
``{knob name: value}`` for one framework, and refuse a value they cannot express.

``crossedwires explain`` (``harness/explain.py``) moves the knobs one at a time between the
two modes to say which of them carries an accuracy gap. The README renders this table
(``crossedwires knobs --format markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cases import MODES
from .errors import ConfigError

FRAMEWORKS = ("pytorch", "tensorflow")


@dataclass(frozen=True)
class Knob:
    name: str
    what: str
    pytorch: object  # PyTorch's default
    tensorflow: object  # TensorFlow/Keras' default
    aligned: object  # what both take in aligned mode
    source: str
    devices: tuple[str, ...] = ("cpu", "cuda")  # where the two values can differ in effect

    def native(self, framework: str) -> object:
        return getattr(self, framework)


KNOBS: tuple[Knob, ...] = (
    Knob(
        "init",
        "initial weights: each framework's layer-default initializers, or the same tensors",
        "torch",  # conv/dense kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)); BN 1, 0
        "keras",  # glorot_uniform kernels, zero biases; BN 1, 0
        "shared",  # PyTorch's initial weights carried into the Keras model
        "torch.nn.Conv2d/Linear.reset_parameters; keras.layers.Conv2D/Dense "
        "kernel_initializer='glorot_uniform', bias_initializer='zeros'",
    ),
    Knob(
        "bn_momentum",
        "batch norm: weight of the new batch statistic in the running statistics",
        0.1,  # torch momentum=0.1: run = 0.9 run + 0.1 batch
        0.01,  # Keras momentum=0.99: run = 0.99 run + 0.01 batch
        0.1,
        "torch.nn.BatchNorm2d(momentum=0.1); keras.layers.BatchNormalization(momentum=0.99)",
    ),
    Knob(
        "bn_epsilon",
        "batch norm: epsilon added to the variance",
        1e-5,
        1e-3,
        1e-5,
        "torch.nn.BatchNorm2d(eps=1e-5); keras.layers.BatchNormalization(epsilon=1e-3)",
    ),
    Knob(
        "bn_running_variance",
        "batch norm: the variance kept in the running statistics (n = N*H*W)",
        "unbiased",  # batch variance * n / (n - 1)
        "biased",
        "biased",
        "torch.nn.BatchNorm2d docs ('running_var ... unbiased estimator'); Keras "
        "BatchNormalization updates moving_variance with the biased batch variance",
    ),
    Knob(
        "adam_epsilon",
        "Adam: where the case's epsilon goes; Keras' eps-hat equals eps*sqrt(1-beta2^t) in "
        "PyTorch's formula, so a large eps damps Keras' early steps far more",
        "eps",  # lr * m_hat / (sqrt(v_hat) + eps)
        "epsilon_hat",  # lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
        "epsilon_hat",
        "torch.optim.Adam docs (algorithm); keras.optimizers.Adam docs ('epsilon hat' of "
        "Kingma and Ba, section 2.1) and keras/src/optimizers/adam.py update_step",
    ),
    Knob(
        "loss_input",
        "what the cross-entropy reads: logits, or softmax probabilities (the Keras "
        "applications' head; Keras recovers logits from a Softmax where it can, else clips)",
        "logits",  # CrossEntropyLoss on logits
        "probabilities",  # softmax head + SparseCategoricalCrossentropy(from_logits=False)
        "logits",
        "torch.nn.CrossEntropyLoss; keras.losses.SparseCategoricalCrossentropy(from_logits="
        "False); keras.applications classifier_activation='softmax'",
    ),
    Knob(
        "strided_padding",
        "padding of a strided conv or pool: symmetric, or TF 'same' (the extra pixel goes "
        "bottom/right: k=3, s=2 on 32x32 pads (0, 1), PyTorch pads (1, 1))",
        "symmetric",
        "same",
        "symmetric",
        "torch.nn.Conv2d(padding=int); tf.nn.convolution 'SAME' padding rule",
    ),
    Knob(
        "tf32",
        "TF32 on Ampere and newer GPUs (no effect on the CPU)",
        "matmul off, conv on",
        "on",
        "off",
        "torch.backends.cuda.matmul.allow_tf32=False, torch.backends.cudnn.allow_tf32=True; "
        "tf.config.experimental.enable_tensor_float_32_execution (on by default)",
        devices=("cuda",),
    ),
)

BY_NAME = {k.name: k for k in KNOBS}


def settings(mode: str) -> dict[str, dict[str, object]]:
    """Per framework, ``{knob: value}`` for ``mode``."""
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is unknown: use one of {', '.join(MODES)}")
    return {
        fw: {k.name: (k.native(fw) if mode == "native" else k.aligned) for k in KNOBS}
        for fw in FRAMEWORKS
    }


def with_knob(base: dict, knob: str, mode: str) -> dict:
    """``base`` (from ``settings``) with one knob moved to its ``mode`` values."""
    if knob not in BY_NAME:
        raise ConfigError(f"knob={knob!r} is unknown: use one of {', '.join(BY_NAME)}")
    other = settings(mode)
    return {fw: {**base[fw], knob: other[fw][knob]} for fw in FRAMEWORKS}


def differing(setting: dict) -> list[str]:
    """The knobs whose values differ between the two frameworks in ``setting``."""
    return [k.name for k in KNOBS if setting["pytorch"][k.name] != setting["tensorflow"][k.name]]


def record(setting: dict) -> dict:
    """``{knob: {framework: value}}``: how a baseline stores the knobs a mirror case ran with."""
    return {k.name: {fw: setting[fw][k.name] for fw in FRAMEWORKS} for k in KNOBS}


def check_supported(framework: str, setting: dict, supported: dict) -> None:
    """Refuse a setting with a value the adapter cannot run (``supported``: knob -> the values
    it can run, None for any)."""
    for knob, allowed in supported.items():
        if allowed is not None and setting[knob] not in allowed:
            raise unsupported(framework, knob, setting[knob], allowed)


def unsupported(framework: str, knob: str, value: object, supported) -> ConfigError:
    return ConfigError(
        f"{framework} cannot run knob {knob}={value!r}; it supports "
        f"{', '.join(repr(v) for v in supported)} (the knob's PyTorch, TensorFlow and aligned "
        "values are in harness/knobs.py)"
    )


def markdown_table() -> str:
    rows = [
        "| knob | what | PyTorch | TensorFlow/Keras | aligned | source |",
        "|---|---|---|---|---|---|",
    ]
    for k in KNOBS:
        rows.append(
            f"| `{k.name}` | {k.what} | {k.pytorch} | {k.tensorflow} | {k.aligned} | {k.source} |"
        )
    return "\n".join(rows)
