"""The case table: the published configurations, the smoke set, ids and validation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cases import (
    ARCHS,
    SMOKE_ENTRIES,
    Case,
    find_case,
    get_case_set,
    parse_case_id,
)
from harness.errors import ConfigError
from harness.profiles import get_profile

ROOT = Path(__file__).resolve().parent.parent


def test_crossedwires_set_is_the_1200_published_configurations():
    cases = get_case_set("crossedwires")
    assert len(cases) == 1200
    assert Counter(c.arch for c in cases) == {a: 400 for a in ARCHS}
    assert len({c.case_id for c in cases}) == 1200
    assert len({(c.arch, c.source_trial) for c in cases}) == 1200


def test_case_id_reads_as_the_design_says():
    case = Case("densenet121", 0.0595, 589, 2, 0.375)
    assert case.case_id == "densenet121-adam-lr0.0595-bs589-ep2-eps0.375"


def test_published_duplicates_keep_their_trial_tag():
    tagged = [c for c in get_case_set("crossedwires") if c.id_suffix]
    assert tagged, "the published table has trials that round to the same id"
    assert all(c.case_id.endswith(c.source_trial.rsplit("_", 1)[1]) for c in tagged)


@pytest.mark.parametrize("name", ["crossedwires", "smoke"])
def test_every_case_id_finds_its_case(name):
    for case in get_case_set(name):
        assert find_case(case.case_id, name) == case


def test_smoke_set_is_what_the_written_rule_chose():
    """``scripts/choose_smoke.py`` screens published trials by the rule in its docstring and
    writes what it tried and chose to docs/smoke-selection.json: the table holds exactly that."""
    selection = json.loads((ROOT / "docs" / "smoke-selection.json").read_text())
    chosen = {(r["arch"], r["trial"], r["source"], r["epochs"]) for r in selection["chosen"]}
    # scripts/choose_accuracy.py: the aligned mirror cases in which both sides learn and whose
    # seeds let the drift test see a move of 0.10
    seeing = selection["accuracy"]["chosen"]
    chosen |= {(r["arch"], r["trial"], "mirror", r["epochs"]) for r in seeing}
    assert {(e.arch, e.trial, e.arch_source, e.epochs) for e in SMOKE_ENTRIES} == chosen
    assert all(
        r["verdict"] not in ("uninformative", "error", "diverged") for r in selection["chosen"]
    )
    assert all(r["spread"]["sees"] for r in seeing)
    # an architecture without such a case has its screen on record (docs/smoke.md says what
    # it found: VGG16 learned nothing, ResNet50's seeds spread too much at the rungs screened)
    screened = {r["arch"] for r in selection["accuracy"]["tried"]}
    assert screened == set(ARCHS)
    by_entry = {(e.arch, e.trial, e.epochs): e for e in SMOKE_ENTRIES}
    for r in seeing:
        entry = by_entry[(r["arch"], r["trial"], r["epochs"])]
        assert entry.modes == ("aligned",) and entry.drift_margin == r["spread"]["margin"]
    profile = get_profile("smoke")
    published = {(c.arch, c.source_trial): c for c in get_case_set("crossedwires")}
    for c in get_case_set("smoke"):
        p = published[(c.arch, c.source_trial)]
        assert (c.learning_rate, c.batch_size, c.adam_epsilon) == (
            p.learning_rate,
            p.batch_size,
            p.adam_epsilon,
        )
        assert c.published_epochs == p.epochs
        assert c.epochs <= p.epochs
        assert c.epochs <= profile.epochs_cap or c.epochs_reason, (
            f"{c.case_id} runs more epochs than the profile's cap: it needs epochs_reason"
        )


def test_at_most_one_committed_smoke_case_in_five_is_uninformative():
    verdicts = [
        json.loads(p.read_text()).get("verdict")
        for p in sorted((ROOT / "baselines" / "smoke").rglob("*.json"))
    ]
    verdicts = [v for v in verdicts if v is not None]  # numerics checks have none
    assert len(verdicts) == len(get_case_set("smoke"))
    assert 5 * verdicts.count("uninformative") <= len(verdicts), verdicts


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("batch_size", 0, "batch_size=0 must be >= 1"),
        ("epochs", 0, "epochs=0 must be >= 1"),
        ("epochs", 1.5, "epochs=1.5 must be an integer >= 1"),
        (
            "batch_size",
            50_001,
            "batch_size=50001 is more than 50000, more than any run here can use",
        ),
        ("epochs", 1_001, "epochs=1001 is more than 1000, more than any run here can use"),
        ("learning_rate", 0.0, "learning_rate=0.0 must be a finite number > 0"),
        ("learning_rate", -1e-3, "learning_rate=-0.001 must be a finite number > 0"),
        ("adam_epsilon", 0.0, "adam_epsilon=0.0 must be a finite number > 0"),
        ("adam_epsilon", float("nan"), "adam_epsilon=nan must be a finite number > 0"),
        ("arch", "alexnet", "arch='alexnet' is unknown: use one of vgg16, resnet50, densenet121"),
        ("optimizer", "sgd", "optimizer='sgd' is unknown: use one of adam"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(field, value, message):
    kwargs = dict(arch="vgg16", learning_rate=1e-3, batch_size=32, epochs=1, adam_epsilon=1e-7)
    kwargs[field] = value
    with pytest.raises(ConfigError) as info:
        Case(**kwargs)
    assert str(info.value) == message


def test_the_largest_batch_and_epoch_counts_are_accepted():
    case = Case("vgg16", 1e-3, 50_000, 1_000, 1e-7)
    assert (case.batch_size, case.epochs) == (50_000, 1_000)


def test_a_parsed_id_with_a_bad_value_names_the_id():
    with pytest.raises(ConfigError) as info:
        parse_case_id("vgg16-adam-lr0.1-bs10-ep0-eps1")
    assert str(info.value) == "case id 'vgg16-adam-lr0.1-bs10-ep0-eps1': epochs=0 must be >= 1"


def test_a_looser_tolerance_needs_its_reason():
    with pytest.raises(ConfigError, match="needs tolerance_reason"):
        Case("vgg16", 1e-3, 32, 1, 1e-7, tolerance=0.2)


def test_unknown_case_id_suggests_close_ones():
    with pytest.raises(ConfigError) as info:
        find_case("resnet50-adam-lr0.00349-bs10-ep1-eps0.62", "crossedwires")
    assert "unknown case id 'resnet50-adam-lr0.00349-bs10-ep1-eps0.62'" in str(info.value)
    assert "did you mean resnet50-adam-lr0.00349-bs10-ep1-eps0.61" in str(info.value)


def test_unknown_profile_and_case_set_list_the_valid_ones():
    with pytest.raises(
        ConfigError, match="unknown profile 'huge': valid profiles are full, smoke, tiny"
    ):
        get_profile("huge")
    with pytest.raises(ConfigError, match="valid case sets are crossedwires, smoke"):
        get_case_set("paper")


_three_digits = st.floats(1e-8, 1.0).map(lambda v: float(f"{v:.3g}")).filter(lambda v: v > 0)


@given(
    arch=st.sampled_from(ARCHS),
    lr=_three_digits,
    eps=_three_digits,
    bs=st.integers(1, 5000),
    ep=st.integers(1, 500),
)
def test_case_id_to_case_and_back_is_the_identity(arch, lr, eps, bs, ep):
    case = Case(arch, lr, bs, ep, eps, case_set="adhoc")
    assert parse_case_id(case.case_id) == case
    assert parse_case_id(case.case_id).case_id == case.case_id


def test_a_malformed_case_id_says_what_an_id_looks_like():
    with pytest.raises(ConfigError) as info:
        parse_case_id("densenet121-lr0.1")
    assert str(info.value) == (
        "case id 'densenet121-lr0.1' is not of the form "
        "<arch>-adam-lr<lr>-bs<batch size>-ep<epochs>-eps<epsilon>, "
        "e.g. densenet121-adam-lr0.0595-bs589-ep2-eps0.375"
    )


# Every validation message exactly, and what parsing an id keeps (docs/mutation.md).


def test_a_custom_pair_is_a_case_named_by_the_user():
    case = Case(
        arch="my-cnn.v2",
        arch_source="custom",
        learning_rate=0.001,
        batch_size=32,
        epochs=1,
        adam_epsilon=1e-07,
    )
    assert case.case_id == "my-cnn.v2-custom-adam-lr0.001-bs32-ep1-eps1e-07"


def _case(**changes) -> Case:
    kwargs = dict(arch="vgg16", learning_rate=1e-3, batch_size=32, epochs=1, adam_epsilon=1e-7)
    return Case(**{**kwargs, **changes})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"arch_source": "hub"}, "arch_source='hub' is unknown: use one of zoo, mirror, custom"),
        ({"mode": "exact"}, "mode='exact' is unknown: use one of native, aligned"),
        ({"arch": "my-cnn"}, "arch='my-cnn' is unknown: use one of vgg16, resnet50, densenet121"),
        *(
            (
                {"arch": name, "arch_source": "custom"},
                f"model pair name {name!r}: use lowercase letters, digits, '.', '+' and single "
                "'-' between them (it names the baseline's folder and file), e.g. 'my-cnn'",
            )
            for name in ("My CNN", "a--b", "a..b")
        ),
        (
            {"arch": "resnet50", "arch_source": "custom"},
            "model pair name 'resnet50' is a built-in architecture's: choose another, e.g. "
            "'my-resnet50'",
        ),
        (
            {"mode": "aligned"},
            "mode='aligned' needs arch_source='mirror' (got 'zoo'): zoo models differ in "
            "structure, so they cannot share weights",
        ),
        (
            {"seeds": 0},
            "case vgg16-adam-lr0.001-bs32-ep1-eps1e-07: seeds=0 must be an integer >= 1",
        ),
        (
            {"seeds": -2},
            "case vgg16-adam-lr0.001-bs32-ep1-eps1e-07: seeds=-2 must be an integer >= 1",
        ),
        (
            {"seeds": True},
            "case vgg16-adam-lr0.001-bs32-ep1-eps1e-07: seeds=True must be an integer >= 1",
        ),
        (
            {"seeds": 2.0},
            "case vgg16-adam-lr0.001-bs32-ep1-eps1e-07: seeds=2.0 must be an integer >= 1",
        ),
        ({"tolerance": 0.0, "tolerance_reason": "r"}, "tolerance=0.0 must be a finite number > 0"),
        (
            {"tolerance": -0.1, "tolerance_reason": "r"},
            "tolerance=-0.1 must be a finite number > 0",
        ),
        (
            {"tolerance": float("inf"), "tolerance_reason": "r"},
            "tolerance=inf must be a finite number > 0",
        ),
        (
            {"tolerance": 0.2},
            "case vgg16-adam-lr0.001-bs32-ep1-eps1e-07: tolerance=0.2 needs tolerance_reason, "
            "a sentence saying why this case is looser than its profile",
        ),
        ({"learning_rate": "0.1"}, "learning_rate='0.1' must be a number > 0"),
        ({"adam_epsilon": True}, "adam_epsilon=True must be a number > 0"),
        ({"batch_size": True}, "batch_size=True must be an integer >= 1"),
    ],
)
def test_every_case_field_is_refused_by_name_with_its_fix(changes, message):
    with pytest.raises(ConfigError) as info:
        _case(**changes)
    assert str(info.value) == message


def test_the_values_just_inside_every_range_are_accepted():
    assert _case(seeds=1).seeds == 1
    assert _case(seeds=2).seeds == 2
    assert _case(arch_source="mirror", mode="aligned").case_id == (
        "vgg16-mirror-aligned-adam-lr0.001-bs32-ep1-eps1e-07"
    )
    assert _case(arch_source="mirror").mode == "native"
    assert _case(tolerance=1e-9, tolerance_reason="r").tolerance == 1e-9
    assert _case(learning_rate=1, adam_epsilon=2).learning_rate == 1


def test_a_parsed_id_keeps_source_mode_suffix_and_refuses_other_optimizers():
    case = parse_case_id("resnet50-mirror-aligned-adam-lr0.0623-bs10-ep1-eps0.952-0a1b2c3d")
    assert (case.arch_source, case.mode, case.id_suffix, case.optimizer) == (
        "mirror",
        "aligned",
        "0a1b2c3d",
        "adam",
    )
    assert case.case_id == "resnet50-mirror-aligned-adam-lr0.0623-bs10-ep1-eps0.952-0a1b2c3d"
    mirror = parse_case_id("resnet50-mirror-adam-lr0.0623-bs10-ep1-eps0.952")
    assert (mirror.arch_source, mirror.mode, mirror.id_suffix) == ("mirror", "native", None)
    with pytest.raises(ConfigError) as info:
        parse_case_id("resnet50-sgd-lr0.0623-bs10-ep1-eps0.952")
    assert str(info.value) == (
        "case id 'resnet50-sgd-lr0.0623-bs10-ep1-eps0.952': optimizer='sgd' is unknown: use one "
        "of adam"
    )


def test_duplicate_ids_in_a_case_set_are_named(monkeypatch):
    from harness import cases

    ids = [_case(batch_size=b) for b in range(1, 7)]  # six ids, each twice, and one once
    monkeypatch.setitem(cases.CASE_SETS, "dupes", lambda: (*ids, *ids, _case(arch="densenet121")))
    with pytest.raises(ConfigError) as info:
        get_case_set("dupes")
    shown = sorted(c.case_id for c in ids)[:5]
    assert str(info.value) == f"case set 'dupes' has duplicate case ids: {shown}"
    monkeypatch.setitem(cases.CASE_SETS, "once", lambda: (*ids, _case(batch_size=99)))
    assert len(get_case_set("once")) == 7


def test_an_unknown_id_names_where_it_looked_and_at_most_three_close_ones():
    with pytest.raises(ConfigError) as info:
        find_case("resnet50-adam-lr0.00349-bs10-ep1-eps0.6")
    assert str(info.value) == (
        "unknown case id 'resnet50-adam-lr0.00349-bs10-ep1-eps0.6' in any case set; did you "
        "mean resnet50-adam-lr0.00349-bs10-ep1-eps0.61, resnet50-adam-lr0.0279-bs10-ep1-eps0.376, "
        "resnet50-adam-lr0.052-bs10-ep1-eps0.61?"
    )
    with pytest.raises(ConfigError) as info:
        find_case("resnet50-adam-lr0.0279", "smoke")  # close ones only below the 0.8 cutoff
    assert str(info.value) == "unknown case id 'resnet50-adam-lr0.0279' in case set 'smoke'"
    assert find_case("resnet50-adam-lr0.0279-bs10-ep1-eps0.376", "smoke").case_set == "smoke"


def test_a_case_runs_its_own_epochs_beyond_the_cap_only_with_a_reason():
    from dataclasses import replace

    from harness.runner import epochs_to_run, tolerance_of

    smoke = get_profile("smoke")
    case = parse_case_id("densenet121-mirror-aligned-adam-lr0.0375-bs10-ep2-eps1")
    assert epochs_to_run(case, smoke) == 1
    assert epochs_to_run(replace(case, epochs_reason="needs two to learn"), smoke) == 2
    with pytest.raises(ConfigError, match="epochs_reason='' must say why"):
        replace(case, epochs_reason="")
    with pytest.raises(ConfigError, match="drift_margin=0.05 needs drift_margin_reason"):
        replace(case, drift_margin=0.05)
    with pytest.raises(ConfigError, match="drift_margin=0 must be a finite number > 0"):
        replace(case, drift_margin=0, drift_margin_reason="x")
    assert "drift_margin" not in tolerance_of(case, smoke)  # existing records stay byte-identical
    own = tolerance_of(replace(case, drift_margin=0.05, drift_margin_reason="spread 0.01"), smoke)
    assert own["drift_margin"] == 0.05 and own["drift_margin_source"] == "case: spread 0.01"
