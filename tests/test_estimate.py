"""The cost model on constructed timings."""

from __future__ import annotations

import json

import pytest

from harness.cases import Case
from harness.cli import main
from harness.errors import ConfigError
from harness.estimate import estimate, load_timings, throughput
from harness.profiles import get_profile


def _timings(tmp_path, rate_at=((100, 1000.0),)):
    rows = [
        {"framework": fw, "arch": arch, "batch_size": bs, "harness_images_per_s": rate}
        for fw in ("pytorch", "tensorflow")
        for arch in ("vgg16", "resnet50", "densenet121")
        for bs, rate in rate_at
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"device": "test gpu", "rows": rows}))
    return path


def test_hours_follow_epochs_images_and_throughput(tmp_path):
    device, timings = load_timings(_timings(tmp_path))
    assert device == "test gpu"
    hours = estimate((Case("vgg16", 1e-3, 100, 2, 1e-7),), timings, get_profile("full"))
    expected = (2 * 50_000 / 1000 + 10_000 / 3000) / 3600
    assert hours[("pytorch", "vgg16")] == pytest.approx(expected)
    assert hours[("tensorflow", "vgg16")] == pytest.approx(expected)


def test_throughput_interpolates_in_log_batch_size_and_holds_outside():
    points = [(10, 100.0), (1000, 300.0)]
    assert throughput(points, 100) == pytest.approx(200.0)
    assert throughput(points, 5) == 100.0 and throughput(points, 5000) == 300.0


def test_estimate_command_prints_the_published_hours_beside(tmp_path, capsys):
    path = _timings(tmp_path, rate_at=((10, 500.0), (1000, 5000.0)))
    assert main(["estimate", "--profile", "full", "--timings", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"1200 cases of profile full, each trained in both frameworks, on test gpu (from {path}):"
    )
    assert "the published runs: 259 GPU-hours" in out


def test_a_bad_timings_file_is_named(tmp_path):
    with pytest.raises(
        ConfigError,
        match="no such timings file; make one with: python benchmarks/overhead.py --json",
    ):
        load_timings(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": [{"framework": "pytorch"}]}')
    with pytest.raises(ConfigError, match=f"{bad}: not a timings file"):
        load_timings(bad)
