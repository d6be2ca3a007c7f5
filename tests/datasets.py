"""Where the shared real datasets live, and a skip marker for machines without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("CRM_DATASETS", ROOT.parent / "shared" / "datasets"))
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail_2010-12-01_2011-12-09.csv.gz"
CDNOW_SAMPLE = DATASETS / "cdnow" / "CDNOW_sample.txt"
CDNOW_MASTER = DATASETS / "cdnow" / "CDNOW_master.txt"


def need(path: Path) -> pytest.MarkDecorator:
    """Skip a test, with the reason, when a shared dataset is not on this machine."""
    return pytest.mark.skipif(not path.exists(), reason=f"shared dataset not found: {path} "
                              "(set CRM_DATASETS to its folder)")
