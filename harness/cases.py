"""The case table: every divergence case the harness knows, in one declarative place.

Why
    The CrossedWires study (reference/crossedwires-paper.md) trained the same architecture with
    the same Adam hyperparameters in PyTorch and in TensorFlow/Keras and found test accuracies up
    to 0.681 apart. Each *case* here is one such pair of trainings: one architecture, one set of
    hyperparameters, run under one *profile* (dataset, device, caps, seeds, threads, tolerances).

What is tested
    ``difftests/`` parametrizes one pytest test over the cases of the profile's case set. The
    test trains the case in both frameworks with K seeds each (``harness.runner``), judges the
    gap against the case's tolerance as a statistical question (``harness.judge``) and checks
    the record against the committed baseline ``baselines/<profile>/<arch>/<case-id>.json``
    (``harness.baselines``). A known mismatch that reproduces passes; a flip between agree and
    mismatch, or a framework whose accuracy drifts beyond the noise and the margin, fails. A
    second test, the numerics check (``harness.numerics``), checks each architecture's first
    training step per layer within float32 noise: the exact, portable part of the gate.

How to add a case
    Add a record, not a test. A published configuration is already in the ``crossedwires`` set
    (``resources/crossedwires-configs.csv``). For the ``smoke`` set add a ``SmokeEntry`` naming
    the published trial and the epochs the smoke profile runs, then create its baseline:
    ``pytest difftests -k '<case-id>' --regen-baselines`` and commit the new JSON file.
    A looser tolerance for one case is ``tolerance=...`` with ``tolerance_reason=...`` (required).
    The same holds for the drift margin (``drift_margin=...`` with ``drift_margin_reason=...``:
    a case whose seeds spread little gates a smaller move than the profile's margin lets it) and
    for the budget: ``epochs_reason=...`` runs the entry's own epochs even where the profile caps
    fewer (never more than the published epochs); ``modes=("aligned",)`` runs a mirror entry in
    one mode only.
    ``arch_source="mirror"`` runs the trial on mirror models (``harness/mirror.py``) in both
    modes, ``native`` and ``aligned`` (``harness/knobs.py``): two cases, ``<arch>-mirror-...``
    and ``<arch>-mirror-aligned-...``.
    A new architecture is a new name in ``ARCHS``, a zoo builder in each adapter and a mirror
    description in ``harness/mirror.py``.

What to do when a check fails
    The failure message says which of these happened, whether the versions or the platform
    changed since the baseline, and what to run next:
    - *no baseline*: create it with the command in the message, review it, commit it;
    - *numerics changed*: a framework computes its first step differently in the named stage
      and layer (a kernel, a default, an initializer, the optimizer); find out which;
    - *verdict changed*: a known mismatch disappeared or a new one appeared, beyond the noise;
      read both frameworks' accuracies and intervals in the message; if the change is expected
      (a fix in a framework, a deliberate change here), regenerate and explain it in the pull
      request;
    - *drift*: one framework's accuracy moved from its baseline significantly and beyond the
      profile's margin; the message names the framework and its versions then and now: this is
      what an upgrade gate is for. Regenerate only when the move is understood.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

from .errors import ConfigError

ARCHS = ("vgg16", "resnet50", "densenet121")
OPTIMIZERS = ("adam",)
# zoo: each framework's published model; mirror: harness/mirror.py; custom: a pair of model
# builders of a user's own (the pytest plugin's ``framework_pair`` fixture), named by the user
ARCH_SOURCES = ("zoo", "mirror", "custom")
CUSTOM_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.+]*(?:-[a-z0-9.+]+)*$")
MODES = ("native", "aligned")  # harness/knobs.py says what aligned sets


@dataclass(frozen=True)
class Case:
    arch: str
    learning_rate: float
    batch_size: int
    epochs: int
    adam_epsilon: float
    optimizer: str = "adam"
    arch_source: str = "zoo"
    mode: str = "native"
    case_set: str = "crossedwires"
    source_trial: str | None = None  # the published trial this case comes from
    published_epochs: int | None = None  # the trial's epochs when the case set runs fewer
    tolerance: float | None = None  # per-case override of the profile's accuracy tolerance
    tolerance_reason: str | None = None
    # Set only when two published trials round to the same id: the trial's hex tag tells them apart.
    id_suffix: str | None = None
    seeds: int | None = None  # K seeds per framework; None: the profile's (pytest --seeds wins)
    # Too slow for every push on a CPU (marked `heavy`: the main-branch job runs it).
    heavy: bool = False
    # Set: the case runs its own ``epochs`` even where the profile caps fewer (a budget the
    # case needs to learn at all), and this says why; ``runner.epochs_to_run`` reads it.
    epochs_reason: str | None = None
    # Per-case override of the profile's drift margin, with its reason (a tighter one lets a
    # case whose seeds spread little gate smaller moves; a looser one says why it cannot).
    drift_margin: float | None = None
    drift_margin_reason: str | None = None

    def __post_init__(self) -> None:
        if self.arch_source == "custom":
            check_custom_name(self.arch)
        validate_hyperparameters(
            arch=None if self.arch_source == "custom" else self.arch,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            epochs=self.epochs,
            adam_epsilon=self.adam_epsilon,
        )
        if self.arch_source not in ARCH_SOURCES:
            raise ConfigError(
                f"arch_source={self.arch_source!r} is unknown: use one of {', '.join(ARCH_SOURCES)}"
            )
        if self.mode not in MODES:
            raise ConfigError(f"mode={self.mode!r} is unknown: use one of {', '.join(MODES)}")
        if self.mode == "aligned" and self.arch_source != "mirror":
            raise ConfigError(
                f"mode='aligned' needs arch_source='mirror' (got {self.arch_source!r}): zoo "
                "models differ in structure, so they cannot share weights"
            )
        if self.seeds is not None and (
            isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1
        ):
            raise ConfigError(f"case {self.case_id}: seeds={self.seeds!r} must be an integer >= 1")
        if self.tolerance is not None:
            if not (self.tolerance > 0 and math.isfinite(self.tolerance)):
                raise ConfigError(f"tolerance={self.tolerance!r} must be a finite number > 0")
            if not self.tolerance_reason:
                raise ConfigError(
                    f"case {self.case_id}: tolerance={self.tolerance} needs tolerance_reason, "
                    "a sentence saying why this case is looser than its profile"
                )
        if self.drift_margin is not None:
            if not (self.drift_margin > 0 and math.isfinite(self.drift_margin)):
                raise ConfigError(
                    f"case {self.case_id}: drift_margin={self.drift_margin!r} must be a finite "
                    "number > 0"
                )
            if not self.drift_margin_reason:
                raise ConfigError(
                    f"case {self.case_id}: drift_margin={self.drift_margin} needs "
                    "drift_margin_reason, a sentence saying why this case differs from its profile"
                )
        if self.epochs_reason is not None and not self.epochs_reason:
            raise ConfigError(
                f"case {self.case_id}: epochs_reason='' must say why the case runs its own epochs "
                "beyond the profile's cap (or be left out)"
            )

    @property
    def case_id(self) -> str:
        parts = [self.arch]
        if self.arch_source != "zoo":
            parts.append(self.arch_source)
        if self.mode != "native":
            parts.append(self.mode)
        parts += [
            self.optimizer,
            f"lr{self.learning_rate:.3g}",
            f"bs{self.batch_size}",
            f"ep{self.epochs}",
            f"eps{self.adam_epsilon:.3g}",
        ]
        if self.id_suffix:
            parts.append(self.id_suffix)
        return "-".join(parts)

    def hyperparameters(self) -> dict:
        return {
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "adam_epsilon": self.adam_epsilon,
        }


# Bounds on what a user-supplied id can make a run allocate or loop over: CIFAR-10 has 50000
# training images (a larger batch is the whole set); the published trials run at most 50 epochs.
MAX_BATCH_SIZE = 50_000
MAX_EPOCHS = 1_000


def check_custom_name(name) -> None:
    """A user's model pair is named like a case id part: it becomes a folder and a file name."""
    if not isinstance(name, str) or not CUSTOM_NAME_RE.match(name) or ".." in name:
        raise ConfigError(
            f"model pair name {name!r}: use lowercase letters, digits, '.', '+' and single '-' "
            "between them (it names the baseline's folder and file), e.g. 'my-cnn'"
        )
    if name in ARCHS:
        raise ConfigError(
            f"model pair name {name!r} is a built-in architecture's: choose another, e.g. "
            f"'my-{name}'"
        )


