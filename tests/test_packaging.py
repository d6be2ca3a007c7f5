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
def test_the_wheel_renders_the_demo_from_an_empty_folder(tmp_path):
    # build the wheel, install it (without its dependencies, which come from this environment's
    # site-packages: no network) into a fresh venv outside the repo, and run the demo there
    import site
    import subprocess
    import sys
    import venv

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("crmlib-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "crmlib/notebooks/01_diagnosis.ipynb" in names and "crmlib/examples/demo.yaml" in names
    assert "crmlib/store/segments/rfm_segments.yaml" in names and "crmlib/messages/ja/diagnosis.yaml" in names

    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(fresh)
    python = fresh / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies: this environment's site-packages, after the fresh venv's own (a plain path
    # line: the editable install's finder in there is not activated, so crmlib comes from the wheel)
    Path(purelib, "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    empty = tmp_path / "client-folder"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the dependencies' data files (nbconvert's templates) as their own install would place them
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    result = subprocess.run([str(fresh / "bin" / "crm-workbook"), "demo"], cwd=empty, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    where = subprocess.run([str(python), "-c", "import crmlib; print(crmlib.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True).stdout
    assert str(fresh) in where  # the installed wheel, not the checkout
    (report,) = [p for p in (empty / "reports" / "demo").iterdir() if not p.name.startswith(".")]
    pages = sorted(p.name for p in report.glob("*.html"))
    assert pages == ["00_data_check.html", "01_diagnosis.html", "02_segments.html", "03_ltv.html",
                     "04_strategy.html", "05_products.html", "index.html", "report.html"]
    assert (empty / "data" / "processed" / "demo" / "orders.parquet").is_file()
