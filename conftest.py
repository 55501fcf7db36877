"""pytest wiring for crossedwires: options, fixtures, parametrization, the end-of-run table.

The cases themselves are in ``harness/cases.py`` (read its docstring first); the test that runs
them is ``difftests/test_divergence.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness import atomic, baselines
from harness.cases import get_case_set
from harness.errors import HarnessError
from harness.profiles import PROFILES, get_profile

ROOT = Path(__file__).parent
SUMMARY_KEY = "crossedwires"
EXPLAIN_KEY = "crossedwires-explain"
TIMINGS = ROOT / "docs" / "timings-cpu.json"  # measured by benchmarks/overhead.py


def pytest_addoption(parser):
    group = parser.getgroup("crossedwires")
    group.addoption(
        "--profile",
        default="smoke",
        help=f"where and how big the cases run: {', '.join(sorted(PROFILES))} (default: smoke)",
    )
    group.addoption(
        "--regen-baselines",
        action="store_true",
        help="write each case's baseline instead of checking it (with --profile full: "
        "regenerate the dataset)",
    )
    group.addoption(
        "--resume",
        action="store_true",
        help="with --regen-baselines: keep the baselines already written by this environment "
        "(same versions, device, threads, profile and data) and regenerate the rest",
    )
    group.addoption(
        "--baselines-dir",
        default=str(ROOT / "baselines"),
        help="folder of the baselines (default: baselines/ in the repository)",
    )
    group.addoption(
        "--save-weights",
        metavar="DIR",
        default=None,
        help="save each trained model as DIR/<profile>/<arch>/<case-id>.<framework>.npz",
    )
    group.addoption(
        "--data-dir",
        default=None,
        help="folder holding CIFAR-10 (cifar-10-python.tar.gz or cifar-10-batches-py/); "
        "default: $CROSSEDWIRES_DATA or ~/.cache/crossedwires",
    )
    group.addoption(
        "--seeds",
        type=int,
        default=None,
        metavar="K",
        help="train every case with K seeds per framework (default: the case's, else the "
        "profile's); with K > 1 a mismatch must also be significant (Welch's t-test), else the "
        "verdict is inconclusive",
    )
    group.addoption(
        "--explain",
        action="store_true",
        help="also run `crossedwires explain` on each selected mirror case (native mode) and "
        "print its table at the end: which framework default carries the gap",
    )
    group.addoption(
        "--download",
        action="store_true",
        help="download CIFAR-10 (checksum verified) when it is not in the data folder",
    )


def pytest_configure(config):
    try:
        config._crossedwires_profile = get_profile(config.getoption("--profile"))
    except HarnessError as exc:
        raise pytest.UsageError(f"--profile: {exc}") from None
    if config.getoption("--resume") and not config.getoption("--regen-baselines"):
        raise pytest.UsageError("--resume only makes sense with --regen-baselines")
    seeds = config.getoption("--seeds")
    if seeds is not None and not 1 <= seeds <= baselines.MAX_SEEDS:
        raise pytest.UsageError(
            f"--seeds {seeds}: K must be between 1 and {baselines.MAX_SEEDS} (1 is a single run)"
        )
    _check_locations(config)


def _check_locations(config) -> None:
    """Every place the run reads or writes, checked before any training: a run that could only
    fail at its end (a read-only or misnamed folder) fails in its first second instead."""
    data_dir = config.getoption("--data-dir")
    if data_dir is not None and not (data_dir and Path(data_dir).is_dir()):
        raise pytest.UsageError(
            f"--data-dir {data_dir}: no such folder; give the folder that holds "
            "cifar-10-python.tar.gz or cifar-10-batches-py/"
        )
    baselines_dir = Path(config.getoption("--baselines-dir"))
    if baselines_dir.exists() and not baselines_dir.is_dir():
        raise pytest.UsageError(f"--baselines-dir {baselines_dir}: is a file, not a folder")
    targets = []
    if config.getoption("--regen-baselines"):
        targets.append(("--baselines-dir", baselines_dir / config._crossedwires_profile.name))
    if config.getoption("--save-weights"):
        targets.append(("--save-weights", Path(config.getoption("--save-weights"))))
    for option, folder in targets:
        try:
            atomic.check_writable_folder(folder, option)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    if config.getoption("--regen-baselines") and not hasattr(config, "workerinput"):
        # hidden temporaries left by a writer killed mid-write (kill -9): never read, now gone
        atomic.remove_stale_temporaries(baselines_dir / config._crossedwires_profile.name)


def hint_options(config) -> tuple[str, ...]:
    """The options a printed command must carry to act on what this run acted on, each as one
    ``--option=value`` word (a value starting with "-" stays a value when pasted)."""
    options: list[str] = []
    if Path(config.getoption("--baselines-dir")).resolve() != (ROOT / "baselines").resolve():
        options.append(f"--baselines-dir={config.getoption('--baselines-dir')}")
    for name in ("--data-dir", "--seeds"):
        if config.getoption(name) is not None:
            options.append(f"{name}={config.getoption(name)}")
    return tuple(options)


def pytest_generate_tests(metafunc):
    if "numerics_check" in metafunc.fixturenames:
        from harness import numerics

        metafunc.parametrize(
            "numerics_check",
            numerics.CHECKS,
            ids=[numerics.check_id(arch, source) for arch, source in numerics.CHECKS],
        )
    if "case" in metafunc.fixturenames:
        profile = metafunc.config._crossedwires_profile
        cases = get_case_set(profile.case_set)
        seeds = metafunc.config.getoption("--seeds")
        if seeds:
            cases = tuple(replace(c, seeds=seeds) for c in cases)
        # A case too slow for every push on a CPU (the case table says which, from measured
        # times) is marked `heavy`: CI's `-m "not heavy"` leaves it to the main-branch job
        # (docs/performance.md has the split).
        heavy = [pytest.mark.heavy]
        metafunc.parametrize(
            "case",
            [pytest.param(c, id=c.case_id, marks=heavy if c.heavy else []) for c in cases],
        )


def pytest_collection_modifyitems(config, items):
    """Longest cases first (in the slots the cases already hold), so that with ``-n N`` the
    last case to start is a short one: xdist hands tests out in collection order. A case's cost
    is its duration in the last run that recorded one (pytest's cache, as ``--durations``
    measures it), else the estimate ``crossedwires estimate`` makes from the committed CPU
    timings."""
    slots = [i for i, item in enumerate(items) if "case" in _params(item)]
    if len(slots) < 2:
        return
    profile = config._crossedwires_profile
    measured = (
        config.cache.get(_durations_key(profile), {}) if getattr(config, "cache", None) else {}
    )
    estimate = _estimator(profile)

    def cost(item):
        case = item.callspec.params["case"]
        # Measured seconds beat estimates; among estimates, the larger first.
        return (case.case_id in measured, measured.get(case.case_id) or estimate(case))

    ordered = sorted((items[i] for i in slots), key=cost, reverse=True)
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


def pytest_collection_finish(session):
    """The family of drift tests this run makes (two frameworks per selected case), known
    before any case runs: each case's drift test is Bonferroni-corrected for it. Under xdist
    every worker collects the same selection, so every worker counts the same family."""
    cases = sum("case" in _params(item) for item in session.items)
    session.config._crossedwires_family = max(1, 2 * cases)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A divergence test that meets a problem the user can fix (a baseline that cannot be
    written, weights that cannot be saved) fails with that one line, not a traceback."""
    try:
        return (yield)
    except HarnessError as exc:
        if not {"case", "numerics_check"} & _params(item).keys():
            raise
        pytest.fail(str(exc), pytrace=False)


