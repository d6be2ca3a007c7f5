"""The diagnosis chapter notebook runs top to bottom with papermill and records its metrics.

Slow (each run starts a Jupyter kernel): run with `pytest -m slow`. Online Retail in both report
languages (English with the default settings, whose 12-month comparison reaches before the data;
Japanese with 6-month periods and a 180-day lapse, so every section has figures), and the demo
data when data/processed/demo exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

from crmlib.ingest import ingest_file

from datasets import ONLINE_RETAIL, ROOT, need

NOTEBOOK = ROOT / "notebooks" / "01_diagnosis.ipynb"
DEMO = ROOT / "data" / "processed" / "demo"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retail_processed")
    ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out)
    return out


def run(tmp_path: Path, processed_dir: Path, lang: str, currency: str, settings: dict) -> dict:
    """Execute the notebook like the report pipeline does; return the recorded metrics."""
    metrics = tmp_path / "metrics.json"
    output = tmp_path / f"01_diagnosis_{lang}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(output), kernel_name="python3", progress_bar=False, cwd=str(NOTEBOOK.parent),
        parameters={"processed_dir": str(processed_dir), "as_of": "", "lang": lang, "currency": currency,
                    "client_title": "Test", "metrics_path": str(metrics), "settings": settings},
    )
    executed = json.loads(output.read_text(encoding="utf-8"))
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    return json.loads(metrics.read_text(encoding="utf-8"))["diagnosis"]


@need(ONLINE_RETAIL)
def test_online_retail_en_default_settings(retail_dir, tmp_path):
    metrics = run(tmp_path, retail_dir, "en", "GBP", {})
    assert metrics["kpis"]["current"]["covered"] is True
    assert metrics["kpis"]["previous"]["covered"] is False  # the data starts 2010-12-01
    assert set(metrics["f2_conversion"]) == {"30", "90", "365"}
    assert metrics["leaky_bucket"]["period_start"] == "2011-07-01"
    assert metrics["retention_value"]["covered"] is False


@need(ONLINE_RETAIL)
def test_online_retail_ja_short_periods(retail_dir, tmp_path):
    settings = {"period_months": 6, "lapse_days": 180, "f2_windows": [30, 90, 180], "f2_splits": ["region"]}
    metrics = run(tmp_path, retail_dir, "ja", "GBP", settings)
    assert metrics["kpis"]["previous"]["covered"] is True
    assert metrics["leaky_bucket"]["lost"] > 0 and metrics["leaky_bucket"]["lapse_days"] == 180
    assert metrics["retention_value"]["covered"] is True and metrics["retention_value"]["gain_next_period"] > 0


@pytest.mark.skipif(not (DEMO / "orders.parquet").exists(), reason="no demo data: run `crm-workbook demo`")
def test_demo_ja(tmp_path):
    metrics = run(tmp_path, DEMO, "ja", "JPY", {})
    assert metrics["kpis"]["current"]["orders"] > 0
    assert metrics["retention_value"]["covered"] is True
