"""Every customer classified once on the as-of date: RFM scores and segment, CPM cell, ladder, decile.

The yardstick (SegmentCuts: RFM bounds, CPM spend line, ladder spend floor, decile bounds) is set
from the as-of customers and then applied unchanged to any other date, so a move in the migration
tables is the customer's own change, not a shift of the crowd's quantiles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import DataError
from ..coverage import measure_coverage
from ..customers import customer_base, to_date
from ..kept import keep, kept_path
from .cpm import SpendLine, cpm_cells, cpm_spend_line
from .decile import decile_bounds, spend_deciles
from .ladder import ladder_spend_floor, ladder_stages
from .rfm import RfmBounds, monetary_values, rfm_bounds, rfm_scores, rfm_segments
from .settings import RfmSegmentRule, SegmentSettings, load_settings


@dataclass(frozen=True)
class SegmentCuts:
    """The thresholds every classification uses, fixed on the as-of date."""

    rfm: RfmBounds
    cpm_spend: SpendLine
    ladder_spend_floor: float | None
    deciles: tuple[float, ...]


@dataclass(frozen=True)
class Segmentation:
    """The customers on the as-of date with every class, plus the settings, rules and cuts used."""

    as_of: dt.date
    orders_path: Path
    settings: SegmentSettings
    rules: list[RfmSegmentRule]
    cuts: SegmentCuts
    customers: pd.DataFrame


def segment_cuts(base: pd.DataFrame, settings: SegmentSettings) -> SegmentCuts:
    """The yardstick from the as-of customers (quantile bounds, AOV-scaled spend line, top spend)."""
    if base.empty:
        raise DataError("there are no customers with an order before the as-of date to segment.",
                        hint="check as_of against the order dates (the data check chapter shows them)")
    return SegmentCuts(
        rfm=rfm_bounds(base, settings.rfm),
        cpm_spend=cpm_spend_line(base, settings.cpm),
        ladder_spend_floor=ladder_spend_floor(base, settings.ladder),
        deciles=tuple(decile_bounds(base).tolist()),
    )


def classify_customers(
    base: pd.DataFrame, settings: SegmentSettings, cuts: SegmentCuts, rules: list[RfmSegmentRule] | None = None
) -> pd.DataFrame:
    """base plus r, f, m, rfm (e.g. 545), rfm_segment, cpm_cell, ladder_*, spend_decile, and
    monetary (M's value) when it is the mean order value: under the total basis it is revenue."""
    rules = rules if rules is not None else settings.rfm.segment_rules()
    scores = rfm_scores(base, cuts.rfm)
    rfm_code = scores["r"].astype(np.int16) * 100 + scores["f"].astype(np.int16) * 10 + scores["m"].astype(np.int16)
    # not a copy of revenue under the total basis: 8 bytes a customer (400 MB at 51M customers)
    monetary = [] if cuts.rfm.monetary_basis == "total" else [
        pd.DataFrame({"monetary": monetary_values(base, cuts.rfm.monetary_basis)}, index=base.index)]
    return pd.concat(
        [
            base,
            *monetary,
            scores,
            rfm_code.rename("rfm"),
            rfm_segments(scores, rules),
            cpm_cells(base, settings.cpm, cuts.cpm_spend.amount),
            ladder_stages(base, settings.ladder, cuts.ladder_spend_floor),
            spend_deciles(base, np.array(cuts.deciles)),
        ],
        axis=1,
    )


def scheme_classes(
    base: pd.DataFrame, settings: SegmentSettings, cuts: SegmentCuts, rules: list[RfmSegmentRule]
) -> dict[str, pd.Categorical]:
    """Only the three classes of classify_customers (rfm_segment, cpm_cell, ladder), computed the
    same way, for a caller that needs no scores or frame (the migration's start date)."""
    return {
        "rfm_segment": rfm_segments(rfm_scores(base, cuts.rfm), rules).array,
        "cpm_cell": cpm_cells(base, settings.cpm, cuts.cpm_spend.amount).array,
        "ladder": ladder_stages(base, settings.ladder, cuts.ladder_spend_floor)["ladder"].array,
    }


def with_data_lapse(settings: SegmentSettings, orders_path: Path | str, day: dt.date) -> SegmentSettings:
    """The settings with the shop's one lapse window (crmlib.store.coverage) in cpm.active_days and
    ladder.lapse_days where the segments section sets neither. Precedence: those two keys, then the
    client's diagnosis.lapse_days (settings.lapse_days), then the purchase cycle's window
    (settings.lapse_from_data); unchanged when the cycle cannot be measured (too few repeat
    purchases: the 240-day defaults stay)."""
    cpm_set = "active_days" in settings.cpm.model_fields_set
    ladder_set = "lapse_days" in settings.ladder.model_fields_set
    if cpm_set and ladder_set:
        return settings
    if settings.lapse_days is not None:
        lapse = settings.lapse_days
    else:
        if not settings.lapse_from_data or not Path(orders_path).is_file():
            return settings
        coverage = measure_coverage(orders_path, day, merge_same_day=settings.merge_same_day)
        if coverage.lapse_source != "data":
            return settings
        lapse = coverage.lapse_days
    cpm = settings.cpm if cpm_set else settings.cpm.model_copy(update={"active_days": lapse})
    ladder = settings.ladder if ladder_set else settings.ladder.model_copy(
        update={"lapse_days": max(lapse, settings.ladder.follow_up_days)})
    return settings.model_copy(update={"cpm": cpm, "ladder": ladder})


def segment_customers(
    orders_path: Path | str, as_of: dt.date | str, settings: SegmentSettings | dict | None = None,
    *, reuse: bool = True,
) -> Segmentation:
    """Read the customers before as_of, set the yardstick and classify every customer.

    The result is kept beside the orders (store/segments-<key>.parquet, key = the orders file, the
    date and the settings), so the segments chapter, its customer lists and the strategy chapter
    classify once per report; reuse=False recomputes (and refreshes the kept copy)."""
    settings = load_settings(settings)
    day = to_date(as_of)
    settings = with_data_lapse(settings, orders_path, day)
    kept = kept_segmentation_path(orders_path, day, settings)
    if reuse and kept is not None:
        found = _recalled(kept)
        if found is None and kept.is_file():
            found = _read_kept(kept, orders_path, day, settings)
            _remember(kept, found)
        if found is not None:
            return found
    base = customer_base(orders_path, day, settings.merge_same_day)
    cuts = segment_cuts(base, settings)
    rules = settings.rfm.segment_rules()
    customers = classify_customers(base, settings, cuts, rules)
    segmentation = Segmentation(day, Path(orders_path), settings, rules, cuts, customers)
    if kept is not None:
        _keep(kept, segmentation)
        _remember(kept, segmentation)
    return segmentation


# The last classification this process read or made, by its kept file (and that file's change
# time): a batch worker's segment lists and strategy lists, or one warm kernel's segments and
# strategy chapters, read the file once (0.03 CPU-s a read at 25,000 customers). Only up to
# MEMO_MAX_CUSTOMERS: a large client's frame is not held once its chapter is done.
MEMO_MAX_CUSTOMERS = 200_000
_memo: dict[str, tuple[tuple[str, int], Segmentation]] = {}
_memo_lock = threading.Lock()


def _file_key(path: Path) -> tuple[str, int] | None:
    """The kept file as the memo knows it: its path and modification time (None: no file)."""
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return None


def _recalled(kept: Path) -> Segmentation | None:
    """The remembered classification of this kept file, as a copy the caller may change."""
    key = _file_key(kept)
    with _memo_lock:
        found = _memo.get("last")
    if key is None or found is None or found[0] != key:
        return None
    # a shallow copy (copy-on-write): a column the caller adds or changes stays the caller's
    return dataclasses.replace(found[1], customers=found[1].customers.copy(deep=False))


def _remember(kept: Path, segmentation: Segmentation | None) -> None:
    """Remember a classification read from or written to its kept file (small ones only)."""
    key = _file_key(kept)
    with _memo_lock:
        _memo.clear()
        if segmentation is not None and key is not None and len(segmentation.customers) <= MEMO_MAX_CUSTOMERS:
            _memo["last"] = (key, dataclasses.replace(segmentation, customers=segmentation.customers.copy(deep=False)))


CUTS_KEY = b"crmlib.segment_cuts"
# part of the kept file's key: a copy written in an older layout (before format 2: the index as
# an int64 column, counts and days as int64, monetary always) is recomputed once, never read as
# if it were this one
KEPT_FORMAT = 2


def kept_segmentation_path(orders_path: Path | str, day: dt.date, settings: SegmentSettings) -> Path | None:
    """Where the classification of (orders file, day, settings) is kept; None without an orders file."""
    return kept_path(orders_path, "segments", ".parquet", KEPT_FORMAT, day.isoformat(),
                     settings.model_dump(mode="json"))


def kept_derived_path(segmentation: Segmentation, kind: str, *depends_on: object) -> Path | None:
    """Where a result derived from a classification is kept (an .npz beside its kept copy, keyed
    by the same orders file, day and settings, and depends_on); None for a classification that
    has no orders file (made by hand)."""
    if segmentation.orders_path is None:
        return None
    return kept_path(segmentation.orders_path, kind, ".npz", KEPT_FORMAT, segmentation.as_of.isoformat(),
                     segmentation.settings.model_dump(mode="json"), *depends_on)


def _keep(path: Path, segmentation: Segmentation) -> None:
    """Write the classification and its yardstick (schema metadata) beside the orders (crmlib.store.kept)."""
    cuts = json.dumps(dataclasses.asdict(segmentation.cuts), default=float)
    # the default RangeIndex (customer_base's) is kept as schema metadata, not as an int64 column
    # (8 bytes per customer), and is read back as a RangeIndex, as the fresh frame has
    table = pa.Table.from_pandas(segmentation.customers, preserve_index=None)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), CUTS_KEY: cuts.encode()})
    keep(path, lambda partial: pq.write_table(table, partial))
    del table
    pa.default_memory_pool().release_unused()  # the writer's buffers: back to the system, not cached


