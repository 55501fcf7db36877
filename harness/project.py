"""The project a command works on: its root folder, found as pytest finds its rootdir, and the
baselines no case of a profile produces.

Every ``crossedwires`` subcommand and the pytest plugin resolve ``baselines/`` from the project
root, never from the current folder: ``cd docs && crossedwires diff`` reads the same baselines
as the same command run from the root.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

BASELINES = "baselines"  # the baselines folder, relative to the project root


def _is_pytest_ini(path: Path) -> bool:
    """Whether ``path`` is a configuration file that pytest would take as its inifile (the
    same rules: pytest.toml, pytest.ini always; pyproject.toml with a [tool.pytest] table;
    tox.ini with [pytest]; setup.cfg with [tool:pytest])."""
    if not path.is_file():
        return False
    if path.name in ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"):
        return True
    try:
        if path.name == "pyproject.toml":
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            return "pytest" in data.get("tool", {})
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return False
    section = {"tox.ini": "pytest", "setup.cfg": "tool:pytest"}.get(path.name)
    return section is not None and parser.has_section(section)


INI_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


def project_root(start: Path | None = None) -> Path:
    """The project root for ``start`` (default: the current folder), by pytest's rootdir rule:
    the nearest folder at or above it holding a pytest configuration file; failing that, the
    nearest holding a ``pyproject.toml`` (pytest's last resort) or a ``setup.py``; failing
    that, ``start`` itself."""
    start = Path.cwd() if start is None else Path(start)
    start = start.resolve()
    ancestors = [start, *start.parents]
    for folder in ancestors:
        if any(_is_pytest_ini(folder / name) for name in INI_NAMES):
            return folder
    for folder in ancestors:
        if (folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file():
            return folder
    return start


def default_baselines_dir(start: Path | None = None) -> Path:
    """``baselines/`` of the project that holds ``start`` (default: the current folder)."""
    return project_root(start) / BASELINES


def produced_ids(profile_name: str) -> dict[str, set[str]]:
    """Architecture -> the baseline ids some case or numerics check of the profile produces."""
    from . import numerics
    from .cases import get_case_set
    from .profiles import get_profile

    profile = get_profile(profile_name)
    ids: dict[str, set[str]] = {}
    for case in get_case_set(profile.case_set):
        ids.setdefault(case.arch, set()).add(case.case_id)
    for arch, source in numerics.CHECKS:
        ids.setdefault(arch, set()).add(numerics.check_id(arch, source))
    return ids


def unused_baselines(baselines_dir: Path, profile_name: str) -> list[Path]:
    """The ``*.json`` files in a built-in architecture's folder of ``<baselines_dir>/<profile>/``
    that no case or numerics check of the profile produces (a renamed case, a stray file),
    sorted. Other folders hold a project's own model pairs (the ``framework_pair`` fixture),
    whose ids only their tests know: the pytest plugin judges those after a run."""
    folder = Path(baselines_dir) / profile_name
    ids = produced_ids(profile_name)
    return sorted(
        path
        for arch, produced in ids.items()
        for path in (folder / arch).glob("*.json")
        if path.stem not in produced
    )
