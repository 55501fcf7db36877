"""The built-in suite's parametrization: the case table of the run's profile
(``harness/cases.py``), the numerics checks (``harness/numerics.py``) and the fuzzer's findings
(``difftests/found/*.json``, ``harness/fuzz.py``). Everything else (the
options, the ``framework_pair`` fixture, the order of the cases, the end-of-run table) is the
installed pytest plugin's, ``harness/pytest_plugin.py``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness import fuzz, numerics
from harness.cases import get_case_set
from harness.pytest_plugin import PLUGIN_NAME


def pytest_generate_tests(metafunc):
    if "found_file" in metafunc.fixturenames:
        # one regression case per finding, its id the file's name (the finding's id); a file
        # that is not a valid finding fails its own test with the file and the field named
        files = fuzz.found_files()
        metafunc.parametrize("found_file", files, ids=[p.stem for p in files])
    if "numerics_check" in metafunc.fixturenames:
        metafunc.parametrize(
            "numerics_check",
            numerics.CHECKS,
            ids=[numerics.check_id(arch, source) for arch, source in numerics.CHECKS],
        )
    if "case" in metafunc.fixturenames:
        run = metafunc.config.pluginmanager.get_plugin(PLUGIN_NAME)
        cases = get_case_set(run.profile.case_set)
        if run.seeds:
            cases = tuple(replace(c, seeds=run.seeds) for c in cases)
        # A case too slow for every push on a CPU (the case table says which, from measured
        # times) is marked `heavy`: CI's `-m "not heavy"` leaves it to the main-branch job
        # (docs/performance.md has the split).
        heavy = [pytest.mark.heavy]
        metafunc.parametrize(
            "case",
            [pytest.param(c, id=c.case_id, marks=heavy if c.heavy else []) for c in cases],
        )
