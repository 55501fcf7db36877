"""A catalogue of realistic framework changes, each a reversible in-process patch: what the
numerics check (``harness/numerics.py``) is measured against.

Why
    The numerics check must catch what an upgrade of PyTorch or TensorFlow/Keras can change (a
    default, an optimizer's formula, a kernel's precision, an initializer's random stream) and
    must stay quiet where nothing changed but the order of float32 roundings (principle 12 of
    ``DESIGN.md``: what a check can detect is itself measured, by realistic changes patched in
    one at a time). This module lists such changes; a benchmark applies each in turn, reruns
    the check against a baseline recorded without it and reports which were caught, in which
    stage, and which "null" changes raised a false alarm.

What a change is
    A ``Change`` names one framework (``pytorch``, or ``tensorflow`` for the Keras side), a
    ``kind``, one sentence of what changes, where the idea comes from (``source``: a release
    note, an issue or a source file; or ``synthetic: <why>``), the stages of the check where it
    must be seen, and the architectures and arch sources where it has an effect. Its ``patch()``
    returns a context manager: entering it changes the installed framework in this process
    (a class attribute, a module function, a harness adapter's conversion), exiting restores
    every replaced attribute exactly (also when the body raises), so that the framework then
    computes bit for bit as before.

    Stages (``STAGES``): ``init`` initial weights; ``output``/``loss`` the training-mode forward
    and its loss; ``grad`` the parameter gradients; ``running`` batch-norm running statistics
    after that forward; ``eval_output`` the inference-mode output; ``step`` several Adam steps
    on synthetic gradients; ``loss_fn`` the training loss (value and gradient) on fixed
    synthetic outputs. ``stages`` lists where the change must show *in a model that has that
    stage* (VGG16 has no batch norm, so no ``running``); ``()`` means it must not show at all:
    a change numerically equivalent to the original within float32 rounding (the ``null``
    kind, and one data-path change), which checks for false alarms.

    The stages were checked through the harness's own code (``numerics.probe``, smoke profile,
    each change against an unpatched run, 2026-12-03: every change on the DenseNet121, ResNet50
    and VGG16 mirrors, nine zoo-only and null ones on the DenseNet121 zoo models). Caveats
    measured with the check before it was redesigned (one norm per tensor, the same
    synthetic gradient every step): VGG16's logits are near zero at initialisation in both
    frameworks, so there a change before the head moves the loss, and Keras' softmax outputs,
    by float32 rounding only, while its gradients show it (the check now also probes the loss
    function on fixed logits, ``loss_fn``); the norms of ``init`` do not change under a
    permutation of the draws (the ``*-stream-reversed`` changes: the check now records
    projections too); a null change still moves gradient norms, as backward passes amplify
    rounding, by up to ~3e-2 relative and ~0.5 for a gradient whose true value is near zero;
    with the same synthetic gradient every step torch's Adam is blind to both betas and to
    amsgrad, Keras' to beta_1 and amsgrad (the check now draws a new gradient every step).
    What the redesigned check catches of this catalogue is ``benchmarks/sensitivity.py``'s to
    say (``docs/numerics.md``).

How to use it
    Enter the patch *before* building the model: an initializer change (``init``, the stem
    perturbation, a changed default) acts when layers are constructed; every other change acts
    at call time, on models built before or after. Build, probe, exit::

        from harness import changes
        with changes.get("torch-adam-beta1-minus-0.001").patch():
            now = numerics.measure(arch, source, profile, data, reference=False)

    Frameworks are imported inside the patches, so this module imports without them.

How to add a change
    Add a ``Change`` to ``CHANGES`` with a patch built from ``_replaced`` (which restores in
    ``finally``) and, in ``tests/test_changes.py``, the probe of the op it targets.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

FRAMEWORKS = ("pytorch", "tensorflow")
KINDS = (
    "optimizer",
    "default",
    "kernel-precision",
    "loss",
    "weights",
    "init",
    "activation",
    "batchnorm",
    "data",
    "null",
)
STAGES = ("init", "output", "loss", "grad", "running", "eval_output", "step", "loss_fn")
ARCHS = ("vgg16", "resnet50", "densenet121")
SOURCES = ("zoo", "mirror")
BN_ARCHS = ("resnet50", "densenet121")  # VGG16 has no batch norm in either source

FORWARD = ("output", "loss", "grad", "running", "eval_output")  # a change in the forward pass
INIT = ("init", *FORWARD)  # a change of initial weights, and all they feed
# Keras' batch norms keep 99% of their initial moving statistics after one step (momentum
# 0.99), so an inference-mode Keras ResNet50/DenseNet121 is a deep un-normalised network ending
# in a saturated softmax: a change in the forward pass moves its eval output by float32
# rounding only (measured: 1e-8 .. 6e-7 relative on the DenseNet121 mirror), so it is not
# listed there; where the whole initialisation changes it does show (1e-5 .. 1e-4).
KERAS_FORWARD = ("output", "loss", "grad", "running")
KERAS_INIT = ("init", *KERAS_FORWARD)
STEP = ("step",)


@dataclass(frozen=True)
class Change:
    name: str  # kebab-case id
    framework: str  # "pytorch" or "tensorflow" (the Keras side)
    kind: str  # one of KINDS
    description: str  # one sentence: what changes
    source: str  # why it is realistic: URL / repo path, or "synthetic: <reason>"
    stages: tuple[str, ...]  # where it must be seen; () for a change that must not be seen
    archs: tuple[str, ...] = ARCHS
    sources: tuple[str, ...] = SOURCES
    patch: Callable[[], AbstractContextManager] = None  # type: ignore[assignment]


# --- the mechanism: replace attributes, restore them exactly ---------------------------------

_MISSING = object()


@contextlib.contextmanager
def _replaced(*replacements):
    """Set ``(owner, name, value)`` attributes; on exit put back exactly what each owner held
    itself (an attribute it inherited is deleted again, so lookup falls through as before)."""
    saved = []
    try:
        for owner, name, value in replacements:
            saved.append((owner, name, vars(owner).get(name, _MISSING)))
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, old in reversed(saved):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


def _bound(function, *args, **kwargs) -> dict:
    """The full argument dict of a call (defaults applied), by parameter name."""
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _passed(function, name: str, args: tuple, kwargs: dict) -> bool:
    """Whether a call passed parameter ``name`` (positionally or by keyword)."""
    return name in inspect.signature(function).bind_partial(*args, **kwargs).arguments


def _signs(shape, seed: int = 0) -> np.ndarray:
    """Fixed random signs, from NumPy (not from a framework's stream, which must not move)."""
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)


# --- PyTorch helpers -------------------------------------------------------------------------


def _torch():
    import torch

    return torch


def _torch_adam_module():
    """``torch.optim.adam``, the module (``torch.optim`` does not expose it as an attribute)."""
    import importlib

    return importlib.import_module("torch.optim.adam")


def _torch_round_mantissa(x, bits: int):
    """``x`` rounded (to nearest, ties to even) to ``bits`` mantissa bits, through float32,
    with an identity gradient: TF32 (10 bits) and bfloat16 (7 bits) read their inputs so."""
    torch = _torch()
    with torch.no_grad():
        f = x.detach().to(torch.float32).contiguous()
        i = f.view(torch.int32)
        drop = 23 - bits
        lsb = torch.bitwise_and(torch.bitwise_right_shift(i, drop), 1)
        r = torch.bitwise_and(i + ((1 << (drop - 1)) - 1) + lsb, -(1 << drop))
        rounded = r.view(torch.float32).to(x.dtype)
    return x + (rounded - x).detach()  # exact: the difference and the sum are representable


