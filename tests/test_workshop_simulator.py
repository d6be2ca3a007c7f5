"""The workshop simulator notebook runs headless with its default sliders and gives the figures
of the report's expected scenario: the demo report's metrics.json (strategy.scenarios.expected)
and the library's scenario table on the same data, to the yen. One notebook run on the demo data
the `demo_report` session fixture already wrote."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "workshop_simulator.ipynb"
# what the test asks the kernel after the notebook ran: the sliders' figures, as JSON
PROBE = "import json\nprint(json.dumps({k: (None if v != v else v) for k, v in sim.figures().loc['workshop'].items()}))"


def _library_expected(processed: Path, settings: dict) -> dict:
    """The report's computation of the expected scenario (section 1.2 of 04_strategy)."""
    from crmlib import strategy as st
    from crmlib.diagnosis import open_purchases, resolve_as_of
    from crmlib.strategy import scenarios as sc

    config = st.load_settings(settings)
    months, window = config.period_months, config.journey.conversion_window_days
    orders = processed / "orders.parquet"
    with open_purchases(orders, resolve_as_of(orders, "")) as purchases:
        history = st.metric_history(purchases, months, window)
        current = st.current_values(purchases, months, window, history)
    base = sc.Baseline.from_values(current, months, *config.margin_and_cpa())
    changes, _ = sc.scenario_changes(config.scenarios)
    return sc.scenario_frame(base, changes).loc["expected"].to_dict()


@pytest.mark.slow
def test_the_simulator_notebook_gives_the_reports_expected_scenario(demo_report, tmp_path):
    import subprocess
    import sys

    from crmlib.config import load_config
    from crmlib.metrics import plain
    from crmlib.strategy import report_settings

    folder = demo_report.parents[2]
    processed, yaml_path = folder / "data" / "processed" / "demo", folder / "data" / "sample" / "demo.yaml"
    if not (processed / "orders.parquet").is_file() or not yaml_path.is_file():
        pytest.skip("needs the demo folder the demo_report fixture renders")
    settings = plain(report_settings(load_config(yaml_path)))  # as the report's pipeline hands it over
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    source, out = tmp_path / "simulator.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    # papermill in a process of its own, with a cell timeout and up to three tries: nbclient
    # sometimes never sees the reply to a cell that displays widgets while its kernel sits idle
    # (jupyter/nbclient#312, open upstream; seen here once in five suite runs). The notebook takes
    # a few seconds, so a timed-out try is that hang, not a slow notebook; any other failure fails.
    params = tmp_path / "parameters.json"
    params.write_text(json.dumps({"processed_dir": str(processed), "settings": settings, "lang": "en"}),
                      encoding="utf-8")
    for _ in range(3):
        run = subprocess.run([sys.executable, "-m", "papermill", str(source), str(out), "-k", "python3",
                              "-f", str(params), "--cwd", str(NOTEBOOK.parent), "--no-progress-bar",
                              "--start-timeout", "120", "--execution-timeout", "90"],
                             capture_output=True, text=True, timeout=600)
        if run.returncode == 0 or "Timeout" not in run.stderr:
            break
    assert run.returncode == 0, run.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    widgets = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets  # the sliders were shown
    simulated = json.loads(executed.cells[-1].outputs[-1]["text"])

    # the library's expected scenario on the same data and settings: every figure, exactly
    library = _library_expected(processed, settings)
    assert simulated.keys() == library.keys()
    assert {k: v for k, v in simulated.items()} == {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                                   for k, v in library.items()}
    # the report's expected scenario (metrics.json): the same revenue and split; no gross
    # margin or CPA in the demo's YAML, so no gross profit anywhere
    report = json.loads((demo_report / "metrics.json").read_text(encoding="utf-8"))["strategy"]["scenarios"]["expected"]
    for key in ("new_customers", "existing_customers", "new_revenue", "existing_revenue", "revenue"):
        assert simulated[key] == report[key], key
    assert simulated["gross_profit"] is None and report["gross_profit"] is None
