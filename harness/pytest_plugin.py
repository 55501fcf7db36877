"""The crossedwires pytest plugin: options, fixtures, ordering, the end-of-run table.

Installed with the package and registered under the ``pytest11`` entry point, so it is active
in any project where ``crossedwires`` is installed (``pytest --help`` lists its options under
"crossedwires", each as ``--cw-<name>`` and, where no other plugin or conftest has it,
``--<name>``). It adds nothing to a run that does not use it: it imports no numpy, jsonschema or
framework until a check runs, and the end-of-run sections appear only when a test checked a
model pair.

The public fixture is ``framework_pair``: it checks a pair of model builders of your own, one
per framework, against a baseline in your project, exactly as the built-in cases are checked
(the same seeds, numerics check, statistical verdicts, drift test, messages and baseline
files). ``docs/plugin.md`` has a complete example. The built-in suite (``difftests/``) uses the
same fixture for the published cases::

    def test_my_cnn(framework_pair):
        framework_pair.check(
            "my-cnn",
            pytorch=build_torch_cnn,      # (num_classes, (H, W, C)) -> torch.nn.Module, logits
            tensorflow=build_keras_cnn,   # (num_classes, (H, W, C)) -> keras.Model, softmax
            learning_rate=1e-3, batch_size=32, epochs=2, epsilon=1e-7,
        )

Baselines live in ``<rootdir>/baselines/<profile>/<pair or arch>/<id>.json`` (``rootdir`` as
pytest finds it; ``--baselines-dir`` or the ini option ``crossedwires_baselines_dir`` move
them); ``--regen-baselines`` writes them, and the end of the run counts what was written,
unchanged and failed, and names the baselines no check produces (``--delete-unused-baselines``
removes them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Only the standard library, pytest and the harness's light modules (no numpy, no jsonschema, no
# framework) at import: the plugin is loaded by every pytest run of every project where the
# package is installed. The rest is imported where a crossedwires check, fixture or option is
# used (tests/test_plugin.py checks what an unrelated project's run imports).
from . import project, sides
from .errors import ConfigError, HarnessError
from .profiles import DEFAULT_PROFILE, PROFILES, get_profile

if TYPE_CHECKING:
    from .cases import Case
    from .data import Dataset

SUMMARY_KEY = "crossedwires"  # a row of the end-of-run table, in a report's user_properties
EXPLAIN_KEY = "crossedwires-explain"
CHECKED_KEY = "crossedwires-checked"  # (profile folder, baseline id) a check is about
FIXTURE = "framework_pair"
DATASET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # the schema's data.dataset
PLUGIN_NAME = "crossedwires-run"
PREFIX = "--cw-"
ALIASES_KEY = pytest.StashKey[dict]()  # option name -> the spelling this run gives it


def _options() -> dict[str, dict]:
    """Every option by its name (spelled ``--cw-<name>``, and ``--<name>`` where no other
    plugin or conftest has that spelling), with its argparse attributes."""
    return {
        "profile": dict(
            default=DEFAULT_PROFILE,
            choices=sorted(PROFILES),
            help="where and how big the checks run (default: %(default)s): "
            + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()),
        ),
        "regen-baselines": dict(
            action="store_true",
            help="write each check's baseline instead of checking it (with --profile full: "
            "regenerate the dataset); the end of the run counts written, unchanged and failed",
        ),
        "resume": dict(
            action="store_true",
            help="with --regen-baselines: keep the baselines already written by this "
            "environment (same versions, device, threads, profile and data) and regenerate "
            "the rest",
        ),
        "baselines-dir": dict(
            default=None,
            metavar="DIR",
            help="folder of the baselines (default: the ini option crossedwires_baselines_dir, "
            "else baselines/ in pytest's rootdir, whatever the current folder)",
        ),
        "delete-unused-baselines": dict(
            action="store_true",
            help="delete the baselines that no check produces (they are listed at the end of "
            "every run that checked a model pair)",
        ),
        "save-weights": dict(
            metavar="DIR",
            default=None,
            help="save each trained model as DIR/<profile>/<arch>/<case-id>.<framework>.npz",
        ),
        "data-dir": dict(
            default=None,
            metavar="DIR",
            help="folder holding CIFAR-10 (cifar-10-python.tar.gz or cifar-10-batches-py/); "
            "default: $CROSSEDWIRES_DATA or ~/.cache/crossedwires",
        ),
        "seeds": dict(
            type=int,
            default=None,
            metavar="K",
            help="train every case with K seeds per framework (default: the case's, else the "
            "profile's); with K > 1 verdicts and drift are significance tests over the seeds",
        ),
        "max-images": dict(
            type=int,
            default=None,
            metavar="N",
            help="use at most the first N training and N test images (recorded in the "
            "baselines as the profile's subsets): a quick pass over a real dataset, e.g. "
            "CIFAR-10 on a CPU",
        ),
        "max-epochs": dict(
            type=int,
            default=None,
            metavar="E",
            help="train at most E epochs per case (recorded in the baselines as the epochs cap)",
        ),
        "sides": dict(
            default=None,
            metavar="A,B,...",
            help="the sides that train each case, comma-separated, from "
            + ", ".join(sides.SIDES)
            + " (default: the profile's, "
            + ",".join(sides.FRAMEWORKS)
            + "); with three or more every pair is judged and a vote names the odd one out; "
            "their baselines live in baselines/sides-<a>+<b>+.../ (numerics checks: the default "
            "pair)",
        ),
        "explain": dict(
            action="store_true",
            help="also run `crossedwires explain` on each selected mirror case (native mode) "
            "and print its table at the end: which framework default carries the gap",
        ),
        "download": dict(
            action="store_true",
            help="download CIFAR-10 (checksum verified) when it is not in the data folder",
        ),
    }


OPTION_NAMES = tuple(_options())


def _dest(name: str) -> str:
    return "cw_" + name.replace("-", "_")


def _collision(option: str) -> pytest.UsageError:
    """A ``--cw-`` name another plugin or conftest has: one line, no traceback."""
    return pytest.UsageError(
        f"crossedwires: option {option} is already defined by another plugin or conftest; "
        "disable crossedwires with -p no:crossedwires"
    )


def _taken(parser) -> set[str]:
    """The option strings already registered (by pytest, plugins and conftests)."""
    groups = [*getattr(parser, "_groups", ()), getattr(parser, "_anonymous", None)]
    return {name for group in groups if group for opt in group.options for name in opt.names()}


def _add(group, name: str, attrs: dict) -> None:
    """Add ``--cw-<name>``; a conflict is one line naming crossedwires."""
    spelled = PREFIX + name
    if spelled in _taken(group.parser):
        raise _collision(spelled)
    try:
        group.addoption(spelled, dest=_dest(name), **attrs)
    except (argparse.ArgumentError, ValueError):
        raise _collision(spelled) from None


def pytest_addoption(parser):
    """The ``--cw-`` spellings, now; the plain ones (``--seeds``) once the initial conftests
    and every plugin have added theirs (``pytest_load_initial_conftests``): a conftest or
    plugin with an option of the same name keeps it, and crossedwires' is ``--cw-<name>``."""
    group = parser.getgroup("crossedwires", "crossedwires: differential tests of frameworks")
    for name, attrs in _options().items():
        _add(group, name, attrs)
    parser.addini(
        "crossedwires_baselines_dir",
        "folder of the crossedwires baselines, relative to the rootdir (default: baselines)",
        default=project.BASELINES,
    )


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Add the plain spellings (``--seeds``, an alias of ``--cw-seeds``) after the initial
    conftests and the plugins they name have added their options: those that another one
    already has stay theirs. Until then, the value typed after a plain spelling is no path to
    look for conftests in."""
    plain = {"--" + name for name, attrs in _options().items() if "action" not in attrs}
    paths = getattr(early_config.known_args_namespace, "file_or_dir", None)
    if isinstance(paths, list):
        for word, value in zip(args, args[1:], strict=False):
            if word == "--":
                break
            if word in plain and value in paths:
                paths.remove(value)
    try:
        result = yield
    except (argparse.ArgumentError, ValueError) as exc:  # a conftest took a --cw- option
        ours = [o for o in re.findall(r"--cw-[a-z-]+", str(exc)) if o[5:] in OPTION_NAMES]
        if not ours:
            raise
        raise _collision(ours[0]) from None
    group = parser.getgroup("crossedwires")
    taken = _taken(parser)
    spellings = {}
    for name, attrs in _options().items():
        alias = "--" + name
        if alias in taken:
            spellings[name] = PREFIX + name
            continue
        attrs = {**attrs, "help": f"the same as {PREFIX}{name}"}
        try:
            group.addoption(alias, dest=_dest(name), **attrs)
            spellings[name] = alias
        except (argparse.ArgumentError, ValueError):
            spellings[name] = PREFIX + name
    early_config.stash[ALIASES_KEY] = spellings
    return result


def spelling(config, name: str) -> str:
    """How this run spells the option ``name`` (``seeds``): ``--seeds`` where that is
    crossedwires', else ``--cw-seeds``."""
    return config.stash.get(ALIASES_KEY, {}).get(name, PREFIX + name)


