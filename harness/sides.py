"""The sides: every framework (or backend) that can train a case, in one registry.

A **side** is what trains one half (or one N-th) of a comparison: ``pytorch`` and
``tensorflow`` (the default pair: the paper's setting and every committed baseline), and Keras 3
on its other backends. Everything that lists sides reads ``SIDES`` (or ``FRAMEWORKS``, the
default pair): the runner, the judge's pairs, the baseline schema, the versions a record keeps
and the drift loop, the end-of-run table. Nothing else names a side.

Each entry says:

- ``name`` (in records, ``--sides``) and ``label`` (in tables);
- ``packages``: what its versions are read from (a record keeps them; drift names them);
- ``extra``: what ``pip install -e '.[extra]'`` installs it;
- ``adapter``: its module under ``harness/adapters`` (the surface ``harness.adapters``
  documents);
- ``env``: environment variables it needs at import (``KERAS_BACKEND`` is fixed once per
  process): a side with any runs in a subprocess of its own (``harness.sidework``), the others in
  the pytest process;
- ``knobs``: whose column of the knob table (``harness/knobs.py``) it takes: a Keras side has
  the Keras defaults whatever its backend;
- ``arch_sources``: the kinds of model it builds (``zoo``, ``mirror``, ``custom``): a case of
  another kind runs without it.

Adding a side is one entry here, its adapter and its tests.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from importlib import metadata

from .errors import ConfigError, FrameworkMissing


@dataclass(frozen=True)
class Side:
    name: str
    label: str
    packages: tuple[str, ...]
    extra: str
    adapter: str
    knobs: str
    env: dict[str, str] = field(default_factory=dict)
    arch_sources: tuple[str, ...] = ("zoo", "mirror", "custom")

    @property
    def subprocess(self) -> bool:
        """Whether it runs in a process of its own: it needs variables set before import."""
        return bool(self.env)

    def in_this_process(self) -> bool:
        """Whether this process is one the side can run in (its variables are set here)."""
        return all(os.environ.get(k) == v for k, v in self.env.items())

    def install_hint(self) -> str:
        return f"pip install -c constraints.txt -e '.[{self.extra}]'"

    def missing_packages(self) -> list[str]:
        """The packages of ``packages`` that cannot be imported (found without importing)."""
        return [p for p in self.packages if importlib.util.find_spec(p) is None]


SIDES: dict[str, Side] = {
    s.name: s
    for s in (
        Side("pytorch", "PyTorch", ("torch", "torchvision"), "torch", "pytorch", "pytorch"),
        Side("tensorflow", "TF", ("tensorflow", "keras"), "tensorflow", "tensorflow", "tensorflow"),
        # Keras 3 on other backends: keras.applications' models, the Keras mirror builder and the
        # Keras training code of the tensorflow side, each backend in a subprocess
        # (KERAS_BACKEND is read once, at import).
        Side(
            "keras-torch",
            "Keras[torch]",
            ("keras", "torch"),
            "torch,tensorflow",
            "keras_backend",
            "tensorflow",
            # the torch backend would take a GPU where there is one; these sides run on the CPU
            {"KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu"},
            ("zoo", "mirror"),
        ),
        Side(
            "keras-jax",
            "Keras[jax]",
            ("keras", "jax", "jaxlib"),
            "jax",
            "keras_backend",
            "tensorflow",
            {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
            ("zoo", "mirror"),
        ),
    )
}

# The default pair: what a run without --sides compares, what every committed baseline holds.
FRAMEWORKS: tuple[str, ...] = ("pytorch", "tensorflow")


def get(name: str) -> Side:
    if name not in SIDES:
        raise ConfigError(f"unknown side {name!r}: use one of {', '.join(SIDES)}")
    return SIDES[name]


def parse(text: str, option: str = "--sides") -> tuple[str, ...]:
    """``pytorch,tensorflow,keras-torch`` -> the sides, validated: known, distinct, the default
    pair among them (every record leads with its comparison), installed; in the registry's
    order, so that one set of sides is one folder and one pair order whatever order it was
    given in. ConfigError names the value and the fix."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in SIDES:
            raise ConfigError(
                f"{option} {text}: unknown side {name!r}; use names from {', '.join(SIDES)}"
            )
    if len(set(names)) != len(names) or len(names) < 2:
        raise ConfigError(
            f"{option} {text}: give at least two distinct sides, e.g. {','.join(FRAMEWORKS)}"
        )
    left_out = [s for s in FRAMEWORKS if s not in names]
    if left_out:
        raise ConfigError(
            f"{option} {text}: every run includes the default pair {','.join(FRAMEWORKS)} (a "
            f"record leads with its comparison); add {','.join(left_out)}"
        )
    names = tuple(s for s in SIDES if s in names)
    for name in names:
        missing = SIDES[name].missing_packages()
        if missing:
            raise FrameworkMissing(
                f"{option} {text}: side {name!r} needs {', '.join(missing)}, not installed; "
                f"install it with `{SIDES[name].install_hint()}`"
            )
    return names


def runnable(sides: tuple[str, ...], arch_source: str) -> tuple[str, ...]:
    """The sides of ``sides`` that can build a model of ``arch_source`` (in order)."""
    return tuple(s for s in sides if arch_source in SIDES[s].arch_sources)


def versions(name: str) -> dict[str, str]:
    """The side's packages' versions, read from their metadata (None where one is missing)."""
    out = {}
    for package in SIDES[name].packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def folder(sides: tuple[str, ...]) -> str | None:
    """Where a run of ``sides`` keeps its baselines, under the baselines root: None (the root
    itself) for the default pair, else ``sides-<a>+<b>+...``: an N-side record never replaces
    the default pair's."""
    return None if tuple(sides) == FRAMEWORKS else "sides-" + "+".join(sides)


def pair_key(a: str, b: str) -> str:
    return f"{a}|{b}"
