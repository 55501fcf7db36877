"""``crossedwires report``: one self-contained HTML page and a Markdown summary of a profile's
baselines, beside the published CrossedWires results, for a researcher.

The page has:

- what is compared with what: for a proxy profile (``smoke``: digits32, 1024 images, 1 epoch)
  it says so, since the published side is CIFAR-10 trained for 1 to 50 epochs;
- the verdict counts, every verdict named (``uninformative`` included);
- per architecture, a view like the paper's Figure 2: learning rate x batch size x epochs,
  Adam epsilon as point size, the absolute gap as colour, trials below the architecture's
  published median gap in grey; the published trials and ours on the same axes and colour scale;
- our gap against the published gap per trial, with Spearman's rank correlation;
- PyTorch against TensorFlow accuracy with the tolerance band, the chance band and the seeds'
  standard deviation as error bars; the distribution of the gap;
- for each case ``crossedwires explain --json`` has results for, the knobs' effects on the gap;
- the training-loss curves of the largest gaps (every seed, markers on each epoch);
- every case in a table that sorts (click a header) and filters (the text box) in the page;
- the environment the baselines were made in.

Plots are drawn with matplotlib and embedded as PNG data URIs; the table's script is inline:
the file stands alone (no network, no side files). ``report.md`` is the summary for a pull
request: verdict counts, the largest gaps, and our gap against the published one per trial.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import textwrap
from collections import Counter
from pathlib import Path

from . import atomic
from .adapters import FRAMEWORKS
from .errors import HarnessError

VERDICT_COLOURS = {
    "agree": "#2b8a3e",
    "mismatch": "#c92a2a",
    "inconclusive": "#e67700",
    "uninformative": "#adb5bd",
    "diverged": "#5f3dc4",
    "error": "#495057",
}
TOP = 5
# Marker per (arch_source, mode) wherever ours is drawn.
MARKERS = {
    ("zoo", "native"): ("o", "zoo models, native"),
    ("mirror", "native"): ("^", "mirror models, native"),
    ("mirror", "aligned"): ("s", "mirror models, aligned"),
    ("custom", "native"): ("D", "own model pair"),
}
GAP_CMAP = "plasma"
PUBLISHED_SETUP = "50,000 training images, 1 to 50 epochs, one run per framework"
NOTHING_TO_PLOT = "<p>No case has two accuracies to compare.</p>"
NO_EXPLANATIONS = (
    "<p>No <code>crossedwires explain</code> results were given: run "
    "<code>crossedwires explain CASE-ID --json --out CASE-ID.json</code> and pass the file to "
    "the report to see which framework default carries a case's gap.</p>"
)
MAX_EXPLAIN_BYTES = 1_000_000


def frame(records: list[dict]):
    """One row per case: what the plots and tables read (from ``export.export_frame``)."""
    import pandas as pd

    from .export import export_frame

    ex = export_frame(records)
    if ex.empty:
        return pd.DataFrame(columns=["case", "arch", "gap", "verdict", "pt_loss", "tf_loss"])
    return pd.DataFrame(
        {
            "case": ex["case_id"],
            "arch": ex["arch"],
            "arch_source": ex["arch_source"],
            "mode": ex["mode"],
            "trial": ex["Name"],
            "learning_rate": ex["learning_rate"],
            "batch_size": ex["batch_size"],
            "epochs": ex["epochs_run"],
            "published_epochs": ex["epochs"],
            "adam_epsilon": ex["adam_epsilon"],
            "seeds": ex["seeds"],
            "pytorch": ex["pt_test_acc"],
            "pt_std": ex["pt_test_acc_std"],
            "tensorflow": ex["tf_test_acc"],
            "tf_std": ex["tf_test_acc_std"],
            "gap": ex["gap"],
            "interval_low": ex["gap_interval_low"],
            "interval_high": ex["gap_interval_high"],
            "p_within": ex["p_within"],
            "p_beyond": ex["p_beyond"],
            "verdict": ex["verdict"],
            "tolerance": ex["tolerance"],
            "chance_low": ex["chance_band_low"],
            "chance_high": ex["chance_band_high"],
            "dataset": ex["dataset"],
            "train_size": ex["train_size"],
            "pt_loss": ex["pt_average_training_loss"],
            "tf_loss": ex["tf_training_loss"],
            "pt_seed_loss": ex["pt_seed_training_loss"],
            "tf_seed_loss": ex["tf_seed_training_loss"],
        }
    )


def with_published(df, published):
    """``df`` with the published trial's gap (signed, PyTorch - TensorFlow) as
    ``published_gap``; empty for a case of no published trial."""
    if published is None or df.empty or "trial" not in df:
        return df.assign(published_gap=float("nan"))
    gaps = published.assign(published_gap=published["pt_test_acc"] - published["tf_test_acc"])
    gaps = gaps.rename(columns={"Name": "trial"})[["arch", "trial", "published_gap"]]
    return df.merge(gaps, on=["arch", "trial"], how="left")


def comparison_note(df) -> str:
    """What our side is, said plainly: a proxy of the paper's runs, or CIFAR-10 as published."""
    if df.empty or "dataset" not in df:
        return "No case ran."
    runs = df.drop_duplicates(["dataset", "train_size", "epochs"])
    proxy = (
        (runs["dataset"] != "cifar10").any()
        or (runs["train_size"] < 50_000).any()
        or (df["epochs"] < df["published_epochs"]).any()
    )
    setups = "; ".join(
        f"{r.dataset}, {r.train_size} images, {r.epochs} epoch{'s' if r.epochs != 1 else ''}"
        for r in runs.itertuples()
    )
    if proxy:
        return (
            f"This compares a proxy ({setups}) with the paper's CIFAR-10 runs ({PUBLISHED_SETUP}). "
            "Read the published side against ours for the ranking of trials, not for their values."
        )
    return (
        f"Ours ran as the paper did ({setups}), with several seeds per framework; our accuracy is "
        "correct / total, the published PyTorch accuracy a mean of per-batch accuracies."
    )