def _params(item) -> dict:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec else {}


def _estimator(profile):
    from harness.estimate import case_seconds, load_timings

    if not TIMINGS.exists():
        return lambda case: 0.0
    _, timings = load_timings(TIMINGS)
    return lambda case: sum(case_seconds(case, profile, timings).values())


def _durations_key(profile) -> str:
    return f"crossedwires/durations/{profile.name}"


@pytest.fixture(scope="session")
def profile(request):
    return request.config._crossedwires_profile


@pytest.fixture(scope="session")
def dataset(request, profile):
    """The profile's dataset, loaded once per process (each xdist worker loads its own)."""
    from harness.data import load_dataset

    try:
        return load_dataset(
            profile.dataset,
            request.config.getoption("--data-dir"),
            download=request.config.getoption("--download"),
        )
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def baselines_dir(request) -> Path:
    return Path(request.config.getoption("--baselines-dir"))


@pytest.fixture(scope="session")
def regen_command(request, profile):
    """The shell-quoted command that (re)writes one case's baseline, with this run's options."""
    options = hint_options(request.config)
    return lambda case_id: baselines.regen_command(profile.name, case_id, options)


@pytest.fixture(scope="session")
def drift_family_size(request) -> int:
    """How many drift tests this run makes: the Bonferroni factor of each."""
    return getattr(request.config, "_crossedwires_family", 1)


