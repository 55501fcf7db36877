"""``crossedwires report``: one self-contained HTML page and a Markdown summary of a profile's
baselines, for people who look at a dataset before they read it.

The page has, per architecture, PyTorch accuracy against TensorFlow accuracy (with the
diagonal), the distribution of the gap, the hyperparameter space coloured by the gap (as the
CrossedWires paper's Figure 2), the top mismatches with their training-loss curves side by side,
verdict counts, and the environment the baselines were made in. Plots are drawn with matplotlib
and embedded as PNG data URIs, so the file stands alone (no network, no side files).
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections import Counter
from pathlib import Path

from . import atomic
from .adapters import FRAMEWORKS

VERDICT_COLOURS = {
    "agree": "#2b8a3e",
    "mismatch": "#c92a2a",
    "inconclusive": "#e67700",
    "uninformative": "#adb5bd",
    "diverged": "#5f3dc4",
    "error": "#495057",
}
TOP = 5


def frame(records: list[dict]):
    """One row per case: what the plots and tables read."""
    import pandas as pd

    rows = []
    for r in records:
        case, res = r["case"], r["results"]
        hp = case["hyperparameters"]
        pt, tf = res["pytorch"]["test_accuracy"], res["tensorflow"]["test_accuracy"]
        rows.append(
            {
                "case": case["id"],
                "arch": case["arch"],
                "arch_source": case["arch_source"],
                "mode": case["mode"],
                "learning_rate": hp["learning_rate"],
                "batch_size": hp["batch_size"],
                "epochs": case["epochs_run"],
                "adam_epsilon": hp["adam_epsilon"],
                "pytorch": pt,
                "tensorflow": tf,
                "gap": None if None in (pt, tf) else pt - tf,
                "verdict": r["verdict"],
                "pt_loss": res["pytorch"]["training_loss"],
                "tf_loss": res["tensorflow"]["training_loss"],
            }
        )
    return pd.DataFrame(rows)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figures(df) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs = sorted(df["arch"].unique())
    figs = {}

    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        sub = df[df["arch"] == arch].dropna(subset=["gap"])
        ax.plot([0, 1], [0, 1], color="#adb5bd", lw=1, zorder=0)
        for verdict, group in sub.groupby("verdict"):
            ax.scatter(
                group["tensorflow"],
                group["pytorch"],
                s=28,
                color=VERDICT_COLOURS.get(verdict, "black"),
                label=f"{verdict} ({len(group)})",
            )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="TensorFlow test accuracy", title=arch)
        ax.set_ylabel("PyTorch test accuracy")
        ax.set_aspect("equal")
        if len(sub):
            ax.legend(fontsize=8, loc="lower right")
    figs["scatter"] = _png(fig)

    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 3.2), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        gaps = df[df["arch"] == arch]["gap"].dropna()
        ax.hist(gaps, bins=min(30, max(5, len(gaps))), range=(-1, 1), color="#1971c2")
        ax.axvline(0, color="#adb5bd", lw=1)
        ax.set(xlabel="gap (PyTorch - TensorFlow accuracy)", ylabel="cases", title=arch)
    figs["gaps"] = _png(fig)

    known = df.dropna(subset=["gap"])
    if known.empty:  # every case failed: nothing to place in the space (the page says so)
        return figs
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    pairs = (("learning_rate", "batch_size"), ("epochs", "adam_epsilon"))
    for ax, (x, y) in zip(axes, pairs, strict=True):
        points = ax.scatter(
            known[x], known[y], c=known["gap"].abs(), cmap="viridis", vmin=0, vmax=1, s=30
        )
        ax.set(xlabel=x, ylabel=y)
        if x == "learning_rate":
            ax.set_xscale("log")
            ax.set_yscale("log")
    fig.colorbar(points, ax=axes, label="|gap|")
    figs["space"] = _png(fig)

    top = _top(df)
    if len(top):
        fig, axes = plt.subplots(1, len(top), figsize=(3.4 * len(top), 3.2), squeeze=False)
        for ax, (_, row) in zip(axes[0], top.iterrows(), strict=True):
            for name, losses, colour in (
                ("PyTorch", row["pt_loss"], "#e8590c"),
                ("TensorFlow", row["tf_loss"], "#1971c2"),
            ):
                epochs = list(range(1, len(losses) + 1))
                ax.plot(epochs, losses, marker="o", color=colour, label=name)
            ax.set(xlabel="epoch", ylabel="training loss")
            title = textwrap.fill(row["case"], 30) + f"\ngap {row['gap']:+.3f}"
            ax.set_title(title, fontsize=7)
            ax.legend(fontsize=7)
        figs["losses"] = _png(fig)
    return figs


def _top(df):
    known = df.dropna(subset=["gap"])
    order = known["gap"].abs().sort_values(ascending=False).index
    return known.loc[order].head(TOP)


def _environment(records: list[dict]) -> list[tuple[str, str]]:
    seen: dict[str, set] = {}
    for r in records:
        env = r["environment"]
        seen.setdefault("python", set()).add(env["python"])
        seen.setdefault("numpy", set()).add(env["numpy"])
        for fw in FRAMEWORKS:
            for package, version in env[fw]["versions"].items():
                seen.setdefault(package, set()).add(str(version))
            seen.setdefault(f"{fw} device", set()).add(env[fw]["device_name"])
    return [(k, ", ".join(sorted(v))) for k, v in seen.items()]


def _md(value) -> str:
    """Text from a record as inert Markdown: no HTML a renderer would run, no table breaks."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def markdown(df, records: list[dict], profile: str) -> str:
    counts = Counter(df["verdict"])
    lines = [
        f"# crossedwires report: profile {_md(profile)}",
        "",
        f"{len(df)} cases. Verdicts: " + ", ".join(f"{v} {counts[v]}" for v in VERDICT_COLOURS),
        "",
        "## Largest gaps (PyTorch - TensorFlow test accuracy)",
        "",
        "| case | PyTorch | TensorFlow | gap | verdict |",
        "|---|---|---|---|---|",
    ]
    for _, r in _top(df).iterrows():
        lines.append(
            f"| `{_md(r['case'])}` | {r['pytorch']:.4f} | {r['tensorflow']:.4f} "
            f"| {r['gap']:+.4f} | {_md(r['verdict'])} |"
        )
    lines += ["", "## Environment", ""]
    lines += [f"- {_md(k)}: {_md(v)}" for k, v in _environment(records)]
    return "\n".join(lines) + "\n"