def validate_hyperparameters(
    *, arch: str, optimizer: str, learning_rate, batch_size, epochs, adam_epsilon
) -> None:
    """Refuse values no framework could train with, naming the field, the value and the fix.
    ``arch=None``: a custom pair's name, checked by ``check_custom_name``."""
    if arch is not None and arch not in ARCHS:
        raise ConfigError(f"arch={arch!r} is unknown: use one of {', '.join(ARCHS)}")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer={optimizer!r} is unknown: use one of {', '.join(OPTIMIZERS)}")
    for name, value, most in (
        ("batch_size", batch_size, MAX_BATCH_SIZE),
        ("epochs", epochs, MAX_EPOCHS),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}={value!r} must be an integer >= 1")
        if value < 1:
            raise ConfigError(f"{name}={value} must be >= 1")
        if value > most:
            raise ConfigError(f"{name}={value} is more than {most}, more than any run here can use")
    for name, value in (("learning_rate", learning_rate), ("adam_epsilon", adam_epsilon)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}={value!r} must be a number > 0")
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{name}={value} must be a finite number > 0")


@cache
def published_configurations() -> tuple[Case, ...]:
    """The 1200 configurations of the CrossedWires release, as cases of the set ``crossedwires``."""
    path = resources.files("harness") / "resources" / "crossedwires-configs.csv"
    cases = []
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                cases.append(
                    Case(
                        arch=row["arch"],
                        learning_rate=float(row["learning_rate"]),
                        batch_size=int(row["batch_size"]),
                        epochs=int(row["epochs"]),
                        adam_epsilon=float(row["adam_epsilon"]),
                        case_set="crossedwires",
                        source_trial=row["name"],
                    )
                )
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{path}, line {line}: {exc}") from None
    # The Bayesian search revisited a few points: trials whose ids collide keep their trial tag.
    counts = Counter(c.case_id for c in cases)
    return tuple(
        replace(c, id_suffix=c.source_trial.rsplit("_", 1)[-1]) if counts[c.case_id] > 1 else c
        for c in cases
    )


