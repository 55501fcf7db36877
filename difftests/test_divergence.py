"""The divergence suite: two tests, parametrized from the case table (``harness/cases.py``) and
the numerics checks (``harness/numerics.py``).

- ``test_numerics[<arch>-<source>-numerics]``: each framework's first training step from fixed
  weights on a fixed batch, per layer, against its baseline within float32 noise: fast, and the
  same on any CPU unless a kernel, a default or an optimizer changed.
- ``test_case[<case-id>]``: each case trains one architecture with one set of hyperparameters
  in PyTorch and in TensorFlow/Keras with K seeds each, judges the gap and checks the record
  against the committed baseline, as distributions over seeds.
- ``test_found[<id>]``: each finding of ``crossedwires fuzz`` kept in ``difftests/found/``
  (a minimal mirror model on which the frameworks part, and the knob that explains it, or
  ``new``) still reproduces: the same stage, first diverging layer and explanation, one
  training step on the recorded batch. When it no longer does the test fails naming the
  versions it was seen with and the versions now: a framework changed a default.

Select with ``-k``: ``-k densenet``, ``-k "resnet50 and bs10"``, ``-k mirror`` (mirror models,
both modes), ``-k aligned``, ``-k numerics``; ``--explain`` adds the knob table for each mirror
case.

Both run through the ``framework_pair`` fixture of the installed pytest plugin
(``harness/pytest_plugin.py``), the same one a project of your own uses for its own models.
"""

from __future__ import annotations

import pytest

from harness import fuzz
from harness.errors import HarnessError
from harness.runner import environment


def test_numerics(numerics_check, framework_pair):
    framework_pair.check_numerics(*numerics_check)


def test_case(case, framework_pair):
    framework_pair.check_case(case)


def test_found(found_file, crossedwires_profile):
    try:
        fuzz.read_found(found_file)  # a corrupt file: its name and field, before any framework
        environment(crossedwires_profile)  # threads and determinism, as every check
        problem = fuzz.recheck(found_file)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    if problem:
        pytest.fail(problem, pytrace=False)
