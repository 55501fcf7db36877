"""The cost model on constructed timings."""

from __future__ import annotations

import json

import pytest

from harness.cases import Case, get_case_set
from harness.cli import main
from harness.errors import ConfigError
from harness.estimate import estimate, format_hours, load_timings, throughput
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


def test_estimate_names_its_hardware_and_never_divides_by_the_published_gpu_hours(tmp_path, capsys):
    path = _timings(tmp_path, rate_at=((10, 500.0), (1000, 5000.0)))
    assert main(["estimate", "--profile", "full", "--timings", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        f"hardware: test gpu (the timings in {path} were measured there)",
        "1200 cases of profile full, each trained in both frameworks, projected on that hardware:",
    ]
    assert lines[-2].startswith("total: ") and lines[-2].endswith(" h on test gpu")
    assert lines[-1] == (
        "for context only: the published runs took about 259 GPU-hours on GPUs, a different "
        "device: not comparable with hours projected on other hardware"
    )
    assert not any("ratio" in line for line in lines)
    assert sum("259" in line for line in lines) == 1


def test_estimate_defaults_to_the_default_profile_and_shows_minutes_under_an_hour(tmp_path, capsys):
    path = _timings(tmp_path)
    assert main(["estimate", "--timings", str(path)]) == 0
    out = capsys.readouterr().out
    n = len(get_case_set("smoke"))
    assert f"{n} cases of profile smoke" in out and " min on test gpu" in out
    assert format_hours(0.5) == "30.0 min" and format_hours(1234.56) == "1,234.6 h"


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
