"""``harness.export``: the export joins the shipped published table on the published names.

Read against the committed smoke baselines and the shipped published results; nothing trains.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness import export
from harness.cases import published_configurations, smoke_cases
from harness.cli import load_profile_baselines

from .conftest import make_record

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def records():
    return load_profile_baselines(ROOT / "baselines", "smoke")


@pytest.fixture(scope="module")
def published():
    return export.published_frame()


def test_the_published_table_ships_1200_trials_with_losses_as_lists(published):
    assert len(published) == 1200 and published["Name"].is_unique
    assert list(published.columns) == list(export.PUBLISHED_COLUMNS)
    row = published.set_index("Name").loc["dual_train_0012c62a"]
    assert row["epochs"] == 2 and len(row["tf_training_loss"]) == 2
    assert row["learning_rate"] == 0.037500006249999995  # full precision
    assert published["pt_average_training_loss"].isna().sum() == 2  # missing in the release


def test_the_export_starts_with_the_published_columns_under_their_names(records):
    frame = export.export_frame(records)
    assert tuple(frame.columns[: len(export.PUBLISHED_COLUMNS)]) == export.PUBLISHED_COLUMNS
    assert frame["key"].is_unique and len(frame) == len(records)
    # zoo, mirror and mirror-aligned rows of one trial share the Name, not the key
    mirror = frame[frame["Name"] == "dual_train_8d53f48e"]
    assert sorted(mirror["key"]) == [
        "dual_train_8d53f48e/mirror/aligned",
        "dual_train_8d53f48e/mirror/native",
    ]
    assert set(frame["State"]) == {"finished"}
    assert frame["Runtime"].isna().all()  # baselines record no durations: nothing invented


def test_the_export_keeps_the_published_epochs_beside_the_epochs_run(records):
    frame = export.export_frame(records).set_index("key")
    row = frame.loc["dual_train_302d543c/zoo/native"]
    assert (row["epochs"], row["epochs_run"]) == (50, 1)


def test_hyperparameters_equal_the_published_floats_exactly(records, published):
    frame = export.export_frame(records)
    merged = frame.merge(published, on=["arch", "Name"], suffixes=("", "_published"))
    assert len(merged) == len(frame)
    for name in export.HYPERPARAMETERS:
        assert (merged[name] == merged[f"{name}_published"]).all(), name
    # the baseline itself holds them rounded to 6 digits
    record = next(r for r in records if r["case"]["source_trial"] == "dual_train_302d543c")
    row = merged.set_index("key").loc["dual_train_302d543c/zoo/native"]
    assert record["case"]["hyperparameters"]["learning_rate"] == 0.036542
    assert row["learning_rate"] == 0.03654204885077305


def test_every_seed_and_the_gap_test_are_exported(records):
    frame = export.export_frame(records).set_index("key")
    row = frame.loc["dual_train_302d543c/zoo/native"]
    assert row["seeds"] == 5 and row["seed_numbers"] == [0, 1, 2, 3, 4]
    assert len(row["pt_seed_test_acc"]) == 5
    assert row["pt_test_acc"] == pytest.approx(sum(row["pt_seed_test_acc"]) / 5, abs=1e-6)
    assert row["pt_test_acc_std"] > 0
    assert row["gap_interval_low"] < row["gap"] < row["gap_interval_high"]
    assert 0 <= row["p_within"] <= 1 and 0 <= row["p_beyond"] <= 1
    assert row["verdict"] == "mismatch" and row["torch"] and row["pt_device"]


def test_a_one_seed_record_exports_its_one_accuracy():
    row = export.export_frame([make_record()]).iloc[0]
    assert row["seeds"] == 1 and row["pt_seed_test_acc"] == [0.7]
    assert row["pt_test_acc_std"] == 0.0 and pd.isna(row["p_within"])


def test_a_failed_run_is_a_failed_state_with_empty_accuracy():
    row = export.export_frame([make_record(error="RuntimeError: boom")]).iloc[0]
    assert row["State"] == "failed" and pd.isna(row["tf_test_acc"])
    assert row["tf_error"] == "RuntimeError: boom"


def test_joining_the_smoke_baselines_gives_one_filled_row_per_smoke_trial(records):
    joined = export.joined_frame(records, smoke_cases())
    trials = {(c.arch, c.source_trial) for c in smoke_cases()}
    assert len(joined) == len(trials) == 5
    assert set(zip(joined["arch"], joined["Name"], strict=True)) == trials
    assert joined["published_pt_test_acc"].notna().all()
    ours = joined[["ours_gap", "ours_mirror_gap"]].notna().any(axis=1)
    assert ours.all()  # every trial ran, on zoo models or on mirror models
    mirror = joined.set_index("Name").loc["dual_train_1819f1b4"]
    assert pd.notna(mirror["ours_aligned_gap"]) and pd.isna(mirror["ours_gap"])


def test_the_crossedwires_join_keeps_all_1200_trials_run_or_not(records):
    joined = export.joined_frame(records, published_configurations())
    assert len(joined) == 1200
    assert not joined.duplicated(["arch", "Name"]).any()
    assert joined["published_accuracy_diff"].notna().all()
    ran = joined["ours_key"].dropna()
    assert ran.is_unique and len(ran) == 3  # the smoke set's zoo cases; the rest empty


def test_the_join_holds_one_set_of_full_precision_hyperparameters(records, published):
    joined = export.joined_frame(records, smoke_cases())
    expected = published.set_index(["arch", "Name"]).loc[
        list(zip(joined["arch"], joined["Name"], strict=True))
    ]
    for name in export.HYPERPARAMETERS:
        assert list(joined[name]) == list(expected[name]), name


def test_parquet_keeps_the_lists(records):
    frame = export.export_frame(records)
    buf = io.BytesIO()
    export.to_parquet(frame, buf)
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    assert table.schema.field("pt_average_training_loss").type == pa.list_(pa.float64())
    assert table.schema.field("pt_latest_training_loss").type == pa.list_(pa.float64())
    assert table.schema.field("pt_seed_training_loss").type == pa.list_(pa.list_(pa.float64()))
    back = table.to_pandas()
    assert list(back["key"]) == list(frame["key"])
    assert list(back["pt_seed_test_acc"][0]) == frame["pt_seed_test_acc"][0]


def test_parquet_of_the_join_keeps_both_sides_lists(records):
    joined = export.joined_frame(records, smoke_cases())
    buf = io.BytesIO()
    export.to_parquet(joined, buf)
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    for column in ("published_tf_training_loss", "ours_tf_training_loss"):
        assert table.schema.field(column).type == pa.list_(pa.float64()), column
    back = table.to_pandas().set_index("Name")
    assert len(back.loc["dual_train_302d543c", "published_tf_training_loss"]) == 50


def test_csv_holds_the_lists_as_json_text(records):
    frame = export.export_frame(records)
    back = pd.read_csv(io.StringIO(export.to_csv(frame)))
    assert json.loads(back["pt_seed_test_acc"][0]) == frame["pt_seed_test_acc"][0]
    assert json.loads(back["tf_training_loss"][0]) == frame["tf_training_loss"][0]
    assert back["pt_latest_training_loss"].isna().all()
