"""Knobs: every known difference between the two frameworks' models of an architecture.

One table, ``KNOBS``. Each knob has its value on the PyTorch side and on the TensorFlow/Keras side
when each framework keeps its own default (mode ``native``), the one value both sides take in
mode ``aligned``, and its source. The facts are from ``reference/framework-defaults.md``, the
torchvision and keras.applications sources; each is pinned against the installed frameworks by
``tests/test_knobs.py``.

Two levels of "native":

- A knob's ``pytorch`` / ``tensorflow`` values are the frameworks' *layer defaults*
  (``nn.BatchNorm2d(eps=1e-5)``, ``BatchNormalization(epsilon=1e-3)``, ...): what a model of
  your own gets (``settings(mode)`` without an architecture; the fuzzer's models).
- ``zoo`` holds, per architecture, the values the two *zoo models* use where they differ from
  the layer defaults: torchvision's ResNet50 re-initialises its convs (kaiming_normal), Keras'
  ResNet50 and DenseNet121 pass ``epsilon=1.001e-5`` to their batch norms, pad explicitly, and
  so on. ``settings(mode, arch)`` gives mirror-native = each framework's zoo model, so that a
  mirror case speaks for the zoo case (``tests/test_fidelity.py`` checks it layer by layer).

Some knobs are *structural* (``resnet_stride_position``, ``conv_bias``, ``vgg_head_dropout``):
the two zoo models of an architecture are built differently, and the mirror description
(``harness/mirror.py``) is rebuilt per side from the knob (``mirror.structured``). A knob that
does not apply to an architecture (no batch norm in VGG16, two zoo models that agree) says why
(``Knob.not_applicable``); ``explain`` skips it with that reason.

Knobs apply to mirror models, which are the same network in both frameworks up to the
structural knobs; a zoo model keeps every default of its framework (only ``tf32`` is set, to the
framework's own default, so that it is explicit). The adapters read a *setting*, a dict
``{knob name: value}`` for one framework, and refuse a value they cannot express.

``crossedwires explain`` (``harness/explain.py``) moves the knobs one at a time between the
two modes to say which of them carries an accuracy gap. The README renders this table
(``crossedwires knobs --format markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cases import ARCHS, MODES
from .errors import ConfigError
from .sides import FRAMEWORKS

_EXPLICIT_PADDING = (
    "both zoo models pad it symmetrically: keras.applications writes ZeroPadding2D before each "
    "strided conv and pool, as PyTorch's padding=int does"
)


@dataclass(frozen=True)
class Knob:
    name: str
    what: str
    pytorch: object  # PyTorch's default
    tensorflow: object  # TensorFlow/Keras' default
    aligned: object  # what both take in aligned mode
    source: str
    devices: tuple[str, ...] = ("cpu", "cuda")  # where the two values can differ in effect
    # (arch, PyTorch's zoo model, TensorFlow's zoo model) where the zoo models differ from the
    # layer defaults above
    zoo: tuple[tuple[str, object, object], ...] = ()
    # (arch, why this knob does not apply to it): it has no such layer, or its two zoo models agree
    not_for: tuple[tuple[str, str], ...] = ()

    def native(self, framework: str, arch: str | None = None) -> object:
        """This framework's value: its zoo model's for ``arch``, its layer default without."""
        for name, pytorch, tensorflow in self.zoo:
            if name == arch:
                return pytorch if framework == "pytorch" else tensorflow
        return getattr(self, framework)

    def not_applicable(self, arch: str | None) -> str | None:
        """Why this knob does not apply to ``arch``'s zoo models, or None when it does."""
        return dict(self.not_for).get(arch)


