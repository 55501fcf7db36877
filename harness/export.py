"""The export of a profile's baselines, the published CrossedWires results, and the two joined.

Three tables (``docs/export.md`` says what every column means and how ours is computed):

- ``export_frame(records)``: one row per baseline. The published table's columns first, under
  the published names and with the same meaning (``arch``, ``Name``, ``accuracy_diff``, ...),
  then ours: a unique ``key`` (``<Name>/<arch_source>/<mode>``), the epochs run, every seed's
  accuracy, the gap's interval and tests, the verdict, versions and devices.
- ``published_frame()``: the published results as shipped with the package
  (``harness/resources/crossedwires-published.csv``), their loss columns parsed to lists.
- ``joined_frame(records, cases)``: one row per published trial of a case set, the published
  results (``published_*``) beside ours (``ours_*`` for the zoo models in mode native, the
  paper's setting; ``ours_mirror_*`` and ``ours_aligned_*`` for mirror models in modes native
  and aligned). A trial without a run keeps its row with our columns empty.

Source of the published results: the per-trial tables released with the CrossedWires study
("CrossedWires: A Dataset of Syntactically Equivalent but Semantically Disparate Deep
Learning Models"; results repository ``crossed_wires``, package ``crossedwires`` 0.0.7), one
row per trial, the authors' personal and tracking columns dropped
(``reference/crossedwires-paper.md``).

Losses are lists: real list columns in Parquet (``to_parquet``), JSON text in CSV (``to_csv``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

from .adapters import FRAMEWORKS
from .errors import HarnessError

PUBLISHED_CSV = "crossedwires-published.csv"
PUBLISHED_SOURCE = (
    "the per-trial tables released with the CrossedWires study (results repository "
    "crossed_wires, package crossedwires 0.0.7), personal and tracking columns dropped"
)
HYPERPARAMETERS = ("learning_rate", "batch_size", "epochs", "adam_epsilon")
PUBLISHED_LOSSES = ("pt_average_training_loss", "pt_latest_training_loss", "tf_training_loss")
PUBLISHED_COLUMNS = (
    "arch",
    "Name",
    "accuracy_diff",
    "pt_test_acc",
    "tf_test_acc",
    "State",
    "Runtime",
    *HYPERPARAMETERS,
    *PUBLISHED_LOSSES,
)
# Columns that hold lists (of numbers, or of lists of numbers per seed).
LIST_COLUMNS = (
    *PUBLISHED_LOSSES,
    "pt_seed_test_acc",
    "tf_seed_test_acc",
    "pt_seed_training_loss",
    "tf_seed_training_loss",
    "seed_numbers",
)
# Numbers, empty where a run failed: float columns (NaN), never object columns of None.
NUMERIC_COLUMNS = (
    "accuracy_diff",
    "pt_test_acc",
    "tf_test_acc",
    "Runtime",
    "pt_test_acc_std",
    "tf_test_acc_std",
    "gap",
    "gap_standard_error",
    "gap_df",
    "gap_interval_low",
    "gap_interval_high",
    "p_within",
    "p_beyond",
    "alpha",
    "chance_band_low",
    "chance_band_high",
    "prediction_agreement",
)
SHORT = {"pytorch": "pt", "tensorflow": "tf"}
# The regenerated column groups of the joined table: prefix -> (arch_source, mode).
OURS_GROUPS = {
    "ours_": ("zoo", "native"),
    "ours_mirror_": ("mirror", "native"),
    "ours_aligned_": ("mirror", "aligned"),
}
# Our columns repeated for each group in the joined table.
JOINED_OURS = (
    "key",
    "case_id",
    "State",
    "accuracy_diff",
    "pt_test_acc",
    "tf_test_acc",
    "gap",
    "epochs_run",
    "seeds",
    "pt_seed_test_acc",
    "tf_seed_test_acc",
    "pt_test_acc_std",
    "tf_test_acc_std",
    "gap_interval_low",
    "gap_interval_high",
    "p_within",
    "p_beyond",
    "verdict",
    "dataset",
    "train_size",
    "pt_average_training_loss",
    "tf_training_loss",
)


# --- the published results -----------------------------------------------------------------


@cache
def _published_text() -> str:
    return (resources.files("harness") / "resources" / PUBLISHED_CSV).read_text()


def published_frame():
    """The 1200 published trials (arch, Name, accuracies, gap, State, Runtime, the four
    hyperparameters at full precision, the three loss columns as lists; a missing loss is an
    empty value, not an empty list)."""
    import pandas as pd

    frame = pd.read_csv(io.StringIO(_published_text()))
    for column in PUBLISHED_LOSSES:
        frame[column] = frame[column].map(_parse_list)
    return frame


def _parse_list(text):
    return json.loads(text) if isinstance(text, str) else None


@cache
def _published_configurations() -> dict[tuple[str, str], object]:
    from .cases import published_configurations

    return {(c.arch, c.source_trial): c for c in published_configurations()}


def trial_hyperparameters(case: dict) -> dict:
    """The case's hyperparameters at full precision: a baseline rounds floats to 6 significant
    digits (``baselines.normalize``), so a case of a published trial takes them from the
    published configuration; ``epochs`` is the trial's (published) epochs."""
    hp = case["hyperparameters"]
    published = _published_configurations().get((case["arch"], case.get("source_trial")))
    if published is not None:
        return {name: getattr(published, name) for name in HYPERPARAMETERS}
    epochs = case.get("published_epochs") or hp["epochs"]
    return {**{name: hp[name] for name in HYPERPARAMETERS}, "epochs": epochs}