@pytest.fixture(scope="session")
def regen(request) -> bool:
    return request.config.getoption("--regen-baselines")


@pytest.fixture(scope="session")
def resume_fingerprint(request, profile, dataset):
    """With --resume: the fingerprint a kept baseline must have; None otherwise."""
    if not (request.config.getoption("--regen-baselines") and request.config.getoption("--resume")):
        return None
    from harness.runner import environment, profile_block

    data = dataset.subset(profile.train_subset, profile.test_subset)
    return baselines.fingerprint(environment(profile), profile_block(profile), data.fingerprint())


@pytest.fixture(scope="session")
def weights_root(request) -> Path | None:
    value = request.config.getoption("--save-weights")
    return Path(value) if value else None


@pytest.fixture
def explain_table(request, profile):
    """With --explain: a function that explains a mirror case and keeps its table for the end
    of the run; None otherwise."""
    if not request.config.getoption("--explain"):
        return None

    def run(case):
        from harness.explain import explain, format_table

        report = explain(case, profile, request.config.getoption("--data-dir"), progress=False)
        request.node.user_properties.append((EXPLAIN_KEY, format_table(report)))

    return run


@pytest.fixture
def report_row(request):
    """Record one row of the end-of-run table (travels to the controller under xdist)."""

    def add(**row):
        request.node.user_properties.append((SUMMARY_KEY, json.dumps(row)))

    return add


_rows_sink: list[dict] = []  # filled on the controller (or the only process) from test reports
_explain_sink: list[str] = []


_durations_sink: dict[str, float] = {}  # case id -> seconds, for the next run's order


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == SUMMARY_KEY:
            row = json.loads(value)
            _rows_sink.append(row)
            if row["baseline"] not in ("kept", "missing", "invalid"):  # it trained
                _durations_sink[row["case"]] = round(report.duration, 1)
        elif name == EXPLAIN_KEY:
            _explain_sink.append(value)


def pytest_sessionfinish(session):
    config = session.config
    if _durations_sink and getattr(config, "cache", None) and not hasattr(config, "workerinput"):
        key = _durations_key(config._crossedwires_profile)
        config.cache.set(key, {**config.cache.get(key, {}), **_durations_sink})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _rows_sink:
        return
    from harness.report import drift_by_framework, gating_note, summary_table, verdict_counts

    terminalreporter.section(f"crossedwires: profile {config._crossedwires_profile.name}")
    terminalreporter.write_line(summary_table(_rows_sink))
    terminalreporter.write_line(verdict_counts(_rows_sink))
    single = gating_note(_rows_sink)
    if single:
        terminalreporter.write_line(single)
    notes = [(row["case"], note) for row in _rows_sink for note in row.get("notes") or []]
    if notes:
        terminalreporter.section("crossedwires: reported, not failed")
        for case, note in sorted(notes):
            terminalreporter.write_line(f"{case}: {note}")
    drift = drift_by_framework(_rows_sink)
    if drift:
        terminalreporter.section("crossedwires: drift by framework")
        terminalreporter.write_line(drift)
    for table in _explain_sink:
        terminalreporter.section("crossedwires explain")
        terminalreporter.write_line(table)
