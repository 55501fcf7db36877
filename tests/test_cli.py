"""The ``crossedwires`` command line: export's columns, paths from the project root, --version,
help on every option, one default profile, a closed pipe, refused suffixes, explain's zoo note
and the framework logs kept out of progress output."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from harness import baselines, cli, explain, export, logs
from harness.cases import find_case
from harness.cli import main
from harness.profiles import DEFAULT_PROFILE, PROFILES

from .conftest import make_record
from .test_diff import git
from .test_report import cli as crossedwires

ROOT = Path(__file__).resolve().parent.parent
SMOKE_IDS = (
    "resnet50-adam-lr0.0279-bs10-ep1-eps0.376",
    "densenet121-adam-lr0.0365-bs10-ep1-eps0.412",
)
UNUSED = "vgg16-adam-lr0.0998-bs63-ep2-eps0.495"  # a published trial no smoke case runs


def test_export_writes_one_row_per_baseline_with_the_published_columns(tmp_path, capsys):
    for k_tf, case_id in [(2, SMOKE_IDS[0]), (14, SMOKE_IDS[1])]:
        rec = make_record(14, k_tf, case_id=case_id)
        arch = rec["case"]["arch"]
        baselines.write(tmp_path / "smoke" / arch / f"{case_id}.json", rec)
    out = tmp_path / "smoke.csv"
    assert (
        main(["export", "--profile", "smoke", "--baselines-dir", str(tmp_path), "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out == f"wrote 2 cases of profile smoke: {out}\n"
    frame = pd.read_csv(out)
    assert list(frame.columns[: len(export.PUBLISHED_COLUMNS)]) == list(export.PUBLISHED_COLUMNS)
    assert {"key", "verdict", "torch", "tensorflow", "pt_device", "tf_device"} <= set(frame)
    row = frame.set_index("case_id").loc[SMOKE_IDS[0]]
    assert row["Name"] == "dual_train_bdfc8d36"  # the published trial it was drawn from
    assert (row["pt_test_acc"], row["tf_test_acc"], row["verdict"]) == (0.7, 0.1, "mismatch")
    assert json.loads(row["pt_average_training_loss"]) == [2.3, 1.9]


def test_export_leaves_out_baselines_no_case_of_the_profile_produces(tmp_path, capsys):
    for case_id in (*SMOKE_IDS, UNUSED):
        rec = make_record(14, 2, case_id=case_id)
        baselines.write(tmp_path / "smoke" / rec["case"]["arch"] / f"{case_id}.json", rec)
    out = tmp_path / "x.csv"
    args = ["export", "--baselines-dir", str(tmp_path), "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "note: left out 1 unused baseline(s) that no case of profile smoke produces: "
        f"{tmp_path}/smoke/vgg16/{UNUSED}.json\n"
    )
    assert captured.out == f"wrote 2 cases of profile smoke: {out}\n"
    assert sorted(pd.read_csv(out)["case_id"]) == sorted(SMOKE_IDS)
    assert cli.unused_note([Path(f"{n}.json") for n in "abcde"], "smoke").endswith(
        ": a.json, b.json, c.json and 2 more"
    )


# --- paths from the project root (issue 14, part 2) -------------------------------------------


def test_diff_export_and_report_from_a_subfolder_read_the_project_roots_baselines(tmp_path):
    project = tmp_path / "project"
    (project / "docs" / "deep").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    folder = project / "baselines"
    for case_id in SMOKE_IDS:
        rec = make_record(14, 2, case_id=case_id)
        baselines.write(folder / "smoke" / rec["case"]["arch"] / f"{case_id}.json", rec)
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "baselines")
    flipped = make_record(14, 13, case_id=SMOKE_IDS[0])
    baselines.write(folder / "smoke" / "resnet50" / f"{SMOKE_IDS[0]}.json", flipped)

    def outputs(cwd: Path, tag: str) -> dict:
        got = {}
        run = crossedwires("diff", "--exit-code", cwd=cwd)
        assert run.returncode == 1, run.stderr  # one verdict flipped: found from any folder
        got["diff"] = run.stdout
        run = crossedwires("export", "--out", str(tmp_path / f"{tag}.csv"), cwd=cwd)
        assert run.returncode == 0, run.stderr
        got["export"] = (tmp_path / f"{tag}.csv").read_text()
        run = crossedwires("report", "--out", str(tmp_path / tag), "--no-progress", cwd=cwd)
        assert run.returncode == 0, run.stderr
        got["report"] = (tmp_path / tag / "report.md").read_text()
        return got

    at_root = outputs(project, "root")
    assert at_root["diff"].startswith("baselines against HEAD: 1 verdict(s) flipped")
    assert len(pd.read_csv(tmp_path / "root.csv")) == 2
    assert outputs(project / "docs" / "deep", "sub") == at_root
    # a path typed on the command line is the user's: taken from the current folder
    run = crossedwires("export", "--baselines-dir", "baselines", cwd=project / "docs")
    assert run.returncode == 2
    assert "no baselines for profile 'smoke' in baselines/smoke" in run.stderr
    assert "--baselines-dir=baselines" in run.stderr  # the hint keeps the folder it was given


def test_hints_from_a_subfolder_are_right_where_they_are_pasted(monkeypatch):
    monkeypatch.chdir(ROOT / "docs")
    assert cli.default_baselines() == Path("../baselines")
    assert cli._regen_args(cli.default_baselines(), "smoke") == [
        "pytest",
        "../difftests",
        "--profile",
        "smoke",
        "--regen-baselines",
    ]
    assert cli._regen_args(ROOT / "baselines", "smoke")[-1] == "--regen-baselines"
    assert cli._regen_args(Path("baselines"), "smoke")[-1] == "--baselines-dir=baselines"
    monkeypatch.chdir(ROOT)
    assert cli._regen_args(Path("baselines"), "smoke")[:2] == ["pytest", "difftests"]


# --- a command line that fits (issue 14, part 5) ----------------------------------------------


def test_version_is_the_installed_packages(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"crossedwires {metadata.version('crossedwires')}\n"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_every_subcommand_has_a_description_and_every_option_help():
    commands = subcommands()
    assert set(commands) == {
        "cases", "diff", "estimate", "explain", "export", "fuzz", "knobs", "localize", "regen",
        "report",
    }  # fmt: skip
    for name, parser in commands.items():
        assert parser.description and len(parser.description) > 40, name
        for action in parser._actions:
            assert action.help and action.help.strip(), f"{name} {action.option_strings}"


def test_one_default_profile_with_its_choices_shown(capsys):
    with_profile = {n: p for n, p in subcommands().items() if "--profile" in p.format_help()}
    assert set(with_profile) == {
        "cases", "estimate", "explain", "export", "localize", "regen", "report"
    }  # fmt: skip
    for name, parser in with_profile.items():
        (action,) = [a for a in parser._actions if "--profile" in a.option_strings]
        assert action.default == DEFAULT_PROFILE == "smoke", name
        assert list(action.choices) == sorted(PROFILES)
        text = " ".join(parser.format_help().split())
        assert "--profile {full,smoke,tiny}" in text and "(default: smoke)" in text, name
    assert main(["export", "--profile", "paper"]) == 2
    assert capsys.readouterr().err == (
        "crossedwires: error: argument --profile: unknown profile 'paper': valid profiles are "
        "full, smoke, tiny; see: crossedwires export --help\n"
    )


def test_baselines_dir_and_no_progress_say_what_they_do():
    commands = subcommands()
    for name in ("diff", "export", "regen", "report"):
        text = " ".join(commands[name].format_help().split())
        assert "--baselines-dir DIR" in text and "found as pytest finds its rootdir" in text
    for name in ("explain", "regen", "report"):
        assert "no progress bar on stderr" in commands[name].format_help()


def test_a_usage_error_is_one_line_naming_the_help_page(capsys):
    assert main(["diff", "--format", "html"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("crossedwires: error: argument --format: invalid choice: 'html'")
    assert err.endswith("; see: crossedwires diff --help\n")


def test_a_closed_pipe_ends_quietly_with_status_0():
    run = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m harness.cli cases --profile full "
         "| head -5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert run.stderr == "" and run.returncode == 0  # pipefail: python's own status
    assert len(run.stdout.splitlines()) == 5


def test_export_refuses_an_unknown_suffix_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.xlsx"
    assert main(["export", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"crossedwires: error: --out {out}: unknown suffix '.xlsx'; use NAME.csv or NAME.parquet "
        "for one format, or NAME without a suffix for both\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- explain on a zoo id; framework logs out of the progress output ----------------------------

ZOO = "densenet121-adam-lr0.0365-bs10-ep1-eps0.412"  # a smoke zoo case


def test_explain_on_a_zoo_id_says_what_it_runs_instead_before_training(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's value is kept
    seen = {}

    def fake_run_all(todo, case, profile, data_dir, jobs, progress):
        seen["err"] = capsys.readouterr().err  # what was printed before any training
        seen["case"], seen["level"] = case.case_id, os.environ["TF_CPP_MIN_LOG_LEVEL"]
        seen["width"] = profile.mirror_width
        return {
            key: {"test_accuracy": 0.5, "diverged": False, "error": None}
            for key, (fw, setting, seed) in todo.items()
        }

    monkeypatch.setattr(explain, "_run_all", fake_run_all)
    saved = tmp_path / "explain.json"
    assert main(["explain", ZOO, "--no-progress", "--jobs", "1", "--save-json", str(saved)]) == 0
    mirror = "densenet121-mirror-adam-lr0.0365-bs10-ep1-eps0.412"
    from harness.htmlreport import load_explanations

    assert load_explanations([saved])[0]["case"] == mirror  # what report --explain reads
    assert seen["err"] == (
        f"note: {ZOO} is a zoo case (each framework's own published model, no weights carry "
        f"across); explain runs {mirror} at width 1.0 (the zoo models' own, not the profile's "
        "0.25) instead: the same hyperparameters on mirror models that are each framework's "
        "zoo model in native mode, with every difference a knob\n"
    )
    assert seen["case"] == mirror and seen["level"] == "1" and seen["width"] == 1.0
    assert capsys.readouterr().out.startswith(f"crossedwires explain {mirror}")
    assert explain.zoo_note(explain.mirror_of(find_case(ZOO))) is None


def test_a_refused_explain_prints_its_error_alone(capsys):
    assert main(["explain", ZOO, "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossedwires: error: --jobs 0:") and err.count("\n") == 1


def test_training_commands_quiet_tensorflow_before_it_is_imported(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    for name in ("tensorflow", "absl"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    seen = {}
    monkeypatch.setattr(
        explain,
        "_run_all",
        lambda todo, *a: seen.update(level=os.environ.get("TF_CPP_MIN_LOG_LEVEL")) or {},
    )
    with pytest.raises(KeyError):  # the fake trained nothing; the level was set before
        main(["explain", explain_mirror(), "--no-progress", "--jobs", "1"])
    assert seen["level"] == "3"  # in os.environ: every worker process inherits it
    assert logging.getLogger("tensorflow").level == logging.ERROR
    assert logging.getLogger("absl").level == logging.ERROR


def explain_mirror() -> str:
    return "densenet121-mirror-adam-lr0.0375-bs10-ep1-eps1"


def test_tensorflows_start_up_lines_are_dropped_and_its_errors_kept(monkeypatch, capfd):
    from harness.adapters import pytorch as pytorch_adapter
    from harness.adapters import tensorflow as adapter

    def noisy_import():
        os.write(
            2,
            b"WARNING: All log messages before absl::InitializeLog() is called are "
            b"written to STDERR\n",
        )
        os.write(
            2,
            b"I0000 00:00:1796023172.556806   16482 port.cc:153] oneDNN custom "
            b"operations are on.\n",
        )
        os.write(2, b"W0000 00:00:1.5 7 cpu_feature_guard.cc:227] optimized\n")
        os.write(2, b"To enable the following instructions: AVX2 FMA, in other operations\n")
        os.write(2, b"E0000 00:00:1796023172.6 16482 cuda_dnn.cc:8] Unable to load cuDNN\n")

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(adapter, "import_framework", noisy_import)
    monkeypatch.setattr(pytorch_adapter, "import_framework", lambda: None)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    logs.import_tensorflow_quietly()
    assert capfd.readouterr().err == (
        "E0000 00:00:1796023172.6 16482 cuda_dnn.cc:8] Unable to load cuDNN\n"
    )
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
