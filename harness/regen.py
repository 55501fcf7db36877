"""``crossedwires regen``: regenerate a profile's baselines as Ray tasks, on a laptop or a cluster.

Each case is one Ray task (one GPU each where the cluster has GPUs, else the profile's threads
worth of CPUs). The driver writes each baseline the moment its task finishes (atomically, as the
pytest suite does), shows progress with the time left, and resumes: with ``--resume`` a baseline
already written by the same environment (versions, device, threads, profile, data) is kept. A
failed task is reported and the others go on; rerunning with ``--resume`` retrains only what is
missing. The records are the pytest suite's (``harness.runner.run_case``), so
``pytest difftests --profile P`` then checks them as usual.

Without an address Ray starts locally on this machine's cores, so the same command runs on a
laptop and, with ``--ray ADDRESS`` (``auto`` for the cluster this machine belongs to, or
``ray://head:10001``), on a cluster whose nodes have this package installed with the same
constraints.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import baselines
from .cases import Case
from .errors import HarnessError
from .profiles import Profile

_STATE: dict = {}


def _prepare(profile: Profile, data_dir: str | None, download: bool):
    """Once per Ray worker process: threads and device from the profile, the data loaded."""
    if _STATE.get("profile") != profile:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # failures come back as exceptions
        from .data import load_dataset
        from .runner import environment

        env = environment(profile)
        data = load_dataset(profile.dataset, data_dir, download=download)
        _STATE.update(profile=profile, env=env, data=data)
    return _STATE["data"]


def _train(case: Case, profile: Profile, data_dir: str | None, download: bool) -> dict:
    """One case, in a Ray worker: its normalized record, as the pytest suite writes it."""
    from .runner import run_case

    data = _prepare(profile, data_dir, download)
    return baselines.normalize(run_case(case, profile, data))


def _fingerprint(profile: Profile, data_dir: str | None, download: bool) -> dict:
    """The fingerprint a kept baseline must have, computed where the training runs."""
    from .runner import profile_block

    data = _prepare(profile, data_dir, download)
    subset = data.subset(profile.train_subset, profile.test_subset)
    return baselines.fingerprint(_STATE["env"], profile_block(profile), subset.fingerprint())


def select(cases: tuple[Case, ...], patterns: list[str] | None) -> list[Case]:
    """Cases whose id contains every pattern (``-k vgg16 -k bs10-``)."""
    chosen = [c for c in cases if all(p in c.case_id for p in patterns or [])]
    if not chosen:
        raise HarnessError(f"no case id contains all of {patterns}: see crossedwires cases")
    return chosen


def regen(
    cases: list[Case],
    profile: Profile,
    baselines_dir: Path,
    address: str | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    download: bool = False,
    progress: bool = True,
) -> dict[str, str]:
    """Run ``cases`` as Ray tasks and write their baselines; {case id: what happened}."""
    try:
        import ray
    except ImportError:
        raise HarnessError(
            "Ray is not installed: pip install -c constraints.txt -e '.[ray]'"
        ) from None
    from tqdm import tqdm

    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    gpus = ray.cluster_resources().get("GPU", 0)
    per_task = {"num_gpus": 1} if gpus and profile.device == "cuda" else {}
    per_task["num_cpus"] = profile.intra_op_threads
    train = ray.remote(max_retries=1)(_train).options(**per_task)

    paths = {
        c.case_id: baselines.baseline_path(baselines_dir, profile.name, c.arch, c.case_id)
        for c in cases
    }
    outcome: dict[str, str] = {}
    if resume:
        fingerprint = ray.remote(_fingerprint).options(**per_task)
        current = ray.get(fingerprint.remote(profile, data_dir, download))
        for case in cases:
            if baselines.resumable(paths[case.case_id], current):
                outcome[case.case_id] = "kept"
    todo = [c for c in cases if c.case_id not in outcome]
    pending = {train.remote(c, profile, data_dir, download): c for c in todo}
    bar = tqdm(
        total=len(cases),
        initial=len(outcome),
        desc=f"regen {profile.name}",
        unit="case",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            case = pending.pop(done[0])
            try:
                record = ray.get(done[0])
            except Exception as exc:  # the task failed: report it, keep going
                outcome[case.case_id] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
            else:
                baselines.write(paths[case.case_id], record)
                outcome[case.case_id] = "written"
            bar.update()
    finally:
        bar.close()
        for ref in pending:  # interrupted: nothing half-written, the rest resumes later
            ray.cancel(ref, force=True)
    return outcome
