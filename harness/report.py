"""Tables for people: the end-of-run summary of a pytest session."""

from __future__ import annotations

import pandas as pd

COLUMNS = ["case", "acc PyTorch", "acc TF", "difference", "verdict", "baseline"]


def summary_table(rows: list[dict]) -> str:
    """One line per case, sorted by case id: accuracies, difference, verdict, baseline status."""
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("case")
    return frame.to_string(index=False, na_rep="n/a", float_format=lambda x: f"{x:.4f}")
