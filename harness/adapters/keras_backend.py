"""Keras 3 on the backend ``KERAS_BACKEND`` names (torch, jax): keras.applications' models trained
by the tensorflow side's own Keras code (``tensorflow.build_zoo``, ``make_optimizer``, ``fit``,
``predict``, ``weights``), so that a gap between this side and ``tensorflow`` is the backend's
kernels, and a gap to ``pytorch`` that this side shares with ``tensorflow`` is Keras' defaults
and structure.

Keras fixes its backend once, at import: a side of this adapter runs in a process of its own
with ``KERAS_BACKEND`` set (``harness/sides.py``, ``harness/sidework.py``), never in the pytest
process. Zoo and mirror models (the registry says so): the mirror is the tensorflow side's
Keras builder, so a mirror case's knobs are the tensorflow side's on every Keras backend; custom
pairs stay with the pytorch/tensorflow pair.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..environment import cpu_name
from ..errors import HarnessError
from . import tensorflow as _keras_code

NAME = "keras"
keras = None  # imported lazily by import_framework()


def backend() -> str:
    return os.environ.get("KERAS_BACKEND", "")


def import_framework() -> None:
    global keras
    if keras is None:
        if backend() not in ("torch", "jax"):
            raise HarnessError(
                f"the keras adapter runs with KERAS_BACKEND=torch or jax, not {backend()!r}: "
                "run it as a side (pytest --sides ...), which sets it"
            )
        import keras as _keras

        if _keras.backend.backend() != backend():
            raise HarnessError(
                f"keras runs on {_keras.backend.backend()!r} in this process, not {backend()!r}: "
                "Keras reads KERAS_BACKEND once, at import; start a new process"
            )
        keras = _keras
        _keras_code.keras = _keras  # the tensorflow side's Keras code, on this backend


def side_name() -> str:
    return f"keras-{backend()}"


def versions() -> dict:
    from ..sides import versions as side_versions

    return side_versions(side_name())


def configure(intra_op_threads: int, inter_op_threads: int, device: str) -> dict:
    """Threads and determinism for the backend; the CPU (a GPU is not used by these sides yet)."""
    kernels: dict = {"backend": backend()}
    if backend() == "torch":
        import torch

        torch.set_num_threads(intra_op_threads)
        try:
            torch.set_num_interop_threads(inter_op_threads)
        except RuntimeError:
            pass  # set once per process; checked below
        torch.use_deterministic_algorithms(True)
        threads = (torch.get_num_threads(), torch.get_num_interop_threads())
        determinism = {"torch.use_deterministic_algorithms": True}
        kernels["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    else:
        flags = (
            f"--xla_cpu_multi_thread_eigen={'true' if intra_op_threads > 1 else 'false'} "
            f"intra_op_parallelism_threads={intra_op_threads}"
        )
        os.environ["XLA_FLAGS"] = flags  # read when the CPU backend starts: before any op
        threads = (intra_op_threads, inter_op_threads)
        determinism = {"XLA_FLAGS": flags}
    if threads[0] != intra_op_threads:
        raise HarnessError(
            f"{side_name()} runs with {threads[0]} intra-op threads, the profile asks for "
            f"{intra_op_threads}: start a new process"
        )
    return {
        "device": "cpu",
        "device_name": cpu_name(),
        "intra_op_threads": threads[0],
        "inter_op_threads": threads[1],
        "determinism": determinism,
        "kernels": kernels,
    }


def seed(value: int) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(value)  # python, numpy and the backend's generators


def build_zoo(arch: str, num_classes: int, input_shape: tuple[int, int, int], device: str):
    return _keras_code.build_zoo(arch, num_classes, input_shape, device)


def build_mirror(spec, setting: dict, device: str):
    """The tensorflow side's Keras mirror builder, on this backend."""
    return _keras_code.build_mirror(spec, setting, device)


def get_mirror_weights(model) -> dict[str, np.ndarray]:
    return _keras_code.get_mirror_weights(model)


def set_mirror_weights(model, arrays: dict[str, np.ndarray]) -> None:
    _keras_code.set_mirror_weights(model, arrays)


def train(model, x, y, hp: dict, epochs: int, on_epoch_end=None, setting: dict | None = None):
    """The tensorflow side's Keras training (``compile`` + ``fit(shuffle=False)``, Adam with
    Keras' epsilon, the loss on the softmax output) on this backend. Knob ``tf32`` is
    TensorFlow's switch and is not read here (these sides run on the CPU)."""
    from ..knobs import check_supported, settings

    setting = setting or settings("native")[_keras_code.NAME]
    check_supported(_keras_code.NAME, setting, _keras_code.SUPPORTED)
    optimizer = _keras_code.make_optimizer(model, hp, setting)
    loss_fn = _keras_code._loss_function(setting)
    raw = _keras_code.fit(model, x, y, hp["batch_size"], epochs, optimizer, loss_fn, on_epoch_end)
    diverged = any(not math.isfinite(v) for v in raw)
    return {"training_loss": [v if math.isfinite(v) else None for v in raw], "diverged": diverged}


def predict(model, x: np.ndarray) -> np.ndarray:
    return _keras_code.predict(model, x)


def weights(model) -> dict[str, np.ndarray]:
    return {w.path: np.asarray(keras.ops.convert_to_numpy(w.value)) for w in model.weights}