def option(config, name: str):
    """The value of the option ``name`` (``seeds``), whichever spelling was typed."""
    return config.getoption(_dest(name))


def pytest_report_header(config):
    """Which plain spellings another plugin or conftest has in this run."""
    taken = [n for n in OPTION_NAMES if spelling(config, n) != "--" + n]
    if not taken:
        return None
    verbs = ("belongs", "is") if len(taken) == 1 else ("belong", "are")
    return (
        "crossedwires: "
        + ", ".join(f"--{n}" for n in taken)
        + f" {verbs[0]} to another plugin or conftest here; crossedwires' {verbs[1]} "
        + ", ".join(PREFIX + n for n in taken)
    )


def pytest_configure(config):
    profile = get_profile(option(config, "profile"))  # choices= has checked the name
    if option(config, "resume") and not option(config, "regen-baselines"):
        raise pytest.UsageError(
            f"{spelling(config, 'resume')} only makes sense with "
            f"{spelling(config, 'regen-baselines')}"
        )
    seeds = option(config, "seeds")
    if seeds is not None:
        from .baselines import MAX_SEEDS

        if not 1 <= seeds <= MAX_SEEDS:
            raise pytest.UsageError(
                f"{spelling(config, 'seeds')} {seeds}: K must be between 1 and {MAX_SEEDS} "
                "(1 is a single run)"
            )
    profile = capped(
        profile,
        option(config, "max-images"),
        option(config, "max-epochs"),
        (spelling(config, "max-images"), spelling(config, "max-epochs")),
    )
    chosen = option(config, "sides")
    try:
        chosen_sides = (
            sides.parse(chosen, spelling(config, "sides")) if chosen is not None else profile.sides
        )
        profile = replace(profile, sides=chosen_sides)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    run = Run(config, profile)
    run.check_locations()
    config.pluginmanager.register(run, PLUGIN_NAME)


