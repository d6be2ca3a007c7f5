"""The `segments:` section of the client YAML: RFM scoring and rules, CPM, ladder, migration, exports.

Every key has a default, so `segments: {}` runs; an unknown key is an error (a typo must not pass
silently as a default). An RFM rule set that leaves a score combination without a segment, or
puts one in two segments, is refused with the combinations named.

Example (all keys optional):

    segments:
      merge_same_day: true          # orders of one customer on one day = one purchase
      rfm:
        method: fixed               # quantile (default) or fixed
        monetary: total             # total spend (default) or mean order value
        thresholds:                 # only with method: fixed
          recency_days: [30, 90, 180, 365]       # R5 <= 30 days ... R2 <= 365, R1 >= 366
          frequency: [1, 2, 3, 5]                # F1 = 1 purchase, F2 = 2, F3 = 3, F4 = 4-5, F5 >= 6
          monetary: [5000, 10000, 15000, 20000]  # M1 <= 5,000 ... M4 <= 20,000, M5 > 20,000
        rules:                      # replaces the 11-segment default (crmlib/store/segments/rfm_segments.yaml)
          - {key: champions, cells: [{r: 5, f: 4-5}]}
          - ...
      cpm: {active_days: 240, early_repeat_days: 90, top_tenure_days: 210, spend: 70000}
      ladder: {follow_up_days: 90, lapse_days: 240, stage4_purchases: 5, stage4_top_spend_share: 0.1}
      migration: {days_before: 90}
      exports: {enabled: true, include_email: false, schemes: [rfm]}
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ...config import yaml_lapse_days
from ...errors import ConfigError
from ...i18n import catalog
from ...style import LANGS

SCORES = (1, 2, 3, 4, 5)  # the scores of one RFM axis: 1 (worst) .. 5 (best)
AXES = ("r", "f", "m")
RULES_FILE = "rfm_segments.yaml"


def parse_scores(spec: int | str | list[int], axis: str) -> tuple[int, ...]:
    """One axis of a rule box as sorted scores: 5 -> (5,), '4-5' -> (4, 5), [1, 3] -> (1, 3)."""
    if isinstance(spec, bool):
        raise ValueError(f"{axis}: give a score 1-5, a range such as '4-5' or a list, not {spec!r}")
    if isinstance(spec, int):
        scores = [spec]
    elif isinstance(spec, str):
        parts = spec.replace(" ", "").split("-")
        if len(parts) == 1 and parts[0].isdigit():
            scores = [int(parts[0])]
        elif len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[0]) <= int(parts[1]):
            scores = list(range(int(parts[0]), int(parts[1]) + 1))
        else:
            raise ValueError(f"{axis}: {spec!r} is not a score or a range such as '4-5'")
    elif isinstance(spec, list) and spec and all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
        scores = list(spec)
    else:
        raise ValueError(f"{axis}: give a score 1-5, a range such as '4-5' or a list of scores, not {spec!r}")
    if any(s not in SCORES for s in scores):
        raise ValueError(f"{axis}: scores run from 1 to 5, got {spec!r}")
    return tuple(sorted(set(scores)))


class Texts(BaseModel):
    """A label in both report languages."""

    model_config = ConfigDict(extra="forbid")

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


class RfmBox(BaseModel):
    """A box of RFM scores: every combination of the listed r, f and m scores."""

    model_config = ConfigDict(extra="forbid")

    r: int | str | list[int] = "1-5"
    f: int | str | list[int] = "1-5"
    m: int | str | list[int] = "1-5"

    @model_validator(mode="after")
    def _check(self) -> RfmBox:
        for axis in AXES:
            parse_scores(getattr(self, axis), axis)
        return self

    def combinations(self) -> list[tuple[int, int, int]]:
        """The (r, f, m) combinations inside the box."""
        r, f, m = (parse_scores(getattr(self, axis), axis) for axis in AXES)
        return [(a, b, c) for a in r for b in f for c in m]


class RfmSegmentRule(BaseModel):
    """One named segment: a union of score boxes, optionally its own names and measure."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="ASCII id; also the export file name")
    cells: list[RfmBox] = Field(min_length=1)
    lapsed: bool = Field(False, description="customers here count as lapsed in the migration tables")
    name: Texts | None = Field(None, description="name in ja and en; default from the message catalog")
    action: Texts | None = Field(None, description="suggested measure; default from the message catalog")

    def combinations(self) -> set[tuple[int, int, int]]:
        """Every (r, f, m) combination the segment's boxes cover."""
        return {combo for box in self.cells for combo in box.combinations()}


