"""Segments on the Online Retail data (and the demo shop), checked against plain pandas.

The RFM quantile scores are recomputed here from orders.parquet with pandas ranks, independently of
crmlib's DuckDB aggregation and numpy thresholds: R = 1 + floor(5 x (customers with more days) / n),
M = 1 + floor(5 x (customers with lower spend) / n), F = 1 for one-time buyers and
2 + floor(4 x (repeat buyers with fewer purchases) / repeat buyers) otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from crmlib.ingest import ingest_file
from crmlib.segments import resolve_as_of, segment_customers, segment_migration
from crmlib.segments import report as seg_report

from datasets import ONLINE_RETAIL, need

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_segments.ipynb"
DEMO = ROOT / "data" / "processed" / "demo"


@pytest.fixture(scope="module")
def retail_dir(tmp_path_factory):
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"shared dataset not found: {ONLINE_RETAIL}")
    out = tmp_path_factory.mktemp("retail") / "processed"
    ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out)
    return out


def pandas_rfm(orders_path: Path, as_of) -> pd.DataFrame:
    """r, f, m per customer from the orders with pandas only (same-day orders = one purchase)."""
    orders = pd.read_parquet(orders_path, columns=["customer_id", "ordered_at", "amount"])
    orders = orders[(orders["ordered_at"] < pd.Timestamp(as_of)) & orders["customer_id"].notna()]
    orders = orders.assign(day=orders["ordered_at"].dt.normalize(),
                           micro=(orders["amount"] * 1e6).round().astype("int64"))  # exact cents sums
    grouped = orders.groupby("customer_id")
    recency = (pd.Timestamp(as_of) - grouped["day"].max()).dt.days
    purchases = grouped["day"].nunique()
    revenue = grouped["micro"].sum() / 1e6
    n = len(recency)
    r = 1 + (5 * (recency.rank(method="min", ascending=False) - 1) // n)
    m = 1 + (5 * (revenue.rank(method="min") - 1) // n)
    repeat = purchases[purchases >= 2]
    f = pd.Series(1, index=purchases.index)
    f[repeat.index] = 2 + (4 * (repeat.rank(method="min") - 1) // len(repeat))
    return pd.DataFrame({"r": r, "f": f, "m": m, "revenue": revenue}).astype({"r": int, "f": int, "m": int})


@need(ONLINE_RETAIL)
def test_rfm_quantile_scores_match_plain_pandas(retail_dir):
    path = retail_dir / "orders.parquet"
    as_of = resolve_as_of(path, "")
    assert str(as_of) == "2011-12-10"
    seg = segment_customers(path, as_of, {})
    got = seg.customers.set_index("customer_id")
    expected = pandas_rfm(path, as_of)
    # 4,324 customers with a net purchase: test_ingest_real.py counts them with pandas from the raw
    # file (credit notes netted; 10 customers whose every order was reversed are no customers)
    assert len(got) == len(expected) == 4324
    joined = got[["r", "f", "m"]].astype(int).merge(expected, left_index=True, right_index=True, suffixes=("", "_pd"))
    for axis in "rfm":
        mismatched = joined[joined[axis] != joined[f"{axis}_pd"]]
        assert mismatched.empty, f"{axis}: {len(mismatched)} customers differ, e.g. {mismatched.head(3)}"
    assert (got["revenue"] == expected["revenue"].reindex(got.index)).all()
    # every score is used on every axis with this data, and the tie rule keeps equal values together
    for axis in "rfm":
        assert sorted(got[axis].unique()) == [1, 2, 3, 4, 5]
    assert got.groupby("purchases")["f"].nunique().max() == 1


@need(ONLINE_RETAIL)
def test_counts_over_classes_sum_to_the_customers(retail_dir):
    seg = segment_customers(retail_dir / "orders.parquet", "2011-12-10", {"rfm": {"method": "fixed"}})
    n = len(seg.customers)
    for column in ("rfm_segment", "cpm_cell", "ladder", "spend_decile"):
        counts = seg.customers[column].value_counts()
        assert counts.sum() == n and seg.customers[column].notna().all(), column
    # 7 x AOV, two significant figures: net £8,280,946.95 / 18,264 orders (both checked against pandas in
    # test_ingest_real.py) = £453.40, x 7 = £3,173.8 -> 3,200 (gross of returns it was 7 x 474.80 -> 3,300)
    assert seg.cuts.cpm_spend.amount == 3200.0
    metrics = seg_report.headline_metrics(seg, segment_migration(seg))
    for scheme in ("rfm", "cpm", "ladder"):
        assert sum(v["customers"] for v in metrics[scheme].values()) == n
        assert sum(metrics["migration"][scheme].values()) == n


def run_notebook(tmp_path: Path, parameters: dict) -> tuple[dict, nbformat.NotebookNode]:
    """Execute the chapter with papermill; return the recorded metrics and the executed notebook."""
    metrics = tmp_path / "metrics.json"
    out = tmp_path / "02_segments.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(out), parameters={**parameters, "metrics_path": str(metrics)},
        kernel_name="python3", progress_bar=False, cwd=str(NOTEBOOK.parent),
    )
    return json.loads(metrics.read_text(encoding="utf-8"))["segments"], nbformat.read(out, as_version=4)


def check_metrics(values: dict, customers: int) -> None:
    """Segment sizes add up to the customers for every scheme; revenue shares add up to 1."""
    assert values["customers"] == customers
    for scheme in ("rfm", "cpm", "ladder"):
        sizes = values[scheme]
        assert sum(v["customers"] for v in sizes.values()) == customers, scheme
        assert sum(v["revenue_share"] for v in sizes.values()) == pytest.approx(1), scheme
        assert sum(values["migration"][scheme].values()) == customers, scheme


def stderr_of(nb: nbformat.NotebookNode) -> list[str]:
    """Text a cell wrote to stderr (warnings such as missing glyphs)."""
    return [out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
            if out.get("output_type") == "stream" and out.get("name") == "stderr"]


@pytest.mark.slow
@need(ONLINE_RETAIL)
def test_notebook_runs_on_online_retail(retail_dir, tmp_path):
    values, nb = run_notebook(tmp_path, {"processed_dir": str(retail_dir), "as_of": "2011-12-10",
                                         "lang": "en", "currency": "GBP"})
    check_metrics(values, 4324)  # see test_rfm_quantile_scores_match_plain_pandas
    assert values["as_of"] == "2011-12-10" and values["migration"]["start"] == "2011-09-11"
    assert values["rfm_method"] == "quantile" and values["cpm_spend_line"] == 3200.0
    assert stderr_of(nb) == []


@pytest.mark.slow
@pytest.mark.skipif(not (DEMO / "orders.parquet").exists(), reason="run `crm-workbook demo` first")
def test_notebook_runs_on_the_demo_data_without_showing_contacts(tmp_path):
    values, nb = run_notebook(tmp_path, {"processed_dir": str(DEMO), "lang": "ja"})
    customers = pd.read_parquet(DEMO / "orders.parquet", columns=["customer_id"])["customer_id"].nunique()
    check_metrics(values, customers)
    assert stderr_of(nb) == []
    text = json.dumps([cell.get("outputs", []) for cell in nb.cells], ensure_ascii=False)
    shown = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
    sample = DEMO.parents[1] / "sample" / "orders.csv"  # the raw export the demo ingested
    emails = set(pd.read_csv(sample, usecols=["email"])["email"].dropna().str.lower())
    assert emails and not (shown & emails)
