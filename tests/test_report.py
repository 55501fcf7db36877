"""``crossedwires report`` and ``crossedwires export``: looked at as a person would.

The report is opened in a real headless browser (Debian's chromium): every embedded image must
decode (``naturalWidth > 0``, counted by the page's own script after load) and the screenshot
must not be blank. That test is marked ``browser``: without a browser (chromium, chromium-browser,
google-chrome on PATH, or ``$CROSSEDWIRES_CHROMIUM``) a run that selects it stops at collection with
the command that installs one (``tests/conftest.py``), which the last tests here check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "baselines"


def case_baselines() -> list:
    """The committed smoke baselines of cases (numerics checks' records hold no accuracies)."""
    paths = sorted((BASELINES / "smoke").rglob("*.json"))
    return [p for p in paths if json.loads(p.read_text()).get("kind") != "numerics"]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def images_in(report: Path) -> list[str]:
    page = (report / "report.html").read_text()
    return re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    run = cli("report", "--profile", "smoke", "--out", str(out), "--no-progress")
    assert run.returncode == 0, run.stderr
    return out


def test_the_page_stands_alone_with_its_plots(report):
    page = (report / "report.html").read_text()
    assert len(images_in(report)) >= 6  # 2 Figure-2 views, per trial, accuracy, gap, losses
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere
    cases = len(case_baselines())
    assert f"{cases} cases" in page
    md = (report / "report.md").read_text()
    assert md.startswith("# crossedwires report: profile smoke")
    assert "| case | PyTorch | TensorFlow | gap | verdict |" in md


@pytest.mark.browser
def test_it_renders_in_a_headless_browser_with_every_image(report, tmp_path, browser):
    url = (report / "report.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    n = len(images_in(report))
    assert f'data-images-loaded="{n}"' in body.group(0) and f'data-images="{n}"' in body.group(0)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *flags, "--window-size=1300,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (2400, 1300)
    assert image.std() > 20  # not a blank page: text, plots and tables


def test_export_writes_csv_and_parquet_with_the_same_rows(tmp_path):
    run = cli("export", "--profile", "smoke", "--out", str(tmp_path / "smoke"))
    assert run.returncode == 0, run.stderr
    csv = pd.read_csv(tmp_path / "smoke.csv")
    parquet = pd.read_parquet(tmp_path / "smoke.parquet")
    assert list(csv["case_id"]) == list(parquet["case_id"])
    assert len(csv) == len(case_baselines())
    np.testing.assert_allclose(csv["pt_test_acc"], parquet["pt_test_acc"])
    assert list(csv.columns[:4]) == ["arch", "Name", "accuracy_diff", "pt_test_acc"]


def test_export_puts_the_weights_beside_the_table_named_by_case_id(tmp_path):
    weights = tmp_path / "weights"
    ids = []
    for path in case_baselines():
        record = json.loads(path.read_text())
        ids.append(record["case"]["id"])
        for fw in ("pytorch", "tensorflow"):
            target = weights / "smoke" / record["case"]["arch"] / f"{ids[-1]}.{fw}.npz"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.savez(target, w=np.arange(3.0))
    missing = weights / "smoke" / record["case"]["arch"] / f"{ids[-1]}.tensorflow.npz"
    missing.unlink()
    run = cli("export", "--out", str(tmp_path / "x.csv"), "--weights", str(weights))
    assert run.returncode == 2
    assert "1 weight files are missing" in run.stderr
    assert "--save-weights" in run.stderr and not (tmp_path / "x.csv").exists()
    np.savez(missing, w=np.arange(3.0))
    run = cli("export", "--out", str(tmp_path / "x.csv"), "--weights", str(weights))
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(tmp_path / "x.csv")
    first = table.iloc[0]
    assert first["pt_weights"].endswith(f"x-weights/{first['case_id']}.pytorch.npz")
    assert Path(first["tf_weights"]).exists()
    with np.load(first["pt_weights"], allow_pickle=False) as archive:
        assert list(archive["w"]) == [0.0, 1.0, 2.0]


@pytest.mark.browser
def test_the_case_table_sorts_in_a_headless_browser(report, browser):
    """``#sort=<header>`` runs the page's own sorting on load: the gaps come out ascending."""
    url = (report / "report.html").as_uri() + "#sort=gap"
    flags = ["--headless", "--no-sandbox", "--disable-gpu"]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-sorted="gap:asc"' in dom.stdout, dom.stderr[-2000:]
    table = dom.stdout[dom.stdout.index('id="cases"') :].split("</table>")[0]
    rows = [
        re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]
    column = [cell.strip() for cell in rows[0]].index("gap")
    gaps = [float(row[column]) for row in rows[1:] if row[column].strip()]
    assert len(rows) - 1 == len(case_baselines()) and gaps == sorted(gaps)


# The browser check (tests/conftest.py): a run that selects a test marked `browser` on a machine
# without one stops at collection, in seconds, with the fix; it never skips the test.


def pytest_run(*args: str, tmp_path: Path, browser: str | None = None):
    """Run pytest here with no browser on PATH (PATH is an empty folder: python is called by its
    path) and $CROSSEDWIRES_CHROMIUM unset, or set to ``browser``."""
    env = {k: v for k, v in os.environ.items() if k != "CROSSEDWIRES_CHROMIUM"}
    env["PATH"] = str(tmp_path / "empty-path")
    (tmp_path / "empty-path").mkdir(exist_ok=True)
    if browser is not None:
        env["CROSSEDWIRES_CHROMIUM"] = browser
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return run, time.monotonic() - start


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_without_a_browser_the_run_stops_at_collection_naming_the_fix(tmp_path, workers):
    run, seconds = pytest_run("tests/test_report.py", *workers, tmp_path=tmp_path)
    assert run.returncode == 4, run.stdout[-3000:] + run.stderr[-3000:]
    assert "no tests ran" in run.stdout and "INTERNALERROR" not in run.stdout + run.stderr
    message = [line for line in run.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(message) == 1, run.stderr  # said once, also with two workers
    assert message[0] == (
        "ERROR: 2 selected test(s) open a page in a headless browser (marked browser, e.g. "
        "tests/test_report.py::test_it_renders_in_a_headless_browser_with_every_image), and no "
        "chromium, chromium-browser or google-chrome on PATH. Install one (Debian: sudo "
        "apt-get install chromium), or point CROSSEDWIRES_CHROMIUM at a Chromium or Chrome "
        'binary, or leave them out with -m "not browser" (e.g. pytest -n 2 -m "not heavy and '
        'not browser")'
    )
    assert seconds < 60  # before any test runs, not after the rest of the suite


def test_without_a_browser_a_run_that_leaves_the_browser_tests_out_goes_on(tmp_path):
    run, _ = pytest_run(
        "tests/test_report.py", "-m", "not browser", "--collect-only", "-q", tmp_path=tmp_path
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_it_renders_in_a_headless_browser" not in run.stdout
    assert "test_export_writes_csv_and_parquet_with_the_same_rows" in run.stdout


def test_the_browser_can_be_named_by_a_variable_and_a_wrong_name_is_refused(tmp_path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    run, _ = pytest_run(
        "tests/test_report.py", "--collect-only", "-q", tmp_path=tmp_path, browser=str(fake)
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_it_renders_in_a_headless_browser_with_every_image" in run.stdout
    missing = tmp_path / "no-such-chrome"
    run, _ = pytest_run(
        "tests/test_report.py", "--collect-only", "-q", tmp_path=tmp_path, browser=str(missing)
    )
    assert run.returncode == 4
    assert f"and CROSSEDWIRES_CHROMIUM={missing} is not an executable program. " in run.stderr
