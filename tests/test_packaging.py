"""Packaging stays consistent: environment.yml lists what pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [_split(r) for r in project["dependencies"]]
    for extra in ("test", "lab"):
        wanted += [_split(r) for r in project["optional-dependencies"][extra]]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for item in dep["pip"]:
                if not item.startswith("-"):
                    name, spec = _split(item)
                    conda[name] = spec
        else:
            name, spec = _split(dep)
            conda[name] = spec
    for name, spec in wanted:
        key = CONDA_NAMES.get(name, name)
        assert key in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[key] == spec, f"{name}: pyproject says {spec!r}, environment.yml says {conda[key]!r}"
    declared = {CONDA_NAMES.get(n, n) for n, _ in wanted} | {"python", "pip"}
    extra_in_env = set(conda) - declared
    assert not extra_in_env, f"environment.yml lists packages pyproject.toml does not: {extra_in_env}"


def test_python_floor_is_the_same():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert project["requires-python"] == ">=3.11" and "python>=3.11" in env
