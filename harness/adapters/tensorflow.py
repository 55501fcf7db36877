"""TensorFlow/Keras adapter: keras.applications models, ``model.fit`` (a compiled loop over
device-resident data on a GPU), framework defaults.

Mirrors ``harness.adapters.pytorch`` function for function (see ``harness.adapters``).
"""

from __future__ import annotations

import math
import os
from importlib import metadata

import numpy as np

from ..environment import cpu_name, worker_index
from ..errors import HarnessError
from ..knobs import check_supported, settings

NAME = "tensorflow"
EVAL_BATCH = 500

tf = None  # imported lazily by import_framework()
keras = None


def import_framework() -> None:
    global tf, keras
    if tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras as _keras
        import tensorflow as _tf

        tf, keras = _tf, _keras


def versions() -> dict:
    out = {"tensorflow": tf.__version__, "keras": metadata.version("keras")}
    build = tf.sysconfig.get_build_info()
    if tf.config.list_physical_devices("GPU"):
        out["cuda"] = build.get("cuda_version")
        out["cudnn"] = build.get("cudnn_version")
    return out


def configure(intra_op_threads: int, inter_op_threads: int, device: str) -> dict:
    """Fix threads, pick the device, switch determinism on; return what is now in force.

    TF accepts thread counts and device visibility only before its runtime starts: calling this
    again with the same values is fine, with other values (or after TF ran ops) it is refused,
    since the numbers would then depend on what ran before.
    """
    gpus = tf.config.list_physical_devices("GPU")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
        if device != "cuda" and gpus:
            tf.config.set_visible_devices([], "GPU")
        elif gpus:  # with -n N and G GPUs, worker i trains on GPU i mod G
            mine = gpus[worker_index() % len(gpus)]
            tf.config.set_visible_devices(mine, "GPU")
            tf.config.experimental.set_memory_growth(mine, True)  # workers share a GPU
    except RuntimeError:
        pass  # the runtime has started: what is in force is checked below
    in_force = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    if in_force != (intra_op_threads, inter_op_threads):
        raise HarnessError(
            f"TensorFlow already runs with intra/inter-op threads {in_force} (0 = all cores) in "
            f"this process; the profile asks for ({intra_op_threads}, {inter_op_threads}). "
            "Configure before TensorFlow runs any op: start a new process"
        )
    tf.config.experimental.enable_op_determinism()
    # TF32 back to TensorFlow's default: a mirror run in this process may have switched it off
    # (knob tf32), and what is recorded here must not depend on what ran before.
    _set_tf32("on")
    use_gpu = device == "cuda" and bool(tf.config.get_visible_devices("GPU"))
    visible = tf.config.get_visible_devices("GPU")
    details = tf.config.experimental.get_device_details(visible[0]) if use_gpu else {}
    return {
        "device": "cuda" if use_gpu else "cpu",
        "device_name": details.get("device_name", "GPU") if use_gpu else cpu_name(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "determinism": {"tf.config.experimental.enable_op_determinism": True},
        # Native: TF's own default (TF32 on for matmul and conv on Ampere and newer).
        "tf32_matmul": tf.config.experimental.tensor_float_32_execution_enabled(),
        "kernels": kernels(details if use_gpu else None),
    }


def kernels(gpu_details: dict | None) -> dict:
    """What TensorFlow dispatches to on this platform: whether its oneDNN CPU kernels are on
    (``TF_ENABLE_ONEDNN_OPTS``, default on x86) and the ISA oneDNN picks (``ONEDNN_MAX_CPU_ISA``
    caps it); on CUDA the GPU, its compute capability and the CUDA and cuDNN it was built with."""
    from ..environment import cpu_platform

    switch = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower()
    onednn = switch not in ("0", "false") and cpu_platform()["machine"] in ("x86_64", "AMD64")
    out = {"onednn": onednn, "onednn_isa": cpu_platform()["onednn_isa"] if onednn else None}
    if gpu_details is not None:
        build = tf.sysconfig.get_build_info()
        capability = gpu_details.get("compute_capability")
        out["gpu"] = {
            "name": gpu_details.get("device_name", "GPU"),
            "compute_capability": ".".join(map(str, capability)) if capability else None,
            "cuda": build.get("cuda_version"),
            "cudnn": build.get("cudnn_version"),
        }
    return out


def seed(value: int) -> None:
    # A fresh Keras state first, so a case gives the same numbers whatever ran before it in the
    # process (pytest -n 0 runs every case in one process, -n N spreads them).
    keras.backend.clear_session()
    keras.utils.set_random_seed(value)  # python, numpy, TF and Keras' global seed generator


def build_zoo(arch: str, num_classes: int, input_shape: tuple[int, int, int], device: str):
    """keras.applications' model, ``weights=None``, softmax head, as CrossedWires built it.

    Placement follows ``configure``: GPUs are visible only when the profile asked for CUDA.
    """
    apps = keras.applications
    builders = {
        # v1 (stride on the first 1x1), convs with bias, BN eps 1.001e-5 / momentum 0.99.
        "resnet50": apps.ResNet50,
        # torchvision's topology; glorot_uniform init, BN eps 1.001e-5 / momentum 0.99.
        "densenet121": apps.DenseNet121,
        # Flatten (512 at 32x32) -> 4096 -> 4096 -> softmax, no dropout, glorot_uniform init.
        "vgg16": apps.VGG16,
    }
    if arch not in builders:
        raise ValueError(f"arch={arch!r} has no Keras zoo builder")
    return builders[arch](
        weights=None, include_top=True, input_shape=input_shape, classes=num_classes
    )


def build_custom(builder, num_classes: int, input_shape: tuple[int, int, int], device: str):
    """A user's own model: ``builder(num_classes, input_shape)`` returning a Keras model that
    takes NHWC float32 images in [0, 1] and ends in a softmax (as keras.applications' heads:
    the loss is on probabilities). Placement follows ``configure``."""
    model = builder(num_classes, input_shape)
    if not isinstance(model, keras.Model):
        name = getattr(builder, "__qualname__", None) or repr(builder)
        raise HarnessError(
            f"the tensorflow builder {name} returned {type(model).__name__}, not a keras.Model: "
            "return the model (softmax out, as keras.applications')"
        )
    if not model.built:
        model.build((None, *input_shape))
    return model


# --- mirror models (harness/mirror.py), knobs (harness/knobs.py) ---------------------------

SUPPORTED = {  # knob -> the values this adapter can run
    "init": ("keras", "shared"),  # "shared": the caller loads the shared weights after building
    "bn_momentum": None,  # any number
    "bn_epsilon": None,
    "bn_running_variance": ("biased",),
    "adam_epsilon": ("epsilon_hat",),
    "loss_input": ("logits", "probabilities"),
    "strided_padding": ("symmetric", "same"),
    "tf32": ("on", "off"),
    "resnet_stride_position": ("3x3", "1x1"),
    "conv_bias": ("description", "all"),
    "vgg_head_dropout": None,
}


def build_mirror(spec, setting: dict, device: str):
    """The mirror description as a functional Keras model; layers are named by the spec's nodes.
    Padding follows knob ``strided_padding``; with ``loss_input="probabilities"`` the model ends
    in a softmax, as keras.applications' heads do."""
    from ..mirror import structured

    check_supported(NAME, setting, SUPPORTED)
    spec = structured(spec, setting)
    layers = keras.layers
    values = {spec.input_name: keras.Input(shape=spec.input_shape, name=spec.input_name)}
    for n in spec.nodes:
        args = [values[i] for i in n.inputs]
        x = args[0]
        if n.op in ("conv", "maxpool", "avgpool"):
            padding = "valid"
            if n.padding and n.stride == 1 and 2 * n.padding == n.span - 1:
                padding = "same"  # at stride 1 with an odd kernel 'same' is symmetric
            elif n.padding and setting["strided_padding"] == "same":
                padding = "same"  # TF's rule: the extra pixel goes bottom/right
            elif n.padding:
                x = layers.ZeroPadding2D(n.padding, name=f"{n.name}_pad")(x)
            if n.op == "conv":
                out = layers.Conv2D(
                    n.units,
                    n.kernel,
                    n.stride,
                    padding,
                    use_bias=n.bias,
                    name=n.name,
                    dilation_rate=n.dilation,
                    groups=n.groups,
                )(x)
            else:
                pool = layers.MaxPooling2D if n.op == "maxpool" else layers.AveragePooling2D
                out = pool(n.kernel, n.stride, padding, name=n.name)(x)
        elif n.op == "bn":
            out = layers.BatchNormalization(
                momentum=1.0 - setting["bn_momentum"], epsilon=setting["bn_epsilon"], name=n.name
            )(x)
        elif n.op == "relu":
            out = layers.ReLU(name=n.name)(x)
        elif n.op == "dense":
            out = layers.Dense(n.units, use_bias=n.bias, name=n.name)(x)
        elif n.op == "gap":
            out = layers.GlobalAveragePooling2D(name=n.name)(x)
        elif n.op == "flatten":
            out = layers.Flatten(name=n.name)(x)  # H, W, C order: transfer permutes
        elif n.op == "add":
            out = layers.Add(name=n.name)(args)
        elif n.op == "concat":
            out = layers.Concatenate(name=n.name)(args)
        elif n.op == "dropout":
            out = layers.Dropout(n.rate, name=n.name)(x)
        else:
            raise ValueError(f"mirror op {n.op!r} has no Keras implementation")
        values[n.name] = out
    out = values[spec.output]
    if setting["loss_input"] == "probabilities":
        out = layers.Softmax(name="softmax")(out)
    model = keras.Model(values[spec.input_name], out, name=f"{spec.arch}_mirror")
    model.mirror_spec = spec
    return model


def get_mirror_weights(model) -> dict[str, np.ndarray]:
    """Every parameter and running statistic by neutral name, converted to the neutral layout
    (PyTorch's: conv (out, in, kH, kW), dense (out, in), flattened inputs in C, H, W order)."""
    spec, shapes = model.mirror_spec, model.mirror_spec.shapes()
    out = {}
    for neutral, op in spec.parameters().items():
        node, param = neutral.split("/")
        value = np.asarray(getattr(model.get_layer(node), param).numpy())
        if param == "kernel":
            value = _kernel_to_neutral(value, op, _flatten_input(spec, shapes, node))
        out[neutral] = value
    return out


def set_mirror_weights(model, arrays: dict[str, np.ndarray]) -> None:
    """Load neutral-layout arrays; names and shapes must match the model's exactly."""
    from ..transfer import check_names_and_shapes

    spec, shapes = model.mirror_spec, model.mirror_spec.shapes()
    check_names_and_shapes(NAME, get_mirror_weights(model), arrays)
    for neutral, op in spec.parameters().items():
        node, param = neutral.split("/")
        value = np.asarray(arrays[neutral], dtype=np.float32)
        if param == "kernel":
            value = _kernel_from_neutral(value, op, _flatten_input(spec, shapes, node))
        getattr(model.get_layer(node), param).assign(value)


def _flatten_input(spec, shapes, node: str):
    """(C, H, W) that a flatten feeds into this dense node, else None."""
    first = spec.node(node).inputs[0]
    if first == spec.input_name or spec.node(first).op != "flatten":
        return None
    return shapes[spec.node(first).inputs[0]]


def _kernel_to_neutral(k: np.ndarray, op: str, flat_chw) -> np.ndarray:
    if op == "conv":  # (kH, kW, in, out) -> (out, in, kH, kW)
        return k.transpose(3, 2, 0, 1).copy()
    if flat_chw is not None:  # rows in H, W, C order -> columns in C, H, W order
        c, h, w = flat_chw
        return k.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w).copy()
    return k.T.copy()  # (in, out) -> (out, in)