def combo_label(combo: tuple[int, int, int]) -> str:
    """(5, 4, 3) -> 'R5F4M3', the way the error messages name a combination."""
    return "R{}F{}M{}".format(*combo)


def check_partition(rules: list[RfmSegmentRule]) -> None:
    """Raise ValueError naming every combination with no segment or with more than one."""
    owners: dict[tuple[int, int, int], list[str]] = {
        (r, f, m): [] for r in SCORES for f in SCORES for m in SCORES
    }
    for rule in rules:
        for combo in sorted(rule.combinations()):
            owners[combo].append(rule.key)
    gaps = [combo_label(c) for c, keys in owners.items() if not keys]
    overlaps = [f"{combo_label(c)} ({', '.join(keys)})" for c, keys in owners.items() if len(keys) > 1]
    problems = []
    if gaps:
        problems.append(f"{len(gaps)} score combination(s) belong to no segment: {', '.join(gaps)}")
    if overlaps:
        problems.append(f"{len(overlaps)} score combination(s) belong to more than one segment: "
                        f"{'; '.join(overlaps)}")
    if problems:
        raise ValueError(
            "the RFM rules must put each of the 125 score combinations in exactly one segment; "
            + "; and ".join(problems)
        )


def _catalog_has(key: str) -> bool:
    """True when both message catalogs hold the text `key`."""
    return all(key in catalog(lang) for lang in LANGS)


@lru_cache(maxsize=1)
def _default_rules_data() -> tuple[dict[str, Any], ...]:
    """The packaged default rule set, as plain data (read once)."""
    text = files("crmlib.store.segments").joinpath(RULES_FILE).read_text(encoding="utf-8")
    return tuple(yaml.safe_load(text)["segments"])


def default_rfm_rules() -> list[RfmSegmentRule]:
    """The 11-segment default (crmlib/store/segments/rfm_segments.yaml), validated."""
    return [RfmSegmentRule.model_validate(item) for item in _default_rules_data()]


def _check_rules(rules: list[RfmSegmentRule]) -> None:
    """Unique keys, a name for every segment, and the exactly-once partition of the 125 combinations."""
    keys = [rule.key for rule in rules]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"segment keys must be unique; repeated: {', '.join(twice)}")
    unnamed = [r.key for r in rules if r.name is None and not _catalog_has(f"segments.rfm.names.{r.key}")]
    if unnamed:
        raise ValueError(
            f"segment(s) {', '.join(unnamed)} need a name: add name: {{ja: ..., en: ...}} "
            "(only the default keys have built-in names)"
        )
    check_partition(rules)


class RfmThresholds(BaseModel):
    """Fixed score thresholds: four ascending upper bounds per axis (the best/worst score is open)."""

    model_config = ConfigDict(extra="forbid")

    recency_days: list[int] = Field(
        default_factory=lambda: [30, 90, 180, 365],
        description="days since the last purchase: R5 <= 1st, R4 <= 2nd, R3 <= 3rd, R2 <= 4th, R1 above",
    )
    frequency: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 5],
        description="purchases: F1 <= 1st, F2 <= 2nd, F3 <= 3rd, F4 <= 4th, F5 above",
    )
    monetary: list[float] = Field(
        default_factory=lambda: [5000.0, 10000.0, 15000.0, 20000.0],
        description="spend in the report currency: M1 <= 1st, ..., M4 <= 4th, M5 above",
    )

    @field_validator("recency_days", "frequency", "monetary")
    @classmethod
    def _four_ascending(cls, value: list[float]) -> list[float]:
        if len(value) != 4:
            raise ValueError("give 4 bounds (between the five scores), e.g. [30, 90, 180, 365]")
        if any(b < 0 for b in value) or any(a >= b for a, b in zip(value, value[1:])):
            raise ValueError("bounds must be zero or more and strictly ascending")
        return value


