"""The model of metrics.json's "segments" section (crmlib.segments.report.headline_metrics)."""

from __future__ import annotations

from pydantic import Field

from ..metrics import MetricsModel, Num, Share


class Moves(MetricsModel):
    """Customers by how their class moved between the two dates."""

    new: int | None = None
    up: int | None = None
    stayed: int | None = None
    down: int | None = None
    lapsed: int | None = None
    returned: int | None = None


class Migration(MetricsModel):
    """Segment migration from a year before (start) to the as-of date (end), per scheme."""

    start: str | None = None
    end: str | None = None
    start_customers: int | None = None
    rfm: Moves | None = None
    cpm: Moves | None = None
    ladder: Moves | None = None


class RFMBounds(MetricsModel):
    """The score bounds of the RFM scoring (rank based, ties kept together)."""

    recency_days: list[Num] = Field(default_factory=list)
    frequency: list[Num] = Field(default_factory=list)
    monetary: list[Num] = Field(default_factory=list)
    monetary_basis: str | None = None


class SegmentsMetrics(MetricsModel):
    """Customers per RFM segment, CPM class and ladder stage; migration; the rules' bounds."""

    as_of: str | None = None
    customers: int | None = None
    revenue: Num = None
    history_days: int | None = None
    rfm_method: str | None = None
    rfm_bounds: RFMBounds | None = None
    rfm: dict[str, Share] = Field(default_factory=dict)  # segment key (rfm_segments.yaml or the client's) -> size
    cpm: dict[str, Share] = Field(default_factory=dict)  # CPM class -> size
    cpm_unobservable: dict[str, int] = Field(default_factory=dict)  # CPM class the history is too short to observe -> days needed
    cpm_spend_line: Num = None
    cpm_spend_source: str | None = None
    ladder: dict[str, Share] = Field(default_factory=dict)  # ladder stage -> size
    ladder_spend_floor: Num = None
    migration: Migration | None = None
