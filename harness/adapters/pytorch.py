"""PyTorch adapter: torchvision models, an idiomatic DataLoader loop, framework defaults.

Mirrors ``harness.adapters.tensorflow`` function for function (see ``harness.adapters``).
"""

from __future__ import annotations

import math
import os
from importlib import metadata

import numpy as np

from ..environment import cpu_name, worker_index
from ..errors import HarnessError
from ..knobs import check_supported, settings

NAME = "pytorch"
EVAL_BATCH = 500

torch = None  # imported lazily by import_framework()


def import_framework() -> None:
    global torch
    if torch is None:
        import torch as _torch
        import torchvision  # noqa: F401  (fail early when the extra is incomplete)

        torch = _torch


def versions() -> dict:
    out = {"torch": metadata.version("torch"), "torchvision": metadata.version("torchvision")}
    if torch.cuda.is_available():
        out["cuda"] = torch.version.cuda
        out["cudnn"] = str(torch.backends.cudnn.version())
    return out


def configure(intra_op_threads: int, inter_op_threads: int, device: str) -> dict:
    """Fix threads, pick the device, switch determinism on; return what is now in force."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required for deterministic cuBLAS
    torch.set_num_threads(intra_op_threads)
    if torch.get_num_interop_threads() != inter_op_threads:
        try:
            torch.set_num_interop_threads(inter_op_threads)
        except RuntimeError:
            raise HarnessError(
                f"PyTorch already runs {torch.get_num_interop_threads()} inter-op threads in "
                f"this process; the profile asks for {inter_op_threads}. Configure before "
                "PyTorch runs any parallel work: start a new process"
            ) from None
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    # TF32 back to PyTorch's default: a mirror run in this process may have set it (knob tf32),
    # and what is recorded here must not depend on what ran before.
    _set_tf32("matmul off, conv on")
    use_cuda = device == "cuda" and torch.cuda.is_available()
    if use_cuda:  # with -n N and G GPUs, worker i trains on GPU i mod G
        torch.cuda.set_device(worker_index() % torch.cuda.device_count())
    return {
        "device": "cuda" if use_cuda else "cpu",
        "device_name": torch.cuda.get_device_name(0) if use_cuda else cpu_name(),
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
        "determinism": {
            "torch.use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "torch.backends.cudnn.benchmark": torch.backends.cudnn.benchmark,
        },
        # Native: torch's own default. Recorded because TF's default differs on Ampere/Hopper.
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "kernels": kernels(use_cuda),
    }


def kernels(use_cuda: bool) -> dict:
    """What PyTorch dispatches to on this platform: its CPU kernel ISA (``ATEN_CPU_CAPABILITY``
    caps it), and on CUDA the GPU, its compute capability and the CUDA and cuDNN versions."""
    out = {"cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if use_cuda:
        index = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        out["gpu"] = {
            "name": torch.cuda.get_device_name(index),
            "compute_capability": f"{major}.{minor}",
            "cuda": torch.version.cuda,
            "cudnn": str(torch.backends.cudnn.version()),
        }
    return out


def seed(value: int) -> None:
    torch.manual_seed(value)  # seeds the CPU and every CUDA generator


def build_zoo(arch: str, num_classes: int, input_shape: tuple[int, int, int], device: str):
    """torchvision's model, no pretrained weights, as CrossedWires built it, on ``device``."""
    return _zoo(arch, num_classes).to(device)


def build_custom(builder, num_classes: int, input_shape: tuple[int, int, int], device: str):
    """A user's own model: ``builder(num_classes, input_shape)`` (input_shape is (H, W, C); the
    model gets NCHW float32 images in [0, 1] and returns logits), on ``device``."""
    model = builder(num_classes, input_shape)
    if not isinstance(model, torch.nn.Module):
        raise HarnessError(
            f"the pytorch builder {_name(builder)} returned {type(model).__name__}, not a "
            "torch.nn.Module: return the model (logits out, as torchvision's)"
        )
    return model.to(device)


def _name(builder) -> str:
    return getattr(builder, "__qualname__", None) or repr(builder)