@dataclass(frozen=True)
class SmokeEntry:
    """A published trial run in the smoke profile, with the epochs it runs there and why."""

    arch: str
    trial: str
    epochs: int
    why: str
    tolerance: float | None = None
    tolerance_reason: str | None = None
    arch_source: str = "zoo"  # a mirror entry runs in every mode
    seeds: int | None = None  # K seeds per framework (None: the profile's)
    heavy: bool = False  # too slow for every push: the main-branch job runs it
    # The entry's epochs run even beyond the profile's cap, because of this (Case.epochs_reason).
    epochs_reason: str | None = None
    drift_margin: float | None = None  # the case's own drift margin, with its reason
    drift_margin_reason: str | None = None
    modes: tuple[str, ...] = MODES  # a mirror entry's modes (fewer: ``why`` says why)


_SEE_EPOCHS = (
    "one or two epochs of 1024 images leave TensorFlow's seeds spread 0.043 and 0.049, too much "
    "for the drift test to see 0.10; scripts/choose_accuracy.py screened 1, 2, 4 epochs and "
    "this is the first rung at which both sides' seeds let it"
)
_SEE_MARGIN = 0.05
_SEE_MARGIN_REASON = (
    "its seeds spread little enough to gate a move of 0.10, which the profile's margin 0.10 "
    "would let pass (the move must exceed the margin); 0.05 is above the largest move measured "
    "with the CPU kernels capped (0.036, docs/statistics.md)"
)

# Chosen by a written, reproducible rule (scripts/choose_smoke.py, which screens published trials
# at smoke scale and writes what it tried to docs/smoke-selection.json): per architecture, the
# first informative trial of each published-gap stratum (below / at or above the architecture's
# median published gap) among trials with batch size <= 64, and for mirror models the first of
# the trials with Adam epsilon >= 0.5. A stratum whose first three candidates learn nothing in
# either framework (or fail) is dropped: all six VGG16 zoo and three VGG16 mirror candidates
# stayed at chance, and both ResNet50 zoo candidates below the median gap have batch size 11,
# which leaves PyTorch's batch norm a last batch of one image at 1024 images. VGG16 is checked
# by its numerics check only (scripts/choose_accuracy.py screened 17 VGG16 budgets up to 23
# epochs: all at chance, docs/smoke.md). `heavy` cases (K seeds too slow for every push: all
# eight, at 2 to 13 minutes of a core each) are run by the main-branch job; every push runs the
# numerics checks. The published epochs stay in each record.
SMOKE_ENTRIES: tuple[SmokeEntry, ...] = (
    SmokeEntry(
        "densenet121", "dual_train_302d543c", 1, "gap < 0.054: published gap 0.016", heavy=True
    ),
    SmokeEntry(
        "densenet121", "dual_train_b5f203d8", 1, "gap >= 0.054: published gap 0.116", heavy=True
    ),
    SmokeEntry(
        "resnet50", "dual_train_bdfc8d36", 1, "gap >= 0.042: published gap 0.069", heavy=True
    ),
    # Mirror models (width from the profile) in both modes, native and aligned.
    SmokeEntry(
        "resnet50",
        "dual_train_8d53f48e",
        1,
        "large epsilon: published gap 0.065",
        arch_source="mirror",
        heavy=True,
    ),
    SmokeEntry(
        "densenet121",
        "dual_train_1819f1b4",
        1,
        "large epsilon: published gap 0.012",
        arch_source="mirror",
        heavy=True,
    ),
    # Accuracy cases that can see (scripts/choose_accuracy.py, docs/smoke.md): aligned mirror
    # models, both sides learning on every seed, seeds spread little enough for the drift test
    # to find a move of 0.10, at the budget the screen measured.
    SmokeEntry(
        "densenet121",
        "dual_train_1819f1b4",
        4,
        "sees: aligned, both sides learn, smallest detectable drift <= 0.10",
        arch_source="mirror",
        modes=("aligned",),
        heavy=True,
        epochs_reason=_SEE_EPOCHS,
        drift_margin=_SEE_MARGIN,
        drift_margin_reason=_SEE_MARGIN_REASON,
    ),
)


