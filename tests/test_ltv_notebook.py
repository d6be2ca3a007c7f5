"""The LTV chapter notebook run top to bottom with papermill, checked through its metrics.

Online Retail (ingested here with the online-retail preset) and, when `crm-workbook demo` has
built it, data/processed/demo run concurrently (two kernels), so the test costs one run's time.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill
import pytest

from crmlib.ingest import ingest_file
from crmlib.report.html import chapter_html

from datasets import ONLINE_RETAIL, ROOT, need

NOTEBOOK = ROOT / "notebooks" / "03_ltv.ipynb"
DEMO = ROOT / "data" / "processed" / "demo"

pytestmark = pytest.mark.slow


def _run(processed: Path, out: Path, lang: str, currency: str, settings: dict) -> tuple[dict, nbformat.NotebookNode]:
    metrics = out / "metrics.json"
    executed = out / "03_ltv.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(executed), kernel_name="python3", progress_bar=False, log_output=False,
        cwd=str(NOTEBOOK.parent),
        parameters={"processed_dir": str(processed), "as_of": "", "lang": lang, "currency": currency,
                    "client_title": "test", "metrics_path": str(metrics), "settings": settings},
    )
    return json.loads(metrics.read_text(encoding="utf-8")), nbformat.read(executed, as_version=4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    jobs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        if DEMO.joinpath("orders.parquet").is_file():
            jobs["demo"] = pool.submit(_run, DEMO, tmp_path_factory.mktemp("demo"), "ja", "JPY",
                                       {"cpa": 5000, "retention_cost_per_customer_year": 600, "gross_margin": 0.6})
        if ONLINE_RETAIL.exists():
            processed = ingest_file(ONLINE_RETAIL, preset="online-retail",
                                    out_dir=tmp_path_factory.mktemp("retail") / "processed").out_dir
            jobs["retail"] = pool.submit(_run, processed, tmp_path_factory.mktemp("retail_run"), "en", "GBP",
                                         {"cpa": 40, "gross_margin": 0.4, "horizon_months": 24})
        return {name: job.result() for name, job in jobs.items()}


def _html(nb: nbformat.NotebookNode, lang: str) -> str:
    return chapter_html(nb, lang=lang, chapter_title="LTV", client_title="test", as_of="x", version="x")


@need(ONLINE_RETAIL)
def test_online_retail_chapter(runs):
    metrics, nb = runs["retail"]
    ltv = metrics["ltv"]
    assert ltv["annual_ltv"] > 0 and ltv["annual_customers"] > 4000
    assert ltv["formula"]["ltv"] > 0 and ltv["formula"]["cpa"] == 40
    # the validity gate fails (issue #16): parameters not identified, holdout error, Christmas holdout
    assert ltv["predictive_status"].startswith("failed: ")
    assert {"identified", "holdout", "season"} <= {g["check"] for g in ltv["gate"]}
    assert "clv" not in ltv  # no predicted figure
    assert set(ltv["params"]) == {"bgnbd", "pareto_nbd", "gamma_gamma"}
    assert {"r", "alpha", "a", "b", "se", "log_likelihood"} <= set(ltv["params"]["bgnbd"])
    assert {"p", "q", "v"} <= set(ltv["params"]["gamma_gamma"])
    assert set(ltv["holdout_error"]) == {"bgnbd", "pareto_nbd"}
    # the 2011 Christmas season makes the holdout much busier than the models expect: a warning
    assert ltv["holdout_error"]["bgnbd"]["error"] < -0.2
    assert {"check": "holdout", "model": "bgnbd"} in ltv["failed_checks"]
    # one year of data: Pareto/NBD's beta runs to its cap, and the page says so
    assert {"check": "at_cap", "model": "pareto_nbd"} in ltv["failed_checks"]
    page = _html(nb, "en")
    assert 'class="crm-warning"' in page and "did not pass the validity checks" in page
    assert "peak or quiet season" in page and "cannot be pinned down" in page
    # the parameters go to the consultant notes (a block the report moves), not read as findings
    assert 'id="params"' not in page and '<section class="crm-consultant">' in page
    assert "leaves with a probability" not in page
    assert 'id="tracking"' in page and page.count("<img") >= 3  # cohorts, holdout validation, buckets
    assert 'id="segments-cohort"' not in page  # no predicted LTV by cohort
    # issue 16: the comparisons by acquisition cohort and first-purchase attribute rest only on the
    # customers first seen from observed_from (2011-03-22; 1,980 first seen earlier, worked out with
    # pandas in test_coverage_online_retail.py), and the page says so with n
    # (once: the file has neither channel nor category, so there is no comparison by attribute)
    assert page.count("The 1,980 customers first seen earlier may have bought before the data starts") == 1
    assert "The orders carry no channel or category" in page


def test_demo_chapter(runs):
    if "demo" not in runs:
        pytest.skip(f"no demo data in {DEMO} (run `crm-workbook demo` first)")
    metrics, nb = runs["demo"]
    ltv = metrics["ltv"]
    assert ltv["predictive_status"] == "ok" and ltv["formula"]["ratio"] > 0
    page = _html(nb, "ja")
    assert 'id="tracking"' in page and "予測LTV" in page
