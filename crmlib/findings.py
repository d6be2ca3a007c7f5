"""Findings for the executive summary: the plug-in every chapter uses to add its own.

A chapter registers rules in its own ``findings`` module (named in crmlib.registry) with
``@finding_rule(...)``. A rule reads a few dotted keys of metrics.json (``diagnosis.f2_conversion``)
and returns an Assessment (is it an alert, the values for its sentence) or None. A rule whose keys
are missing is skipped, so the summary degrades to what the report holds. The summary engine
(crmlib.report.summary) ranks and words them; it knows no chapter.

This module is common ground: chapters import it, it imports no chapter and no render code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class SummarySettings(Protocol):
    """What a rule may read of the report settings (crmlib.report.settings.ReportSettings)."""

    f2_benchmark: float
    max_findings: int


# Typed values: the rule says what a number is, the summary formats it with the report's
# single set of formatters (crmlib.style), in the report's currency.
class Money(float):
    """An amount in the report currency."""


class Pct(float):
    """A share (0.25 = 25.0%)."""


class Count(float):
    """A count of customers, orders, days ..."""


class Words(tuple):
    """Words in the report language, joined by the list separator: each item a catalog key with
    its values, (key, {name: text}), or a text of the client's shown as it is (a goal's label)."""


class Metrics:
    """Read access to metrics.json by dotted key; missing, null or non-finite values are None."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def get(self, key: str) -> Any:
        """The value at 'a.b.c', or None when any part is missing or the number is NaN/inf."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        if isinstance(node, float) and not math.isfinite(node):
            return None
        return node

    def has(self, *keys: str) -> bool:
        """True when every key holds a value."""
        return all(self.get(key) is not None for key in keys)


@dataclass(frozen=True)
class Assessment:
    """A rule's verdict: whether it is an alert, the sentence variant and its named values."""

    alert: bool
    values: dict[str, Any]
    variant: str = ""


DEFAULT_MIN_CUSTOMERS = 30  # the sample floor when metrics.json records none (diagnosis.min_customers)


@dataclass(frozen=True)
class Requirement:
    """What a rule's figure rests on, checked against metrics.json before the rule runs.

    floor None: the key must hold a true value (a coverage flag such as "the period's new and
    existing customers are observable"); otherwise the key is a sample size that must reach the
    floor: a number, or the dotted key of one (default: coverage.min_customers).
    """

    key: str
    floor: float | str | None = None

    def holds(self, m: Metrics) -> bool:
        """True when metrics.json supports the rule on this point."""
        value = m.get(self.key)
        if self.floor is None:
            return bool(value)
        floor = m.get(self.floor) if isinstance(self.floor, str) else self.floor
        if floor is None:
            floor = DEFAULT_MIN_CUSTOMERS
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= floor


def observable(key: str) -> Requirement:
    """A coverage requirement: the dotted key must be true."""
    return Requirement(key)


def sample(key: str, floor: float | str = "coverage.min_customers") -> Requirement:
    """A sample requirement: the count at the dotted key must reach the floor."""
    return Requirement(key, floor)


@dataclass(frozen=True)
class FindingRule:
    """A registered rule: where its section is in the report and how it reads metrics."""

    name: str
    chapter: str  # page stem, e.g. "01_diagnosis"
    anchor: str  # the section id on that page
    priority: int  # higher = more important among findings of the same kind
    needs: tuple[str, ...]  # dotted metrics keys; the rule is skipped when one is missing
    assess: Callable[[Metrics, SummarySettings], Assessment | None]
    message: str = ""  # catalog key of the sentence; default summary.<name>
    headline: str = ""  # the value shown big beside the sentence; default the first value
    # the coverage and sample the rule rests on; the rule is skipped when one does not hold
    requires: tuple[Requirement, ...] = ()
    # values (Count/Money) that must be above zero: a sentence never makes a priority of nobody
    nonzero: tuple[str, ...] = ()

    def supported(self, m: Metrics) -> bool:
        """True when every declared requirement holds in metrics.json."""
        return all(requirement.holds(m) for requirement in self.requires)

    def message_key(self, variant: str) -> str:
        """The catalog key of the sentence for one variant (key_variant, or key when none)."""
        base = self.message or f"summary.{self.name}"
        return f"{base}_{variant}" if variant else base


@dataclass(frozen=True)
class Finding:
    """One line of the executive summary, ready to show."""

    rule: str
    chapter: str
    anchor: str
    alert: bool
    priority: int
    text: str
    headline: str  # the finding's main number, formatted
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def href(self) -> str:
        """Link to the section in its chapter page."""
        return f"{self.chapter}.html#{self.anchor}"


FINDING_RULES: dict[str, FindingRule] = {}


def finding_rule(
    name: str, *, chapter: str, anchor: str, priority: int, needs: tuple[str, ...], message: str = "",
    headline: str = "", requires: tuple[Requirement, ...] = (), nonzero: tuple[str, ...] = (),
) -> Callable[[Callable[[Metrics, SummarySettings], Assessment | None]], Callable]:
    """Register a finding rule (a decorator); its sentence is the catalog message `message`
    (default summary.<name>), with _<variant> appended when the assessment names a variant.
    requires: the coverage and samples it rests on (observable(key), sample(key)); nonzero: the
    names of values that must be above zero for the finding to be shown."""

    def register(function: Callable[[Metrics, SummarySettings], Assessment | None]) -> Callable:
        FINDING_RULES[name] = FindingRule(
            name, chapter, anchor, priority, tuple(needs), function, message, headline, tuple(requires),
            tuple(nonzero),
        )
        return function

    return register


__all__ = [
    "DEFAULT_MIN_CUSTOMERS",
    "FINDING_RULES",
    "Assessment",
    "Count",
    "Finding",
    "FindingRule",
    "Metrics",
    "Money",
    "Pct",
    "Requirement",
    "SummarySettings",
    "finding_rule",
    "observable",
    "sample",
]
