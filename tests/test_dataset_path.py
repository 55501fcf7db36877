"""The path a researcher with CIFAR-10 and a GPU takes, end to end, on every CI run: the `full`
profile regenerates published `crossedwires` cases of each architecture from CIFAR-10, the
baselines are exported and joined with the shipped published table, and the report is drawn.

CIFAR-10 cannot be downloaded here, so the test writes a small archive in the real format
(six protocol-2 pickles of uint8 planes in a tar.gz, ``tests/test_data.py``'s writer) and sets
the two constants that describe the published archive, its md5 and its 10,000 images per
batch, to this archive's, in a plugin of the run (``-p small_cifar10``); everything else is the
real loader (checksum, tar members, pickle checks). ``--max-images`` and ``--max-epochs`` cap
the run, and the baselines record the caps.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness import baselines, export
from harness.cases import ARCHS, get_case_set
from harness.cli import main

from .test_data import write_cifar

ROOT = Path(__file__).resolve().parent.parent
PER_BATCH = 16  # images per batch: 80 training and 16 test images


def one_case_per_arch():
    """The first published configuration of each architecture (the case set's order)."""
    cases = get_case_set("crossedwires")
    return [next(c for c in cases if c.arch == arch) for arch in ARCHS]


@pytest.mark.slow
def test_full_profile_regenerates_exports_joins_and_reports_from_a_cifar10_archive(
    pytester, tmp_path, capsys
):
    _, md5 = write_cifar(tmp_path, archive=True, n=PER_BATCH)
    # a plugin of the run that describes this archive as the published one is described
    pytester.makepyfile(
        small_cifar10=f"import harness.data\n"
        f"harness.data.CIFAR10_MD5 = {md5!r}\n"
        f"harness.data.CIFAR10_IMAGES_PER_BATCH = {PER_BATCH}\n"
    )
    cases = one_case_per_arch()
    out = tmp_path / "baselines"
    result = pytester.runpytest_subprocess(
        str(ROOT / "difftests"),
        "-p",
        "small_cifar10",
        "-p",
        "no:cacheprovider",
        "--profile=full",
        f"--data-dir={tmp_path}",
        f"--baselines-dir={out}",
        "--max-images=64",
        "--max-epochs=1",
        "--regen-baselines",
        "-k",
        " or ".join(f"test_case and {c.case_id}" for c in cases),
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"baselines ({out / 'full'}): 3 written, 0 unchanged, 0 failed"])
    for case in cases:
        record = baselines.read(
            baselines.baseline_path(out, "full", case.arch, case.case_id), at_its_path=True
        )
        assert record["profile"] == {
            "name": "full",
            "seed": 0,
            "epochs_cap": 1,
            "train_subset": 64,
            "test_subset": 64,
        }
        assert record["data"]["dataset"] == "cifar10"
        assert (record["data"]["train_size"], record["data"]["test_size"]) == (64, PER_BATCH)
        assert record["case"]["source_trial"] == case.source_trial
        assert record["case"]["published_epochs"] in (None, case.epochs)
        assert record["case"]["epochs_run"] == 1
        assert record["verdict"] != "error", record["results"]

    # export, joined with the shipped published table: every published trial of the case set,
    # the three regenerated ones filled on both sides
    joined_csv = tmp_path / "joined.csv"
    args = ["--profile", "full", "--baselines-dir", str(out)]
    assert main(["export", *args, "--with-published", "--out", str(joined_csv)]) == 0
    joined = pd.read_csv(joined_csv)
    assert len(joined) == 1200 and joined[["arch", "Name"]].duplicated().sum() == 0
    ours = joined.set_index("Name").loc[[c.source_trial for c in cases]]
    assert ours["ours_pt_test_acc"].notna().all() and ours["published_pt_test_acc"].notna().all()
    published = export.published_frame().set_index("Name")
    for case in cases:  # full-precision hyperparameters: the join key holds exactly
        assert (
            ours.loc[case.source_trial, "learning_rate"]
            == published.loc[case.source_trial, "learning_rate"]
        )
    assert joined["ours_pt_test_acc"].notna().sum() == 3

    # the report, beside the published results
    report = tmp_path / "report"
    assert main(["report", *args, "--out", str(report), "--no-progress"]) == 0
    page = (report / "report.html").read_text()
    for case in cases:
        assert case.case_id in page
    assert "data:image/png;base64," in page
    assert (report / "report.md").read_text().startswith("#")
    capsys.readouterr()