def _torch_adam(transform=None, step=None):
    """A patch replacing ``torch.optim.Adam`` (what ``make_optimizer`` calls) with a subclass:
    ``transform(arguments)`` edits the constructor's arguments (defaults applied);
    ``step(optimizer)``, when given, replaces the update (``_adam_variant_step``)."""

    def patch():
        torch = _torch()
        original = torch.optim.Adam

        def __init__(self, *args, **kwargs):
            arguments = _bound(original.__init__, self, *args, **kwargs)
            arguments.pop("self")
            if transform is not None:
                arguments = transform(arguments)
            original.__init__(self, **arguments)

        namespace = {"__init__": __init__, "__module__": original.__module__}
        if step is not None:
            namespace["step"] = torch.no_grad()(step)
        cls = type("Adam", (original,), namespace)
        cls.__qualname__ = original.__qualname__
        return _replaced((torch.optim, "Adam", cls), (_torch_adam_module(), "Adam", cls))

    return patch


def _with(**values):
    def transform(arguments):
        return {**arguments, **values}

    return transform


def _betas(d1: float = 0.0, d2: float = 0.0):
    def transform(arguments):
        b1, b2 = arguments["betas"]
        return {**arguments, "betas": (b1 + d1, b2 + d2)}

    return transform


def _torch_adam_default(name: str, value):
    def patch():
        torch = _torch()
        original = torch.optim.Adam

        def __init__(self, *args, **kwargs):
            if not _passed(original.__init__, name, (self, *args), kwargs):
                kwargs[name] = value
            original.__init__(self, *args, **kwargs)

        cls = type("Adam", (original,), {"__init__": __init__, "__module__": original.__module__})
        return _replaced((torch.optim, "Adam", cls), (_torch_adam_module(), "Adam", cls))

    return patch


def _adam_variant_step(eps_inside_sqrt: bool = False, step_offset: int = 0):
    """Adam's update as ``torch/optim/adam.py _single_tensor_adam`` computes it (the same
    operations in the same order), with epsilon optionally inside the square root
    (``sqrt(v_hat + eps)``) and the bias corrections optionally computed at step ``t +
    step_offset``. With neither, it is bit-identical to torch's own (``tests/test_changes.py``)."""

    def step(self, closure=None):
        torch = _torch()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                grad = p.grad
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                state["step"] += 1
                t = state["step"].item() + step_offset
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                step_size = lr / bias_correction1
                if eps_inside_sqrt:
                    denom = (exp_avg_sq / bias_correction2).add_(eps).sqrt_()
                else:
                    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-step_size)

    return step


def _torch_loss(forward=None, init_defaults=None):
    """A patch replacing ``torch.nn.CrossEntropyLoss`` (the adapter builds it at call time)
    with a subclass whose constructor defaults (``init_defaults``) or ``forward(loss_module,
    input, target, original_forward)`` differ."""

    def patch():
        torch = _torch()
        original = torch.nn.CrossEntropyLoss
        namespace = {"__module__": original.__module__}
        if init_defaults:

            def __init__(self, *args, **kwargs):
                for name, value in init_defaults.items():
                    if not _passed(original.__init__, name, (self, *args), kwargs):
                        kwargs[name] = value
                original.__init__(self, *args, **kwargs)

            namespace["__init__"] = __init__
        if forward is not None:

            def patched_forward(self, input, target):
                return forward(self, input, target, original.forward)

            namespace["forward"] = patched_forward
        cls = type("CrossEntropyLoss", (original,), namespace)
        return _replaced((torch.nn, "CrossEntropyLoss", cls))

    return patch


def _scaled_backward(factor: float):
    def forward(module, input, target, original_forward):
        loss = original_forward(module, input, target)
        if not loss.requires_grad:
            return loss
        out = loss.view_as(loss)
        out.register_hook(lambda g: g * factor)
        return out

    return forward


def _torch_functional(name: str, make):
    """A patch replacing ``torch.nn.functional.<name>`` (modules look it up at call time)
    with ``make(original)``."""

    def patch():
        F = _torch().nn.functional
        return _replaced((F, name, make(getattr(F, name))))

    return patch


def _ce_logits_bf16(original):
    def cross_entropy(input, target, *args, **kwargs):
        return original(_torch_round_mantissa(input, 7), target, *args, **kwargs)

    return cross_entropy


def _ce_log_of_softmax(original):
    def cross_entropy(
        input,
        target,
        weight=None,
        size_average=None,
        ignore_index=-100,
        reduce=None,
        reduction="mean",
        label_smoothing=0.0,
    ):
        F = _torch().nn.functional
        if weight is not None or label_smoothing or size_average is not None or reduce is not None:
            return original(
                input,
                target,
                weight,
                size_average,
                ignore_index,
                reduce,
                reduction,
                label_smoothing,
            )
        logp = _torch().log(F.softmax(input, 1))
        return F.nll_loss(logp, target, ignore_index=ignore_index, reduction=reduction)

    return cross_entropy


def _conv_rounded(bits: int):
    def make(original):
        def conv2d(input, weight, *args, **kwargs):
            return original(
                _torch_round_mantissa(input, bits),
                _torch_round_mantissa(weight, bits),
                *args,
                **kwargs,
            )

        return conv2d

    return make


def _bn_eps_times(factor: float):
    def make(original):
        def batch_norm(
            input,
            running_mean,
            running_var,
            weight=None,
            bias=None,
            training=False,
            momentum=0.1,
            eps=1e-5,
        ):
            return original(
                input, running_mean, running_var, weight, bias, training, momentum, eps * factor
            )

        return batch_norm

    return make


def _bn_biased_running_var(original):
    """``F.batch_norm`` keeping the biased batch variance in the running variance (Keras'
    convention), as ``harness/adapters/pytorch.py``'s mirror BatchNorm does for that knob."""

    def batch_norm(
        input,
        running_mean,
        running_var,
        weight=None,
        bias=None,
        training=False,
        momentum=0.1,
        eps=1e-5,
    ):
        torch = _torch()
        if not (training and running_var is not None and momentum is not None):
            return original(input, running_mean, running_var, weight, bias, training, momentum, eps)
        dims = [0, *range(2, input.dim())]
        with torch.no_grad():
            running_mean.lerp_(input.mean(dims), momentum)
            running_var.lerp_(input.var(dims, unbiased=False), momentum)
        return original(input, None, None, weight, bias, True, 0.0, eps)

    return batch_norm


def _leaky(slope: float):
    def make(original):
        def relu(input, inplace=False):
            return _torch().nn.functional.leaky_relu(input, slope, inplace)

        return relu

    return make


def _relu_grad_one_at_zero(original):
    torch = _torch()

    class ReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp_min(0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x >= 0).to(g.dtype)

    def relu(input, inplace=False):
        if not torch.is_grad_enabled() or not input.requires_grad:
            return original(input, inplace)
        return ReLU.apply(input)

    return relu