# --- one row per baseline --------------------------------------------------------------------


def state_of(record: dict) -> str:
    """The published ``State`` in our words: ``finished`` when both sides trained to the end,
    else ``failed`` (a run raised) or ``diverged`` (a loss went non-finite)."""
    results = record["results"].values()
    if any(r.get("error") for r in results):
        return "failed"
    if any(r.get("diverged") for r in results):
        return "diverged"
    return "finished"


def row_key(case: dict, profile: dict | None = None) -> str:
    """Unique per row: zoo, mirror and mirror-aligned rows of one trial share its ``Name``; a
    case that runs its own budget beyond the profile's epochs cap (``Case.epochs_reason``) adds
    ``/ep<epochs run>``, beside the same trial and mode at the profile's budget."""
    key = f"{case.get('source_trial') or case['id']}/{case['arch_source']}/{case['mode']}"
    cap = (profile or {}).get("epochs_cap")
    if cap and case.get("epochs_run", 0) > cap:
        key += f"/ep{case['epochs_run']}"
    return key


def _seeds(result: dict, first_seed: int) -> list[dict]:
    """Every seed's result; a one-seed record keeps its one result at the top level."""
    if result.get("seeds"):
        return result["seeds"]
    return [
        {
            "seed": first_seed,
            "test_accuracy": result.get("test_accuracy"),
            "training_loss": result.get("training_loss") or [],
        }
    ]


def _std(result: dict, seeds: list[dict]):
    stats = result.get("accuracy_stats")
    if stats:
        return stats["std"]
    return 0.0 if len(seeds) == 1 and seeds[0]["test_accuracy"] is not None else None


def _framework_columns(record: dict) -> dict:
    row = {}
    for fw in FRAMEWORKS:
        s, result = SHORT[fw], record["results"][fw]
        seeds = _seeds(result, record["profile"]["seed"])
        row[f"{s}_seed_test_acc"] = [x["test_accuracy"] for x in seeds]
        row[f"{s}_test_acc_std"] = _std(result, seeds)
        row[f"{s}_seed_training_loss"] = [x["training_loss"] for x in seeds]
        row[f"{s}_error"] = result.get("error")
        row[f"{s}_diverged"] = result.get("diverged")
        row[f"{s}_collapsed"] = result.get("collapsed")
    row["seed_numbers"] = [x["seed"] for x in _seeds(record["results"]["pytorch"], 0)]
    row["seeds"] = len(row["seed_numbers"])
    return row