KNOBS: tuple[Knob, ...] = (
    Knob(
        "init",
        "initial weights: each framework's layer-default initializers, or the same tensors",
        "torch",  # conv/dense kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)); BN 1, 0
        "keras",  # glorot_uniform kernels, zero biases; BN 1, 0
        "shared",  # PyTorch's initial weights carried into the Keras model
        "torch.nn.Conv2d/Linear.reset_parameters; keras.layers.Conv2D/Dense "
        "kernel_initializer='glorot_uniform', bias_initializer='zeros'; torchvision re-initialises "
        "its models (torchvision/models/resnet.py, densenet.py, vgg.py __init__), "
        "keras.applications keeps the layer defaults",
        # "torchvision": the initialisation torchvision's model of the architecture applies
        # (harness/adapters/pytorch.py _torchvision_init says which, per architecture)
        zoo=tuple((arch, "torchvision", "keras") for arch in ("resnet50", "densenet121", "vgg16")),
    ),
    Knob(
        "bn_momentum",
        "batch norm: weight of the new batch statistic in the running statistics",
        0.1,  # torch momentum=0.1: run = 0.9 run + 0.1 batch
        0.01,  # Keras momentum=0.99: run = 0.99 run + 0.01 batch
        0.1,
        "torch.nn.BatchNorm2d(momentum=0.1); keras.layers.BatchNormalization(momentum=0.99)",
        not_for=(("vgg16", "VGG16 has no batch norm"),),
    ),
    Knob(
        "bn_epsilon",
        "batch norm: epsilon added to the variance",
        1e-5,
        1e-3,
        1e-5,
        "torch.nn.BatchNorm2d(eps=1e-5); keras.layers.BatchNormalization(epsilon=1e-3); "
        "keras.applications ResNet50 and DenseNet121 pass epsilon=1.001e-5",
        zoo=(("resnet50", 1e-5, 1.001e-5), ("densenet121", 1e-5, 1.001e-5)),
        not_for=(("vgg16", "VGG16 has no batch norm"),),
    ),
    Knob(
        "bn_running_variance",
        "batch norm: the variance kept in the running statistics (n = N*H*W)",
        "unbiased",  # batch variance * n / (n - 1)
        "biased",
        "biased",
        "torch.nn.BatchNorm2d docs ('running_var ... unbiased estimator'); Keras "
        "BatchNormalization updates moving_variance with the biased batch variance",
        not_for=(("vgg16", "VGG16 has no batch norm"),),
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
        "torch.nn.Conv2d(padding=int); tf.nn.convolution 'SAME' padding rule; "
        "keras.applications pads its strided convs and pools explicitly (ZeroPadding2D)",
        zoo=tuple(
            (arch, "symmetric", "symmetric") for arch in ("resnet50", "densenet121", "vgg16")
        ),
        not_for=(
            ("resnet50", _EXPLICIT_PADDING),
            ("densenet121", _EXPLICIT_PADDING),
            ("vgg16", "VGG16 has no strided conv or padded pool"),
        ),
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
    Knob(
        "resnet_stride_position",
        "structural: where a ResNet50 bottleneck block that halves the map puts its stride: on "
        "the 3x3 conv (v1.5) or on the first 1x1 conv (v1, which skips 3/4 of the pixels)",
        "3x3",
        "3x3",  # no layer default: a model of your own has no such block
        "3x3",
        "torchvision/models/resnet.py Bottleneck (stride on conv2, 'ResNet V1.5'); "
        "keras/src/applications/resnet.py block1 (strides=stride on the _1_conv 1x1)",
        zoo=(("resnet50", "3x3", "1x1"),),
        not_for=(
            ("densenet121", "DenseNet121 has no strided bottleneck block"),
            ("vgg16", "VGG16 has no strided bottleneck block"),
        ),
    ),
    Knob(
        "conv_bias",
        "structural: which convs have a bias: those of the mirror description (torchvision's: "
        "none before a batch norm) or every conv (Keras' use_bias=True default)",
        "description",
        "description",  # no layer default: the description says per conv
        "description",
        "torchvision/models/resnet.py conv1x1/conv3x3 (bias=False); "
        "keras/src/applications/resnet.py ResNet50(use_bias=True) and block1's Conv2D defaults",
        zoo=(("resnet50", "description", "all"),),
        not_for=(
            ("densenet121", "both zoo DenseNet121s have no conv bias"),
            ("vgg16", "both zoo VGG16s have a bias on every conv"),
        ),
    ),
    Knob(
        "vgg_head_dropout",
        "structural: the dropout rate after each of VGG16's two hidden dense layers (torchvision's "
        "classifier has Dropout(0.5) twice, Keras' VGG16 none); the masks come from each "
        "framework's own random stream",
        0.0,
        0.0,  # no layer default: a model of your own has no VGG head
        0.0,
        "torchvision/models/vgg.py VGG.classifier (nn.Dropout(p=0.5) twice); "
        "keras/src/applications/vgg16.py (fc1, fc2 without dropout)",
        zoo=(("vgg16", 0.5, 0.0),),
        not_for=(
            ("resnet50", "ResNet50 has no VGG head"),
            ("densenet121", "DenseNet121 has no VGG head"),
        ),
    ),
)

STRUCTURAL = ("resnet_stride_position", "conv_bias", "vgg_head_dropout")

BY_NAME = {k.name: k for k in KNOBS}


def settings(mode: str, arch: str | None = None) -> dict[str, dict[str, object]]:
    """Per framework, ``{knob: value}`` for ``mode``: in ``native`` mode each framework's zoo
    model of ``arch`` (its layer defaults without one)."""
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is unknown: use one of {', '.join(MODES)}")
    return {
        fw: {k.name: (k.native(fw, arch) if mode == "native" else k.aligned) for k in KNOBS}
        for fw in FRAMEWORKS
    }


def with_knob(base: dict, knob: str, mode: str, arch: str | None = None) -> dict:
    """``base`` (from ``settings``) with one knob moved to its ``mode`` values (``arch``'s)."""
    if knob not in BY_NAME:
        raise ConfigError(f"knob={knob!r} is unknown: use one of {', '.join(BY_NAME)}")
    other = settings(mode, arch)
    return {fw: {**base[fw], knob: other[fw][knob]} for fw in FRAMEWORKS}


def differing(setting: dict, arch: str | None = None) -> list[str]:
    """The knobs whose values differ between the two frameworks in ``setting`` (leaving out
    those that do not apply to ``arch``)."""
    return [
        k.name
        for k in KNOBS
        if setting["pytorch"][k.name] != setting["tensorflow"][k.name]
        and not k.not_applicable(arch)
    ]


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


def zoo_summary(knob: Knob) -> str:
    """Per architecture, the zoo models' values (PyTorch / Keras), or why the knob does not
    apply."""
    parts = []
    for arch in ARCHS:
        why = knob.not_applicable(arch)
        if why:
            parts.append(f"{arch}: n/a ({why})")
        else:
            parts.append(
                f"{arch}: {knob.native('pytorch', arch)} / {knob.native('tensorflow', arch)}"
            )
    return "; ".join(parts)


def markdown_table() -> str:
    rows = [
        "| knob | what | PyTorch | TensorFlow/Keras | zoo models (PyTorch / Keras) | aligned | "
        "source |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in KNOBS:
        rows.append(
            f"| `{k.name}` | {k.what} | {k.pytorch} | {k.tensorflow} | {zoo_summary(k)} | "
            f"{k.aligned} | {k.source} |"
        )
    return "\n".join(rows)