def _kernel_from_neutral(k: np.ndarray, op: str, flat_chw) -> np.ndarray:
    if op == "conv":
        return k.transpose(2, 3, 1, 0)
    if flat_chw is not None:
        c, h, w = flat_chw
        return k.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1)
    return k.T


def forward(model, x: np.ndarray, training: bool) -> np.ndarray:
    """The model's output on uint8 NHWC images, in training or inference mode, as float64.
    In training mode batch norms use the batch statistics (and update their running ones)."""
    return np.asarray(model(_to_array(x), training=training)).astype(np.float64)


def _set_tf32(value: str) -> None:
    """Knob ``tf32``: TensorFlow's default is on (matmul and conv, Ampere and newer)."""
    tf.config.experimental.enable_tensor_float_32_execution(value == "on")


def _to_array(x: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> float32 NHWC in [0, 1] (Keras is channels_last)."""
    return x.astype(np.float32) / np.float32(255.0)


def train(
    model,
    x: np.ndarray,
    y: np.ndarray,
    hp: dict,
    epochs: int,
    on_epoch_end=None,
    setting: dict | None = None,
) -> dict:
    """Adam(learning_rate, epsilon), SparseCategoricalCrossentropy on the softmax output,
    batches in dataset order (shuffle=False); everything else at Keras' defaults.
    ``on_epoch_end(epoch)``, when given, is called after each epoch (benchmarks time epochs).
    ``setting`` holds the knobs (``harness.knobs``): None is Keras' defaults; training reads
    ``tf32``, ``adam_epsilon`` and ``loss_input``, the rest were read at build time.

    On the CPU this is ``compile`` + ``fit(shuffle=False)``, the idiom the paper used. On a GPU,
    ``fit`` would feed each batch from host memory through tf.data; instead the training set is
    copied to the GPU once and each epoch is one compiled loop over slices of it
    (``_train_resident``): the same batches, optimizer, loss and epoch loss, with no per-step
    host copy and no Python in the loop. ``tests/test_adapters.py`` checks on the CPU that the
    two give the same weights and losses.
    """
    setting = setting or settings("native")[NAME]
    check_supported(NAME, setting, SUPPORTED)
    _set_tf32(setting["tf32"])
    optimizer = make_optimizer(model, hp, setting)
    loss_fn = _loss_function(setting)
    if tf.config.get_visible_devices("GPU"):
        raw = _train_resident(
            model, x, y, hp["batch_size"], epochs, optimizer, loss_fn, on_epoch_end
        )
    else:
        raw = fit(model, x, y, hp["batch_size"], epochs, optimizer, loss_fn, on_epoch_end)
    diverged = any(not math.isfinite(v) for v in raw)
    losses = [v if math.isfinite(v) else None for v in raw]
    return {"training_loss": losses, "diverged": diverged}


def fit(model, x, y, batch_size, epochs, optimizer, loss_fn, on_epoch_end=None) -> list[float]:
    """``compile`` + ``fit(shuffle=False)``, the idiom the paper used: the epoch losses. Keras
    code only, so the Keras sides on other backends (``harness/adapters/keras_backend.py``)
    train with it too."""
    model.compile(optimizer=optimizer, loss=loss_fn)
    history = model.fit(
        _to_array(x),
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[_stop_on_non_finite_epoch_loss(on_epoch_end)],
    )
    return [float(v) for v in history.history.get("loss", [])]


def _train_resident(model, x, y, batch_size, epochs, optimizer, loss_fn, on_epoch_end=None):
    """What ``fit(shuffle=False)`` does, with the data resident on the model's device.

    ``x``/``y`` are copied to the device once (a GPU when one is visible); each epoch is one
    ``tf.function`` whose loop over batch starts is a graph while-loop, so no step returns to
    Python or to the host. Per step, as Keras' ``train_step``: forward in training mode, the
    loss, its gradient, ``optimizer.apply_gradients``; the epoch loss is Keras' own tracker, a
    ``Mean`` weighted by batch size. The host reads one number per epoch, and training stops
    after an epoch whose loss is not finite. Returns the epoch losses.
    """
    device = "/GPU:0" if tf.config.get_visible_devices("GPU") else "/CPU:0"
    with tf.device(device):
        xs = tf.constant(_to_array(x))
        ys = tf.constant(y)
    n = int(xs.shape[0])
    variables = model.trainable_variables
    optimizer.build(variables)
    tracker = keras.metrics.Mean(name="loss")

    @tf.function
    def one_epoch():
        for start in tf.range(0, n, batch_size):
            xb, yb = xs[start : start + batch_size], ys[start : start + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            tracker.update_state(loss, sample_weight=tf.shape(xb)[0])

    losses = []
    for epoch in range(epochs):
        tracker.reset_state()
        one_epoch()
        losses.append(float(tracker.result()))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if not math.isfinite(losses[-1]):
            break
    return losses


def _stop_on_non_finite_epoch_loss(then=None):
    """Stop after an epoch whose mean loss is not finite, as the PyTorch side does. Unlike
    ``TerminateOnNaN`` it has no per-batch hook, so Keras never waits for the loss mid-epoch.
    ``then(epoch)`` is called after each epoch."""

    class StopOnNonFiniteEpochLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if not math.isfinite(float((logs or {}).get("loss", 0.0))):
                self.model.stop_training = True
            if then is not None:
                then(epoch)

    return StopOnNonFiniteEpochLoss()


def make_optimizer(model, hp: dict, setting: dict | None = None):
    """The optimizer ``train`` uses: ``keras.optimizers.Adam(learning_rate, epsilon)``."""
    return keras.optimizers.Adam(learning_rate=hp["learning_rate"], epsilon=hp["adam_epsilon"])


def _loss_function(setting: dict, dtype: str | None = None):
    """The training loss; ``dtype`` None is Keras' float type (float32), as in training."""
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=setting["loss_input"] == "logits", dtype=dtype
    )


