"""crossedwires export: the published dataset's columns, then ours."""

from __future__ import annotations

import json

import pandas as pd

from harness import baselines
from harness.cli import main

from .conftest import make_record


def test_export_writes_one_row_per_baseline_with_the_published_columns(tmp_path, capsys):
    for k_tf, case_id in [
        (2, "resnet50-adam-lr0.00349-bs10-ep1-eps0.61"),
        (14, "vgg16-adam-lr0.0998-bs63-ep2-eps0.495"),
    ]:
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
    published = [
        "name",
        "accuracy_diff",
        "pt_test_acc",
        "tf_test_acc",
        "learning_rate",
        "batch_size",
        "epochs",
        "adam_epsilon",
        "pt_training_loss",
        "tf_training_loss",
    ]
    assert list(frame.columns[: len(published)]) == published
    assert {"prediction_agreement", "verdict", "torch", "tensorflow", "device"} <= set(frame)
    row = frame.set_index("case_id").loc["resnet50-adam-lr0.00349-bs10-ep1-eps0.61"]
    assert row["name"] == "dual_train_8b9f2f16"
    assert (row["pt_test_acc"], row["tf_test_acc"], row["verdict"]) == (0.7, 0.1, "mismatch")
    assert json.loads(row["pt_training_loss"]) == [2.3, 1.9]