def _zoo(arch: str, num_classes: int):
    from torchvision import models

    if arch == "resnet50":
        # v1.5 (stride on the 3x3 conv), convs without bias, BN eps 1e-5 / momentum 0.1,
        # kaiming_normal(fan_out) convs: Keras' ResNet50 is v1 with biased convs and glorot init.
        return models.resnet50(weights=None, num_classes=num_classes)
    if arch == "densenet121":
        # Same topology as Keras' DenseNet121; init (kaiming_normal vs glorot_uniform) and BN
        # (eps 1e-5 vs 1.001e-5, momentum 0.1 vs 0.99) differ.
        return models.densenet121(weights=None, num_classes=num_classes)
    if arch == "vgg16":
        # The paper's variant: torchvision's features, no adaptive pool, the first classifier
        # layer Linear(512, 4096) (1x1x512 after five pools at 32x32), both Dropout(0.5) kept,
        # torchvision's init (linear N(0, 0.01), bias 0). Keras' VGG16 head has no dropout.
        model = models.vgg16(weights=None, num_classes=num_classes)
        model.avgpool = torch.nn.Identity()
        first = torch.nn.Linear(512, 4096)
        torch.nn.init.normal_(first.weight, 0, 0.01)
        torch.nn.init.zeros_(first.bias)
        model.classifier[0] = first
        return model
    raise ValueError(f"arch={arch!r} has no PyTorch zoo builder")


# --- mirror models (harness/mirror.py), knobs (harness/knobs.py) ---------------------------

SUPPORTED = {  # knob -> the values this adapter can run
    # "torch": the layer defaults; "torchvision": what torchvision's model of the architecture
    # re-initialises (_torchvision_init); "shared": the layer defaults' draws are the shared weights
    "init": ("torch", "torchvision", "shared"),
    "bn_momentum": None,  # any number
    "bn_epsilon": None,
    "bn_running_variance": ("unbiased", "biased"),
    "adam_epsilon": ("eps", "epsilon_hat"),
    "loss_input": ("logits",),
    "strided_padding": ("symmetric",),
    "tf32": ("matmul off, conv on", "off", "on"),
    "resnet_stride_position": ("3x3", "1x1"),
    "conv_bias": ("description", "all"),
    "vgg_head_dropout": None,
}


def build_mirror(spec, setting: dict, device: str):
    """The mirror description as an ``nn.Module`` whose modules are named by the spec's nodes."""
    from ..mirror import structured

    check_supported(NAME, setting, SUPPORTED)
    model = _mirror_class()(structured(spec, setting), setting)
    if setting["init"] == "torchvision":
        _torchvision_init(model)
    return model.to(device)


def _torchvision_init(model) -> None:
    """Knob ``init="torchvision"``: re-initialise the mirror as torchvision's model of its
    architecture does after building (the ``for m in self.modules()`` loop of
    torchvision/models/resnet.py, densenet.py and vgg.py ``__init__``); batch norms keep
    weight 1 and bias 0, as there."""
    nn = torch.nn
    arch = model.spec.arch
    for module in model.layers.values():
        if isinstance(module, nn.Conv2d):
            if arch == "densenet121":
                nn.init.kaiming_normal_(module.weight)  # fan_in, gain sqrt(2)
            else:
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            if arch == "vgg16":
                nn.init.normal_(module.weight, 0, 0.01)
            if arch in ("vgg16", "densenet121"):
                nn.init.zeros_(module.bias)  # ResNet50's fc keeps nn.Linear's own
        elif not isinstance(module, (nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.Dropout)):
            raise ValueError(f"torchvision init has no rule for {type(module).__name__}")