# --- figures ---------------------------------------------------------------------------------


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _epsilon_size(eps):
    """Point area from Adam epsilon (published range 1e-8 to 1): 12 to 132 points."""
    return 12 + 120 * eps


def _space_panel(ax, points, threshold, vmax, markers=None):
    """One Figure-2 panel: lr x batch size x epochs, epsilon as size, |gap| as colour, points
    below ``threshold`` in grey."""
    absgap = points["gap"].abs()
    below = absgap < threshold
    groups = [(None, points)] if markers is None else points.groupby(["arch_source", "mode"])
    for key, group in groups:
        marker = "o" if key is None else MARKERS.get(key, ("o", ""))[0]
        low, high = group[below.loc[group.index]], group[~below.loc[group.index]]
        ax.scatter(
            low["learning_rate"],
            low["batch_size"],
            low["epochs"],
            s=_epsilon_size(low["adam_epsilon"]),
            c="#ced4da",
            alpha=0.45,
            marker=marker,
            depthshade=False,
        )
        ax.scatter(
            high["learning_rate"],
            high["batch_size"],
            high["epochs"],
            s=_epsilon_size(high["adam_epsilon"]),
            c=high["gap"].abs(),
            cmap=GAP_CMAP,
            vmin=0,
            vmax=vmax,
            marker=marker,
            edgecolors="black",
            linewidths=0.4,
            depthshade=False,
        )
    ax.set(xlim=(0, 0.1), ylim=(0, 1000), zlim=(0, 50))
    ax.set_xlabel("learning rate", labelpad=6)
    ax.set_ylabel("batch size", labelpad=6)
    ax.set_zlabel("epochs", labelpad=2)
    ax.tick_params(labelsize=7)
    ax.view_init(elev=20, azim=-60)


def figure2(arch: str, published, ours, vmax: float) -> str:
    """The paper's Figure 2 for one architecture: the published trials and ours, side by side,
    on the same axes and colour scale; grey below the published median |gap|."""
    plt = _pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    pub = published[published["arch"] == arch].assign(
        gap=lambda f: f["pt_test_acc"] - f["tf_test_acc"]
    )
    threshold = float(pub["gap"].abs().median()) if len(pub) else 0.0
    mine = ours[(ours["arch"] == arch)].dropna(subset=["gap"])
    fig = plt.figure(figsize=(12, 5.2))
    left = fig.add_subplot(1, 2, 1, projection="3d")
    right = fig.add_subplot(1, 2, 2, projection="3d")
    _space_panel(left, pub, threshold, vmax)
    left.set_title(f"{arch}: published, {len(pub)} trials (CIFAR-10)", fontsize=10)
    _space_panel(right, mine, threshold, vmax, markers=True)
    runs = sorted(set(zip(mine["dataset"], mine["train_size"], strict=True)))
    where = ", ".join(f"{d}, {n} images" for d, n in runs) or "none ran"
    right.set_title(f"{arch}: ours, {len(mine)} cases ({where})", fontsize=10)
    handles = [
        Line2D([], [], marker=m, ls="", color="#495057", label=label)
        for key, (m, label) in MARKERS.items()
        if ((mine["arch_source"] == key[0]) & (mine["mode"] == key[1])).any()
    ]
    if handles:
        right.legend(handles=handles, fontsize=7, loc="upper left")
    bar = fig.colorbar(
        ScalarMappable(Normalize(0, vmax), GAP_CMAP), ax=[left, right], shrink=0.7, pad=0.04
    )
    bar.set_label(f"|gap| (grey: below the published median, {threshold:.3f})")
    return _png(fig)


