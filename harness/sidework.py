"""Runs a side that needs a process of its own (``harness.sides``: a side with ``env``).

The parent (``run_seeds``) writes the job (case, profile, seeds, data) to a temporary folder and
starts ``python -m harness.sidework FOLDER`` with the side's variables set; the child configures
the side, trains every seed in-process with ``runner.run_framework`` (the same code as an
in-process side) and writes its runs and its environment block back. Plain JSON and ``.npz``
(no pickle) cross the boundary.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import HarnessError

JOB, DATA, OUT, PREDICTIONS = "job.json", "data.npz", "out.json", "predictions.npz"
INITIAL = "initial-{}.npz"  # per seed: the shared initial weights of a mirror case (neutral layout)


def run_seeds(
    side, case, profile, data, seeds, setting=None, weights_to=None, initial_weights=None
) -> tuple[list, dict]:
    """Train ``case`` with ``side`` in a subprocess, one run per seed: (runs, environment block).
    ``weights_to``: per seed, a path for the trained weights (or None); ``initial_weights``: per
    seed, the weights a mirror model starts from (knob ``init="shared"``), or None."""
    with tempfile.TemporaryDirectory(prefix=f"crossedwires-{side.name}-") as tmp:
        folder = Path(tmp)
        np.savez(
            folder / DATA,
            x_train=data.x_train,
            y_train=data.y_train,
            x_test=data.x_test,
            y_test=data.y_test,
        )
        job = {
            "side": side.name,
            "case": dataclasses.asdict(case),
            "profile": dataclasses.asdict(profile),
            "data": {"name": data.name, "num_classes": data.num_classes},
            "seeds": list(seeds),
            "setting": setting,
            "weights_to": [
                None if w is None else str(w) for w in (weights_to or [None] * len(seeds))
            ],
        }
        for i, initial in enumerate(initial_weights or []):
            if initial is not None:
                np.savez(folder / INITIAL.format(i), **initial)
        (folder / JOB).write_text(json.dumps(job))
        env = {**os.environ, **side.env}
        proc = subprocess.run(
            [sys.executable, "-m", "harness.sidework", str(folder)],
            env=env,
            capture_output=True,
            text=True,
        )
        out_file = folder / OUT
        if proc.returncode != 0 or not out_file.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            if proc.returncode < 0:  # a signal: the kernel's OOM killer, most often
                fix = (
                    f"it was killed (signal {-proc.returncode}; out of memory?): run fewer "
                    "workers (-n) or fewer sides at once"
                )
            else:
                env_vars = " ".join(f"{k}={v}" for k, v in side.env.items())
                fix = (
                    f"check that `{env_vars} python -c 'from harness.adapters import "
                    f'get_adapter; get_adapter("{side.name}")\'` works, or reinstall with '
                    f"`{side.install_hint()}`"
                )
            raise HarnessError(
                f"side {side.name} (a subprocess with {side.env}) stopped with status "
                f"{proc.returncode}: {tail[0]}; {fix}"
            )
        out = json.loads(out_file.read_text())
        if out.get("setup_error"):
            raise HarnessError(out["setup_error"])
        with np.load(folder / PREDICTIONS, allow_pickle=False) as npz:
            predictions = {k: npz[k] for k in npz.files}
        runs = [
            {"result": result, "predictions": predictions.get(str(i))}
            for i, result in enumerate(out["results"])
        ]
        return runs, out["environment"]


def main(folder: str) -> int:
    from .cases import Case
    from .data import Dataset
    from .profiles import Profile
    from .runner import run_framework
    from .sides import get

    folder_ = Path(folder)
    job = json.loads((folder_ / JOB).read_text())
    side = get(job["side"])
    case = Case(**job["case"])
    profile = Profile(**job["profile"])
    with np.load(folder_ / DATA, allow_pickle=False) as npz:
        data = Dataset(
            job["data"]["name"],
            npz["x_train"],
            npz["y_train"],
            npz["x_test"],
            npz["y_test"],
            job["data"]["num_classes"],
        )
    out: dict = {"results": [], "environment": None, "setup_error": None}
    predictions = {}
    try:
        from .adapters import get_adapter

        adapter = get_adapter(side.name)
        env = adapter.configure(profile.intra_op_threads, profile.inter_op_threads, profile.device)
        env["versions"] = adapter.versions()
        out["environment"] = env
        for i, (seed, weights_to) in enumerate(zip(job["seeds"], job["weights_to"], strict=True)):
            initial = None
            if (folder_ / INITIAL.format(i)).is_file():
                with np.load(folder_ / INITIAL.format(i), allow_pickle=False) as npz:
                    initial = {k: npz[k] for k in npz.files}
            run = run_framework(
                side.name,
                case,
                profile,
                data,
                env["device"],
                Path(weights_to) if weights_to else None,
                setting=job["setting"],
                initial_weights=initial,
                seed=seed,
            )
            out["results"].append(run["result"])
            if run["predictions"] is not None:
                predictions[str(i)] = run["predictions"]
    except HarnessError as exc:
        out["setup_error"] = str(exc)
    np.savez(folder_ / PREDICTIONS, **predictions)
    (folder_ / OUT).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