# --- numerics check (harness/numerics.py): the same primitives on both sides ----------------


def trainable(model) -> dict[str, np.ndarray]:
    """Every trainable variable by its Keras path, as NumPy, in Keras' layout."""
    return {v.path: np.asarray(v.numpy()).copy() for v in model.trainable_variables}


def running_statistics(model) -> dict[str, np.ndarray]:
    """Every batch-norm moving mean and variance by its Keras path."""
    return {
        v.path: np.asarray(v.numpy()).copy()
        for v in model.non_trainable_variables
        if v.path.endswith(("moving_mean", "moving_variance"))
    }


def float64_copy(model):
    """The same model (layers, weights, running statistics) with every layer in float64: the
    rounding-free reference. The input stays float32, so both see the same image values."""

    def in_float64(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float64"})

    copy = keras.models.clone_model(model, clone_function=in_float64)
    copy.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    if hasattr(model, "mirror_spec"):
        copy.mirror_spec = model.mirror_spec
    return copy


def first_step(model, x: np.ndarray, y: np.ndarray, setting: dict | None = None) -> dict:
    """What the first training step computes before the optimizer moves anything: a forward
    pass in training mode (batch statistics; the moving statistics update as in training), the
    loss and every trainable variable's gradient. Dropout is off: its masks come from a random
    stream, not from the arithmetic this checks. Returns float64 NumPy: ``loss``, ``output``
    (the model's output) and ``gradients`` by variable path."""
    setting = setting or settings("native")[NAME]
    _set_tf32(setting["tf32"])
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    rates = [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    try:
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            out = model(_to_array(x), training=True)
            loss = _loss_function(setting)(y, out)
        grads = tape.gradient(loss, variables)
    finally:
        for layer, rate in zip(dropouts, rates, strict=True):
            layer.rate = rate
    return {
        "loss": float(np.asarray(loss, dtype=np.float64)),
        "output": np.asarray(out, dtype=np.float64),
        "gradients": {
            v.path: np.asarray(g, dtype=np.float64) for v, g in zip(variables, grads, strict=True)
        },
    }


def loss_probe(logits: np.ndarray, y: np.ndarray, setting: dict | None, dtype: str) -> dict:
    """The training loss (``_loss_function``, as ``train``) of fixed ``logits`` in ``dtype``,
    given as probabilities through Keras' softmax where the loss takes probabilities (a
    keras.applications head), and its gradient with respect to the logits, as float64 NumPy."""
    setting = setting or settings("native")[NAME]
    z = tf.constant(np.asarray(logits), dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = z if setting["loss_input"] == "logits" else keras.activations.softmax(z)
        loss = _loss_function(setting, dtype)(np.asarray(y), out)
    return {
        "loss": float(np.asarray(loss, dtype=np.float64)),
        "gradient": np.asarray(tape.gradient(loss, z), dtype=np.float64),
    }


def apply_gradients(model, optimizer, gradients: dict[str, np.ndarray]) -> None:
    """One optimizer step with the given gradients (by variable path) in place of backprop."""
    variables = model.trainable_variables
    optimizer.apply_gradients(
        [(tf.constant(np.asarray(gradients[v.path]), dtype=v.dtype), v) for v in variables]
    )


def predict(model, x: np.ndarray) -> np.ndarray:
    probs = model.predict(_to_array(x), batch_size=EVAL_BATCH, verbose=0)
    return np.asarray(probs).argmax(axis=1).astype(np.int64)


def weights(model) -> dict[str, np.ndarray]:
    """Every variable by its Keras path (e.g. ``conv1_conv/kernel``), as NumPy (Keras layout)."""
    return {w.path: np.asarray(w.numpy()) for w in model.weights}


# --- per-layer localization (harness/localize.py): the same function on both sides ---------

TRAINABLE = ("kernel", "bias", "gamma", "beta")  # neutral parameter names the optimizer moves


def trace_mirror(model, x: np.ndarray, y: np.ndarray, hp: dict, setting: dict | None = None):
    """One training step of a mirror model, per node, in the neutral layout, as float64 NumPy:
    the same dict as ``harness.adapters.pytorch.trace_mirror`` (see there). The functional
    model is walked node by node through its own layers (``build_mirror``'s names: a node's
    layer, its ``<node>_pad``, the ``softmax`` head), so every node's output can be watched;
    NHWC tensors and HWC-ordered flattens are converted to the neutral NCHW / CHW order."""
    setting = setting or settings("native")[NAME]
    check_supported(NAME, setting, SUPPORTED)
    _set_tf32(setting["tf32"])
    spec, shapes = model.mirror_spec, model.mirror_spec.shapes()
    names = {layer.name for layer in model.layers}
    before = get_mirror_weights(model)
    xs = tf.constant(_to_array(x))
    variables, neutral_names = [], []
    for neutral in spec.parameters():
        node, param = neutral.split("/")
        if param in TRAINABLE:
            variables.append(getattr(model.get_layer(node), param))
            neutral_names.append(neutral)
    with tf.GradientTape() as tape:
        tape.watch(xs)
        values = {spec.input_name: xs}
        for n in spec.nodes:
            args = [values[i] for i in n.inputs]
            layer = model.get_layer(n.name)
            if n.op in ("add", "concat"):
                out = layer(args)
            elif n.op == "bn":
                out = layer(args[0], training=True)
            elif n.op == "dropout":
                out = layer(args[0], training=False)
            else:
                x0 = args[0]
                if f"{n.name}_pad" in names:
                    x0 = model.get_layer(f"{n.name}_pad")(x0)
                out = layer(x0)
            values[n.name] = out
        out = values[spec.output]
        if setting["loss_input"] == "probabilities":
            out = model.get_layer("softmax")(out)
        loss = _loss_function(setting)(y, out)
    keys = list(values)
    grads = tape.gradient(loss, [values[k] for k in keys] + variables)
    tensor_grads, var_grads = grads[: len(keys)], grads[len(keys) :]
    make_optimizer(model, hp, setting).apply_gradients(zip(var_grads, variables, strict=True))
    after = get_mirror_weights(model)

    def neutral(name: str, value) -> np.ndarray:
        a = np.asarray(value, dtype=np.float64)
        if a.ndim == 4:
            return a.transpose(0, 3, 1, 2)
        node = spec.node(name) if name != spec.input_name else None
        if node is not None and node.op == "flatten":  # H, W, C order -> C, H, W order
            c, h, w = shapes[node.inputs[0]]
            return a.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(a), -1)
        return a

    parameter_gradients = {}
    for name, g in zip(neutral_names, var_grads, strict=True):
        node, param = name.split("/")
        g = np.asarray(g, dtype=np.float64)
        if param == "kernel":
            g = _kernel_to_neutral(g, spec.node(node).op, _flatten_input(spec, shapes, node))
        parameter_gradients[name] = g
    return {
        "loss": float(np.asarray(loss, dtype=np.float64)),
        "outputs": {k: neutral(k, v) for k, v in values.items() if k != spec.input_name},
        "gradients": {
            k: neutral(k, g) if g is not None else np.zeros(neutral(k, values[k]).shape)
            for k, g in zip(keys, tensor_grads, strict=True)
        },
        "parameter_gradients": parameter_gradients,
        "updates": {
            k: np.asarray(after[k], np.float64) - np.asarray(before[k], np.float64) for k in after
        },
    }