def _maxpool_pad_bottom_right(original):
    """Max pool with padding 1 computed with both padded rows/columns at the bottom/right (TF's
    'same' rule), so the window grid starts one pixel earlier; the output size is unchanged."""

    def max_pool2d(input, kernel_size, stride=None, padding=0, *args, **kwargs):
        if padding in (1, (1, 1)):
            F = _torch().nn.functional
            input = F.pad(input, (0, 2, 0, 2), value=-math.inf)
            padding = 0
        return original(input, kernel_size, stride, padding, *args, **kwargs)

    return max_pool2d


def _avgpool_exclude_pad(original):
    def avg_pool2d(
        input,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        return original(input, kernel_size, stride, padding, ceil_mode, False, divisor_override)

    return avg_pool2d


def _adaptive_avg_sum_over_n(original):
    def adaptive_avg_pool2d(input, output_size):
        if output_size in (1, (1, 1)):
            h, w = input.shape[-2:]
            return input.sum((-2, -1), keepdim=True) / (h * w)
        return original(input, output_size)

    return adaptive_avg_pool2d


def _torch_method(owner_path: str, name: str, make):
    """A patch replacing attribute ``name`` of the torch class at ``owner_path`` (relative to
    ``torch``) with ``make(original)``."""

    def patch():
        owner = _torch()
        for part in owner_path.split("."):
            owner = getattr(owner, part)
        return _replaced((owner, name, make(getattr(owner, name))))

    return patch


def _last_linear_weight_grad_times(factor: float):
    """``nn.Linear.forward`` scaling the weight gradient of the Linear that ran last in the
    forward pass (the classifier head) by ``factor``; the forward values are unchanged."""
    state = {}

    def make(original):
        def forward(self, input):
            torch = _torch()
            state["last"] = self
            weight = self.weight
            if torch.is_grad_enabled() and weight.requires_grad:
                weight = weight.view_as(weight)
                weight.register_hook(lambda g: g * factor if state.get("last") is self else g)
            return torch.nn.functional.linear(input, weight, self.bias)

        return forward

    return make


def _linear_as_matmul(original):
    def forward(self, input):
        out = input @ self.weight.T
        return out + self.bias if self.bias is not None else out

    return forward


def _linear_init_a0(original):
    def reset_parameters(self):
        init = _torch().nn.init
        init.kaiming_uniform_(self.weight, a=0.0)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    return reset_parameters


def _torch_init_patch(make, names=("kaiming_normal_", "kaiming_uniform_")):
    """A patch replacing ``torch.nn.init.<name>`` for each name (torchvision and the layers'
    ``reset_parameters`` call them as ``init.<name>`` at build time)."""

    def patch():
        init = _torch().nn.init
        return _replaced(*((init, n, make(getattr(init, n))) for n in names))

    return patch


def _perturb_stem(original):
    """After the initializer ran: a conv kernel with 3 input channels (the first conv of every
    model here) is multiplied by 1 + 1e-3 * (random signs)."""

    def initializer(tensor, *args, **kwargs):
        out = original(tensor, *args, **kwargs)
        if tensor.dim() == 4 and tensor.shape[1] == 3:
            torch = _torch()
            with torch.no_grad():
                factor = torch.from_numpy(1.0 + 1e-3 * _signs(tuple(tensor.shape)))
                tensor.mul_(factor.to(tensor.dtype))
        return out

    return initializer


def _flipped_stream(original):
    """The same draws placed in reverse order (a changed random stream, same distribution)."""

    def initializer(tensor, *args, **kwargs):
        out = original(tensor, *args, **kwargs)
        with _torch().no_grad():
            tensor.copy_(tensor.flatten().flip(0).view_as(tensor))
        return out

    return initializer


def _kaiming_mode_default(mode: str):
    def make(original):
        def kaiming_normal_(tensor, *args, **kwargs):
            if not _passed(original, "mode", (tensor, *args), kwargs):
                kwargs["mode"] = mode
            return original(tensor, *args, **kwargs)

        return kaiming_normal_

    return make


def _torch_bn_default(name: str, value):
    """``nn.BatchNorm2d(...)`` with another default for ``name`` when the caller does not pass
    it (torchvision's ResNet and DenseNet do not; the mirror passes both)."""

    def make(original):
        def __init__(self, *args, **kwargs):
            if not _passed(original, name, (self, *args), kwargs):
                kwargs[name] = value
            original(self, *args, **kwargs)

        return __init__

    return make


def _torch_data(convert):
    def patch():
        from .adapters import pytorch

        def _to_tensor(x):
            torch = _torch()
            return torch.from_numpy(convert(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))

        return _replaced((pytorch, "_to_tensor", _to_tensor))

    return patch


def _times_inverse_255(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) * np.float32(1.0 / 255.0)


def _pixel_centres(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) + np.float32(0.5)) / np.float32(256.0)


# --- Keras / TensorFlow helpers ---------------------------------------------------------------


def _keras():
    import keras

    return keras


def _tf():
    import tensorflow as tf

    return tf


def _keras_backend_nn():
    """The module ``keras.src.backend.nn`` resolves to (the TF backend's ``nn``): Keras' ops
    and activations look their kernels up there at call time."""
    import importlib

    return importlib.import_module("keras.src.backend").nn


def _tf_round_mantissa(x, bits: int):
    """As ``_torch_round_mantissa``, in TensorFlow, with an identity gradient."""
    tf = _tf()
    x = tf.convert_to_tensor(x)
    f = tf.cast(x, tf.float32)
    i = tf.bitcast(f, tf.int32)
    drop = 23 - bits
    lsb = tf.bitwise.bitwise_and(tf.bitwise.right_shift(i, drop), 1)
    r = tf.bitwise.bitwise_and(i + ((1 << (drop - 1)) - 1) + lsb, -(1 << drop))
    rounded = tf.cast(tf.bitcast(r, tf.float32), x.dtype)
    return x + tf.stop_gradient(rounded - x)


def _tf_scale_grad(x, factor_of):
    """``x`` unchanged, its gradient times ``factor_of()`` (read when the gradient is taken)."""
    tf = _tf()

    @tf.custom_gradient
    def scaled(v):
        def grad(dy):
            return dy * factor_of()

        return tf.identity(v), grad

    return scaled(tf.convert_to_tensor(x))


def _keras_adam(transform=None, update_step=None, default=None):
    """A patch replacing ``keras.optimizers.Adam`` (what the adapter's ``make_optimizer``
    calls) with a subclass: ``transform(arguments)`` edits the constructor's arguments;
    ``default=(name, value)`` changes a default the caller did not pass; ``update_step``
    replaces the per-variable update."""

    def patch():
        keras = _keras()
        original = keras.optimizers.Adam

        def __init__(self, *args, **kwargs):
            if default is not None and not _passed(
                original.__init__, default[0], (self, *args), kwargs
            ):
                kwargs[default[0]] = default[1]
            if transform is not None:
                arguments = _bound(original.__init__, self, *args, **kwargs)
                arguments.pop("self")
                extra = arguments.pop("kwargs", {})
                arguments = transform(arguments)
                original.__init__(self, **arguments, **extra)
            else:
                original.__init__(self, *args, **kwargs)

        namespace = {"__init__": __init__, "__module__": original.__module__}
        if update_step is not None:
            namespace["update_step"] = update_step
        cls = type("Adam", (original,), namespace)
        return _replaced((keras.optimizers, "Adam", cls))

    return patch


def _keras_betas(d1: float = 0.0, d2: float = 0.0):
    def transform(arguments):
        return {**arguments, "beta_1": arguments["beta_1"] + d1, "beta_2": arguments["beta_2"] + d2}

    return transform