def _mirror_class():
    """Defined on first use: torch is imported lazily."""
    nn, F = torch.nn, torch.nn.functional

    class BatchNorm(nn.BatchNorm2d):
        """``nn.BatchNorm2d``; with ``biased=True`` its running variance keeps the biased batch
        variance, as Keras' does (knob ``bn_running_variance``). Normalisation is the same."""

        def __init__(self, channels: int, eps: float, momentum: float, biased: bool):
            super().__init__(channels, eps=eps, momentum=momentum)
            self.biased = biased

        def forward(self, x):
            if not (self.training and self.biased):
                return super().forward(x)
            with torch.no_grad():
                mean = x.mean((0, 2, 3))
                var = x.var((0, 2, 3), unbiased=False)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
                self.num_batches_tracked += 1
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    class MirrorNet(nn.Module):
        def __init__(self, spec, setting: dict):
            super().__init__()
            self.spec = spec
            self.layers = nn.ModuleDict()
            shapes = spec.shapes()
            for n in spec.nodes:
                cin = shapes[n.inputs[0]][0]
                if n.op == "conv":
                    self.layers[n.name] = nn.Conv2d(
                        cin,
                        n.units,
                        n.kernel,
                        n.stride,
                        n.padding,
                        bias=n.bias,
                        dilation=n.dilation,
                        groups=n.groups,
                    )
                elif n.op == "bn":
                    self.layers[n.name] = BatchNorm(
                        cin,
                        setting["bn_epsilon"],
                        setting["bn_momentum"],
                        setting["bn_running_variance"] == "biased",
                    )
                elif n.op == "dense":
                    self.layers[n.name] = nn.Linear(cin, n.units, bias=n.bias)
                elif n.op == "maxpool":
                    self.layers[n.name] = nn.MaxPool2d(n.kernel, n.stride, n.padding)
                elif n.op == "avgpool":
                    self.layers[n.name] = nn.AvgPool2d(n.kernel, n.stride, n.padding)
                elif n.op == "dropout":
                    self.layers[n.name] = nn.Dropout(n.rate)

        def forward(self, x):
            return self.walk(x)[self.spec.output]

        def walk(self, x) -> dict:
            """Every node's output by node name (and the input by its name)."""
            values = {self.spec.input_name: x}
            for n in self.spec.nodes:
                args = [values[i] for i in n.inputs]
                if n.name in self.layers:
                    out = self.layers[n.name](args[0])
                elif n.op == "relu":
                    out = F.relu(args[0])
                elif n.op == "gap":
                    out = args[0].mean((2, 3))
                elif n.op == "flatten":
                    out = torch.flatten(args[0], 1)  # C, H, W order: the neutral layout's
                elif n.op == "add":
                    out = args[0] + args[1]
                elif n.op == "concat":
                    out = torch.cat(args, 1)
                else:
                    raise ValueError(f"mirror op {n.op!r} has no PyTorch implementation")
                values[n.name] = out
            return values

    return MirrorNet


_PARAM = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
_BUFFER = {"moving_mean": "running_mean", "moving_variance": "running_var"}


def get_mirror_weights(model) -> dict[str, np.ndarray]:
    """Every parameter and running statistic by its neutral name, in the neutral layout
    (PyTorch's own: see ``harness/mirror.py``)."""
    out = {}
    for neutral in model.spec.parameters():
        node, param = neutral.split("/")
        tensor = getattr(model.layers[node], _PARAM.get(param) or _BUFFER[param])
        out[neutral] = tensor.detach().cpu().numpy().copy()
    return out


def set_mirror_weights(model, arrays: dict[str, np.ndarray]) -> None:
    """Load neutral-layout arrays; names and shapes must match the model's exactly."""
    from ..transfer import check_names_and_shapes

    check_names_and_shapes(NAME, get_mirror_weights(model), arrays)
    with torch.no_grad():
        for neutral, value in arrays.items():
            node, param = neutral.split("/")
            tensor = getattr(model.layers[node], _PARAM.get(param) or _BUFFER[param])
            tensor.copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))


def forward(model, x: np.ndarray, training: bool) -> np.ndarray:
    """The model's output on uint8 NHWC images, in training or inference mode, as float64.
    In training mode batch norms use the batch statistics (and update their running ones)."""
    model.train(training)
    with torch.no_grad():
        out = model(_to_tensor(x).to(_device_of(model), _dtype_of(model)))
    return out.double().cpu().numpy()


def _epsilon_hat_adam():
    class EpsilonHatAdam(torch.optim.Optimizer):
        """Adam as Keras computes it (knob ``adam_epsilon`` = ``epsilon_hat``):
        ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``, the same operations in
        the same order as keras/src/optimizers/adam.py ``update_step``."""

        def __init__(self, params, lr, eps, betas=(0.9, 0.999)):
            super().__init__(params, {"lr": lr, "eps": eps, "betas": betas})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["t"] = 0
                        state["m"] = torch.zeros_like(p)
                        state["v"] = torch.zeros_like(p)
                    state["t"] += 1
                    t = state["t"]
                    alpha = group["lr"] * math.sqrt(1 - b2**t) / (1 - b1**t)
                    m, v, g = state["m"], state["v"], p.grad
                    m.add_((g - m) * (1 - b1))
                    v.add_((g.square() - v) * (1 - b2))
                    p.sub_((m * alpha) / (v.sqrt() + group["eps"]))

    return EpsilonHatAdam


def _set_tf32(value: str) -> None:
    """Knob ``tf32``: PyTorch's default is TF32 off for matmul and on for cuDNN convs."""
    modes = {"matmul off, conv on": (False, True), "off": (False, False), "on": (True, True)}
    matmul, conv = modes[value]
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = conv


