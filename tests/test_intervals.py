"""Wilson's interval of one share (crmlib.intervals), against Newcombe's published values and scipy.

scipy.stats is a test dependency only here: the chapters compute these intervals without
importing it (0.6 CPU-s of each kernel that would), and a run must never load it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scipy.special import ndtri
from scipy.stats import binomtest

from crmlib.intervals import wilson_interval, z_value


@pytest.mark.parametrize("successes, n, low, high", [
    # Newcombe, R. G. (1998), "Two-sided confidence intervals for the single proportion: comparison of
    # seven methods", Statistics in Medicine 17, 857-872, Table I, method 3 (score, no continuity correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombes_table(successes, n, low, high):
    got = wilson_interval(successes, n)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_wilson_interval_matches_scipy_and_the_quantile_matches_ndtri():
    for successes, n in [(0, 1), (1, 2), (10, 50), (37, 120), (399, 399), (5, 1000)]:
        for confidence in (0.8, 0.95, 0.99):
            ci = binomtest(successes, n).proportion_ci(confidence, method="wilson")
            assert wilson_interval(successes, n, confidence) == (pytest.approx(ci.low, abs=1e-12),
                                                                 pytest.approx(ci.high, abs=1e-12))
            assert z_value(confidence) == pytest.approx(float(ndtri(0.5 + confidence / 2)), rel=1e-14)


def test_the_intervals_sample_sizes_and_heatmap_load_no_scipy_stats_seaborn_or_statsmodels():
    """What used to pull them into a run: the F2 interval (diagnosis), the plan's sample sizes
    (strategy kernel and the process writing the plan lists) and the cohort heatmap."""
    code = """
import importlib, sys
import pandas as pd
from crmlib.intervals import wilson_interval, difference_interval
from crmlib.strategy import business_case as bc
from crmlib.style import apply_style
charts = importlib.import_module("crmlib.diagnosis.charts")
from crmlib.diagnosis.cohorts import CohortTables
wilson_interval(3, 10); difference_interval([3], [10], [4], [9])
bc.sample_size(0.05, 0.05, 0.1); bc.detectable_uplift(0.05, 1000, 0.1)
apply_style("ja")
table = pd.DataFrame([[1.0, 0.5], [1.0, None]], index=pd.to_datetime(["2024-01-01", "2024-02-01"]), columns=[0, 1])
tables = CohortTables(retention=table, orders_per_customer=table, revenue_per_customer=table * 1000,
                      sizes=pd.Series([4, 2], index=table.index))
for kind in ("retention", "orders_per_customer", "revenue_per_customer"):
    charts.cohort_heatmap(tables, kind, "ja", "JPY").savefig(__import__("io").BytesIO(), format="png")
print(sorted(m for m in ("scipy.stats", "seaborn", "statsmodels") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