def _keras_adam_update_step(eps_inside_sqrt: bool = False, step_offset: int = 1):
    """``keras/src/optimizers/adam.py`` ``Adam.update_step`` (the same operations in the same
    order), with epsilon optionally inside the square root and the step the bias correction
    uses as ``iterations + step_offset`` (Keras: + 1)."""

    def update_step(self, gradient, variable, learning_rate):
        ops = _keras().ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        local_step = ops.cast(self.iterations + step_offset, variable.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[self._get_variable_index(variable)]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        if eps_inside_sqrt:
            denom = ops.sqrt(ops.add(v, self.epsilon))
        else:
            denom = ops.add(ops.sqrt(v), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), denom))

    return update_step


def _keras_class_attr(path: str, name: str, make):
    """A patch replacing attribute ``name`` of the Keras class ``keras.<path>`` with
    ``make(original)`` (an inherited attribute is deleted again on exit)."""

    def patch():
        owner = _keras()
        for part in path.split("."):
            owner = getattr(owner, part)
        return _replaced((owner, name, make(getattr(owner, name))))

    return patch


def _keras_backend_function(name: str, make):
    def patch():
        nn = _keras_backend_nn()
        return _replaced((nn, name, make(getattr(nn, name))))

    return patch


def _scce_label_smoothing(smoothing: float):
    def make(original):
        def call(self, y_true, y_pred):
            keras = _keras()
            ops = keras.ops
            y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            onehot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
            return keras.losses.categorical_crossentropy(
                onehot,
                y_pred,
                from_logits=self._fn_kwargs["from_logits"],
                label_smoothing=smoothing,
            )

        return call

    return make


def _scce_scaled_backward(factor: float):
    def make(original):
        def call(self, y_true, y_pred):
            return _tf_scale_grad(original(self, y_true, y_pred), lambda: factor)

        return call

    return make


def _scce_logits_bf16(original):
    def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
        output, from_logits = _keras_backend_nn()._get_logits(
            output, from_logits, "Softmax", "sparse_categorical_crossentropy"
        )
        return original(target, _tf_round_mantissa(output, 7), from_logits=from_logits, axis=axis)

    return sparse_categorical_crossentropy


def _no_logit_recovery(original):
    def _get_logits(output, from_logits, op_type, fn_name):
        return output, from_logits

    return _get_logits


def _keras_conv_rounded(bits: int):
    def make(original):
        def convolution_op(self, inputs, kernel):
            return original(
                self, _tf_round_mantissa(inputs, bits), _tf_round_mantissa(kernel, bits)
            )

        return convolution_op

    return make


def _keras_last_dense_kernel_grad_times(factor: float):
    """``Dense.call`` (as keras/src/layers/core/dense.py computes it) scaling the kernel
    gradient of the Dense layer that ran last in the forward pass (the head) by ``factor``."""
    state = {}

    def make(original):
        def call(self, inputs, training=None):
            ops = _keras().ops
            state["last"] = self
            kernel = _tf_scale_grad(self.kernel, lambda: factor if state["last"] is self else 1.0)
            x = ops.matmul(inputs, kernel)
            if self.bias is not None:
                x = ops.add(x, self.bias)
            if self.activation is not None:
                x = self.activation(x)
            return x

        return call

    return make


