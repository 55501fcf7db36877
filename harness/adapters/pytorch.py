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
    }


def seed(value: int) -> None:
    torch.manual_seed(value)  # seeds the CPU and every CUDA generator


def build_zoo(arch: str, num_classes: int, input_shape: tuple[int, int, int], device: str):
    """torchvision's model, no pretrained weights, as CrossedWires built it, on ``device``."""
    return _zoo(arch, num_classes).to(device)


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


def _to_tensor(x: np.ndarray):
    """uint8 NHWC -> float32 NCHW in [0, 1], as torchvision's ToTensor()."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float().div_(255.0)


def train(model, x: np.ndarray, y: np.ndarray, hp: dict, epochs: int, on_epoch_end=None) -> dict:
    """Adam(lr, eps), CrossEntropyLoss on logits, batches in dataset order (shuffle=False).
    ``on_epoch_end(epoch)``, when given, is called after each epoch (benchmarks time epochs).

    The whole training set is moved to the model's device once and batches are slices of it:
    no per-step host copies and no per-sample collation (what a DataLoader over a
    TensorDataset does). The loss is summed on the device and read once per epoch, so CUDA
    never waits for the host mid-epoch; a non-finite epoch loss stops training as diverged.
    """
    device = _device_of(model)
    xs, ys = _to_tensor(x).to(device), torch.from_numpy(y).to(device)
    bs = hp["batch_size"]
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["learning_rate"], eps=hp["adam_epsilon"])
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
