"""``harness.htmlreport``: the report of the committed smoke baselines beside the published
results, read as HTML and Markdown text (no browser: ``tests/test_report.py`` opens it in one).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import htmlreport, knobs
from harness.cli import load_profile_baselines
from harness.errors import HarnessError
from harness.export import published_frame

from .conftest import make_record, make_seeded_record

ROOT = Path(__file__).resolve().parent.parent
# the smoke baselines: one epoch, and DenseNet121's aligned mirror case with its own budget
PROXY = (
    "This compares a proxy (digits32, 1024 images, 1 epoch; digits32, 1024 images, 4 epochs) "
    "with the paper's CIFAR-10 runs"
)


def explain_result(case: str = "densenet121-mirror-adam-lr0.0375-bs10-ep1-eps1") -> dict:
    """What ``crossedwires explain --json`` writes, with made-up numbers."""
    rows = [
        {
            "knob": k.name,
            "effect_from_aligned": 0.1 * (i - 2),
            "effect_from_native": 0.08 * (i - 2),
            "effect_from_aligned_interval": [0.1 * (i - 2) - 0.03, 0.1 * (i - 2) + 0.05],
            "share_from_aligned": None,
            "share_from_native": None,
        }
        for i, k in enumerate(knobs.KNOBS)
    ]
    return {
        "case": case,
        "profile": "smoke",
        "native": {"pytorch": 0.85, "tensorflow": 0.19, "gap": 0.66},
        "aligned": {"pytorch": 0.79, "tensorflow": 0.77, "gap": 0.02},
        "explainable": 0.64,
        "knobs": rows,
        "seeds": [0, 1, 2],
        "residual_from_aligned": -0.07,
        "residual_from_aligned_interval": [-0.12, -0.02],
        "residual_from_native": 0.03,
        "residual_from_native_interval": None,
        "skipped": {},
    }


@pytest.fixture(scope="module")
def records():
    return load_profile_baselines(ROOT / "baselines", "smoke")


@pytest.fixture(scope="module")
def report(records, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = htmlreport.write_report(
        records, "smoke", out, progress=False, explanations=[explain_result()]
    )
    return paths["html"].read_text(), paths["markdown"].read_text()


def test_one_figure_2_view_per_architecture_present(report, records):
    page, _ = report
    archs = sorted({r["case"]["arch"] for r in records})
    assert re.findall(r'<figure class="figure2" data-arch="([^"]+)">', page) == archs
    for arch in archs:
        assert f'alt="Figure 2 view of {arch}: published and our gaps' in page


def test_the_page_says_smoke_compares_a_proxy_with_the_paper(report):
    page, md = report
    assert PROXY in page and PROXY in md


def test_every_case_is_in_the_sortable_filterable_table(report, records):
    page, _ = report
    assert re.search(r'<table [^>]*id="cases">', page)
    assert '<input id="filter" type="search"' in page
    assert 'addEventListener("click"' in page and 'filter.addEventListener("input"' in page
    table = page[page.index('id="cases"') :]
    for record in records:
        assert f"<td>{record['case']['id']}</td>" in table


def test_verdict_counts_name_every_verdict(report, records):
    page, md = report
    for verdict in htmlreport.VERDICT_COLOURS:
        count = sum(r["verdict"] == verdict for r in records)
        assert f"{verdict}: {count}</li>" in page
        assert f"{verdict} {count}" in md
    assert "uninformative" in page


def test_the_page_stands_alone(report):
    page, _ = report
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page and "<link" not in page
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)
    assert len(images) >= 7  # 2 Figure-2 views, per trial, accuracy, gap, knobs, losses


def test_explain_results_get_a_knob_chart_and_their_absence_is_said(records, tmp_path):
    page = htmlreport.page(htmlreport.frame(records), records, "smoke")
    assert htmlreport.NO_EXPLANATIONS in page
    assert 'alt="knob attribution of' not in page
    two = [explain_result(), explain_result("resnet50-mirror-adam-lr0.0623-bs10-ep1-eps0.952")]
    page = htmlreport.page(htmlreport.frame(records), records, "smoke", explanations=two)
    assert page.count('<figure class="knobs">') == 2


def test_the_rank_correlation_is_given_where_enough_trials_have_both(records):
    df = htmlreport.with_published(htmlreport.frame(records), published_frame())
    rows = {(r["arch_source"], r["mode"], r["arch"]): r for r in htmlreport.rank_correlations(df)}
    zoo = rows[("zoo", "native", "all")]
    assert zoo["trials"] == 3 and -1 <= zoo["rho"] <= 1
    assert rows[("mirror", "native", "all")]["rho"] is None  # two trials: too few


def test_report_md_lists_what_moved_against_the_published_largest_first(report, records):
    _, md = report
    section = md[md.index("## Against the published results") :]
    assert "| trial | case | published gap | our gap | ours - published | our verdict |" in section
    moved = [float(m) for m in re.findall(r"\| [+-][0-9.]+ \| ([+-][0-9.]+) \| \w+ \|", section)]
    assert len(moved) == len(records)  # every smoke baseline comes from a published trial
    assert [abs(m) for m in moved] == sorted((abs(m) for m in moved), reverse=True)
    assert "Spearman rho" in section


@pytest.mark.parametrize(
    "make",
    [
        lambda: [make_record()],  # one seed, two epochs
        lambda: [make_seeded_record([70, 72, 75, 71, 69], [20, 22, 25, 19, 21])],  # five seeds
        lambda: [make_record(error="RuntimeError: boom")],  # no accuracy on one side
    ],
    ids=["1-seed", "5-seeds", "failed"],
)
def test_the_figures_are_built_for_one_and_five_seeds(make, tmp_path):
    records = make()
    df = htmlreport.with_published(htmlreport.frame(records), published_frame())
    htmlreport.figure2_section(df, published_frame())
    htmlreport.accuracy_scatter(df)
    htmlreport.gap_against_published(df)
    htmlreport.loss_curves(htmlreport._top(df))
    htmlreport.knob_chart(explain_result())
    paths = htmlreport.write_report(records, "smoke", tmp_path, progress=False)
    assert "<td>" + records[0]["case"]["id"] + "</td>" in paths["html"].read_text()


def test_an_explain_file_that_is_not_one_is_refused_by_name(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(explain_result()))
    bad.write_text(json.dumps({"case": "x"}))
    assert htmlreport.load_explanations([good])[0]["case"] == explain_result()["case"]
    with pytest.raises(HarnessError, match="bad.json: not an explain result"):
        htmlreport.load_explanations([bad])


def test_the_report_states_per_side_the_smallest_drift_it_detects(report, records):
    """Markdown and the page's case table: per case and side, the move found with 80% power by
    a rerun of these baselines (two drift tests per smoke case), at each case's own drift margin
    where it has one; TensorFlow at chance is judged at the spread of the sides that learn, not
    at its own 0.001."""
    from harness import judge
    from harness.baselines import per_seed
    from harness.report import detectable_cell

    page, md = report
    pool = [
        (per_seed(r, s), tuple(r["comparison"]["chance_band"]))
        for r in records
        for s in ("pytorch", "tensorflow")
    ]
    spread = judge.learning_spread(pool)
    family = 2 * len(records)
    assert 0.03 < spread["sigma"] < 0.07 and spread["sides"] < family
    section = md[md.index("## The smallest drift each side's check detects") :]
    assert f"{family} drift tests (Bonferroni at alpha 0.05), margin 0.1" in section
    assert "| case | pytorch detects ≥ | tensorflow detects ≥ |" in section
    at_chance = 0
    for r in records:
        cells = []
        for side in ("pytorch", "tensorflow"):
            then = per_seed(r, side)
            band = tuple(r["comparison"]["chance_band"])
            margin = r["tolerance"].get("drift_margin", 0.1)
            want = judge.detectable(then, 5, family, 0.05, margin, band, spread)
            at_chance += want["borrowed"] is not None
            cells.append(htmlreport._md(detectable_cell(want).removeprefix(">= ")))
        assert f"| `{r['case']['id']}` | {cells[0]} | {cells[1]} |" in section
    assert at_chance >= 2
    assert "<th>PyTorch detects ≥</th>" in page and "<th>TensorFlow detects ≥</th>" in page
    assert page.count("(at chance)</td>") == at_chance
    assert 'id="detects"' in page


def test_a_one_seed_baseline_is_not_gated_in_the_report(tmp_path):
    paths = htmlreport.write_report([make_record()], "smoke", tmp_path, progress=False)
    md = paths["markdown"].read_text()
    assert "| not gated | not gated |" in md
    assert "<td>not gated</td>" in paths["html"].read_text()