def _keras_dense_einsum(original):
    def call(self, inputs, training=None):
        ops = _keras().ops
        x = ops.einsum("...i,io->...o", inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    return call


def _keras_bn_during_call(attribute: str, value_of):
    """``BatchNormalization.call`` with ``self.<attribute>`` set to ``value_of(old)`` for the
    duration of the call (the layer's config is untouched)."""

    def make(original):
        def call(self, inputs, training=None, mask=None):
            old = getattr(self, attribute)
            setattr(self, attribute, value_of(old))
            try:
                return original(self, inputs, training=training, mask=mask)
            finally:
                setattr(self, attribute, old)

        return call

    return make


def _keras_bn_unbiased_moving_variance(original):
    """After a training call, the moving variance gets the unbiased batch variance's share:
    ``(1 - momentum) * var * n / (n - 1)`` in place of ``(1 - momentum) * var``."""

    def call(self, inputs, training=None, mask=None):
        out = original(self, inputs, training=training, mask=mask)
        if training and self.trainable and mask is None:
            ops = _keras().ops
            x = ops.cast(inputs, "float32")
            _, variance = ops.moments(x, axes=self._reduction_axes)
            n = 1
            for axis in self._reduction_axes:
                n = n * ops.shape(x)[axis]
            n = ops.cast(n, "float32")
            share = (1.0 - self.momentum) * variance / (n - 1.0)
            self.moving_variance.assign(
                self.moving_variance + ops.cast(share, self.moving_variance.dtype)
            )
        return out

    return call


def _keras_bn_default(name: str, value):
    def make(original):
        def __init__(self, *args, **kwargs):
            if not _passed(original, name, (self, *args), kwargs):
                kwargs[name] = value
            original(self, *args, **kwargs)

        return __init__

    return make


def _keras_leaky(slope: float):
    def make(original):
        def relu(x):
            return _tf().nn.leaky_relu(x, alpha=slope)

        return relu

    return make


def _keras_relu_grad_one_at_zero(original):
    def relu(x):
        tf = _tf()

        @tf.custom_gradient
        def f(v):
            def grad(dy):
                return dy * tf.cast(v >= 0, dy.dtype)

            return original(v), grad

        return f(tf.convert_to_tensor(x))

    return relu


def _keras_gap_sum_over_n(original):
    def call(self, inputs):
        ops = _keras().ops
        axes = [1, 2] if self.data_format == "channels_last" else [2, 3]
        shape = ops.shape(inputs)  # static sizes, or tensors where a size is unknown
        n = ops.cast(shape[axes[0]] * shape[axes[1]], inputs.dtype)
        return ops.sum(inputs, axis=axes, keepdims=self.keepdims) / n

    return call


def _keras_perturb_stem(original):
    """``Conv2D.build`` then, for a kernel with 3 input channels (every model's first conv),
    multiply it by 1 + 1e-3 * (random signs)."""

    def build(self, input_shape):
        original(self, input_shape)
        kernel = self.kernel
        if len(kernel.shape) == 4 and kernel.shape[2] == 3:
            factor = (1.0 + 1e-3 * _signs(tuple(kernel.shape))).astype(np.float64)
            value = np.asarray(kernel.numpy(), dtype=np.float64) * factor
            kernel.assign(value.astype(kernel.dtype))

    return build


def _glorot_as(distribution: str):
    def make(original):
        def __call__(self, shape, dtype=None):
            old = self.distribution
            self.distribution = distribution
            try:
                return original(self, shape, dtype=dtype)
            finally:
                self.distribution = old

        return __call__

    return make


def _glorot_flipped(original):
    def __call__(self, shape, dtype=None):
        tf = _tf()
        values = original(self, shape, dtype=dtype)
        return tf.reshape(tf.reverse(tf.reshape(values, [-1]), [0]), tf.shape(values))

    return __call__


def _keras_data(convert):
    def patch():
        from .adapters import tensorflow

        return _replaced((tensorflow, "_to_array", convert))

    return patch


# --- the catalogue ----------------------------------------------------------------------------

_TORCH_ADAM = "torch/optim/adam.py (torch.optim.Adam, _single_tensor_adam)"
_KERAS_ADAM = "keras/src/optimizers/adam.py (Adam.__init__, update_step)"
_DEFAULTS = "reference/framework-defaults.md"

CHANGES: tuple[Change, ...] = (
    # --- optimizer: PyTorch ---
    Change(
        "torch-adam-beta1-minus-0.001",
        "pytorch",
        "optimizer",
        "torch.optim.Adam's beta1 is 0.899 instead of 0.9.",
        f"synthetic: a default moved by 0.001; betas are constructor defaults in {_TORCH_ADAM}",
        STEP,
        patch=_torch_adam(_betas(d1=-0.001)),
    ),
    Change(
        "torch-adam-beta1-minus-0.05",
        "pytorch",
        "optimizer",
        "torch.optim.Adam's beta1 is 0.85 instead of 0.9.",
        f"synthetic: a default moved by 0.05; betas are constructor defaults in {_TORCH_ADAM}",
        STEP,
        patch=_torch_adam(_betas(d1=-0.05)),
    ),
    Change(
        "torch-adam-beta2-minus-0.001",
        "pytorch",
        "optimizer",
        "torch.optim.Adam's beta2 is 0.998 instead of 0.999.",
        f"synthetic: a default moved by 0.001; betas are constructor defaults in {_TORCH_ADAM}",
        STEP,
        patch=_torch_adam(_betas(d2=-0.001)),
    ),
    Change(
        "torch-adam-beta2-minus-0.05",
        "pytorch",
        "optimizer",
        "torch.optim.Adam's beta2 is 0.949 instead of 0.999.",
        f"synthetic: a default moved by 0.05; betas are constructor defaults in {_TORCH_ADAM}",
        STEP,
        patch=_torch_adam(_betas(d2=-0.05)),
    ),
    Change(
        "torch-adam-amsgrad",
        "pytorch",
        "optimizer",
        "torch.optim.Adam runs with amsgrad=True (the running maximum of the second moment).",
        "https://PyTorch.org/docs/stable/generated/torch.optim.Adam.html (amsgrad, default False)",
        STEP,
        patch=_torch_adam(_with(amsgrad=True)),
    ),
    Change(
        "torch-adam-decoupled-weight-decay-1e-4",
        "pytorch",
        "optimizer",
        "torch.optim.Adam applies decoupled weight decay 1e-4 (AdamW's w -= lr * wd * w).",
        "https://github.com/pytorch/pytorch/pull/144101 (Adam's decoupled_weight_decay, AdamW "
        "semantics); torch/optim/adam.py",
        STEP,
        patch=_torch_adam(_with(weight_decay=1e-4, decoupled_weight_decay=True)),
    ),
    Change(
        "torch-adam-l2-weight-decay-1e-4",
        "pytorch",
        "optimizer",
        "torch.optim.Adam adds an L2 term 1e-4 * w to every gradient (weight_decay=1e-4).",
        f"{_DEFAULTS} (weight_decay: L2 added to the gradient in torch); {_TORCH_ADAM}",
        STEP,
        patch=_torch_adam(_with(weight_decay=1e-4)),
    ),
    Change(
        "torch-adam-epsilon-inside-sqrt",
        "pytorch",
        "optimizer",
        "torch.optim.Adam divides by sqrt(v_hat + eps) instead of sqrt(v_hat) + eps.",
        f"{_DEFAULTS} (RMSprop: Keras puts eps inside the root, torch outside); tests/"
        "test_numerics.py injects this change",
        STEP,
        patch=_torch_adam(step=_adam_variant_step(eps_inside_sqrt=True)),
    ),
    Change(
        "torch-adam-bias-correction-off-by-one",
        "pytorch",
        "optimizer",
        "torch.optim.Adam's bias corrections use 1 - beta^(t+1) instead of 1 - beta^t.",
        f"synthetic: an off-by-one in the step count that the bias correction reads "
        f"({_TORCH_ADAM} keeps a tensor step, incremented before use)",
        STEP,
        patch=_torch_adam(step=_adam_variant_step(step_offset=1)),
    ),
    # --- optimizer: Keras ---
    Change(
        "keras-adam-beta1-minus-0.001",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam's beta_1 is 0.899 instead of 0.9.",
        f"synthetic: a default moved by 0.001; beta_1 is a constructor default in {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(_keras_betas(d1=-0.001)),
    ),
    Change(
        "keras-adam-beta1-minus-0.05",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam's beta_1 is 0.85 instead of 0.9.",
        f"synthetic: a default moved by 0.05; beta_1 is a constructor default in {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(_keras_betas(d1=-0.05)),
    ),
    Change(
        "keras-adam-beta2-minus-0.001",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam's beta_2 is 0.998 instead of 0.999.",
        f"synthetic: a default moved by 0.001; beta_2 is a constructor default in {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(_keras_betas(d2=-0.001)),
    ),
    Change(
        "keras-adam-beta2-minus-0.05",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam's beta_2 is 0.949 instead of 0.999.",
        f"synthetic: a default moved by 0.05; beta_2 is a constructor default in {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(_keras_betas(d2=-0.05)),
    ),
    Change(
        "keras-adam-amsgrad",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam runs with amsgrad=True.",
        f"{_KERAS_ADAM} (amsgrad, default False: velocity_hat = max(velocity_hat, v))",
        STEP,
        patch=_keras_adam(_with(amsgrad=True)),
    ),
    Change(
        "keras-adam-weight-decay-1e-4",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam applies (decoupled) weight decay 1e-4.",
        "keras/src/optimizers/base_optimizer.py (_apply_weight_decay: w -= w * wd * lr); "
        f"{_DEFAULTS} (Keras' weight_decay is decoupled in every optimizer)",
        STEP,
        patch=_keras_adam(_with(weight_decay=1e-4)),
    ),
    Change(
        "keras-adam-epsilon-inside-sqrt",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam divides by sqrt(v + epsilon) instead of sqrt(v) + epsilon.",
        f"{_DEFAULTS} (Keras' RMSprop has eps inside the root, its Adam outside); {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(update_step=_keras_adam_update_step(eps_inside_sqrt=True)),
    ),
    Change(
        "keras-adam-bias-correction-off-by-one",
        "tensorflow",
        "optimizer",
        "keras.optimizers.Adam's bias correction uses step iterations + 2 instead of + 1.",
        f"synthetic: an off-by-one in local_step = iterations + 1 of {_KERAS_ADAM}",
        STEP,
        patch=_keras_adam(update_step=_keras_adam_update_step(step_offset=2)),
    ),
    # --- loss ---
    Change(
        "torch-ce-label-smoothing-0.01",
        "pytorch",
        "loss",
        "torch.nn.CrossEntropyLoss() defaults to label_smoothing=0.01 instead of 0.",
        "https://github.com/pytorch/pytorch/releases/tag/v1.10.0 (nn.CrossEntropyLoss: added "
        "label smoothing, pytorch/pytorch#63122)",
        ("loss", "grad", "loss_fn"),
        patch=_torch_loss(init_defaults={"label_smoothing": 0.01}),
    ),
    Change(
        "keras-scce-label-smoothing-0.01",
        "tensorflow",
        "loss",
        "keras.losses.SparseCategoricalCrossentropy smooths its one-hot targets by 0.01.",
        "keras/src/losses/losses.py (CategoricalCrossentropy has label_smoothing, the sparse "
        "loss none: a realistic addition)",
        ("loss", "grad", "loss_fn"),
        patch=_keras_class_attr(
            "losses.SparseCategoricalCrossentropy", "call", _scce_label_smoothing(0.01)
        ),
    ),
    Change(
        "torch-ce-backward-times-1.015",
        "pytorch",
        "loss",
        "torch.nn.CrossEntropyLoss's backward is scaled by 1.015 (the value is unchanged), so "
        "every first-step gradient is 1.5% larger.",
        "synthetic: a backward kernel that scales wrongly (e.g. a reduction's 1/N applied "
        "inconsistently, as loss-scaling bugs do)",
        ("grad", "loss_fn"),
        patch=_torch_loss(forward=_scaled_backward(1.015)),
    ),
    Change(
        "keras-scce-backward-times-1.015",
        "tensorflow",
        "loss",
        "keras.losses.SparseCategoricalCrossentropy's gradient is scaled by 1.015 (the value is "
        "unchanged), so every first-step gradient is 1.5% larger.",
        "synthetic: a gradient scaled wrongly, as with a loss_scale_factor left applied "
        "(keras/src/optimizers/base_optimizer.py loss_scale_factor)",
        ("grad", "loss_fn"),
        patch=_keras_class_attr(
            "losses.SparseCategoricalCrossentropy", "call", _scce_scaled_backward(1.015)
        ),
    ),
    Change(
        "torch-ce-logits-bf16",
        "pytorch",
        "kernel-precision",
        "F.cross_entropy reads its logits rounded to bfloat16 (7 mantissa bits).",
        "https://pytorch.org/docs/stable/amp.html (autocast op lists: which ops run in reduced "
        "precision moves between releases)",
        ("loss", "grad", "loss_fn"),
        patch=_torch_functional("cross_entropy", _ce_logits_bf16),
    ),
    Change(
        "keras-scce-logits-bf16",
        "tensorflow",
        "kernel-precision",
        "Keras' sparse categorical cross-entropy reads its logits rounded to bfloat16.",
        "https://keras.io/api/mixed_precision/policy/ (mixed_bfloat16: a softmax/loss computed "
        "in the compute dtype)",
        ("loss", "grad", "loss_fn"),
        patch=_keras_backend_function("sparse_categorical_crossentropy", _scce_logits_bf16),
    ),
    # --- weights and gradients of one layer ---
    Change(
        "torch-head-weight-grad-times-1.01",
        "pytorch",
        "weights",
        "The weight gradient of the classifier head (the Linear that runs last) is 1% larger.",
        "synthetic: one layer's backward kernel changed (a wrong scale in one GEMM's backward)",
        ("grad",),
        patch=_torch_method("nn.Linear", "forward", _last_linear_weight_grad_times(1.01)),
    ),
    Change(
        "keras-head-kernel-grad-times-1.01",
        "tensorflow",
        "weights",
        "The kernel gradient of the head (the Dense layer that runs last) is 1% larger.",
        "synthetic: one layer's backward kernel changed (a wrong scale in one GEMM's backward)",
        ("grad",),
        patch=_keras_class_attr("layers.Dense", "call", _keras_last_dense_kernel_grad_times(1.01)),
    ),
    Change(
        "torch-stem-conv-init-perturbed-1e-3",
        "pytorch",
        "weights",
        "The first conv's initial weights (3 input channels) are multiplied by 1 +- 1e-3, random "
        "signs, after the initializer ran.",
        "synthetic: the smallest change of one tensor of initial weights (e.g. an initializer's "
        "rounding or an RNG transform changed for one shape)",
        INIT,
        patch=_torch_init_patch(_perturb_stem),
    ),
    Change(
        "keras-stem-conv-init-perturbed-1e-3",
        "tensorflow",
        "weights",
        "The first Conv2D's initial kernel (3 input channels) is multiplied by 1 +- 1e-3, random "
        "signs, after it is built.",
        "synthetic: the smallest change of one tensor of initial weights (e.g. an initializer's "
        "rounding or an RNG transform changed for one shape)",
        KERAS_INIT,
        patch=_keras_class_attr("layers.Conv2D", "build", _keras_perturb_stem),
    ),
    # --- kernel precision: convolutions ---
    Change(
        "torch-conv-tf32-inputs",
        "pytorch",
        "kernel-precision",
        "Every conv2d reads its input and weight rounded to TF32 (10 mantissa bits).",
        "https://github.com/pytorch/pytorch/issues/67384 (TF32 defaults: cuDNN convs use TF32 "
        "by default, matmuls changed to off in 1.12)",
        FORWARD,
        patch=_torch_functional("conv2d", _conv_rounded(10)),
    ),
    Change(
        "torch-conv-bf16-inputs",
        "pytorch",
        "kernel-precision",
        "Every conv2d reads its input and weight rounded to bfloat16 (7 mantissa bits).",
        "https://github.com/pytorch/pytorch/issues/153195 (float32 matmul precision 'medium' "
        "allows bfloat16 internally)",
        FORWARD,
        patch=_torch_functional("conv2d", _conv_rounded(7)),
    ),
    Change(
        "keras-conv-tf32-inputs",
        "tensorflow",
        "kernel-precision",
        "Every Conv2D reads its input and kernel rounded to TF32 (10 mantissa bits).",
        "https://www.tensorflow.org/api_docs/python/tf/config/experimental/"
        "enable_tensor_float_32_execution (TF32 on by default for convs and matmuls)",
        KERAS_FORWARD,
        patch=_keras_class_attr("layers.Conv2D", "convolution_op", _keras_conv_rounded(10)),
    ),
    Change(
        "keras-conv-bf16-inputs",
        "tensorflow",
        "kernel-precision",
        "Every Conv2D reads its input and kernel rounded to bfloat16 (7 mantissa bits).",
        "https://keras.io/api/mixed_precision/policy/ (mixed_bfloat16 computes layers in bf16)",
        KERAS_FORWARD,
        patch=_keras_class_attr("layers.Conv2D", "convolution_op", _keras_conv_rounded(7)),
    ),
    # --- batch norm ---
    Change(
        "torch-bn-epsilon-times-2",
        "pytorch",
        "batchnorm",
        "F.batch_norm uses twice the epsilon it is given.",
        f"synthetic: an epsilon handled differently by a new kernel; {_DEFAULTS} (BN epsilon "
        "1e-5 vs 1e-3 vs 1.001e-5)",
        FORWARD,  # later batch norms see other inputs: their running statistics move too
        archs=BN_ARCHS,
        patch=_torch_functional("batch_norm", _bn_eps_times(2.0)),
    ),
    Change(
        "keras-bn-epsilon-times-2",
        "tensorflow",
        "batchnorm",
        "BatchNormalization normalises with twice its epsilon.",
        f"synthetic: an epsilon handled differently by a new kernel; {_DEFAULTS} (BN epsilon)",
        KERAS_FORWARD,
        archs=BN_ARCHS,
        patch=_keras_class_attr(
            "layers.BatchNormalization", "call", _keras_bn_during_call("epsilon", lambda e: 2.0 * e)
        ),
    ),
    Change(
        "torch-bn-momentum-default-0.01",
        "pytorch",
        "default",
        "nn.BatchNorm2d's default momentum is 0.01 (Keras' 0.99 convention) instead of 0.1.",
        "https://github.com/pytorch/examples/issues/289 (batchnorm momentum convention, 0.1 vs "
        "TF's 0.99: a default users ask to align)",
        ("running", "eval_output"),
        archs=BN_ARCHS,
        sources=("zoo",),
        patch=_torch_method("nn.BatchNorm2d", "__init__", _torch_bn_default("momentum", 0.01)),
    ),
    Change(
        "keras-bn-momentum-default-0.9",
        "tensorflow",
        "default",
        "BatchNormalization's default momentum is 0.9 instead of 0.99.",
        "https://github.com/keras-team/keras/issues/6839 (BN momentum vs decay); tests/"
        "test_numerics.py injects this change",
        ("running", "eval_output"),
        archs=BN_ARCHS,
        sources=("zoo",),
        patch=_keras_class_attr(
            "layers.BatchNormalization", "__init__", _keras_bn_default("momentum", 0.9)
        ),
    ),
    Change(
        "torch-bn-epsilon-default-1e-3",
        "pytorch",
        "default",
        "nn.BatchNorm2d's default eps is 1e-3 (Keras' layer default) instead of 1e-5.",
        "https://github.com/r9y9/tacotron_pytorch/issues/19 (BN eps 1e-3 vs 1e-5 between "
        f"frameworks); {_DEFAULTS}",
        FORWARD,  # later batch norms see other inputs: their running statistics move too
        archs=BN_ARCHS,
        sources=("zoo",),
        patch=_torch_method("nn.BatchNorm2d", "__init__", _torch_bn_default("eps", 1e-3)),
    ),
    Change(
        "torch-bn-running-var-biased",
        "pytorch",
        "batchnorm",
        "F.batch_norm stores the biased batch variance (divide by n) in the running variance "
        "instead of the unbiased one.",
        "https://github.com/pytorch/pytorch/issues/7028 (running_var is unbiased); "
        f"{_DEFAULTS} (BN running variance)",
        ("running", "eval_output"),
        archs=BN_ARCHS,
        patch=_torch_functional("batch_norm", _bn_biased_running_var),
    ),
    Change(
        "keras-bn-moving-variance-unbiased",
        "tensorflow",
        "batchnorm",
        "BatchNormalization's moving variance takes the unbiased batch variance (n / (n - 1)) "
        "instead of the biased one.",
        "https://github.com/keras-team/keras/issues/10443 (Keras 2 used Bessel's correction in "
        "the moving variance; Keras 3 does not)",
        ("running",),
        archs=BN_ARCHS,
        patch=_keras_class_attr(
            "layers.BatchNormalization", "call", _keras_bn_unbiased_moving_variance
        ),
    ),
    # --- activations ---
    Change(
        "torch-relu-leaky-1e-3",
        "pytorch",
        "activation",
        "F.relu computes a leaky ReLU with negative slope 1e-3.",
        "synthetic: an activation swapped for a near neighbour (a fused conv+activation kernel "
        "with the wrong epilogue)",
        FORWARD,
        patch=_torch_functional("relu", _leaky(1e-3)),
    ),
    Change(
        "keras-relu-leaky-1e-3",
        "tensorflow",
        "activation",
        "Keras' relu kernel (backend nn.relu) computes a leaky ReLU with negative slope 1e-3.",
        "synthetic: an activation swapped for a near neighbour; keras/src/activations/"
        "activations.py ReLU.static_call",
        KERAS_FORWARD,
        patch=_keras_backend_function("relu", _keras_leaky(1e-3)),
    ),
    Change(
        "torch-relu-grad-one-at-zero",
        "pytorch",
        "activation",
        "F.relu's gradient at exactly 0 is 1 instead of 0.",
        "https://github.com/jax-ml/jax/issues/37821 (ReLU's gradient at 0: 0 in PyTorch and TF, "
        "0.5 for jnp.maximum)",
        ("grad",),
        archs=("vgg16",),
        patch=_torch_functional("relu", _relu_grad_one_at_zero),
    ),
    Change(
        "keras-relu-grad-one-at-zero",
        "tensorflow",
        "activation",
        "Keras' relu kernel's gradient at exactly 0 is 1 instead of 0.",
        "https://github.com/jax-ml/jax/pull/14840 (relu gradient conventions at 0)",
        ("grad",),
        archs=("vgg16",),
        patch=_keras_backend_function("relu", _keras_relu_grad_one_at_zero),
    ),
    # --- initializers ---
    Change(
        "torch-kaiming-normal-default-fan-out",
        "pytorch",
        "init",
        "nn.init.kaiming_normal_'s default mode is fan_out instead of fan_in.",
        "https://github.com/pytorch/pytorch/issues/129302 (proposal to change kaiming_* "
        "defaults); tests/test_numerics.py injects this change",
        INIT,
        archs=("densenet121",),
        patch=_torch_init_patch(_kaiming_mode_default("fan_out"), names=("kaiming_normal_",)),
    ),
    Change(
        "torch-kaiming-normal-stream-reversed",
        "pytorch",
        "init",
        "nn.init.kaiming_normal_ places its draws in reverse order (a changed random stream, "
        "same distribution).",
        "https://github.com/pytorch/pytorch/issues/30947 (kaiming init implementation changes); "
        "synthetic: the CPU normal_ kernel's vectorised path orders draws its own way",
        INIT,
        patch=_torch_init_patch(_flipped_stream, names=("kaiming_normal_",)),
    ),
    Change(
        "torch-linear-init-kaiming-a0",
        "pytorch",
        "init",
        "nn.Linear's reset_parameters draws its weight with kaiming_uniform_(a=0) instead of "
        "a=sqrt(5) (bound sqrt(6/fan_in) instead of 1/sqrt(fan_in)).",
        "https://github.com/pytorch/pytorch/issues/57109 (nn.Linear init a=sqrt(5)); "
        "https://github.com/pytorch/pytorch/issues/129302",
        ("init", "output", "loss", "grad", "eval_output"),
        archs=BN_ARCHS,
        patch=_torch_method("nn.Linear", "reset_parameters", _linear_init_a0),
    ),
    Change(
        "keras-glorot-uniform-as-truncated-normal",
        "tensorflow",
        "init",
        "GlorotUniform draws from Glorot's truncated normal instead of the uniform.",
        "keras/src/initializers/random_initializers.py (VarianceScaling distribution; "
        "GlorotUniform is every Conv2D/Dense kernel's default)",
        INIT,
        patch=_keras_class_attr(
            "initializers.GlorotUniform", "__call__", _glorot_as("truncated_normal")
        ),
    ),
    Change(
        "keras-glorot-uniform-stream-reversed",
        "tensorflow",
        "init",
        "GlorotUniform places its draws in reverse order (a changed random stream, same "
        "distribution).",
        "https://keras.io/api/random/ (Keras 3 SeedGenerator: stateless draws whose order is "
        "the backend's)",
        INIT,
        patch=_keras_class_attr("initializers.GlorotUniform", "__call__", _glorot_flipped),
    ),
    # --- pooling ---
    Change(
        "torch-maxpool-padding-bottom-right",
        "pytorch",
        "default",
        "A padded max pool (the 3x3/2 stem pool) puts both padded rows and columns at the "
        "bottom/right (TF's 'same' rule) instead of one each side.",
        f"{_DEFAULTS} ('same' padding, stride 2: TF pads (0, 1) bottom/right, torch symmetric)",
        FORWARD,
        archs=BN_ARCHS,
        patch=_torch_functional("max_pool2d", _maxpool_pad_bottom_right),
    ),
    # --- data path ---
    Change(
        "torch-data-pixel-centres",
        "pytorch",
        "data",
        "uint8 images become (x + 0.5) / 256 instead of x / 255.",
        "synthetic: the other common dequantisation convention (pixel centres), a changed "
        "ToTensor-like conversion",
        FORWARD,
        patch=_torch_data(_pixel_centres),
    ),
    Change(
        "keras-data-pixel-centres",
        "tensorflow",
        "data",
        "uint8 images become (x + 0.5) / 256 instead of x / 255.",
        "synthetic: the other common dequantisation convention (pixel centres)",
        KERAS_FORWARD,
        patch=_keras_data(_pixel_centres),
    ),
    Change(
        "torch-data-times-inverse-255",
        "pytorch",
        "data",
        "uint8 images become x * (1/255) instead of x / 255 (at most one float32 ulp apart).",
        "https://www.tensorflow.org/api_docs/python/tf/image/convert_image_dtype (scales uint8 "
        "by multiplying with 1/255); harness/adapters/pytorch.py _to_tensor",
        (),
        patch=_torch_data(_times_inverse_255),
    ),
    Change(
        "keras-data-times-inverse-255",
        "tensorflow",
        "data",
        "uint8 images become x * (1/255) instead of x / 255 (at most one float32 ulp apart).",
        "https://www.tensorflow.org/api_docs/python/tf/image/convert_image_dtype (scales uint8 "
        "by multiplying with 1/255); harness/adapters/tensorflow.py _to_array",
        (),
        patch=_keras_data(_times_inverse_255),
    ),
    # --- null: equivalent within float32 rounding (false-alarm checks) ---
    Change(
        "torch-adam-foreach",
        "pytorch",
        "null",
        "torch.optim.Adam runs its foreach (multi-tensor) implementation instead of the for-loop.",
        "https://PyTorch.org/docs/stable/generated/torch.optim.Adam.html (foreach: the default "
        "on CUDA, the for-loop on the CPU)",
        (),
        patch=_torch_adam(_with(foreach=True)),
    ),
    Change(
        "torch-adam-fused",
        "pytorch",
        "null",
        "torch.optim.Adam runs its fused kernel (fused=True).",
        "https://github.com/pytorch/pytorch/pull/123074 (fused Adam on the CPU; matches the "
        "for-loop within rounding) and https://github.com/pytorch/pytorch/pull/90865",
        (),
        patch=_torch_adam(_with(fused=True)),
    ),
    Change(
        "torch-adam-eps-default-1e-7",
        "pytorch",
        "null",
        "torch.optim.Adam's default eps is 1e-7 instead of 1e-8 (the harness always passes eps).",
        f"{_DEFAULTS} (Adam eps 1e-8 vs Keras 1e-7: an alignment an upgrade could make)",
        (),
        patch=_torch_adam_default("eps", 1e-7),
    ),
    Change(
        "keras-adam-epsilon-default-1e-8",
        "tensorflow",
        "null",
        "keras.optimizers.Adam's default epsilon is 1e-8 instead of 1e-7 (the harness always "
        "passes epsilon).",
        f"{_DEFAULTS} (Adam eps 1e-7 vs torch 1e-8); {_KERAS_ADAM}",
        (),
        patch=_keras_adam(default=("epsilon", 1e-8)),
    ),
    Change(
        "torch-linear-as-matmul",
        "pytorch",
        "null",
        "nn.Linear computes x @ W.T + b instead of F.linear (addmm).",
        "torch/nn/modules/linear.py (forward is F.linear); synthetic: a decomposition a compiler "
        "or a new dispatch could choose",
        (),
        patch=_torch_method("nn.Linear", "forward", _linear_as_matmul),
    ),
    Change(
        "keras-dense-einsum",
        "tensorflow",
        "null",
        "Dense computes its product with einsum instead of matmul.",
        "keras/src/layers/core/einsum_dense.py (EinsumDense, the same product by einsum)",
        (),
        patch=_keras_class_attr("layers.Dense", "call", _keras_dense_einsum),
    ),
    Change(
        "torch-adaptive-avgpool-sum-over-n",
        "pytorch",
        "null",
        "Global average pooling (adaptive_avg_pool2d to 1x1) is computed as sum / (H*W).",
        "synthetic: another reduction order for the same mean (torchvision ResNet and DenseNet "
        "pool with adaptive_avg_pool2d)",
        (),
        archs=BN_ARCHS,
        sources=("zoo",),
        patch=_torch_functional("adaptive_avg_pool2d", _adaptive_avg_sum_over_n),
    ),
    Change(
        "keras-gap-sum-over-n",
        "tensorflow",
        "null",
        "GlobalAveragePooling2D is computed as sum / (H*W) instead of mean.",
        "keras/src/layers/pooling/global_average_pooling2d.py (ops.mean); synthetic: another "
        "reduction order for the same mean",
        (),
        archs=BN_ARCHS,
        patch=_keras_class_attr("layers.GlobalAveragePooling2D", "call", _keras_gap_sum_over_n),
    ),
    Change(
        "torch-avgpool-count-include-pad-false",
        "pytorch",
        "null",
        "Average pools exclude padding from the divisor (count_include_pad=False); DenseNet's "
        "transition pools have no padding, so nothing changes.",
        f"{_DEFAULTS} (torch AvgPool counts padding by default, TF does not)",
        (),
        archs=("densenet121",),
        patch=_torch_functional("avg_pool2d", _avgpool_exclude_pad),
    ),
    Change(
        "torch-ce-log-of-softmax",
        "pytorch",
        "null",
        "F.cross_entropy is computed as nll_loss(log(softmax(x))) instead of the fused "
        "log_softmax.",
        "https://github.com/pytorch/pytorch/issues/24829 (cross-entropy variants); synthetic: "
        "the textbook decomposition, equal within rounding for moderate logits",
        (),
        patch=_torch_functional("cross_entropy", _ce_log_of_softmax),
    ),
    Change(
        "keras-scce-without-logit-recovery",
        "tensorflow",
        "null",
        "Keras' cross-entropy on softmax outputs takes log(clip(p)) instead of recovering the "
        "logits from the Softmax op (equal while no probability is below 1e-7).",
        f"keras/src/backend/tensorflow/nn.py (_get_logits, _keras_logits); {_DEFAULTS} (loss "
        "input)",
        (),
        patch=_keras_backend_function("_get_logits", _no_logit_recovery),
    ),
    Change(
        "keras-bn-epsilon-default-1e-5",
        "tensorflow",
        "null",
        "BatchNormalization's default epsilon is 1e-5 instead of 1e-3 (keras.applications and "
        "the mirror always pass epsilon).",
        f"{_DEFAULTS} (BN epsilon: 1e-3 layer default, 1.001e-5 in keras.applications)",
        (),
        archs=BN_ARCHS,
        patch=_keras_class_attr(
            "layers.BatchNormalization", "__init__", _keras_bn_default("epsilon", 1e-5)
        ),
    ),
)


def get(name: str) -> Change:
    """The change called ``name``; a bad name is refused with the list of valid ones."""
    for change in CHANGES:
        if change.name == name:
            return change
    raise ConfigError(
        f"change={name!r} is not in the catalogue (harness/changes.py): use one of "
        + ", ".join(c.name for c in CHANGES)
    )
