"""The layers hold: app -> render -> chapters -> store -> common (contracts in pyproject.toml,
checked by import-linter), and the registry is the one list of chapters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crmlib import registry

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the crmlib of `project` with the project's pyproject.toml contracts."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("diagnosis/kpis.py", "from ..report import html", "crmlib.diagnosis is not allowed to import crmlib.report"),
    ("strategy/goals.py", "from ..segments import report", "crmlib.strategy is not allowed to import crmlib.segments"),
    ("store/kpis.py", "from ..diagnosis import kpis", "crmlib.store is not allowed to import crmlib.diagnosis"),
    ("config.py", "from .store import asof", "crmlib.config is not allowed to import crmlib.store"),
])
def test_the_contracts_fail_when_a_layer_is_crossed(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "crmlib", tmp_path / "crmlib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "crmlib" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert broken in result.stdout


def test_every_chapter_has_its_notebook_and_settings_model():
    names = registry.chapter_names()
    assert names == sorted(names) and len(set(names)) == len(names)
    for chapter in registry.CHAPTERS:
        assert (ROOT / "notebooks" / f"{chapter.name}.ipynb").is_file(), chapter.name
        for reference in (chapter.settings_model, chapter.settings, chapter.exports, chapter.findings,
                          chapter.input_files):
            if reference:
                assert registry.resolve(reference) is not None


def test_config_sections_come_from_the_registry():
    from crmlib.config import SECTION_MODELS, ClientConfig

    sections = {c.section for c in registry.CHAPTERS if c.settings_model}
    assert sections == set(SECTION_MODELS) - {"report"}
    assert sections <= set(ClientConfig.model_fields)


@pytest.mark.slow
def test_every_declared_metrics_key_exists_in_a_full_report(demo_report):
    # the metrics.json contract: every finding rule's `needs` and every comparison column's path
    # is written by its chapter on a shop with a long history, the demo (renaming a key fails here
    # instead of silently dropping a finding or a column)
    import json

    from crmlib.findings import FINDING_RULES, Metrics

    folder = demo_report
    metrics = Metrics(json.loads((folder / "metrics.json").read_text(encoding="utf-8")))
    registry.load_findings()
    missing = [f"{rule.name}: {key}" for rule in FINDING_RULES.values() for key in rule.needs if not metrics.has(key)]
    assert not missing
    # and every key a rule's requirements read (coverage flags, samples, floors): a flag may be
    # false, but it must be written
    required = [f"{rule.name}: {key}" for rule in FINDING_RULES.values() for need in rule.requires
                for key in (need.key, *([need.floor] if isinstance(need.floor, str) else []))
                if metrics.get(key) is None]
    assert not required
    assert [c.path for c in registry.overview_columns() if not metrics.has(c.path)] == []


# ---- the metrics contract: each section has a model, and readers name only declared figures ----

def _paths_read_by_the_summary_and_the_overview() -> list[tuple[str, str]]:
    """(reader, dotted path) of every metrics key a finding rule or a comparison column reads."""
    from crmlib.findings import FINDING_RULES

    registry.load_findings()
    read = [(rule.name, key) for rule in FINDING_RULES.values() for key in rule.needs]
    read += [(rule.name, key) for rule in FINDING_RULES.values() for need in rule.requires
             for key in (need.key, *([need.floor] if isinstance(need.floor, str) else []))]
    read += [(f"overview {c.label}", c.path) for c in registry.overview_columns()]
    return read


def test_every_metrics_key_a_rule_or_column_reads_is_declared_by_a_model():
    read = _paths_read_by_the_summary_and_the_overview()
    assert len(read) > 40  # the rules were loaded
    assert [f"{who}: {path}" for who, path in read if not registry.metrics_path_declared(path)] == []


def test_the_declared_path_check_refuses_what_no_model_declares():
    assert registry.metrics_path_declared("diagnosis.f2_conversion.90.rate")  # window keys are free
    assert registry.metrics_path_declared("ltv.params.bgnbd.a")  # a model's own parameters
    assert registry.metrics_path_declared("strategy.targets.0.gain")  # list items by index
    assert not registry.metrics_path_declared("diagnosis.f2_conversion.90.rates")  # a renamed figure
    assert not registry.metrics_path_declared("diagnosis.kpis.current.revenue.total")  # below a leaf
    assert not registry.metrics_path_declared("strategy.targets.first.gain")
    assert not registry.metrics_path_declared("nosuchsection.value")


def test_every_section_a_chapter_records_has_a_model(demo_report):
    import json

    # the pipeline's own sections: the report's facts and "since the last report" (report/tracking.py)
    recorded = set(json.loads((demo_report / "metrics.json").read_text(encoding="utf-8"))) - {"report", "tracking"}
    assert recorded == set(registry.metrics_models())


def test_recording_an_undeclared_figure_fails_with_a_clear_message(tmp_path):
    from crmlib.metrics import MetricsContractError, read_metrics, record_metrics

    path = tmp_path / "m.json"
    record_metrics(path, "diagnosis", {"f2_headline": {"eligible": 40, "converted": 12, "rate": 0.3,
                                                       "window_days": 90}})
    with pytest.raises(MetricsContractError, match=r"diagnosis.*f2_headline\.rate_90.*declare it"):
        record_metrics(path, "diagnosis", {"f2_headline": {"rate_90": 0.3}})
    with pytest.raises(MetricsContractError, match=r"kpis\.current\.customers"):
        record_metrics(path, "diagnosis", {"kpis": {"current": {"customers": "many"}}})
    assert read_metrics(path)["diagnosis"]["f2_headline"] == {"eligible": 40, "converted": 12, "rate": 0.3,
                                                              "window_days": 90}  # nothing half-written
    record_metrics(path, "scratch", {"anything": 1})  # a section no chapter declares is not checked


def test_every_crmlib_module_is_placed_in_a_contract():
    # a new module outside both contracts would be checked by neither: name it in a layer or
    # among the common modules (pyproject.toml [tool.importlinter])
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    named = {part.strip() for contract in contracts for layer in contract.get("layers", [])
             for part in layer.replace(":", "|").split("|")}
    named |= {module for contract in contracts for module in contract.get("source_modules", [])}
    package = ROOT / "crmlib"
    modules = {f"crmlib.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"crmlib.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert sorted(modules - named) == []


LAZY_PACKAGES = ("crmlib.diagnosis", "crmlib.segments", "crmlib.ltv", "crmlib.strategy", "crmlib.products")


def _printed_in_a_fresh_process(code: str, cwd: Path) -> str:
    """What `code` prints in a new Python process with this checkout's crmlib (fails on an error)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_reading_a_client_yaml_loads_no_analysis_module(tmp_path):
    """The CLI validates the YAML before the ingest starts: that must not import the chapters'
    analysis modules, scipy, seaborn or statsmodels (1.0-1.3 CPU-s of a cold run before the
    chapter packages named their exports lazily)."""
    code = (
        "import sys\nfrom crmlib.config import load_config\n"
        f"load_config({str(Path(__file__).resolve().parents[1] / 'examples' / 'online-retail.yaml')!r})\n"
        "heavy = ('scipy', 'seaborn', 'statsmodels', 'crmlib.diagnosis.funnel', 'crmlib.products.analysis',\n"
        "         'crmlib.strategy.goals', 'crmlib.store.ltv.fitting', 'crmlib.store.segments.classify')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    assert _printed_in_a_fresh_process(code, tmp_path) == "[]"


def test_the_kernels_zygote_starts_before_jupyter_is_imported(tmp_path):
    """`run` starts the zygote its kernels are forked from before it imports jupyter_client and
    nbformat (0.3 s): planning the kernels and starting the zygote import neither."""
    code = (
        "import sys\nimport crmlib.runs\nfrom crmlib.report import kernel_plan, zygote\n"
        "print(sorted(m for m in ('jupyter_client', 'nbformat', 'nbclient', 'pandas') if m in sys.modules))\n"
    )
    assert _printed_in_a_fresh_process(code, tmp_path) == "[]"


def test_a_run_starts_its_ingest_before_importing_pandas(tmp_path):
    """`run` imports what it needs up to the ingest, then pandas, pyarrow and the report's modules
    in a thread while DuckDB reads the orders (crmlib.runs): reading the YAML and the modules of
    the ingest, the lock and the fingerprint must not import pandas (0.3 s before the ingest),
    numpy, pyarrow or matplotlib."""
    code = (
        "import sys\nimport crmlib.cli, crmlib.runs, crmlib.ingest, crmlib.fingerprint, crmlib.locks, "
        "crmlib.report.warm\nfrom crmlib.config import load_config\nfrom crmlib.registry import select_chapters\n"
        f"config = load_config({str(Path(__file__).resolve().parents[1] / 'examples' / 'online-retail.yaml')!r})\n"
        # what run_client does before the ingest: the fingerprint reads every chapter's settings
        # (the segments' lapse window from diagnosis.lapse_days once imported the coverage model)
        "crmlib.fingerprint.report_fingerprint(config, crmlib.report.warm.default_notebooks_dir(), None, "
        "[c.name for c in select_chapters(None)])\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow', 'matplotlib') if m in sys.modules))\n"
    )
    assert _printed_in_a_fresh_process(code, tmp_path) == "[]"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_export_resolves_to_what_it_names(package):
    """Each public name of a chapter package imports from its module; none is also a submodule's
    name (importing the submodule would replace the function on the package: dg.leaky_bucket
    was the module once the names were lazy, until the module was renamed bucket.py)."""
    import importlib
    import pkgutil

    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert not set(module.__all__) & submodules
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, type(module)), f"{package}.{name} is a module"
        assert getattr(value, "__name__", name) == name


def test_a_fresh_lazy_package_gives_its_submodules_and_lists_its_names(tmp_path):
    """In a new process: a submodule is reachable as the package's attribute before anything
    imported it (the strategy notebook reads st.inputs.LOG_TEMPLATE), `from crmlib.segments import
    exports` is the customer-list module (not the lazy table's helper of that name), and dir()
    lists the lazy names (tab completion, help())."""
    code = (
        "import types\nimport crmlib.segments, crmlib.products\nimport crmlib.strategy as st\n"
        "import crmlib.diagnosis as dg\n"
        "assert isinstance(st.inputs, types.ModuleType) and st.inputs.LOG_TEMPLATE\n"
        "assert isinstance(st.verification, types.ModuleType)\n"
        "from crmlib.segments import exports as a\nfrom crmlib.products import exports as b\n"
        "assert isinstance(a, types.ModuleType) and isinstance(b, types.ModuleType), (a, b)\n"
        "assert 'leaky_bucket' in dir(dg) and 'write_strategy_exports' in dir(st)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