NOTHING_TO_PLOT = "<p>No case has two accuracies to compare.</p>"


def page(df, records: list[dict], profile: str) -> str:
    figs = _figures(df)
    counts = Counter(df["verdict"])
    esc = html.escape

    def img(key: str, alt: str) -> str:
        if key not in figs:
            return ""
        return f'<img alt="{esc(alt)}" src="data:image/png;base64,{figs[key]}">'

    table = df.drop(columns=["pt_loss", "tf_loss"]).sort_values("case")
    verdicts = "".join(
        f'<li><span class="dot" style="background:{c}"></span>{v}: {counts[v]}</li>'
        for v, c in VERDICT_COLOURS.items()
    )
    env = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _environment(records))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>crossedwires report: profile {esc(profile)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #212529 }}
img {{ max-width: 100%; display: block; margin: 0.5em 0 1.5em }}
table {{ border-collapse: collapse; font-size: 0.85em }}
td, th {{ border: 1px solid #dee2e6; padding: 0.2em 0.5em; text-align: left }}
.dot {{ display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
        margin-right: 0.4em }}
</style></head>
<body>
<h1>crossedwires report: profile {esc(profile)}</h1>
<p>{len(df)} cases, each trained in PyTorch and in TensorFlow/Keras with the same
hyperparameters. Gap = PyTorch test accuracy minus TensorFlow test accuracy.</p>
<h2>Verdicts</h2><ul>{verdicts}</ul>
<h2>PyTorch against TensorFlow accuracy</h2>
{img("scatter", "scatter of PyTorch against TensorFlow test accuracy per architecture")}
<h2>Distribution of the gap</h2>
{img("gaps", "histogram of the accuracy gap per architecture")}
<h2>Hyperparameter space coloured by the gap</h2>
{img("space", "hyperparameters coloured by the absolute gap") or NOTHING_TO_PLOT}
<h2>Top {TOP} gaps: training-loss curves</h2>
{img("losses", "training loss per epoch of the largest gaps")}
<h2>Cases</h2>
{table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0)}
<h2>Environment</h2><table>{env}</table>
<script>
window.addEventListener("load", () => {{
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter(i => i.naturalWidth > 0).length;
  document.body.dataset.images = images.length;
}});
</script>
</body></html>
"""


def write_report(records: list[dict], profile: str, out_dir: Path, progress: bool = True) -> dict:
    """Write ``report.html`` and ``report.md`` into ``out_dir``; their paths."""
    from tqdm import tqdm

    steps = tqdm(total=3, desc="report", disable=not progress, unit="step")
    df = frame(records)
    steps.update()
    text = page(df, records, profile)
    steps.update()
    out_dir = Path(out_dir)
    paths = {"html": out_dir / "report.html", "markdown": out_dir / "report.md"}
    atomic.write_text(paths["html"], text)
    atomic.write_text(paths["markdown"], markdown(df, records, profile))
    steps.update()
    steps.close()
    return paths
