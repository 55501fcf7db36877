"""Mirror architectures: each model described once, framework-neutrally, built in both frameworks.

A zoo pair (torchvision against keras.applications) differs in structure as well as in defaults,
so weights cannot be carried across and a gap cannot be traced to a cause. A mirror model is one
``Spec``: a list of ``Node``s in execution order, each naming its inputs. Each adapter has one
builder that walks the list (``build_mirror``), so both frameworks get the same topology, layer
order and parameter shapes, and every parameter has one neutral name, ``<node>/<param>``
(``param`` is ``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean`` or
``moving_variance``). Weights travel between the frameworks in the *neutral layout*, which is
PyTorch's: conv kernels (out, in, kH, kW), dense kernels (out, in) with a flattened input in
C, H, W order. The Keras adapter converts to and from its own layout.

What the description fixes for both frameworks (where the zoo models differ):

- The description is torchvision's model: ResNet50 v1.5 (stride on the 3x3 conv) whose convs
  before a batch norm have no bias, DenseNet121 as both zoos build it, VGG16 with torchvision's
  features and, at 32x32, the head Flatten(512) -> 4096 -> 4096 -> classes (CrossedWires'
  variant, ``harness/adapters/pytorch.py``).
- Where the zoo models are *built* differently, a structural knob says how, and
  ``structured(spec, setting)`` rebuilds the description for one side: ``resnet_stride_position``
  (Keras' ResNet50 is v1: stride on the first 1x1), ``conv_bias`` (Keras' ResNet50 has a bias on
  every conv), ``vgg_head_dropout`` (torchvision's head has two Dropout(0.5), Keras' none; the
  masks come from each framework's own random stream, so aligned mode runs without).
- Padding is written as numbers, as PyTorch does; how a framework pads a strided conv is the
  knob ``strided_padding`` (``harness.knobs``), not part of the description.

What stays a framework default is a knob (``harness/knobs.py``): initial weights, batch-norm
momentum, epsilon and running variance, Adam's epsilon, the loss input, strided padding, TF32.
Mirror-native is each framework's zoo model (``knobs.settings("native", arch)``);
``tests/test_fidelity.py`` checks each native build against torchvision and keras.applications
layer by layer, weight statistics and outputs.

The width multiplier scales every channel count (and VGG's hidden units) and keeps the full
depth, so a CPU profile trains the real 16/50/121-layer networks, only thinner.

Adding an architecture is adding a function that returns a ``Spec`` and a name in ``SPECS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import ConfigError

OPS = (
    "conv",
    "bn",
    "relu",
    "maxpool",
    "avgpool",
    "gap",
    "flatten",
    "dense",
    "add",
    "concat",
    "dropout",  # VGG16's head (knob vgg_head_dropout) and the fuzzer's models (harness/fuzz.py)
)


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    units: int = 0  # conv filters or dense units
    kernel: int = 0  # conv and pool window
    stride: int = 1
    padding: int = 0  # symmetric, in pixels, as PyTorch writes it
    bias: bool = False
    # dilation and groups: drawn by the fuzzer (harness/fuzz.py); the published architectures
    # keep the defaults. rate: dropout (VGG16's head under knob vgg_head_dropout; the fuzzer).
    dilation: int = 1  # conv: spacing of the kernel's taps
    groups: int = 1  # conv: channel groups (input and output channels divisible by it)
    rate: float = 0.0  # dropout: the fraction dropped in training mode

    @property
    def span(self) -> int:
        """The window's extent in pixels: ``dilation * (kernel - 1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class Spec:
    arch: str
    width: float
    num_classes: int
    nodes: tuple[Node, ...]
    input_shape: tuple[int, int, int] = (32, 32, 3)  # H, W, C
    input_name: str = "input"

    @property
    def output(self) -> str:
        return self.nodes[-1].name

    def node(self, name: str) -> Node:
        return self._by_name[name]

    @property
    def _by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each node's output shape without the batch axis: (C, H, W), or (features,)."""
        h, w, c = self.input_shape
        out: dict[str, tuple[int, ...]] = {self.input_name: (c, h, w)}
        for n in self.nodes:
            first = out[n.inputs[0]]
            if n.op in ("conv", "maxpool", "avgpool"):
                size = [(d + 2 * n.padding - n.span) // n.stride + 1 for d in first[1:]]
                if min(size) < 1:
                    raise ConfigError(
                        f"{self.arch} at input {self.input_shape}: {n.name} gets {first[1:]} "
                        "pixels, too small for its window; use a larger input"
                    )
                out[n.name] = (n.units if n.op == "conv" else first[0], *size)
            elif n.op == "dense":
                out[n.name] = (n.units,)
            elif n.op == "gap":
                out[n.name] = (first[0],)
            elif n.op == "flatten":
                out[n.name] = (first[0] * first[1] * first[2],)
            elif n.op == "concat":
                out[n.name] = (sum(out[i][0] for i in n.inputs), *first[1:])
            else:  # bn, relu, add, dropout
                out[n.name] = first
        return out

    def parameters(self) -> dict[str, str]:
        """Neutral parameter name -> the op that owns it, in build order."""
        out = {}
        for n in self.nodes:
            if n.op in ("conv", "dense"):
                out[f"{n.name}/kernel"] = n.op
                if n.bias:
                    out[f"{n.name}/bias"] = n.op
            elif n.op == "bn":
                for p in ("gamma", "beta", "moving_mean", "moving_variance"):
                    out[f"{n.name}/{p}"] = n.op
        return out


@dataclass
class _Graph:
    """Appends nodes; each method returns the new node's name (the next node's input)."""

    width: float
    nodes: list[Node] = field(default_factory=list)

    def ch(self, channels: int) -> int:
        return max(1, round(channels * self.width))

    def add_node(self, name: str, op: str, inputs, **attrs) -> str:
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        self.nodes.append(Node(name, op, inputs, **attrs))
        return name

    def conv(self, name, x, filters, kernel, stride=1, padding=0, bias=False) -> str:
        return self.add_node(
            name, "conv", x, units=filters, kernel=kernel, stride=stride, padding=padding, bias=bias
        )

    def bn_relu(self, name, x) -> str:
        return self.add_node(f"{name}_relu", "relu", self.add_node(f"{name}_bn", "bn", x))


def vgg16(num_classes: int, width: float, input_shape) -> Spec:
    g = _Graph(width)
    x = "input"
    blocks = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
    for b, convs in enumerate(blocks, start=1):
        for c, filters in enumerate(convs, start=1):
            name = f"block{b}_conv{c}"
            x = g.conv(name, x, g.ch(filters), 3, padding=1, bias=True)
            x = g.add_node(f"{name}_relu", "relu", x)
        x = g.add_node(f"block{b}_pool", "maxpool", x, kernel=2, stride=2)
    x = g.add_node("flatten", "flatten", x)
    for i in (1, 2):
        x = g.add_node(f"fc{i}", "dense", x, units=g.ch(4096), bias=True)
        x = g.add_node(f"fc{i}_relu", "relu", x)
    g.add_node("predictions", "dense", x, units=num_classes, bias=True)
    return Spec("vgg16", width, num_classes, tuple(g.nodes), tuple(input_shape))


def resnet50(num_classes: int, width: float, input_shape) -> Spec:
    g = _Graph(width)
    x = g.conv("conv1", "input", g.ch(64), 7, stride=2, padding=3)
    x = g.bn_relu("conv1", x)
    x = g.add_node("pool1", "maxpool", x, kernel=3, stride=2, padding=1)
    for stage, (planes, blocks, stride) in enumerate(
        ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=2
    ):
        for b in range(1, blocks + 1):
            s = stride if b == 1 else 1
            name = f"conv{stage}_block{b}"
            y = g.bn_relu(f"{name}_1", g.conv(f"{name}_1_conv", x, g.ch(planes), 1))
            y = g.bn_relu(f"{name}_2", g.conv(f"{name}_2_conv", y, g.ch(planes), 3, s, 1))
            y = g.add_node(f"{name}_3_bn", "bn", g.conv(f"{name}_3_conv", y, 4 * g.ch(planes), 1))
            if b == 1:  # projection shortcut
                x = g.conv(f"{name}_0_conv", x, 4 * g.ch(planes), 1, stride=s)
                x = g.add_node(f"{name}_0_bn", "bn", x)
            x = g.add_node(f"{name}_out", "relu", g.add_node(f"{name}_add", "add", (x, y)))
    x = g.add_node("avg_pool", "gap", x)
    g.add_node("predictions", "dense", x, units=num_classes, bias=True)
    return Spec("resnet50", width, num_classes, tuple(g.nodes), tuple(input_shape))


def densenet121(num_classes: int, width: float, input_shape) -> Spec:
    g = _Graph(width)
    growth = g.ch(32)
    x = g.conv("conv1", "input", g.ch(64), 7, stride=2, padding=3)
    x = g.bn_relu("conv1", x)
    x = g.add_node("pool1", "maxpool", x, kernel=3, stride=2, padding=1)
    channels = g.ch(64)
    for block, layers in enumerate((6, 12, 24, 16), start=1):
        for layer in range(1, layers + 1):
            name = f"conv{block + 1}_block{layer}"
            y = g.bn_relu(f"{name}_0", x)
            y = g.bn_relu(f"{name}_1", g.conv(f"{name}_1_conv", y, 4 * growth, 1))
            y = g.conv(f"{name}_2_conv", y, growth, 3, padding=1)
            x = g.add_node(f"{name}_concat", "concat", (x, y))
            channels += growth
        if block < 4:
            name = f"pool{block + 1}"
            channels //= 2
            y = g.conv(f"{name}_conv", g.bn_relu(name, x), channels, 1)
            x = g.add_node(f"{name}_pool", "avgpool", y, kernel=2, stride=2)
    x = g.bn_relu("final", x)
    x = g.add_node("avg_pool", "gap", x)
    g.add_node("predictions", "dense", x, units=num_classes, bias=True)
    return Spec("densenet121", width, num_classes, tuple(g.nodes), tuple(input_shape))


def structured(spec: Spec, setting: dict) -> Spec:
    """``spec`` rebuilt for one side's structural knobs (``harness.knobs.STRUCTURAL``): the
    description itself when every structural knob has the description's value."""
    nodes = list(spec.nodes)
    if setting["resnet_stride_position"] == "1x1":
        for i, n in enumerate(nodes):  # v1: the block's first 1x1 conv strides, the 3x3 does not
            if n.name.endswith("_2_conv") and n.stride > 1:
                first = nodes.index(spec.node(n.name.removesuffix("_2_conv") + "_1_conv"))
                nodes[first] = replace(nodes[first], stride=n.stride)
                nodes[i] = replace(n, stride=1)
    if setting["conv_bias"] == "all":
        nodes = [replace(n, bias=True) if n.op == "conv" else n for n in nodes]
    rate = setting["vgg_head_dropout"]
    if rate:
        out = []
        for n in nodes:  # after each hidden dense layer's relu; the next node reads the dropout
            if out and out[-1].op == "dropout":
                n = replace(n, inputs=(out[-1].name,))
            out.append(n)
            if n.name in ("fc1_relu", "fc2_relu"):
                out.append(
                    Node(n.name.removesuffix("_relu") + "_dropout", "dropout", (n.name,), rate=rate)
                )
        nodes = out
    if nodes == list(spec.nodes):
        return spec
    return replace(spec, nodes=tuple(nodes))


SPECS = {"vgg16": vgg16, "resnet50": resnet50, "densenet121": densenet121}


def spec(arch: str, num_classes: int, width: float = 1.0, input_shape=(32, 32, 3)) -> Spec:
    """The mirror description of ``arch``; its shapes are checked for ``input_shape`` (H, W, C)."""
    if arch not in SPECS:
        raise ConfigError(f"arch={arch!r} has no mirror description: use one of {', '.join(SPECS)}")
    if not (0 < width <= 4):
        raise ConfigError(f"mirror width={width!r} must be in (0, 4]; 1.0 is the published width")
    built = SPECS[arch](num_classes, width, input_shape)
    built.shapes()  # refuses an input too small for the network
    return built
