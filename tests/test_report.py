"""``crossedwires report`` and ``crossedwires export``: looked at as a person would.

The report is opened in a real headless browser (Debian's chromium): every embedded image must
decode (``naturalWidth > 0``, counted by the page's own script after load) and the screenshot
must not be blank. Without chromium this test fails with the command that installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
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


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("no chromium to open the report in: apt-get install chromium", pytrace=False)


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


def test_it_renders_in_a_headless_browser_with_every_image(report, tmp_path):
    browser = chromium()
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


def test_the_case_table_sorts_in_a_headless_browser(report):
    """``#sort=<header>`` runs the page's own sorting on load: the gaps come out ascending."""
    browser = chromium()
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