def _to_tensor(x: np.ndarray):
    """uint8 NHWC -> float32 NCHW in [0, 1], as torchvision's ToTensor()."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float().div_(255.0)


def train(
    model,
    x: np.ndarray,
    y: np.ndarray,
    hp: dict,
    epochs: int,
    on_epoch_end=None,
    setting: dict | None = None,
) -> dict:
    """Adam(lr, eps), CrossEntropyLoss on logits, batches in dataset order (shuffle=False).
    ``on_epoch_end(epoch)``, when given, is called after each epoch (benchmarks time epochs).
    ``setting`` holds the knobs (``harness.knobs``): None is PyTorch's defaults; a zoo model
    reads only ``tf32``, a mirror model reads ``adam_epsilon`` here and the rest at build time.

    The whole training set is moved to the model's device once and batches are slices of it:
    no per-step host copies and no per-sample collation (what a DataLoader over a
    TensorDataset does). The loss is summed on the device and read once per epoch, so CUDA
    never waits for the host mid-epoch; a non-finite epoch loss stops training as diverged.
    """
    setting = setting or settings("native")[NAME]
    _set_tf32(setting["tf32"])
    device, dtype = _device_of(model), _dtype_of(model)
    xs, ys = _to_tensor(x).to(device, dtype), torch.from_numpy(y).to(device)
    bs = hp["batch_size"]
    optimizer = make_optimizer(model, hp, setting)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses: list[float | None] = []
    diverged = False
    model.train()
    for _ in range(epochs):
        total = torch.zeros((), dtype=torch.float64, device=device)
        for i in range(0, len(xs), bs):
            optimizer.zero_grad()
            loss = loss_fn(model(xs[i : i + bs]), ys[i : i + bs])
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * len(ys[i : i + bs])
        mean = total.item() / len(xs)  # sample-weighted, as Keras' history
        diverged = not math.isfinite(mean)
        losses.append(None if diverged else mean)
        if on_epoch_end is not None:
            on_epoch_end(len(losses) - 1)
        if diverged:
            break
    return {"training_loss": losses, "diverged": diverged}


def make_optimizer(model, hp: dict, setting: dict | None = None):
    """The optimizer ``train`` uses: ``torch.optim.Adam(lr, eps)``, or with knob
    ``adam_epsilon="epsilon_hat"`` Keras' formula."""
    setting = setting or settings("native")[NAME]
    if setting["adam_epsilon"] == "epsilon_hat":
        return _epsilon_hat_adam()(
            model.parameters(), lr=hp["learning_rate"], eps=hp["adam_epsilon"]
        )
    return torch.optim.Adam(model.parameters(), lr=hp["learning_rate"], eps=hp["adam_epsilon"])


# --- numerics check (harness/numerics.py): the same primitives on both sides ----------------


