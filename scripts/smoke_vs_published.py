"""The smoke cases' gaps beside the published ones: ``python scripts/smoke_vs_published.py``
prints a Markdown table (docs/smoke.md holds its output).

One row per committed smoke case baseline: the published trial's test accuracies and gap
(CIFAR-10, the trial's own epochs, one run per framework) and the smoke case's (digits32, 1024
training images, 1 epoch, mirror models at width 0.25 where the id says mirror; means over K
seeds, with the gap's 90% interval), and the verdict. A smoke case is a proxy: another data
set, far fewer steps; the columns say what each number is, not that they should agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    import pandas as pd

    published = pd.read_csv(ROOT / "harness" / "resources" / "crossedwires-published.csv")
    published = published.set_index(["arch", "Name"])
    rows = [
        "| smoke case | published PyTorch | published TF | published gap | smoke PyTorch "
        "| smoke TF | smoke gap [90% interval] | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted((ROOT / "baselines" / "smoke").rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") == "numerics":
            continue
        case, res = record["case"], record["results"]
        pub = published.loc[(case["arch"], case["source_trial"])]
        pt, tf = res["pytorch"]["test_accuracy"], res["tensorflow"]["test_accuracy"]
        stats = (record["comparison"] or {}).get("statistics")
        gap = "n/a" if pt is None or tf is None else f"{pt - tf:+.3f}"
        if stats:
            lo, hi = stats["interval"]
            gap += f" [{lo:+.3f}, {hi:+.3f}]"
        rows.append(
            f"| `{case['id']}` | {pub.pt_test_acc:.3f} | {pub.tf_test_acc:.3f} "
            f"| {pub.pt_test_acc - pub.tf_test_acc:+.3f} "
            f"| {_acc(pt)} | {_acc(tf)} | {gap} | {record['verdict']} |"
        )
    print("\n".join(rows))
    return 0


def _acc(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
