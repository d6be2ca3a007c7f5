"""Packaging stays consistent: environment.yml lists what pyproject.toml declares."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
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


def _imported_top_modules() -> set[str]:
    """Top-level modules crmlib imports (statically), from its source."""
    import ast

    names: set[str] = set()
    for path in (ROOT / "crmlib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_imported_package_is_declared():
    import importlib.metadata
    import sys

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_split(r)[0].replace("_", "-") for r in project["dependencies"]}
    declared |= {_split(r)[0].replace("_", "-") for r in project["optional-dependencies"]["dask"]}
    owners = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(_imported_top_modules() - set(sys.stdlib_module_names) - {"crmlib"}):
        dists = {d.lower().replace("_", "-") for d in owners.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


@pytest.mark.slow
def test_the_wheel_renders_the_demo_from_an_empty_folder(installed, demo_report):
    # `installed` (tests/conftest.py) builds the wheel and installs it into a fresh venv outside
    # the repo; `demo_report` ran that venv's `crm-workbook demo` in an empty folder
    import subprocess
    import zipfile

    if os.environ.get("CRM_TEST_DEMO_REPORT"):
        pytest.skip("CRM_TEST_DEMO_REPORT reuses a report the installed wheel did not render")
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert "crmlib/notebooks/01_diagnosis.ipynb" in names and "crmlib/examples/demo.yaml" in names
    # the workshop simulator ships beside the chapters but is no chapter: no page of its own (below)
    assert "crmlib/notebooks/workshop_simulator.ipynb" in names
    assert "crmlib/store/segments/rfm_segments.yaml" in names and "crmlib/messages/ja/diagnosis.yaml" in names
    where = subprocess.run([installed.command("python"), "-c", "import crmlib; print(crmlib.__file__)"],
                           cwd=demo_report, env=installed.env, capture_output=True, text=True).stdout
    assert str(installed.venv) in where  # the installed wheel, not the checkout
    folder = demo_report.parents[2]  # the empty folder the demo ran in: reports/demo/<as-of>
    assert sorted(p.name for p in folder.iterdir()) == ["data", "reports"]
    pages = sorted(p.name for p in demo_report.glob("*.html"))
    assert pages == ["00_data_check.html", "01_diagnosis.html", "02_segments.html", "03_ltv.html",
                     "04_strategy.html", "05_products.html", "index.html", "report.html"]
    assert (folder / "data" / "processed" / "demo" / "orders.parquet").is_file()