def trainable(model) -> dict[str, np.ndarray]:
    """Every trainable parameter by name, as NumPy, in PyTorch's layout."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.named_parameters()}


def running_statistics(model) -> dict[str, np.ndarray]:
    """Every batch-norm running mean and variance by name."""
    return {
        k: v.detach().cpu().numpy().copy()
        for k, v in model.named_buffers()
        if k.endswith(("running_mean", "running_var"))
    }


def float64_copy(model):
    """The same model with every parameter and buffer in float64: the rounding-free reference."""
    import copy

    return copy.deepcopy(model).double()


def _train_mode_without_dropout(model, setting: dict | None) -> None:
    """The set-up of one checked training step (``first_step``, ``trace_mirror``): the knob
    ``tf32`` of ``setting`` (None: PyTorch's defaults), training mode with every dropout off,
    no gradients left over."""
    _set_tf32((setting or settings("native")[NAME])["tf32"])
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.eval()
    model.zero_grad(set_to_none=True)


def first_step(model, x: np.ndarray, y: np.ndarray, setting: dict | None = None) -> dict:
    """What the first training step computes before the optimizer moves anything: a forward
    pass in training mode (batch statistics; the running statistics update as in training),
    the loss and every parameter's gradient. Dropout is off: its masks come from a random
    stream, not from the arithmetic this checks. Returns float64 NumPy: ``loss``, ``output``
    (the model's output) and ``gradients`` by parameter name."""
    _train_mode_without_dropout(model, setting)
    xs = _to_tensor(x).to(_device_of(model), _dtype_of(model))
    out = model(xs)
    loss = torch.nn.CrossEntropyLoss()(out, torch.from_numpy(y).to(out.device))
    loss.backward()
    grads = {k: v.grad.detach().double().cpu().numpy() for k, v in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return {
        "loss": float(loss.detach().double()),
        "output": out.detach().double().cpu().numpy(),
        "gradients": grads,
    }


def loss_probe(logits: np.ndarray, y: np.ndarray, setting: dict | None, dtype: str) -> dict:
    """The training loss (``CrossEntropyLoss`` on logits, as ``train``) of fixed ``logits``
    in ``dtype``, and its gradient with respect to them, as float64 NumPy."""
    z = torch.tensor(np.asarray(logits), dtype=getattr(torch, dtype), requires_grad=True)
    loss = torch.nn.CrossEntropyLoss()(z, torch.from_numpy(np.asarray(y)))
    loss.backward()
    return {"loss": float(loss.detach().double()), "gradient": z.grad.double().numpy()}


def apply_gradients(model, optimizer, gradients: dict[str, np.ndarray]) -> None:
    """One optimizer step with the given gradients (by parameter name) in place of backprop."""
    for k, v in model.named_parameters():  # a copy: an optimizer may work in its gradients
        v.grad = torch.from_numpy(np.array(gradients[k])).to(v.device, v.dtype)
    optimizer.step()
    model.zero_grad(set_to_none=True)


def predict(model, x: np.ndarray) -> np.ndarray:
    device = _device_of(model)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            out.append(model(_to_tensor(x[i : i + EVAL_BATCH]).to(device)).argmax(1).cpu().numpy())
    return np.concatenate(out).astype(np.int64)


def weights(model) -> dict[str, np.ndarray]:
    """Every parameter and buffer by its state_dict name, as NumPy (PyTorch layout)."""
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _device_of(model):
    return next(model.parameters()).device


def _dtype_of(model):
    """float32, or float64 where a test runs a float64 copy as the rounding-free reference."""
    return next(model.parameters()).dtype


# --- per-layer localization (harness/localize.py): the same function on both sides ---------

TRAINABLE = ("kernel", "bias", "gamma", "beta")  # neutral parameter names the optimizer moves


def trace_mirror(model, x: np.ndarray, y: np.ndarray, hp: dict, setting: dict | None = None):
    """One training step of a mirror model, per node, in the neutral layout, as float64 NumPy:

    - ``outputs``: each node's output in training mode (batch statistics), by node name;
    - ``gradients``: the loss's gradient with respect to each tensor (the input and each
      node's output), by the name of the node that produces it: a layer's input gradient is
      its inputs' entries (for a tensor read by several layers, the total);
    - ``parameter_gradients``: each trainable parameter's gradient, by neutral name;
    - ``updates``: how one step of ``hp``'s optimizer (``make_optimizer``) moved each
      parameter, and how the forward pass moved each running statistic, by neutral name;
    - ``loss``.

    Dropout is off (its masks come from the framework's random stream). The model is left
    after the step (weights moved, running statistics updated)."""
    _train_mode_without_dropout(model, setting)
    before = get_mirror_weights(model)
    xs = _to_tensor(x).to(_device_of(model), _dtype_of(model)).requires_grad_(True)
    values = model.walk(xs)
    for value in values.values():
        if value.requires_grad and value is not xs:
            value.retain_grad()
    out = values[model.spec.output]
    loss = torch.nn.CrossEntropyLoss()(out, torch.from_numpy(y).to(out.device))
    loss.backward()

    def numpy(t):
        return t.detach().double().cpu().numpy()

    gradients = {
        k: numpy(v.grad) if v.grad is not None else np.zeros(v.shape) for k, v in values.items()
    }
    parameter_gradients = {}
    for neutral in model.spec.parameters():
        node, param = neutral.split("/")
        if param in TRAINABLE:
            parameter_gradients[neutral] = numpy(getattr(model.layers[node], _PARAM[param]).grad)
    make_optimizer(model, hp, setting).step()
    model.zero_grad(set_to_none=True)
    after = get_mirror_weights(model)
    return {
        "loss": float(loss.detach().double()),
        "outputs": {k: numpy(v) for k, v in values.items() if k != model.spec.input_name},
        "gradients": gradients,
        "parameter_gradients": parameter_gradients,
        "updates": {
            k: np.asarray(after[k], np.float64) - np.asarray(before[k], np.float64) for k in after
        },
    }
