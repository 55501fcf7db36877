"""The harness's training cost against a bare loop in each framework's plainest idiom.

For each framework and architecture: the same model (same builder, same seed) and the same data
trained by the harness's adapter (``harness.adapters.<fw>.train``) and by a bare reference loop
(PyTorch: a slicing loop over tensors already on the device; Keras: ``compile`` + ``fit`` on
float arrays). Each side trains ``1 + --extra-epochs`` epochs in one call, and both are
timed the same way: a callback after each epoch takes a timestamp (after a device sync on
CUDA); time per epoch is the median epoch after the first, which leaves model set-up and
Keras' tracing out of both sides alike. The two are measured alternately, in one process,
``--repeats`` times; the medians and their ratio are printed, with each side's peak memory
(resident set on the CPU, allocator peak on CUDA). Goal: ratio <= 1.05.

    python benchmarks/overhead.py                       # CPU, every arch, both frameworks
    python benchmarks/overhead.py --arch vgg16 --images 512 --repeats 5
    python benchmarks/overhead.py --device cuda --images 10000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.adapters import FRAMEWORKS, get_adapter  # noqa: E402
from harness.cases import ARCHS  # noqa: E402
from harness.data import load_digits32  # noqa: E402


class PeakRSS:
    """Peak resident set size of this process while the block runs (sampled every 5 ms)."""

    def __enter__(self):
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bare_pytorch(adapter, model, x, y, hp, epochs, on_epoch_end):
    torch = adapter.torch
    device = next(model.parameters()).device
    xs = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(device).float() / 255
    ys = torch.from_numpy(y).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=hp["learning_rate"], eps=hp["adam_epsilon"])
    model.train()
    for epoch in range(epochs):
        for i in range(0, len(xs), hp["batch_size"]):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                model(xs[i : i + hp["batch_size"]]), ys[i : i + hp["batch_size"]]
            ).backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        on_epoch_end(epoch)


def bare_tensorflow(adapter, model, x, y, hp, epochs, on_epoch_end):
    keras = adapter.keras
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=hp["learning_rate"], epsilon=hp["adam_epsilon"]
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )
    model.fit(
        x.astype(np.float32) / 255,
        y,
        batch_size=hp["batch_size"],
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch_end(e))],
    )


BARE = {"pytorch": bare_pytorch, "tensorflow": bare_tensorflow}


def harness_train(adapter, model, x, y, hp, epochs, on_epoch_end):
    adapter.train(model, x, y, hp, epochs, on_epoch_end=on_epoch_end)


def gpu_peak_reset(adapter, device):
    if device != "cuda":
        return
    if adapter.NAME == "pytorch":
        adapter.torch.cuda.reset_peak_memory_stats()
    else:
        adapter.tf.config.experimental.reset_memory_stats("GPU:0")


def gpu_peak(adapter, device) -> int | None:
    if device != "cuda":
        return None
    if adapter.NAME == "pytorch":
        return adapter.torch.cuda.max_memory_allocated()
    return adapter.tf.config.experimental.get_memory_info("GPU:0")["peak"]


def epoch_times(fn, adapter, arch, x, y, hp, epochs, device, num_classes):
    """Seconds of each epoch after the first, and the peak memory of the call."""
    adapter.seed(0)
    model = adapter.build_zoo(arch, num_classes, x.shape[1:], device)
    gpu_peak_reset(adapter, device)
    stamps = []
    with PeakRSS() as rss:
        fn(adapter, model, x, y, hp, epochs, lambda epoch: stamps.append(time.perf_counter()))
    return list(np.diff(stamps)), rss.peak, gpu_peak(adapter, device)


def measure(framework, arch, x, y, hp, extra_epochs, repeats, device, num_classes):
    adapter = get_adapter(framework)
    variants = {"harness": harness_train, "bare": BARE[framework]}
    per_epoch = {v: [] for v in variants}
    peak = {v: 0 for v in variants}
    gpu = {v: None for v in variants}
    for rep in range(repeats):
        order = list(variants) if rep % 2 == 0 else list(variants)[::-1]  # alternate who is first
        for v in order:
            times, rss, gpu_bytes = epoch_times(
                variants[v], adapter, arch, x, y, hp, 1 + extra_epochs, device, num_classes
            )
            per_epoch[v] += times
            peak[v] = max(peak[v], rss)
            if gpu_bytes is not None:
                gpu[v] = max(gpu[v] or 0, gpu_bytes)
    med = {v: statistics.median(per_epoch[v]) for v in variants}
    return {
        "framework": framework,
        "arch": arch,
        "images": len(x),
        "batch_size": hp["batch_size"],
        "harness_s_per_epoch": med["harness"],
        "bare_s_per_epoch": med["bare"],
        "ratio": med["harness"] / med["bare"],
        "harness_images_per_s": len(x) / med["harness"],
        "bare_images_per_s": len(x) / med["bare"],
        "harness_peak_rss_mib": peak["harness"] / 2**20,
        "bare_peak_rss_mib": peak["bare"] / 2**20,
        "harness_peak_gpu_mib": None if gpu["harness"] is None else gpu["harness"] / 2**20,
        "bare_peak_gpu_mib": None if gpu["bare"] is None else gpu["bare"] / 2**20,
        "repeats": repeats,
        "epochs_timed": len(per_epoch["harness"]),
    }


def print_table(rows, device_name):
    import pandas as pd

    frame = pd.DataFrame(rows)
    cols = [
        "framework",
        "arch",
        "images",
        "batch_size",
        "harness_s_per_epoch",
        "bare_s_per_epoch",
        "ratio",
        "harness_images_per_s",
        "harness_peak_rss_mib",
        "bare_peak_rss_mib",
    ]
    if frame["harness_peak_gpu_mib"].notna().any():
        cols += ["harness_peak_gpu_mib", "bare_peak_gpu_mib"]
    print(f"device: {device_name}")
    print(frame[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", action="append", choices=ARCHS, help="default: all three")
    parser.add_argument("--framework", action="append", choices=FRAMEWORKS)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--images", type=int, default=256, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--extra-epochs", type=int, default=3, help="timed epochs per call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per framework")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    data = load_digits32()
    reps = -(-args.images // len(data.x_train))  # CIFAR-10 size: repeat the embedded images
    x = np.concatenate([data.x_train] * reps)[: args.images]
    y = np.concatenate([data.y_train] * reps)[: args.images]
    hp = {"learning_rate": 1e-3, "batch_size": args.batch_size, "adam_epsilon": 1e-7}
    envs = {}
    for fw in args.framework or FRAMEWORKS:
        envs[fw] = get_adapter(fw).configure(args.threads, 1, args.device)
    rows = []
    for fw in args.framework or FRAMEWORKS:
        for arch in args.arch or ARCHS:
            row = measure(
                fw,
                arch,
                x,
                y,
                hp,
                args.extra_epochs,
                args.repeats,
                envs[fw]["device"],
                data.num_classes,
            )
            rows.append(row)
            print(
                f"{fw:10s} {arch:11s} ratio {row['ratio']:.3f} "
                f"({row['harness_s_per_epoch']:.2f} s vs {row['bare_s_per_epoch']:.2f} s "
                "per epoch)",
                flush=True,
            )
    device_name = next(iter(envs.values()))["device_name"]
    print_table(rows, device_name)
    if args.json:
        args.json.write_text(json.dumps({"device": device_name, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