def _read_columns(file: pq.ParquetFile) -> pd.DataFrame:
    """The kept frame read one column at a time: the peak is the frame plus one column's Arrow
    copy, where reading the whole table first held the table and the frame at once (at 5.1M
    customers 1.0 GB for a 0.5 GB frame). The pandas metadata gives each column its dtype
    (str, ordered categoricals) and the RangeIndex."""
    columns = []
    for name in file.schema_arrow.names:
        table = file.read(columns=[name], use_threads=False)
        columns.append(table.to_pandas(self_destruct=True))
        del table
    return pd.concat(columns, axis=1)  # no copy (copy-on-write): the columns become the frame's


def _read_kept(path: Path, orders_path: Path | str, day: dt.date, settings: SegmentSettings) -> Segmentation | None:
    """The kept classification, or None when the file is unreadable (it is then recomputed)."""
    try:
        with pq.ParquetFile(path) as file:
            raw = json.loads(file.schema_arrow.metadata[CUTS_KEY])
            customers = _read_columns(file)
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
        return None
    finally:
        pa.default_memory_pool().release_unused()  # the file's Arrow buffers: back to the system, not cached
    cuts = SegmentCuts(
        rfm=RfmBounds(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw["rfm"].items()}),
        cpm_spend=SpendLine(**raw["cpm_spend"]),
        ladder_spend_floor=raw["ladder_spend_floor"],
        deciles=tuple(raw["deciles"]),
    )
    return Segmentation(day, Path(orders_path), settings, settings.rfm.segment_rules(), cuts, customers)


def classify_on(segmentation: Segmentation, day: dt.date) -> pd.DataFrame:
    """The customers before `day` classified with the segmentation's yardstick (for migration)."""
    base = customer_base(segmentation.orders_path, day, segmentation.settings.merge_same_day)
    return classify_customers(base, segmentation.settings, segmentation.cuts, segmentation.rules)


__all__ = [
    "SegmentCuts", "Segmentation", "classify_customers", "classify_on", "kept_derived_path", "scheme_classes",
    "segment_customers", "segment_cuts",
]