def pytest_unconfigure(config):
    run = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if run is not None:
        config.pluginmanager.unregister(run)


def capped(
    profile,
    images: int | None,
    epochs: int | None,
    spellings: tuple[str, str] = ("--max-images", "--max-epochs"),
):
    """``profile`` with ``--max-images`` and ``--max-epochs`` applied (the smaller cap wins)."""
    for name, value in zip(spellings, (images, epochs), strict=True):
        if value is not None and value < 1:
            raise pytest.UsageError(f"{name} {value}: give a number >= 1")

    def cap(current, new):
        return current if new is None else new if current is None else min(current, new)

    return replace(
        profile,
        train_subset=cap(profile.train_subset, images),
        test_subset=cap(profile.test_subset, images),
        epochs_cap=cap(profile.epochs_cap, epochs),
    )


def _run_of(config) -> Run:
    return config.pluginmanager.get_plugin(PLUGIN_NAME)


class Run:
    """What one pytest run knows: its options, the dataset (loaded once per process), and, on
    the controller, the rows of the end-of-run table."""

    def __init__(self, config, profile):
        self.config = config
        self.profile = profile
        self.regen = option(config, "regen-baselines")
        self.resume = option(config, "resume")
        self.seeds = option(config, "seeds")
        self.data_dir = option(config, "data-dir")
        self.baselines_dir = self._baselines_dir()
        self.sides = tuple(profile.sides)  # a case's record goes where its sides' records live
        weights = option(config, "save-weights")
        self.weights_root = Path(weights) if weights else None
        self.family = 1  # drift tests in this run: the Bonferroni factor (collection sets it)
        self._dataset = None
        self.rows: list[dict] = []
        self.explained: list[str] = []
        self.checked: set[tuple[str, str]] = set()  # (folder, id) of every check of the run
        self.failed: set[str] = set()  # ids whose check failed (a regeneration that failed)
        self.durations: dict[str, float] = {}
        # Whether every test of the given paths runs (no -k, -m, --deselect, --lf, node ids,
        # collection errors): only then can a baseline of a pair's folder be called unused.
        # Checked from the options as well, since under xdist the controller collects nothing.
        given = config.option
        self.selection_complete = not (
            getattr(given, "keyword", "")
            or getattr(given, "markexpr", "")
            or getattr(given, "deselect", None)
            or getattr(given, "lf", False)
            or getattr(given, "stepwise", False)
            or any("::" in str(arg) for arg in config.args)
            # paths given: another file may check the same pair
            or config.args_source == pytest.Config.ArgsSource.ARGS
        )

    def _baselines_dir(self) -> Path:
        given = option(self.config, "baselines-dir")
        if given is None:
            return self.default_baselines_dir()
        if not given:
            raise pytest.UsageError(f"{self.flag('baselines-dir')} is empty: give a folder")
        return Path(self.config.invocation_params.dir, given)  # as typed: from where it ran

    def flag(self, name: str) -> str:
        """This run's spelling of the option ``name``: ``--seeds``, else ``--cw-seeds``."""
        return spelling(self.config, name)

    def default_baselines_dir(self) -> Path:
        return self.config.rootpath / self.config.getini("crossedwires_baselines_dir")

    # --- before anything runs -------------------------------------------------------------

    def check_locations(self) -> None:
        """Every place the run reads or writes, checked before any training: a run that could
        only fail at its end (a read-only or misnamed folder) fails in its first second."""
        if self.data_dir is not None and not (self.data_dir and Path(self.data_dir).is_dir()):
            raise pytest.UsageError(
                f"{self.flag('data-dir')} {self.data_dir}: no such folder; give the folder that "
                "holds cifar-10-python.tar.gz or cifar-10-batches-py/"
            )
        # a file called "baselines" in a project that never uses the plugin stops nothing
        given = option(self.config, "baselines-dir") is not None or self.regen
        if given and self.baselines_dir.exists() and not self.baselines_dir.is_dir():
            raise pytest.UsageError(
                f"{self.flag('baselines-dir')} {self.baselines_dir}: is a file, not a folder"
            )
        targets = []
        if self.regen:
            targets.append((self.flag("baselines-dir"), self.baselines_dir / self.profile.name))
        if self.weights_root:
            targets.append((self.flag("save-weights"), self.weights_root))
        if not targets:
            return
        from . import atomic

        for name, folder in targets:
            try:
                atomic.check_writable_folder(folder, name)
            except HarnessError as exc:
                raise pytest.UsageError(str(exc)) from None
        if self.regen and not hasattr(self.config, "workerinput"):
            # hidden temporaries left by a writer killed mid-write (kill -9): never read, now gone
            atomic.remove_stale_temporaries(self.baselines_dir / self.profile.name)

    def hint_options(self) -> tuple[str, ...]:
        """The options a printed command must carry to act on what this run acted on, each as
        one ``--option=value`` word (a value starting with "-" stays a value when pasted)."""
        options: list[str] = []
        if self.baselines_dir.resolve() != self.default_baselines_dir().resolve():
            options.append(f"{self.flag('baselines-dir')}={option(self.config, 'baselines-dir')}")
        for name in ("data-dir", "seeds", "max-images", "max-epochs", "sides"):
            if option(self.config, name) is not None:
                options.append(f"{self.flag(name)}={option(self.config, name)}")
        return tuple(options)

    def dataset(self) -> Dataset:
        """The profile's dataset, loaded once per process (each xdist worker loads its own)."""
        if self._dataset is None:
            from .data import load_dataset

            try:
                self._dataset = load_dataset(
                    self.profile.dataset,
                    self.data_dir,
                    download=option(self.config, "download"),
                )
            except HarnessError as exc:
                pytest.fail(str(exc), pytrace=False)
        return self._dataset

    # --- collection -------------------------------------------------------------------------

    def pytest_deselected(self, items):
        if items:
            self.selection_complete = False

    def pytest_collectreport(self, report):
        if report.failed:
            self.selection_complete = False

    def pytest_collection_modifyitems(self, config, items):
        """Longest cases first (in the slots the cases already hold), so that with ``-n N`` the
        last case to start is a short one: xdist hands tests out in collection order. A case's
        cost is its duration in the last run that recorded one (pytest's cache, as
        ``--durations`` measures it), else the estimate ``crossedwires estimate`` makes from
        the committed CPU timings."""
        slots = [i for i, item in enumerate(items) if _is_case(_params(item).get("case"))]
        if len(slots) < 2:
            return
        measured = config.cache.get(self._durations_key(), {}) if _cache(config) else {}
        estimate = self._estimator()

        def cost(item):
            case = item.callspec.params["case"]
            # Measured seconds beat estimates; among estimates, the larger first.
            return (case.case_id in measured, measured.get(case.case_id) or estimate(case))

        ordered = sorted((items[i] for i in slots), key=cost, reverse=True)
        for i, item in zip(slots, ordered, strict=True):
            items[i] = item

    def pytest_collection_finish(self, session):
        """The family of drift tests this run makes (two frameworks per selected case or pair),
        known before any case runs: each drift test is Bonferroni-corrected for it. Under
        xdist every worker collects the same selection, so every worker counts the same."""
        built_in = {"case", "numerics_check"}
        checks = sum(
            _is_case(_params(item).get("case"))
            or (FIXTURE in _fixtures(item) and not _params(item).keys() & built_in)
            for item in session.items
        )
        self.family = max(1, len(self.sides) * checks)

    def _estimator(self):
        from .estimate import case_seconds, load_timings

        timings_file = self.config.rootpath / "docs" / "timings-cpu.json"
        if not timings_file.is_file():
            return lambda case: 0.0
        try:
            _, timings = load_timings(timings_file)
        except HarnessError:
            return lambda case: 0.0  # an order, not a result: a bad timings file only unorders
        return lambda case: sum(case_seconds(case, self.profile, timings).values())

    def _durations_key(self) -> str:
        return f"crossedwires/durations/{self.profile.name}"

    # --- running ----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        """A check that meets a problem the user can fix (a baseline that cannot be written,
        weights that cannot be saved, a builder that returns no model) fails with that one
        line, not a traceback."""
        try:
            return (yield)
        except HarnessError as exc:
            if FIXTURE not in _fixtures(item):
                raise
            pytest.fail(str(exc), pytrace=False)

    def pytest_runtest_logreport(self, report):
        if report.skipped or report.failed:
            self.selection_complete = False  # its checks may not all have been reached
        checked = [json.loads(v) for k, v in report.user_properties if k == CHECKED_KEY]
        if report.failed and report.when == "call":
            self.failed.update(check_id for _, check_id in checked)
        if report.when != "call":
            return
        self.checked.update((folder, check_id) for folder, check_id in checked)
        for name, value in report.user_properties:
            if name == SUMMARY_KEY:
                row = json.loads(value)
                self.rows.append(row)
                if row["baseline"] not in ("kept", "missing", "invalid"):  # it trained
                    self.durations[row["case"]] = round(report.duration, 1)
            elif name == EXPLAIN_KEY:
                self.explained.append(value)

    def pytest_sessionfinish(self, session):
        config = session.config
        if self.durations and _cache(config) and not hasattr(config, "workerinput"):
            key = self._durations_key()
            config.cache.set(key, {**config.cache.get(key, {}), **self.durations})

    # --- the end of the run -----------------------------------------------------------------

    def unused_baselines(self) -> list[Path]:
        """Baselines no check produces: under a built-in architecture's folder, any file that
        no built-in case or numerics check of the profile writes; under a model pair's folder
        that this run checked, any file this run did not produce (an old id of the pair)."""
        folder = self.baselines_dir / self.profile.name
        built_in = project.produced_ids(self.profile.name)
        unused = project.unused_baselines(self.baselines_dir, self.profile.name)
        pairs = {arch for arch, _ in self.checked if arch not in built_in}
        if self.selection_complete:  # a deselected test's checks are not known to this run
            for arch in sorted(pairs):
                produced = {i for a, i in self.checked if a == arch}
                unused += sorted(
                    p for p in (folder / arch).glob("*.json") if p.stem not in produced
                )
        return unused

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if hasattr(config, "workerinput"):  # an xdist worker saw only its share of the checks
            return
        if not self.rows and not self.checked:
            return
        from .report import (
            detectable_section,
            drift_by_framework,
            gating_note,
            pairs_section,
            summary_table,
            verdict_counts,
        )

        write = terminalreporter.write_line
        terminalreporter.section(f"crossedwires: profile {self.profile.name}")
        if self.rows:
            write(summary_table(self.rows))
            write(verdict_counts(self.rows))
        write(self.baseline_counts())
        single = gating_note(self.rows)
        if single:
            write(single)
        profile = self.profile
        family = max([self.family, *(row.get("family", 1) for row in self.rows)])
        sees = detectable_section(
            self.rows, family, profile.significance_level, profile.drift_margin
        )
        if sees:
            terminalreporter.section("crossedwires: the smallest drift each side's check detects")
            write(sees)
        notes = [(row["case"], note) for row in self.rows for note in row.get("notes") or []]
        if notes:
            terminalreporter.section("crossedwires: reported, not failed")
            for case, note in sorted(notes):
                write(f"{case}: {note}")
        pairs = pairs_section(self.rows)
        if pairs:
            terminalreporter.section("crossedwires: sides, pair by pair")
            write(pairs)
        drift = drift_by_framework(self.rows)
        if drift:
            terminalreporter.section("crossedwires: drift by framework")
            write(drift)
        for table in self.explained:
            terminalreporter.section("crossedwires explain")
            write(table)
        self._report_unused(terminalreporter, exitstatus)

    def baseline_counts(self) -> str:
        """``baselines: 2 written, 1 unchanged, 1 failed`` after a regeneration; what the
        checks found otherwise."""
        statuses = [row["baseline"] for row in self.rows]
        counted = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        done = {row["case"] for row in self.rows if row["baseline"] in ("written", "unchanged")}
        failed = len(self.failed - done - {r["case"] for r in self.rows if r["baseline"] == "kept"})
        if self.regen:
            parts = [f"{counted.get(s, 0)} {s}" for s in ("written", "unchanged")]
            if self.resume:
                parts.append(f"{counted.get('kept', 0)} kept")
            parts.append(f"{failed} failed")
            return f"baselines ({self.baselines_dir / self.profile.name}): " + ", ".join(parts)
        return f"baselines ({self.baselines_dir / self.profile.name}): " + ", ".join(
            f"{n} {s}" for s, n in sorted(counted.items())
        )

    def _report_unused(self, terminalreporter, exitstatus) -> None:
        if exitstatus != pytest.ExitCode.OK or self.config.option.maxfail:
            self.selection_complete = False  # a test that failed or never ran checked nothing
        unused = self.unused_baselines()
        if not unused:
            return
        delete = option(self.config, "delete-unused-baselines")
        terminalreporter.section("crossedwires: unused baselines")
        verb = "deleted" if delete else "no check produces these"
        terminalreporter.write_line(f"{len(unused)} baseline(s): {verb}")
        for path in unused:
            if delete:
                path.unlink(missing_ok=True)
            terminalreporter.write_line(f"  {path}")
        if not delete:
            terminalreporter.write_line(
                "delete them with: "
                + shlex.join(
                    [
                        "pytest",
                        *self.config.invocation_params.args,
                        self.flag("delete-unused-baselines"),
                    ]
                )
            )


def _is_case(value) -> bool:
    """Whether ``value`` is a built-in case: never, in a run that did not import the case
    table (which then stays unimported)."""
    cases = sys.modules.get("harness.cases")
    return cases is not None and isinstance(value, cases.Case)


def _params(item) -> dict:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec else {}


def _fixtures(item) -> tuple[str, ...]:
    return tuple(getattr(item, "fixturenames", ()))


def _cache(config):
    return getattr(config, "cache", None)


# --- the fixture ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def crossedwires_profile(request):
    """The run's profile (``--profile``): dataset, device, caps, seeds, tolerances."""
    return _run_of(request.config).profile


