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

Faults (issue 13): the output folders are checked, and stale temporary files of killed writes
removed, before Ray starts; an unreachable ``--ray`` address fails within ``CONNECT_TIMEOUT_S``
with the address and the fix; a baseline that cannot be written fails that case only, and its
trained record is kept elsewhere (``baselines.write`` says where) so that no training is lost.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from . import atomic, baselines
from .cases import Case
from .errors import ConfigError, HarnessError
from .profiles import Profile

_STATE: dict = {}

CONNECT_TIMEOUT_S = 30.0  # how long a --ray address may take to accept a connection
MAX_ADDRESS_CHARS = 300
MAX_PATTERNS = 32
MAX_PATTERN_CHARS = 200
FIX_ADDRESS = (
    "start the cluster with `ray start --head` or check the address; "
    "`auto` needs a running cluster on this machine"
)


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
    patterns = list(patterns or [])
    if len(patterns) > MAX_PATTERNS or any(len(p) > MAX_PATTERN_CHARS for p in patterns):
        raise ConfigError(
            f"-k: at most {MAX_PATTERNS} patterns of at most {MAX_PATTERN_CHARS} characters "
            f"(got {len(patterns)}, the longest {max(map(len, patterns))}): a case id is shorter"
        )
    chosen = [c for c in cases if all(p in c.case_id for p in patterns)]
    if not chosen:
        raise HarnessError(f"no case id contains all of {patterns}: see crossedwires cases")
    return chosen


def check_output(baselines_dir: Path, profile: str, arches: set[str]) -> Path:
    """The profile's baseline folder and its architecture folders, created and tried with a
    write before any training; HarnessError naming the path and the fix otherwise."""
    folder = Path(baselines_dir) / profile
    for path in [folder, *(folder / a for a in sorted(arches))]:
        atomic.check_writable_folder(path, "--baselines-dir")
    return folder


def _target(address: str | None) -> tuple[str, tuple[str, int] | None]:
    """The address Ray will connect to (after ``RAY_ADDRESS``, as ray.init reads it) and its
    host and port; (name, None) when Ray starts locally or the address cannot be resolved here."""
    env = os.environ.get("RAY_ADDRESS")
    if env and address in (None, "auto"):  # ray.init lets RAY_ADDRESS override these two
        address, name = env, f"{env} (from RAY_ADDRESS)"
    else:
        name = str(address)
    if address in (None, "local"):
        return name, None
    if len(address) > MAX_ADDRESS_CHARS:
        raise ConfigError(f"--ray: an address of {len(address)} characters is not an address")
    if address == "auto":
        try:  # where `ray start` recorded its cluster; private Ray API, hence guarded
            from ray._private.services import canonicalize_bootstrap_address

            address = canonicalize_bootstrap_address("auto")
        except ConnectionError:
            raise HarnessError(
                f"no running Ray cluster found on this machine for --ray auto: {FIX_ADDRESS}"
            ) from None
        except Exception:  # another Ray version: ray.init decides, unprobed
            return name, None
        if not address:
            return name, None
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    host = host.strip("[]")  # [IPv6]:port
    if "://" in hostport or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--ray {name}: not an address: use HOST:PORT (the head's GCS, e.g. 10.0.0.1:6379), "
            "ray://HOST:PORT (Ray Client, e.g. ray://head:10001) or auto"
        )
    return name, (host, int(port))


def connect(ray, address: str | None) -> None:
    """ray.init, failing within about CONNECT_TIMEOUT_S with the address and the fix when the
    address does not answer (ray.init itself retries a dead GCS address for minutes)."""
    name, target = _target(address)
    if target is not None:
        try:  # ray.init has no timeout argument: probe the port first
            socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                why = f"no answer within {CONNECT_TIMEOUT_S:g} s"
            else:
                why = exc.strerror or str(exc)
            raise HarnessError(
                f"cannot reach the Ray cluster at {name} ({why}): {FIX_ADDRESS}"
            ) from None
    # A port that accepts but is no GCS: one connection attempt (about 40 s), not twenty.
    wait_set = "RAY_gcs_server_port_wait_time_s" in os.environ
    if target is not None and not wait_set:
        os.environ["RAY_gcs_server_port_wait_time_s"] = "1"
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        if target is None:
            raise
        if "ray[client]" in str(exc):
            raise HarnessError(
                f"--ray {name}: a ray:// address needs Ray Client, which is not installed: "
                "pip install -c constraints.txt 'ray[client]'"
            ) from None
        raise HarnessError(
            f"cannot connect to the Ray cluster at {name}: {str(exc)[:300]}: {FIX_ADDRESS}"
        ) from None
    finally:
        if target is not None and not wait_set:
            os.environ.pop("RAY_gcs_server_port_wait_time_s", None)


def _write(path: Path, record: dict) -> str:
    """Write one baseline; a failure is this case's outcome, and its record is kept elsewhere
    (``baselines.write`` says where), so that the other cases go on and no training is lost."""
    try:
        baselines.check_replaceable(path, record)
        baselines.write(path, record)
    except HarnessError as exc:
        return f"failed: {exc}"
    return "written"


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

    folder = check_output(baselines_dir, profile.name, {c.arch for c in cases})
    stale = atomic.remove_stale_temporaries(folder)
    if stale:
        print(
            f"removed {len(stale)} stale temporary file(s) left in {folder} by killed writes",
            file=sys.stderr,
        )
    if not ray.is_initialized():
        connect(ray, address)
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
                outcome[case.case_id] = _write(paths[case.case_id], record)
            bar.update()
    finally:
        bar.close()
        for ref in pending:  # interrupted: nothing half-written, the rest resumes later
            ray.cancel(ref, force=True)
    return outcome