def gap_against_published(df) -> str | None:
    """Our gap against the published gap per trial, one colour per architecture, one marker per
    arch source and mode, the diagonal for reference."""
    both = df.dropna(subset=["gap", "published_gap"])
    if both.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    ax.plot([-1, 1], [-1, 1], color="#adb5bd", lw=1, zorder=0, label="ours = published")
    ax.axhline(0, color="#dee2e6", lw=0.8, zorder=0)
    ax.axvline(0, color="#dee2e6", lw=0.8, zorder=0)
    colours = dict(zip(sorted(both["arch"].unique()), plt.get_cmap("tab10").colors, strict=False))
    for (arch, source, mode), group in both.groupby(["arch", "arch_source", "mode"]):
        marker, label = MARKERS.get((source, mode), ("o", f"{source}, {mode}"))
        ax.errorbar(
            group["published_gap"],
            group["gap"],
            yerr=_interval_err(group),
            fmt=marker,
            ms=8,
            color=colours[arch],
            mec="black",
            mew=0.5,
            capsize=3,
            label=f"{arch}, {label}",
        )
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="published gap (PyTorch - TensorFlow accuracy)")
    ax.set_ylabel("our gap (mean over seeds; bars: its interval)")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _interval_err(group):
    """Error bars from the gap's confidence interval; none where there is no interval."""
    import numpy as np

    low = (group["gap"] - group["interval_low"]).astype(float).fillna(0).clip(lower=0)
    high = (group["interval_high"] - group["gap"]).astype(float).fillna(0).clip(lower=0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def rank_correlations(df) -> list[dict]:
    """Spearman's rank correlation of our gap with the published gap over the trials where both
    exist, per arch source and mode (all architectures together, then each with enough
    trials). Fewer than 3 trials: no coefficient."""
    from scipy import stats

    both = df.dropna(subset=["gap", "published_gap"])
    rows = []
    for (source, mode), group in both.groupby(["arch_source", "mode"]):
        subsets = [("all", group)]
        subsets += [(a, g) for a, g in group.groupby("arch") if len(g) >= 3 and len(g) < len(group)]
        for arch, sub in subsets:
            row = {"arch_source": source, "mode": mode, "arch": arch, "trials": len(sub)}
            varies = sub["gap"].nunique() > 1 and sub["published_gap"].nunique() > 1
            if len(sub) >= 3 and varies:
                result = stats.spearmanr(sub["published_gap"], sub["gap"])
                row.update(rho=float(result.statistic), p=float(result.pvalue))
            else:
                row.update(rho=None, p=None)
            rows.append(row)
    return rows


def accuracy_scatter(df) -> str | None:
    """PyTorch against TensorFlow accuracy per architecture: the tolerance band around the
    diagonal, the chance band, the seeds' standard deviation as error bars."""
    known = df.dropna(subset=["gap"])
    if known.empty:
        return None
    plt = _pyplot()
    archs = sorted(known["arch"].unique())
    fig, axes = plt.subplots(1, len(archs), figsize=(4.8 * len(archs), 4.8), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        sub = known[known["arch"] == arch]
        _bands(ax, sub)
        for verdict, group in sub.groupby("verdict"):
            ax.errorbar(
                group["tensorflow"],
                group["pytorch"],
                xerr=group["tf_std"].fillna(0),
                yerr=group["pt_std"].fillna(0),
                fmt="o",
                ms=6,
                capsize=3,
                color=VERDICT_COLOURS.get(verdict, "black"),
                label=f"{verdict} ({len(group)})",
            )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="TensorFlow test accuracy", title=arch)
        ax.set_ylabel("PyTorch test accuracy (mean; bars: seeds' std)")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _bands(ax, sub) -> None:
    """The tolerance band (the most common tolerance) and the chance band of the mean of the
    cases' seeds (the widest recorded)."""
    import numpy as np

    tolerance = float(sub["tolerance"].mode().iloc[0])
    x = np.linspace(0, 1, 50)
    ax.fill_between(
        x,
        x - tolerance,
        x + tolerance,
        color="#d3f9d8",
        zorder=0,
        label=f"|gap| <= tolerance {tolerance:g}",
    )
    ax.plot([0, 1], [0, 1], color="#adb5bd", lw=1, zorder=0)
    bands = sub.dropna(subset=["chance_low", "chance_high"])
    if len(bands):
        low, high = float(bands["chance_low"].min()), float(bands["chance_high"].max())
        ax.axvspan(low, high, color="#e9ecef", zorder=0, label="chance band (99%)")
        ax.axhspan(low, high, color="#e9ecef", zorder=0)


def gap_histogram(df) -> str:
    plt = _pyplot()
    archs = sorted(df["arch"].unique())
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 3.2), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        gaps = df[df["arch"] == arch]["gap"].dropna()
        ax.hist(gaps, bins=min(30, max(5, len(gaps))), range=(-1, 1), color="#1971c2")
        ax.axvline(0, color="#adb5bd", lw=1)
        ax.set(xlabel="gap (PyTorch - TensorFlow accuracy)", ylabel="cases", title=arch)
    return _png(fig)


def _as_curves(seed_losses) -> list:
    """Each seed's per-epoch losses as floats (an empty epoch as NaN)."""
    import numpy as np

    if seed_losses is None or (isinstance(seed_losses, float) and math.isnan(seed_losses)):
        return []
    return [
        np.array([np.nan if v is None else v for v in losses], dtype=float)
        for losses in seed_losses
        if losses is not None and len(losses)
    ]