@pytest.fixture(scope="session")
def crossedwires_dataset(request):
    """The profile's dataset, loaded once per process."""
    return _run_of(request.config).dataset()


@pytest.fixture
def framework_pair(request):
    """Checks a pair of models, one per framework, against its baseline: ``check(...)`` for a
    pair of builders of your own; ``check_case`` and ``check_numerics`` for the built-in
    cases. See ``FrameworkPair``."""
    return FrameworkPair(_run_of(request.config), request)


class FrameworkPair:
    """One test's checks. Each check reads its baseline before any training (a missing or
    broken one fails in seconds, with the command that writes it), trains or measures, and
    then writes the baseline (``--regen-baselines``) or judges against it."""

    def __init__(self, run: Run, request):
        self._run = run
        self._request = request

    # --- the public API ----------------------------------------------------------------------

    def check(
        self,
        name: str,
        *,
        pytorch,
        tensorflow,
        learning_rate: float,
        batch_size: int,
        epochs: int,
        epsilon: float,
        data: Dataset | None = None,
        seeds: int | None = None,
        tolerance: float | None = None,
        tolerance_reason: str | None = None,
        numerics: bool = True,
    ) -> dict:
        """Check your own pair of models, as the built-in cases are checked.

        ``pytorch`` and ``tensorflow`` are builders: ``builder(num_classes, (H, W, C))``
        returns a fresh model (a ``torch.nn.Module`` that outputs logits; a ``keras.Model``
        that ends in a softmax). Each is called after the framework is seeded, once per seed.
        Both train with Adam(``learning_rate``, ``epsilon``) on batches of ``batch_size`` in
        data order for ``epochs`` (capped by the profile), images as float32 in [0, 1].
        ``data`` is a ``harness.data.Dataset`` (uint8 NHWC images, integer labels); default:
        the profile's dataset. ``seeds`` (default: the profile's) seeds per framework;
        ``tolerance`` (with ``tolerance_reason``) replaces the profile's accuracy tolerance.

        With ``numerics`` (the default) the pair's first training step is checked per layer
        first (``<name>-custom-numerics``); then the pair is trained and judged
        (``<name>-custom-adam-lr...``). Returns the case's record."""
        from .cases import Case

        try:
            case = Case(
                arch=name,
                arch_source="custom",
                case_set="custom",
                learning_rate=learning_rate,
                batch_size=batch_size,
                epochs=epochs,
                adam_epsilon=epsilon,
                seeds=seeds,
                tolerance=tolerance,
                tolerance_reason=tolerance_reason,
            )
        except ConfigError as exc:
            pytest.fail(f"{FIXTURE}.check: {exc}", pytrace=False)
        builders = {
            "pytorch": _builder(pytorch, "pytorch"),
            "tensorflow": _builder(tensorflow, "tensorflow"),
        }
        data = self._data(data)
        if numerics:
            self.check_numerics(name, "custom", builders=builders, data=data)
        return self.check_case(case, builders=builders, data=data)

    # --- the checks (the built-in suite calls these too) --------------------------------------

    def check_numerics(
        self,
        arch: str,
        source: str,
        builders: dict | None = None,
        data: Dataset | None = None,
    ) -> dict:
        """The numerics check of ``arch`` (zoo, mirror, or a custom pair with ``builders``)."""
        from . import baselines, numerics

        run = self._run
        profile = run.profile
        check = numerics.check_id(arch, source)
        path, create = self._where(arch, check, custom=builders is not None)
        data = data if data is not None else run.dataset()
        from .environment import change, describe_change
        from .runner import environment

        baseline = None
        if not run.regen:
            baseline = self._existing_baseline(path, check, create, data)
        env = environment(profile)
        measured = numerics.measure(
            arch, source, profile, data, reference=run.regen, builders=builders
        )
        if run.regen:
            record = numerics.build_record(arch, source, profile, data, measured, env)
            self._row(check, None, self._write(path, record), verdict="numerics")
            return record
        bad = numerics.compare(baseline["frameworks"], measured)
        self._row(check, None, "changed" if bad else "ok", verdict="numerics")
        if bad:
            where = describe_change(
                change(baseline["environment"], env, baselines.FRAMEWORK_PACKAGES)
            )
            pytest.fail(
                f"{check} ({path}):\n  "
                + "\n  ".join(numerics.describe(fw, b) for fw, b in bad.items())
                + f"\n  {where}\nIf the change is understood, regenerate with: {create}",
                pytrace=False,
            )
        return baseline

    def check_case(
        self, case: Case, builders: dict | None = None, data: Dataset | None = None
    ) -> dict:
        """Train ``case`` in both frameworks with K seeds each and write or judge its record."""
        from . import baselines
        from .runner import promote_weights, run_case, seeds_of

        run = self._run
        profile = run.profile
        if run.seeds:
            case = replace(case, seeds=run.seeds)
        # the sides that build this kind of model: a custom pair is the default pair's, and
        # its baseline stays where the default pair's live
        case_sides = sides.runnable(run.sides, case.arch_source)
        where = sides.folder(case_sides)
        path, create = self._where(
            case.arch,
            case.case_id,
            custom=builders is not None,
            root=run.baselines_dir / where if where else run.baselines_dir,
        )
        data = data if data is not None else run.dataset()
        kept = self._resumable(path, data, case_sides)
        if kept and baselines.seeds_in(kept) != len(seeds_of(case, profile)):
            kept = None  # written with another number of seeds
        if kept:  # written by this same environment before the run was stopped
            self._row(case.case_id, kept, "kept")
            return kept
        baseline = None
        if not run.regen:  # check the baseline before spending minutes on training
            baseline = self._existing_baseline(path, case.case_id, create, data)

        weights_dir = None
        if run.weights_root:  # beside the baselines: an N-side run's under its sides folder
            root = run.weights_root / where if where else run.weights_root
            weights_dir = root / profile.name / case.arch
        record = baselines.normalize(
            run_case(case, profile, data, weights_dir, builders=builders, sides_=case_sides)
        )
        if option(run.config, "explain"):
            self._explain(case)

        if run.regen:
            baselines.check_replaceable(path, record)  # a failed run keeps a good baseline
            status = self._write(path, record)
            promote_weights(weights_dir, case.case_id)
            self._row(case.case_id, record, status)
            return record
        promote_weights(weights_dir, case.case_id)
        result = baselines.compare(
            baseline, record, profile.drift_margin, profile.significance_level, run.family
        )
        row_status = result["status"]
        self._row(case.case_id, record, row_status, result["drifted"], baseline, result["notes"])
        if result["problems"]:
            pytest.fail(
                f"{case.case_id} ({path}):\n  "
                + "\n  ".join(result["problems"])
                + f"\n  {result['where']}\nIf the change is understood, regenerate with: {create}",
                pytrace=False,
            )
        return record

    # --- parts --------------------------------------------------------------------------------

    def _where(
        self, arch: str, check_id: str, custom: bool, root: Path | None = None
    ) -> tuple[Path, str]:
        """The baseline's path (under ``root``, default the baselines folder) and the
        shell-quoted command that (re)writes it, with this run's options: a built-in case by its
        id, a custom pair by its test's node id."""
        from . import baselines

        run = self._run
        root = run.baselines_dir if root is None else root
        path = baselines.baseline_path(root, run.profile.name, arch, check_id)
        self._request.node.user_properties.append((CHECKED_KEY, json.dumps([arch, check_id])))
        options = run.hint_options()
        if not custom:
            command = baselines.regen_command(run.profile.name, check_id, options)
            plain = {
                "--profile": run.flag("profile"),
                "--regen-baselines": run.flag("regen-baselines"),
            }
            if all(k == v for k, v in plain.items()):
                return path, command
            return path, shlex.join(plain.get(word, word) for word in shlex.split(command))
        node = self._request.node  # its file as seen from where pytest ran: pasted there, it runs
        where = os.path.relpath(node.path, run.config.invocation_params.dir)
        test = "::".join([where, *node.nodeid.split("::")[1:]])
        return path, shlex.join(
            [
                "pytest",
                test,
                run.flag("profile"),
                run.profile.name,
                *options,
                run.flag("regen-baselines"),
            ]
        )

    def _existing_baseline(self, path: Path, check_id: str, create: str, data: Dataset) -> dict:
        """The committed baseline, read before any training; a missing or broken one, or one
        made with other settings or data, fails."""
        from . import baselines
        from .errors import BaselineError
        from .runner import chance_band, profile_block

        profile = self._run.profile
        if not path.exists() and not path.is_symlink():
            self._row(check_id, None, "missing")
            pytest.fail(
                f"no baseline for {check_id} at {path}; create it with: {create}", pytrace=False
            )
        failure = None
        try:
            record = baselines.read(path, at_its_path=True)
            sub = data.subset(profile.train_subset, profile.test_subset)
            band = None
            if baselines.kind_of(record) == "case":
                band = chance_band(profile, sub, baselines.seeds_in(record))
            baselines.check_made_for(
                record, profile_block(profile), sub.fingerprint(), str(path), band
            )
            return record
        except BaselineError as exc:
            failure = f"{exc}; regenerate it with: {create}"
        self._row(check_id, None, "invalid")
        pytest.fail(failure, pytrace=False)  # outside the except: one message, no chained one

    def _resumable(self, path: Path, data: Dataset, case_sides: tuple[str, ...]) -> dict | None:
        run = self._run
        if not (run.regen and run.resume):
            return None
        from . import baselines
        from .runner import environment, profile_block

        sub = data.subset(run.profile.train_subset, run.profile.test_subset)
        current = baselines.fingerprint(
            environment(run.profile, case_sides), profile_block(run.profile), sub.fingerprint()
        )
        return baselines.resumable(path, current)

    @staticmethod
    def _write(path: Path, record: dict) -> str:
        """Write a baseline; ``unchanged`` when the file already holds exactly this record."""
        from . import baselines

        try:
            if path.is_file() and baselines.read_text(path) == baselines.dumps(record):
                return "unchanged"
        except (OSError, HarnessError):
            pass  # unreadable: written anew
        baselines.write(path, record)
        return "written"

    def _data(self, data) -> Dataset:
        if data is None:
            return self._run.dataset()
        import numpy as np

        from .data import Dataset

        if not isinstance(data, Dataset):
            pytest.fail(
                f"{FIXTURE}.check: data={type(data).__name__} is not a harness.data.Dataset: "
                "build one with Dataset(name, x_train, y_train, x_test, y_test, num_classes)",
                pytrace=False,
            )

        def refuse(what: str):
            pytest.fail(f"{FIXTURE}.check: data.{what}", pytrace=False)

        if not (isinstance(data.name, str) and DATASET_NAME_RE.match(data.name)):
            refuse(f"name {data.name!r}: use letters, digits, '.', '_', '+', '-' (e.g. 'mnist32')")
        classes = data.num_classes
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            refuse(f"num_classes {classes!r}: an integer >= 2")
        for split in ("train", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 4 and len(x)):
                refuse(
                    f"x_{split} must be a non-empty uint8 array of images (N, H, W, C), got "
                    f"{getattr(x, 'dtype', type(x).__name__)} of shape {getattr(x, 'shape', '?')}"
                )
            if not (
                isinstance(y, np.ndarray)
                and np.issubdtype(y.dtype, np.integer)
                and y.shape == (len(x),)
                and (len(y) == 0 or 0 <= y.min() <= y.max() < data.num_classes)
            ):
                refuse(
                    f"y_{split} must hold one integer label in 0..{classes - 1} per image of "
                    f"x_{split}"
                )
        if data.x_train.shape[1:] != data.x_test.shape[1:]:
            refuse(
                f"x_train's images are {data.x_train.shape[1:]} and x_test's "
                f"{data.x_test.shape[1:]}: both splits need one image shape"
            )
        as_int64 = {f"y_{s}": getattr(data, f"y_{s}").astype(np.int64) for s in ("train", "test")}
        return replace(data, **as_int64)

    def _explain(self, case: Case) -> None:
        if case.arch_source != "mirror" or case.mode != "native":
            return
        from .explain import explain, format_table

        run = self._run
        report = explain(case, run.profile, run.data_dir, progress=False)
        self._request.node.user_properties.append((EXPLAIN_KEY, format_table(report)))

    def _row(
        self,
        case_id: str,
        record: dict | None,
        status: str,
        drifted: dict | None = None,
        baseline: dict | None = None,
        notes: list[str] | None = None,
        verdict: str | None = None,
    ) -> None:
        """One row of the end-of-run table (travels to the controller under xdist)."""
        from . import baselines

        results = record["results"] if record else {}
        comparison = record["comparison"] if record else None
        drift = {
            fw: {
                "moved": moved,
                "then": baselines.versions_of(baseline, fw),
                "now": baselines.versions_of(record, fw),
            }
            for fw, moved in (drifted or {}).items()
        }
        row = {
            "drift": drift,
            "case": case_id,
            "seeds": baselines.seeds_in(record) if record else None,
            "acc PyTorch": results.get("pytorch", {}).get("test_accuracy"),
            "acc TF": results.get("tensorflow", {}).get("test_accuracy"),
            "difference": comparison["accuracy_diff"] if comparison else None,
            "verdict": record["verdict"] if record else verdict,
            "baseline": status,
            "notes": notes or [],
        }
        if record:  # N sides: every side's accuracy, the pairs, the vote
            from .report import baseline_seeds, sides_row

            row.update(sides_row(record))
            if baseline is not None:  # gated against it: what its drift tests can see
                row["power"] = baseline_seeds(baseline, record)
                row["family"] = self._run.family  # a worker's count: the controller collects none
        self._request.node.user_properties.append((SUMMARY_KEY, json.dumps(row)))


def _builder(value, framework: str):
    if not callable(value):
        pytest.fail(
            f"{FIXTURE}.check: {framework}={value!r} is not callable: pass a function "
            "(num_classes, input_shape) -> model, not a model",
            pytrace=False,
        )
    return value