class RfmSettings(BaseModel):
    """How RFM scores are given and how scores map to named segments."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["quantile", "fixed"] = Field(
        "quantile", description="quantile: fifths of the customers (ties share a score); fixed: thresholds"
    )
    monetary: Literal["total", "mean"] = Field(
        "total", description="M is total spend before as_of, or mean order value (spend / orders)"
    )
    thresholds: RfmThresholds | None = Field(None, description="with method: fixed (default: DOMAIN examples)")
    rules: list[RfmSegmentRule] | None = Field(
        None, description="a complete segment rule set, best segment first; replaces the 11-segment default"
    )

    @model_validator(mode="after")
    def _check(self) -> RfmSettings:
        if self.method == "quantile" and self.thresholds is not None:
            raise ValueError("rfm.thresholds are only used with method: fixed; remove them or set method: fixed")
        if self.rules is not None:
            _check_rules(self.rules)
        return self

    def fixed_thresholds(self) -> RfmThresholds:
        """The fixed thresholds in force (the defaults when none were given)."""
        return self.thresholds or RfmThresholds()

    def segment_rules(self) -> list[RfmSegmentRule]:
        """The rule set in force: the client's, else the packaged default."""
        return list(self.rules) if self.rules is not None else default_rfm_rules()


class CpmSettings(BaseModel):
    """CPM (Customer Portfolio Management) thresholds, in days and in the report currency."""

    model_config = ConfigDict(extra="forbid")

    active_days: int = Field(240, ge=1, le=3650, description="active while days since the last purchase < this")
    early_repeat_days: int = Field(
        90, ge=1, le=3650, description="よちよち客: 2+ purchases, first to last purchase < this many days"
    )
    top_tenure_days: int = Field(
        210, ge=1, le=3650, description="first to last purchase: 流行客 below this, 優良客 at or above"
    )
    spend: float | None = Field(
        None, gt=0, description="total spend line of 流行客/優良客 (70,000 yen in the classic setting); "
        "default: spend_aov_multiple x the shop's AOV"
    )
    spend_aov_multiple: float = Field(
        7.0, gt=0, le=100, description="when spend is not given: this many times the AOV before as_of"
    )

    @model_validator(mode="after")
    def _check(self) -> CpmSettings:
        if self.early_repeat_days >= self.top_tenure_days:
            raise ValueError(
                f"early_repeat_days ({self.early_repeat_days}) must be below top_tenure_days ({self.top_tenure_days})"
            )
        if self.spend is not None and "spend_aov_multiple" in self.model_fields_set:
            raise ValueError("give either spend (a fixed amount) or spend_aov_multiple, not both")
        return self


class LadderSettings(BaseModel):
    """Loyalty ladder: stage from purchases and spend, lapse from days since the last purchase."""

    model_config = ConfigDict(extra="forbid")

    follow_up_days: int = Field(
        90, ge=1, le=3650, description="stage 1 = one purchase made less than this many days ago; "
        "a one-time buyer past it counts as lapsed"
    )
    lapse_days: int = Field(240, ge=1, le=3650, description="stages 2-4 lapse after this many days without a purchase")
    stage2_purchases: int = Field(2, ge=2, description="purchases that reach stage 2 (期待感の充足)")
    stage3_purchases: int = Field(3, ge=3, description="purchases that reach stage 3 (信頼感の獲得)")
    stage4_purchases: int = Field(5, ge=4, description="purchases that reach stage 4 (優良顧客化)")
    stage4_top_spend_share: float | None = Field(
        0.10, gt=0, lt=1, description="also stage 4: spend among this top share of customers (null: off)"
    )
    stage4_spend: float | None = Field(None, gt=0, description="also stage 4: spend at or above this amount")
    stage4_spend_min_purchases: int = Field(
        2, ge=1, description="purchases needed before top spend lifts a customer to stage 4"
    )

    @model_validator(mode="after")
    def _check(self) -> LadderSettings:
        if not self.stage2_purchases < self.stage3_purchases < self.stage4_purchases:
            raise ValueError("stage2_purchases < stage3_purchases < stage4_purchases is required")
        if self.follow_up_days > self.lapse_days:
            raise ValueError(f"follow_up_days ({self.follow_up_days}) must not exceed lapse_days ({self.lapse_days})")
        if self.stage4_spend is not None and self.stage4_top_spend_share is not None \
                and "stage4_top_spend_share" in self.model_fields_set:
            raise ValueError("give either stage4_spend or stage4_top_spend_share, not both")
        return self

    def top_spend_share(self) -> float | None:
        """The top-spend share in force (none when a fixed stage4_spend is given)."""
        return None if self.stage4_spend is not None else self.stage4_top_spend_share


