"""A file larger than DuckDB's memory cap is ingested out of core, with the same result.

Two child processes ingest the same generated sample (about 90,000 lines, 17 MB of CSV): one with
the default cap, one with CRM_DUCKDB_MEMORY=128MB (near the smallest cap the ingest works with;
at 160MB the two peaks were at times only 14 MB apart, too close to tell the cap's effect from
noise, and the test failed once). The ledgers must be
identical, row for row and amount for amount, the orders written identical, and the capped run's
peak memory lower: the cap is what made DuckDB spill, not a file small enough to fit anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crmlib.sample import write_sample

CHILD = """
import json, sys
from pathlib import Path
from crmlib.ingest import MEMORY_LIMIT, ingest_file
result = ingest_file(Path(sys.argv[1]), out_dir=Path(sys.argv[2]))
# VmHWM, not ru_maxrss: ru_maxrss keeps the high-water mark of the forked parent (pytest) across exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"cap": MEMORY_LIMIT, "ledger": json.loads(result.ledger.to_json()), "peak_kb": peak}))
"""


def ingest_in_child(path: Path, out: Path, cap: str | None) -> dict:
    env = dict(os.environ)
    env.pop("CRM_DUCKDB_MEMORY", None)
    if cap:
        env["CRM_DUCKDB_MEMORY"] = cap
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_small_memory_cap_gives_the_same_ledger_and_orders(tmp_path):
    sample = write_sample(tmp_path / "orders.csv", n_customers=30_000)
    normal = ingest_in_child(sample, tmp_path / "normal", None)
    capped = ingest_in_child(sample, tmp_path / "capped", "128MB")
    assert normal["cap"] == "3GB" and capped["cap"] == "128MB"
    with sample.open(encoding="utf-8") as fh:
        lines = sum(1 for _ in fh) - 1  # the generator's CSV has no quoted line breaks
    assert normal["ledger"]["input_rows"] == lines > 80_000
    for ledger in (normal["ledger"], capped["ledger"]):
        ledger["source"].pop("file", None)
    assert capped["ledger"] == normal["ledger"]
    assert capped["ledger"]["reconciles"] is True
    a = pd.read_parquet(tmp_path / "normal" / "orders.parquet").sort_values("order_id", ignore_index=True)
    b = pd.read_parquet(tmp_path / "capped" / "orders.parquet").sort_values("order_id", ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert capped["peak_kb"] < normal["peak_kb"], (capped["peak_kb"], normal["peak_kb"])