def _comparison_columns(record: dict) -> dict:
    cmp_ = record.get("comparison") or {}
    stats = cmp_.get("statistics") or {}
    band = cmp_.get("chance_band") or [None, None]
    pt = record["results"]["pytorch"]["test_accuracy"]
    tf = record["results"]["tensorflow"]["test_accuracy"]
    interval = stats.get("interval") or [None, None]
    return {
        "gap": None if None in (pt, tf) else pt - tf,
        "gap_standard_error": stats.get("standard_error"),
        "gap_df": stats.get("df"),
        "gap_interval_low": interval[0],
        "gap_interval_high": interval[1],
        "p_within": stats.get("p_within"),
        "p_beyond": stats.get("p_beyond"),
        "gap_test": stats.get("test"),
        "alpha": stats.get("alpha"),
        "tolerance": record["tolerance"]["accuracy_diff"],
        "tolerance_source": record["tolerance"]["source"],
        "chance_band_low": band[0],
        "chance_band_high": band[1],
        "prediction_agreement": cmp_.get("prediction_agreement"),
    }


def _environment_columns(record: dict) -> dict:
    env = record["environment"]
    versions = {**env["pytorch"]["versions"], **env["tensorflow"]["versions"]}
    return {
        "torch": versions.get("torch"),
        "torchvision": versions.get("torchvision"),
        "tensorflow": versions.get("tensorflow"),
        "keras": versions.get("keras"),
        "python": env.get("python"),
        "numpy": env.get("numpy"),
        "pt_device": env["pytorch"].get("device_name"),
        "tf_device": env["tensorflow"].get("device_name"),
    }


def export_row(record: dict) -> dict:
    """One baseline as one row: the published columns, then ours."""
    case, res = record["case"], record["results"]
    hp = trial_hyperparameters(case)
    cmp_ = record.get("comparison") or {}
    row = {
        "arch": case["arch"],
        "Name": case.get("source_trial"),
        "accuracy_diff": cmp_.get("accuracy_diff"),
        "pt_test_acc": res["pytorch"]["test_accuracy"],
        "tf_test_acc": res["tensorflow"]["test_accuracy"],
        "State": state_of(record),
        "Runtime": None,  # baselines record no durations (they are byte-identical on a rerun)
        **hp,
        "pt_average_training_loss": res["pytorch"]["training_loss"],
        "pt_latest_training_loss": None,  # we record no last-batch loss
        "tf_training_loss": res["tensorflow"]["training_loss"],
        "key": row_key(case, record["profile"]),
        "case_id": case["id"],
        "arch_source": case["arch_source"],
        "mode": case["mode"],
        "case_set": case["case_set"],
        "profile": record["profile"]["name"],
        "epochs_run": case["epochs_run"],
        "dataset": record["data"]["dataset"],
        "train_size": record["data"]["train_size"],
        "test_size": record["data"]["test_size"],
        "verdict": record["verdict"],
    }
    row.update(_framework_columns(record))
    row.update(_comparison_columns(record))
    row.update(_environment_columns(record))
    row.update(_side_columns(record))
    return row


def _side_columns(record: dict) -> dict:
    """An N-side record (``pytest --sides``): a column set per side beyond the pair (its mean,
    per-seed accuracies, error, versions), every pair's gap and verdict, and the vote. Nothing
    for a record of the default pair."""
    if "sides" not in record:
        return {}
    row: dict = {}
    for side in record["sides"]:
        if side in FRAMEWORKS:
            continue
        result = record["results"][side]
        row[f"{side}_test_acc"] = result["test_accuracy"]
        seeds = _seeds(result, record["profile"]["seed"])
        row[f"{side}_seed_test_acc"] = [x["test_accuracy"] for x in seeds]
        row[f"{side}_error"] = result.get("error")
        row[f"{side}_versions"] = json.dumps(record["environment"][side]["versions"])
    for key, pair in record["pairs"].items():
        a, b = (record["results"][s]["test_accuracy"] for s in key.split("|"))
        row[f"gap {key}"] = None if None in (a, b) else a - b
        row[f"verdict {key}"] = pair["verdict"]
    row["odd_one_out"] = record["vote"]["odd_one_out"]
    return row


def export_frame(records: Iterable[dict]):
    """One row per baseline, sorted by key: the published table's columns under the published
    names first, then ours (``docs/export.md``)."""
    import pandas as pd

    rows = [export_row(r) for r in records]
    if not rows:
        return pd.DataFrame(columns=list(PUBLISHED_COLUMNS) + ["key"])
    frame = pd.DataFrame(rows).sort_values("key", kind="stable").reset_index(drop=True)
    numbers = [c for c in NUMERIC_COLUMNS if c in frame]
    return frame.assign(**{c: pd.to_numeric(frame[c]).astype("float64") for c in numbers})