@cache
def smoke_cases() -> tuple[Case, ...]:
    published = {(c.arch, c.source_trial): c for c in published_configurations()}
    cases = []
    for entry in SMOKE_ENTRIES:
        base = published[(entry.arch, entry.trial)]
        if entry.epochs > base.epochs:
            raise ConfigError(
                f"smoke entry {entry.trial}: epochs={entry.epochs} exceeds the published "
                f"{base.epochs}; a smoke case may run fewer epochs, never more"
            )
        for mode in entry.modes if entry.arch_source == "mirror" else ("native",):
            cases.append(
                replace(
                    base,
                    epochs=entry.epochs,
                    case_set="smoke",
                    published_epochs=base.epochs,
                    tolerance=entry.tolerance,
                    tolerance_reason=entry.tolerance_reason,
                    arch_source=entry.arch_source,
                    mode=mode,
                    seeds=entry.seeds,
                    heavy=entry.heavy,
                    epochs_reason=entry.epochs_reason,
                    drift_margin=entry.drift_margin,
                    drift_margin_reason=entry.drift_margin_reason,
                )
            )
    return tuple(cases)


CASE_SETS = {
    "crossedwires": published_configurations,
    "smoke": smoke_cases,
}


def get_case_set(name: str) -> tuple[Case, ...]:
    try:
        factory = CASE_SETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown case set {name!r}: valid case sets are {', '.join(sorted(CASE_SETS))}"
        ) from None
    cases = factory()
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"case set {name!r} has duplicate case ids: {dupes[:5]}")
    return cases


_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)?"
CASE_ID_PATTERN = re.compile(
    rf"^(?P<arch>[a-z0-9]+)(?:-(?P<arch_source>{'|'.join(ARCH_SOURCES)}))?"
    rf"(?:-(?P<mode>{'|'.join(MODES)}))?-(?P<optimizer>[a-z]+)-lr(?P<learning_rate>{_NUMBER})"
    rf"-bs(?P<batch_size>[0-9]+)-ep(?P<epochs>[0-9]+)-eps(?P<adam_epsilon>{_NUMBER})"
    r"(?:-(?P<id_suffix>[0-9a-f]{8}))?$"
)


def parse_case_id(case_id: str, case_set: str = "adhoc") -> Case:
    """The case a well-formed id describes (hyperparameters as the id rounds them)."""
    match = CASE_ID_PATTERN.match(case_id)
    if not match:
        raise ConfigError(
            f"case id {case_id!r} is not of the form "
            "<arch>-adam-lr<lr>-bs<batch size>-ep<epochs>-eps<epsilon>, "
            "e.g. densenet121-adam-lr0.0595-bs589-ep2-eps0.375"
        )
    g = match.groupdict()
    try:
        return _case_of(g, case_set)
    except ConfigError as exc:
        raise ConfigError(f"case id {case_id!r}: {exc}") from None


def _case_of(g: dict, case_set: str) -> Case:
    return Case(
        arch=g["arch"],
        optimizer=g["optimizer"],
        learning_rate=float(g["learning_rate"]),
        batch_size=int(g["batch_size"]),
        epochs=int(g["epochs"]),
        adam_epsilon=float(g["adam_epsilon"]),
        arch_source=g["arch_source"] or "zoo",
        mode=g["mode"] or "native",
        case_set=case_set,
        id_suffix=g["id_suffix"],
    )


@cache
def _known_cases(names: tuple[str, ...]) -> dict[str, Case]:
    """Every case of the named case sets by id; the published configurations also as mirror
    cases in both modes (any published trial can be run or explained on mirror models)."""
    known: dict[str, Case] = {}
    for name in names:
        for case in get_case_set(name):
            known.setdefault(case.case_id, case)
            if name == "crossedwires":
                for mode in MODES:
                    mirrored = replace(case, arch_source="mirror", mode=mode)
                    known.setdefault(mirrored.case_id, mirrored)
    return known


def find_case(case_id: str, case_set: str | None = None) -> Case:
    """The case with this id, from one case set or from all of them."""
    known = _known_cases((case_set,) if case_set else tuple(CASE_SETS))
    if case_id in known:
        return known[case_id]
    close = difflib.get_close_matches(case_id, list(known), n=3, cutoff=0.8)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    where = f"case set {case_set!r}" if case_set else "any case set"
    raise ConfigError(f"unknown case id {case_id!r} in {where}{hint}")