class MigrationSettings(BaseModel):
    """The earlier date the migration tables compare with."""

    model_config = ConfigDict(extra="forbid")

    days_before: int = Field(90, ge=1, le=3650, description="compare as_of with this many days earlier")


Scheme = Literal["rfm", "cpm", "ladder"]


class ExportSettings(BaseModel):
    """Customer lists written for mail tools beside the report (never shown in the HTML)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="write exports/ with one list per segment")
    include_email: bool = Field(
        False, description="add e-mail addresses from contacts.parquet (only when the client allows it)"
    )
    schemes: list[Scheme] = Field(default_factory=lambda: ["rfm"], description="segmentations to export")
    xlsx_max_customers: int = Field(
        1_000_000, ge=0,
        description="write segments.xlsx only up to this many customers (the CSVs are always written)",
    )

    @field_validator("schemes")
    @classmethod
    def _schemes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one of rfm, cpm, ladder (or set enabled: false)")
        return list(dict.fromkeys(value))


class SegmentSettings(BaseModel):
    """Validated settings of the segments chapter (client YAML section `segments:`)."""

    model_config = ConfigDict(extra="forbid")

    merge_same_day: bool = Field(
        True, description="count a customer's orders on one calendar day as one purchase (F, CPM, ladder)"
    )
    lapse_from_data: bool = Field(
        True, description="when cpm.active_days or ladder.lapse_days is not set, use the shop's lapse window "
        "(the 90th percentile of the days between purchases, as the diagnosis; crmlib.store.coverage) "
        "instead of 240 days; the 240 days stay when the data has too few repeat purchases to measure it",
    )
    lapse_days: int | None = Field(
        None, ge=31, le=1095, description="the shop's lapse window from the client YAML's diagnosis.lapse_days, "
        "filled in by the report (report_settings; write it under diagnosis:): cpm.active_days and "
        "ladder.lapse_days where this section sets neither, whatever lapse_from_data says",
    )
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    cpm: CpmSettings = Field(default_factory=CpmSettings)
    ladder: LadderSettings = Field(default_factory=LadderSettings)
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    exports: ExportSettings = Field(default_factory=ExportSettings)


def report_settings(config: Any) -> dict[str, Any]:
    """The `segments` settings every user of the segmentation gets (the segments notebook and its
    customer lists, the strategy and products chapters): the segments: section plus the shop's
    lapse window from diagnosis.lapse_days, so one YAML value reaches the leaky bucket, CPM and the
    ladder alike."""
    section = dict(getattr(config, "segments", None) or {})
    if "lapse_days" in section:
        raise ConfigError("key 'segments.lapse_days': the lapse window is one for the whole report.",
                          hint="write it as diagnosis.lapse_days (the segments chapter uses it too), or set "
                               "segments.cpm.active_days and segments.ladder.lapse_days for CPM and the ladder alone")
    lapse = yaml_lapse_days(config)
    return section if lapse is None else {**section, "lapse_days": lapse}


def load_settings(data: SegmentSettings | dict[str, Any] | None) -> SegmentSettings:
    """Validate the `segments:` section; problems become one ConfigError naming each key path."""
    if isinstance(data, SegmentSettings):
        return data
    try:
        return SegmentSettings.model_validate(data or {})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in ("segments", *error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            lines.append(f"- {loc}: {message}")
        raise ConfigError(
            "invalid segments settings:\n" + "\n".join(lines),
            hint="fix the keys above in the client YAML (see crmlib/segments/settings.py for every key)",
        ) from None