# --- the published trials beside ours --------------------------------------------------------


def case_set_trials(cases) -> list[tuple[str, str]]:
    """The published trials (arch, Name) a case set runs, each once, in the published order."""
    seen = {(c.arch, c.source_trial) for c in cases if c.source_trial}
    return sorted(seen)


def _ours_group(export, arch_source: str, mode: str, prefix: str):
    """Our rows of one arch source and mode, indexed by (arch, Name), columns prefixed."""
    import pandas as pd

    columns = [prefix + c for c in JOINED_OURS]
    if export.empty:
        index = pd.MultiIndex.from_tuples([], names=["arch", "Name"])
        return pd.DataFrame(columns=columns, index=index)
    rows = export[(export["arch_source"] == arch_source) & (export["mode"] == mode)]
    rows = rows[rows["Name"].notna()]
    # the join holds each trial at the profile's budget: a case with its own (key /ep<N>) is in
    # the export only
    rows = rows[rows["key"] == rows["Name"] + f"/{arch_source}/{mode}"]
    duplicated = rows.duplicated(["arch", "Name"])
    if duplicated.any():
        key = rows.loc[duplicated, "key"].iloc[0]
        raise HarnessError(
            f"two baselines for one published trial and mode ({key}): keep one of them"
        )
    group = rows.set_index(["arch", "Name"])[list(JOINED_OURS)]
    return group.add_prefix(prefix)


def joined_frame(records: Iterable[dict], cases, published=None):
    """One row per published trial of ``cases`` (a case set), whether or not it ran: the trial's
    full-precision hyperparameters, the published results as ``published_*``, ours as
    ``ours_*`` (zoo, native), ``ours_mirror_*`` (mirror, native) and ``ours_aligned_*``
    (mirror, aligned); what did not run is empty. Baselines of no published trial of the
    case set are left out (they are in ``export_frame``)."""
    import pandas as pd

    published = published_frame() if published is None else published
    trials = pd.DataFrame(case_set_trials(cases), columns=["arch", "Name"])
    joined = trials.merge(published, on=["arch", "Name"], how="left", validate="one_to_one")
    renamed = {c: f"published_{c}" for c in PUBLISHED_COLUMNS if c not in ("arch", "Name")}
    renamed.update({h: h for h in HYPERPARAMETERS})  # one set: both sides ran these
    joined = joined.rename(columns=renamed)
    joined["published_gap"] = joined["published_pt_test_acc"] - joined["published_tf_test_acc"]
    joined = joined.set_index(["arch", "Name"])
    export = export_frame(records)
    for prefix, (arch_source, mode) in OURS_GROUPS.items():
        joined = joined.join(_ours_group(export, arch_source, mode, prefix), how="left")
    return joined.reset_index()


# --- writing -------------------------------------------------------------------------------


def for_csv(frame):
    """The frame with its list columns as JSON text (CSV holds no lists)."""

    def as_json(value):
        if value is None or (isinstance(value, float) and value != value):
            return None
        return json.dumps(list(value) if not isinstance(value, list) else value)

    columns = [c for c in frame.columns if _list_type(c) is not None]
    return frame.assign(**{c: frame[c].map(as_json) for c in columns})


def to_csv(frame) -> str:
    return for_csv(frame).to_csv(index=False)


def to_parquet(frame, fh) -> None:
    """Parquet with list columns as lists of float64 (of lists, per seed), also when a column
    holds only empty values (its type would otherwise be null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, name in enumerate(table.column_names):
        wanted = _list_type(name)
        if wanted is not None and table.schema.field(name).type != wanted:
            table = table.set_column(i, name, table.column(name).cast(wanted))
    pq.write_table(table, fh)


def _list_type(name: str):
    import pyarrow as pa

    base = name
    for prefix in ("published_", *OURS_GROUPS):
        if name.startswith(prefix) and name[len(prefix) :] in LIST_COLUMNS:
            base = name[len(prefix) :]
    if base not in LIST_COLUMNS:
        return None
    if base == "seed_numbers":
        return pa.list_(pa.int64())
    if base.endswith("seed_training_loss"):
        return pa.list_(pa.list_(pa.float64()))
    return pa.list_(pa.float64())