def loss_curves(top) -> str | None:
    """Training loss per epoch of the largest gaps, each seed a faint line, the mean over the
    seeds bold; a marker on every epoch, so a 1-epoch case shows its points."""
    if top.empty:
        return None
    import numpy as np

    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(top), figsize=(3.3 * len(top), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (_, row) in zip(axes[0], top.iterrows(), strict=True):
        epochs_seen = 1
        for name, column, colour, marker, shift in (
            ("PyTorch", "pt_seed_loss", "#e8590c", "o", -0.06),
            ("TensorFlow", "tf_seed_loss", "#1971c2", "s", 0.06),
        ):
            curves = _as_curves(row[column])
            if not curves:
                continue
            for curve in curves:
                x = np.arange(1, len(curve) + 1) + shift
                ax.plot(x, curve, marker=marker, ms=4, lw=0.8, color=colour, alpha=0.35)
            longest = max(len(c) for c in curves)
            padded = np.full((len(curves), longest), np.nan)
            for i, c in enumerate(curves):
                padded[i, : len(c)] = c
            with np.errstate(all="ignore"):
                mean = np.nanmean(padded, axis=0)
            x = np.arange(1, longest + 1) + shift
            ax.plot(
                x,
                mean,
                marker=marker,
                ms=8,
                lw=2,
                color=colour,
                mec="black",
                mew=0.6,
                label=f"{name}: mean over the seeds (faint: each seed)",
            )
            epochs_seen = max(epochs_seen, longest)
        ax.set_xlim(0.5, epochs_seen + 0.5)
        ax.set_xticks(range(1, epochs_seen + 1, max(1, epochs_seen // 8)))
        ax.set(xlabel="epoch", ylabel="training loss")
        seeds = f"{row['seeds']} seed{'s' if row['seeds'] != 1 else ''}"
        title = f"{textwrap.fill(row['case'], 26)}\ngap {row['gap']:+.3f}, {seeds}"
        ax.set_title(title, fontsize=7.5)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:  # one legend for all panels, below them: none covers a curve
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    return _png(fig)


def knob_chart(report: dict) -> str:
    """One ``crossedwires explain`` result: each knob's effect on the gap measured from the
    aligned side and from the native side, with its interval over the seeds, and each side's
    residual (what no single knob explains)."""
    import numpy as np

    plt = _pyplot()
    rows = sorted(report["knobs"], key=lambda r: abs(r.get("effect_from_aligned") or 0.0))
    residual = {
        "effect_from_aligned": report.get("residual_from_aligned"),
        "effect_from_aligned_interval": report.get("residual_from_aligned_interval"),
        "effect_from_native": report.get("residual_from_native"),
        "effect_from_native_interval": report.get("residual_from_native_interval"),
    }
    names = [r["knob"] for r in rows] + ["residual"]
    rows = [*rows, residual]
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.6))
    for direction, offset, color, label in (
        ("from_aligned", 0.2, "#1971c2", "only this knob native"),
        ("from_native", -0.2, "#e8590c", "all native but this knob"),
    ):
        values = [r.get(f"effect_{direction}") for r in rows]
        values = np.array([np.nan if v is None else v for v in values])
        errors = np.zeros((2, len(rows)))
        for i, r in enumerate(rows):
            interval = r.get(f"effect_{direction}_interval")
            if interval is not None:
                errors[:, i] = values[i] - interval[0], interval[1] - values[i]
        ax.barh(y + offset, values, height=0.4, color=color, label=label, xerr=errors, capsize=2)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names, fontsize=8)
    seeds = len(report.get("seeds") or [None])
    ax.set_xlabel(
        "effect on the gap (PyTorch - TensorFlow accuracy)"
        + (f", mean over {seeds} seeds with its interval" if seeds > 1 else ", one seed")
    )
    native, aligned = report["native"].get("gap"), report["aligned"].get("gap")
    ax.set_title(
        f"{textwrap.fill(report['case'], 60)}\nnative gap {_signed(native)}, aligned gap "
        f"{_signed(aligned)} (profile {report.get('profile')})",
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _signed(value) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _top(df):
    known = df.dropna(subset=["gap"])
    order = known["gap"].abs().sort_values(ascending=False).index
    return known.loc[order].head(TOP)


# --- explain results -------------------------------------------------------------------------


def load_explanations(paths) -> list[dict]:
    """The JSON files ``crossedwires explain CASE-ID --json --out F`` wrote; a file that is not
    one stops with its name and the command that writes one."""
    fix = "write one with: crossedwires explain CASE-ID --json --out FILE"
    reports = []
    for path in paths:
        text = atomic.read_small_text(path, MAX_EXPLAIN_BYTES, "explain result", HarnessError, fix)
        try:
            report = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}: not JSON ({exc.msg}, line {exc.lineno}); {fix}") from None
        if not isinstance(report, dict):
            raise HarnessError(f"{path}: not an explain result (not a JSON object); {fix}")
        missing = [k for k in ("case", "native", "aligned", "knobs") if k not in report]
        if missing:
            raise HarnessError(f"{path}: not an explain result (no {', '.join(missing)}); {fix}")
        reports.append(report)
    return reports


# --- localize results ------------------------------------------------------------------------

LOCALIZE_FIX = "write one with: crossedwires localize CASE-ID --json --out FILE"
NO_LOCALIZATIONS = (
    "<p>No <code>crossedwires localize</code> results were given: run "
    "<code>crossedwires localize CASE-ID --json --out CASE-ID.localize.json</code> and pass the "
    "file to <code>crossedwires report --localize FILE</code>.</p>"
)


def load_localizations(paths) -> list[dict]:
    """The JSON files ``crossedwires localize CASE-ID --json --out F`` wrote; a file that is
    not one stops with its name, the field and the command that writes one."""
    reports = []
    for path in paths:
        text = atomic.read_small_text(
            path, MAX_EXPLAIN_BYTES, "localize result", HarnessError, LOCALIZE_FIX
        )
        try:
            report = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HarnessError(
                f"{path}: not JSON ({exc.msg}, line {exc.lineno}); {LOCALIZE_FIX}"
            ) from None
        if not isinstance(report, dict):
            raise HarnessError(f"{path}: not a localize result (not a JSON object); {LOCALIZE_FIX}")
        missing = [k for k in ("case", "first", "layers") if k not in report]
        if missing:
            raise HarnessError(
                f"{path}: not a localize result (no field {', '.join(missing)}); {LOCALIZE_FIX}"
            )
        layers = report["layers"]
        if not isinstance(layers, list) or not all(
            isinstance(r, dict) and "node" in r for r in layers
        ):
            raise HarnessError(
                f"{path}: field layers: expected a list of layers with a node each; {LOCALIZE_FIX}"
            )
        reports.append(report)
    return reports


def localize_chart(report: dict) -> str:
    """One ``crossedwires localize`` result: per layer (execution order) and stage the
    relative distance between the frameworks and its allowance, the first diverging layer of
    each stage marked."""
    import numpy as np

    plt = _pyplot()
    layers = report["layers"]
    fig, axes = plt.subplots(3, 1, figsize=(8.5, 6.4), sharex=True)
    x = np.arange(len(layers))
    colours = {"forward": "#1971c2", "backward": "#e8590c", "step": "#2f9e44"}
    for ax, stage in zip(axes, ("forward", "backward", "step"), strict=True):

        def value(row, key, stage=stage):
            e = row.get(stage)
            if not isinstance(e, dict) or not e.get("value"):
                return np.nan
            v = e["relative"] if key == "relative" else e["allowed"] / e["value"]
            return max(v, 1e-12)

        ax.semilogy(x, [value(r, "relative") for r in layers], ".", ms=3, color=colours[stage])
        ax.semilogy(x, [value(r, "allowed") for r in layers], "-", lw=0.6, color="grey")
        first = report["first"].get(stage)
        names = [r["node"] for r in layers]
        if first in names:
            ax.axvline(names.index(first), color="red", lw=0.8)
            ax.annotate(
                f"first: {first}",
                (names.index(first), 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color="red",
                va="top",
                ha="left",
            )
        ax.set_ylabel(f"{stage}\n|PT - TF| / |PT|", fontsize=7)
    axes[-1].set_xlabel("layer (mirror node, execution order); grey: allowed (float32 noise)")
    axes[0].set_title(
        f"{textwrap.fill(str(report['case']), 70)} (mode {report.get('mode')}, same weights)",
        fontsize=8,
    )
    return _png(fig)


def localize_section(reports: list[dict]) -> str:
    if not reports:
        return NO_LOCALIZATIONS
    parts = []
    for report in reports:
        first = report["first"]
        said = "; ".join(f"{s}: {first.get(s) or 'none'}" for s in ("forward", "backward", "step"))
        alt = f"per-layer distances of {report['case']}"
        parts.append(
            f'<figure class="localize">{_img(localize_chart(report), alt)}<figcaption>'
            f"{html.escape(str(report['case']))}: first diverging layer {html.escape(said)}"
            "</figcaption></figure>"
        )
    return "\n".join(parts)


# --- the Markdown summary --------------------------------------------------------------------


def _environment(records: list[dict]) -> list[tuple[str, str]]:
    seen: dict[str, set] = {}
    for r in records:
        env = r["environment"]
        seen.setdefault("python", set()).add(env["python"])
        seen.setdefault("numpy", set()).add(env["numpy"])
        for fw in r.get("sides") or FRAMEWORKS:
            for package, version in env[fw]["versions"].items():
                seen.setdefault(package, set()).add(str(version))
            seen.setdefault(f"{fw} device", set()).add(env[fw]["device_name"])
    return [(k, ", ".join(sorted(v))) for k, v in seen.items()]


def _md(value) -> str:
    """Text from a record as inert Markdown: no HTML a renderer would run, no table breaks."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _mean_std(mean, std) -> str:
    if mean is None or mean != mean:
        return "n/a"
    return f"{mean:.4f}" if not std or std != std else f"{mean:.4f} ± {std:.4f}"


def against_published(df):
    """Per case of a published trial: published gap, ours, and ours minus published, the
    largest differences first."""
    both = df.dropna(subset=["gap", "published_gap"])
    moved = both.assign(moved=both["gap"] - both["published_gap"])
    return moved.loc[moved["moved"].abs().sort_values(ascending=False).index]


def _rho_text(row: dict) -> str:
    where = f"{row['arch_source']}, {row['mode']}, {row['arch']}"
    if row["rho"] is None:
        return f"{where}: {row['trials']} trials, too few (or constant) for a rank correlation"
    return f"{where}: Spearman rho {row['rho']:+.2f} (p {row['p']:.2g}, {row['trials']} trials)"


def markdown(df, records: list[dict], profile: str, published=None) -> str:
    """``report.md``: verdict counts, the largest gaps, what moved against the published."""
    from .export import published_frame

    df = with_published(df, published_frame() if published is None else published)
    counts = Counter(df["verdict"])
    lines = [
        f"# crossedwires report: profile {_md(profile)}",
        "",
        f"{len(df)} cases. Verdicts: " + ", ".join(f"{v} {counts[v]}" for v in VERDICT_COLOURS),
        "",
        _md(comparison_note(df)),
        "",
        "## Largest gaps (PyTorch - TensorFlow test accuracy)",
        "",
        "Accuracies are means over the seeds ± their standard deviation.",
        "",
        "| case | PyTorch | TensorFlow | gap | verdict |",
        "|---|---|---|---|---|",
    ]
    for _, r in _top(df).iterrows():
        lines.append(
            f"| `{_md(r['case'])}` | {_mean_std(r['pytorch'], r.get('pt_std'))} "
            f"| {_mean_std(r['tensorflow'], r.get('tf_std'))} "
            f"| {r['gap']:+.4f} | {_md(r['verdict'])} |"
        )
    lines += _against_published_lines(df)
    lines += _detectable_lines(records)
    sides = sides_text(records)
    if sides:
        lines += ["", "## Sides, pair by pair", "", "```", sides, "```"]
    lines += ["", "## Environment", ""]
    lines += [f"- {_md(k)}: {_md(v)}" for k, v in _environment(records)]
    return "\n".join(lines) + "\n"


def detectable_intro(found: dict) -> str:
    return (
        f"Per side, the smallest move of its mean test accuracy that the drift test of a rerun of "
        f"these baselines finds with 80% power: at each case's K, {found['family_size']} drift "
        f"tests (Bonferroni at alpha {found['alpha']}), margin {found['margin']} (or the case's "
        "own), from the spread of the case's seeds; a side at chance or whose seeds do not vary "
        "at the median spread of the sides that learn. None: no move the accuracy has room for "
        "is found that often."
    )


def _detectable_lines(records: list[dict]) -> list[str]:
    """``report.md``'s section: what the accuracy check of each case can see, per side."""
    from .report import detectable_cell, records_detectable

    found = records_detectable(records)
    if found is None:
        return []
    names = list(dict.fromkeys(s for sides in found["cases"].values() for s in sides))
    lines = ["", "## The smallest drift each side's check detects", "", detectable_intro(found)]
    heads = " | ".join(f"{n} detects ≥" for n in names)
    lines += ["", f"| case | {heads} |", "|---" * (len(names) + 1) + "|"]
    for case in sorted(found["cases"]):
        sides = found["cases"][case]
        cells = [
            _md(detectable_cell(sides[n]).removeprefix(">= ")) if n in sides else "" for n in names
        ]
        lines.append(f"| `{_md(case)}` | " + " | ".join(cells) + " |")
    return lines


def detectable_columns(df, records: list[dict]):
    """``df`` with ``pt_detects`` and ``tf_detects``: each side's smallest drift detected with
    80% power (a number, with the reason in brackets when the spread is borrowed; ``none``,
    ``not gated``), for the case table."""
    from .judge import detectable_text
    from .report import records_detectable

    found = records_detectable(records)
    cases = found["cases"] if found else {}

    def cell(case, side):
        if side not in (cases.get(case) or {}):
            return ""
        result = cases[case][side]
        if result is None:
            return "n/a"
        text = detectable_text(result).removeprefix(">= ")
        return f"{text} ({result['borrowed'].split(':')[0]})" if result["borrowed"] else text

    return df.assign(
        pt_detects=[cell(c, "pytorch") for c in df["case"]],
        tf_detects=[cell(c, "tensorflow") for c in df["case"]],
    )


def _against_published_lines(df) -> list[str]:
    moved = against_published(df)
    lines = ["", "## Against the published results", ""]
    if moved.empty:
        return lines + ["No case of a published trial has two accuracies to compare."]
    lines += [f"- {_md(_rho_text(row))}" for row in rank_correlations(df)]
    lines += [
        "",
        "| trial | case | published gap | our gap | ours - published | our verdict |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in moved.iterrows():
        lines.append(
            f"| {_md(r['trial'])} | `{_md(r['case'])}` | {r['published_gap']:+.4f} "
            f"| {r['gap']:+.4f} | {r['moved']:+.4f} | {_md(r['verdict'])} |"
        )
    return lines


# --- the page --------------------------------------------------------------------------------

TABLE_COLUMNS = {
    "case": "case",
    "arch": "arch",
    "arch_source": "source",
    "mode": "mode",
    "trial": "trial",
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "epochs": "epochs run",
    "published_epochs": "published epochs",
    "adam_epsilon": "Adam epsilon",
    "seeds": "seeds",
    "pytorch": "PyTorch",
    "pt_std": "PyTorch std",
    "tensorflow": "TensorFlow",
    "tf_std": "TensorFlow std",
    "pt_detects": "PyTorch detects ≥",
    "tf_detects": "TensorFlow detects ≥",
    "gap": "gap",
    "interval_low": "gap interval low",
    "interval_high": "gap interval high",
    "p_within": "p within",
    "p_beyond": "p beyond",
    "verdict": "verdict",
    "published_gap": "published gap",
}

# Click a header to sort (again: the other way); type to filter rows. Numbers sort as numbers,
# empty cells last. ``#sort=<header>`` in the address sorts on load. The table's data-sorted
# says the current order (tests read it).
TABLE_SCRIPT = """
(() => {
  const table = document.getElementById("cases");
  const body = table.tBodies[0];
  const heads = [...table.tHead.rows[0].cells];
  const value = (row, i) => {
    const text = row.cells[i].textContent.trim();
    const number = Number(text);
    return text === "" || text === "NaN" ? null : (Number.isNaN(number) ? text : number);
  };
  const sortBy = (i, descending) => {
    const rows = [...body.rows];
    rows.sort((a, b) => {
      const x = value(a, i), y = value(b, i);
      if (x === null || y === null) return (x === null) - (y === null);
      const order = typeof x === "number" && typeof y === "number"
        ? x - y : String(x).localeCompare(String(y));
      return descending ? -order : order;
    });
    rows.forEach(r => body.appendChild(r));
    heads.forEach(h => h.removeAttribute("aria-sort"));
    heads[i].setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.dataset.sorted = heads[i].textContent.trim() + (descending ? ":desc" : ":asc");
  };
  heads.forEach((h, i) => {
    h.style.cursor = "pointer";
    h.title = "sort";
    h.addEventListener("click", () => sortBy(i, h.getAttribute("aria-sort") === "ascending"));
  });
  const filter = document.getElementById("filter");
  const count = document.getElementById("shown");
  filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of body.rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every(w => text.includes(w));
      shown += !row.hidden;
    }
    count.textContent = shown;
  });
  const wanted = decodeURIComponent(location.hash.replace(/^#sort=/, ""));
  const index = heads.findIndex(h => h.textContent.trim() === wanted);
  if (location.hash.startsWith("#sort=") && index >= 0) sortBy(index, false);
})();
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter(i => i.naturalWidth > 0).length;
  document.body.dataset.images = images.length;
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #212529 }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em }
table { border-collapse: collapse; font-size: 0.85em }
td, th { border: 1px solid #dee2e6; padding: 0.2em 0.5em; text-align: left }
#cases th { background: #f1f3f5; position: sticky; top: 0 }
#cases td:first-child { white-space: nowrap }
.scroll { overflow-x: auto; max-width: 100% }
#cases th[aria-sort=ascending]::after { content: " \\25B2" }
#cases th[aria-sort=descending]::after { content: " \\25BC" }
.note { background: #fff9db; border-left: 4px solid #fab005; padding: 0.5em 1em }
.dot { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
       margin-right: 0.4em }
"""


def _img(png: str | None, alt: str, fallback: str = "") -> str:
    if png is None:
        return fallback
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def figure2_section(df, published) -> str:
    """One figure per architecture present, published and ours on the same scales."""
    archs = sorted(df["arch"].dropna().unique())
    pub_gap = (published["pt_test_acc"] - published["tf_test_acc"]).abs()
    vmax = max(float(pub_gap.max()), float(df["gap"].abs().max(skipna=True) or 0), 0.01)
    parts = []
    for arch in archs:
        png = figure2(arch, published, df, vmax)
        alt = f"Figure 2 view of {arch}: published and our gaps over the hyperparameters"
        parts.append(
            f'<figure class="figure2" data-arch="{html.escape(arch)}">{_img(png, alt)}'
            f"<figcaption>{html.escape(arch)}: learning rate x batch size x epochs trained, "
            "Adam epsilon as point size, |PyTorch - TensorFlow accuracy| as colour (one scale "
            "for all panels); trials below the published median |gap| of the architecture in "
            "grey, in both panels.</figcaption></figure>"
        )
    return "\n".join(parts)


def correlation_section(df) -> str:
    rows = rank_correlations(df)
    png = gap_against_published(df)
    if png is None:
        return "<p>No case of a published trial has two accuracies to compare.</p>"
    items = "".join(f"<li>{html.escape(_rho_text(r))}</li>" for r in rows)
    return _img(png, "our gap against the published gap per trial") + f"<ul>{items}</ul>"


def explain_section(explanations: list[dict]) -> str:
    if not explanations:
        return NO_EXPLANATIONS
    parts = []
    for report in explanations:
        alt = f"knob attribution of {report['case']}"
        parts.append(f'<figure class="knobs">{_img(knob_chart(report), alt)}</figure>')
    return "\n".join(parts)


def sides_text(records: list[dict]) -> str:
    """For each record of three or more sides: the pairwise gap matrix and the vote, as the
    end-of-run summary prints them (``report.pairs_section``); empty when there is none."""
    from .report import pairs_section, sides_row

    return pairs_section([{"case": r["case"]["id"], **sides_row(r)} for r in records])


def sides_section(records: list[dict]) -> str:
    text = sides_text(records)
    if not text:
        return ""
    return (
        "<h2>Sides, pair by pair (gap = row minus column; the vote)</h2>\n"
        f'<pre class="sides">{html.escape(text)}</pre>'
    )


def case_table(df) -> str:
    columns = [c for c in TABLE_COLUMNS if c in df]
    table = df[columns].sort_values("case").rename(columns=TABLE_COLUMNS)
    text = table.to_html(
        index=False, float_format=lambda x: f"{x:.4g}", border=0, table_id="cases", na_rep=""
    )
    box = (
        '<p><label>Filter: <input id="filter" type="search" placeholder="e.g. resnet50 '
        f'mismatch"></label> <span id="shown">{len(table)}</span> of {len(table)} cases shown; '
        "click a header to sort.</p>"
    )
    return box + f'<div class="scroll">{text}</div>'


def detectable_note(records: list[dict]) -> str:
    from .report import records_detectable

    found = records_detectable(records)
    if found is None:
        return ""
    return (
        f'<p id="detects">"detects ≥": {html.escape(detectable_intro(found))} In brackets: why a '
        "side is judged at that borrowed spread.</p>"
    )


def page(
    df, records: list[dict], profile: str, published=None, explanations=None, localizations=None
) -> str:
    from .export import published_frame

    published = published_frame() if published is None else published
    df = with_published(df, published)
    counts = Counter(df["verdict"])
    esc = html.escape
    known = df.dropna(subset=["gap"])
    verdicts = "".join(
        f'<li><span class="dot" style="background:{c}"></span>{v}: {counts[v]}</li>'
        for v, c in VERDICT_COLOURS.items()
    )
    env = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _environment(records))
    accuracy = _img(accuracy_scatter(df), "PyTorch against TensorFlow accuracy", NOTHING_TO_PLOT)
    histogram = _img(gap_histogram(df), "histogram of the accuracy gap") if len(known) else ""
    losses = _img(loss_curves(_top(df)), "training loss per epoch of the largest gaps")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>crossedwires report: profile {esc(profile)}</title>
<style>{STYLE}</style></head>
<body>
<h1>crossedwires report: profile {esc(profile)}</h1>
<p>{len(df)} cases, each trained in PyTorch and in TensorFlow/Keras with the same
hyperparameters. Gap = PyTorch test accuracy minus TensorFlow test accuracy (means over the
seeds).</p>
<p class="note" id="compares">{esc(comparison_note(df), quote=False)}</p>
<h2>Verdicts</h2><ul>{verdicts}</ul>
<h2>The published gaps beside ours, as the paper's Figure 2</h2>
{figure2_section(df, published)}
<h2>Our gap against the published gap, per trial</h2>
{correlation_section(df)}
<h2>PyTorch against TensorFlow accuracy</h2>
{accuracy}
<h2>Distribution of the gap</h2>
{histogram}
{sides_section(records)}
<h2>Which framework default carries a gap (crossedwires explain)</h2>
{explain_section(explanations or [])}
<h2>Where the frameworks part, layer by layer (crossedwires localize)</h2>
{localize_section(localizations or [])}
<h2>Top {TOP} gaps: training-loss curves</h2>
{losses}
<h2>Cases</h2>
{detectable_note(records)}
{case_table(detectable_columns(df, records))}
<h2>Environment</h2><table>{env}</table>
<script>{TABLE_SCRIPT}</script>
</body></html>
"""


def write_report(
    records: list[dict],
    profile: str,
    out_dir: Path,
    progress: bool = True,
    published=None,
    explanations: list[dict] | None = None,
    localizations: list[dict] | None = None,
) -> dict:
    """Write ``report.html`` and ``report.md`` into ``out_dir``; their paths. ``published``:
    the published results (default: the shipped table, ``export.published_frame()``);
    ``explanations``: ``crossedwires explain --json`` results (``load_explanations``);
    ``localizations``: ``crossedwires localize --json`` results (``load_localizations``)."""
    from tqdm import tqdm

    from .export import published_frame

    steps = tqdm(total=3, desc="report", disable=not progress, unit="step")
    published = published_frame() if published is None else published
    df = frame(records)
    steps.update()
    text = page(df, records, profile, published, explanations, localizations)
    steps.update()
    out_dir = Path(out_dir)
    paths = {"html": out_dir / "report.html", "markdown": out_dir / "report.md"}
    atomic.write_text(paths["html"], text)
    atomic.write_text(paths["markdown"], markdown(df, records, profile, published))
    steps.update()
    steps.close()
    return paths
