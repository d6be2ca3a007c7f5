"""Issue 16: one lapse window for the whole report. A YAML diagnosis.lapse_days reaches the data
check, the leaky bucket, CPM, the ladder and the chapters that classify customers (strategy,
products, the customer lists); a key of the segments section still wins for its own scheme."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crmlib import registry
from crmlib.config import parse_config
from crmlib.errors import ConfigError
from crmlib.store.coverage import measure_coverage
from crmlib.store.segments.classify import segment_customers

AS_OF = "2024-05-01"


def _chapter(name: str) -> registry.Chapter:
    return next(c for c in registry.CHAPTERS if c.name == name)


def _config(**sections) -> object:
    return parse_config({"name": "tiny", "data": "orders.csv", **sections})


@pytest.fixture()
def orders(tiny_processed_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny shop (the segmentation is kept beside the orders)."""
    folder = shutil.copytree(tiny_processed_dir, tmp_path / "tiny")
    return folder / "orders.parquet"


def test_a_yaml_lapse_reaches_cpm_the_ladder_and_the_data_check(orders: Path) -> None:
    config = _config(diagnosis={"lapse_days": 150, "min_customers": 50})
    segments = registry.chapter_settings(config, _chapter("02_segments"))
    seg = segment_customers(orders, AS_OF, segments)
    # three customers: too few gaps to measure the cycle, so before the YAML value reached the
    # segments they kept the 240-day defaults
    assert seg.settings.cpm.active_days == 150 and seg.settings.ladder.lapse_days == 150
    # the strategy and products chapters classify with the same settings, hence the same kept copy
    assert registry.chapter_settings(config, _chapter("04_strategy"))["context"]["segments"] == segments
    assert registry.chapter_settings(config, _chapter("05_products"))["context"]["segments"] == segments
    # the data check states the same window (and the YAML's sample floor): it read neither before
    check = registry.chapter_settings(config, _chapter("00_data_check"))
    assert check == {"lapse_days": 150, "min_customers": 50, "merge_same_day": True}
    scope = measure_coverage(orders, AS_OF, lapse_days=check["lapse_days"], min_customers=check["min_customers"])
    assert (scope.lapse_days, scope.lapse_source, scope.min_customers) == (150, "settings", 50)


def test_a_segments_key_still_wins_for_its_scheme(orders: Path) -> None:
    config = _config(diagnosis={"lapse_days": 150}, segments={"ladder": {"lapse_days": 300}})
    seg = segment_customers(orders, AS_OF, registry.chapter_settings(config, _chapter("02_segments")))
    assert seg.settings.cpm.active_days == 150 and seg.settings.ladder.lapse_days == 300
    # a YAML lapse shorter than the ladder's follow-up keeps the ladder's stages ordered
    config = _config(diagnosis={"lapse_days": 60, "bucket_period": "month"})
    seg = segment_customers(orders, AS_OF, registry.chapter_settings(config, _chapter("02_segments")))
    assert seg.settings.cpm.active_days == 60 and seg.settings.ladder.lapse_days == 90
    # without a YAML value and with lapse_from_data off, the classic 240 days stay
    config = _config(segments={"lapse_from_data": False})
    seg = segment_customers(orders, AS_OF, registry.chapter_settings(config, _chapter("02_segments")))
    assert seg.settings.cpm.active_days == 240 and seg.settings.ladder.lapse_days == 240


def test_segments_lapse_days_in_the_yaml_points_to_diagnosis() -> None:
    config = _config(segments={"lapse_days": 150})
    with pytest.raises(ConfigError) as raised:
        registry.chapter_settings(config, _chapter("02_segments"))
    assert "diagnosis.lapse_days" in raised.value.hint
