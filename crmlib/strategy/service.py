"""Step 4, the service process: who does what, when and through which channel at each stage.

A measure without timing_days gets the data's timing, in days after the purchase that opened the
stage (journey_data): first_purchase 0 (at the order), arrival the 10th percentile of the days
to a second purchase (early, before the first returns), lapsed the ladder's lapse days (the day a
customer counts as lapsed), the other stages the 25th percentile of the days to their next
purchase (a contact that lands before three quarters of the returns).
"""

from __future__ import annotations

import pandas as pd

from .settings import Measure

TIMING_COLUMN = {"arrival": "next_p10", "second_purchase": "next_p25", "habit": "next_p25", "loyal": "next_p25"}


def data_timing(stage: str, journey: pd.DataFrame, lapse_days: int) -> int | None:
    """The data's default timing (days) of a measure at the stage (see the module docstring)."""
    if stage == "first_purchase":
        return 0
    if stage == "lapsed":
        return int(lapse_days)
    rows = journey.loc[journey["stage"] == ("first_purchase" if stage == "arrival" else stage)]
    if rows.empty:
        return None
    value = rows.iloc[0][TIMING_COLUMN[stage]]
    return None if value is None or pd.isna(value) else int(round(float(value)))


def suggested_measures(stages: list[str], lang: str) -> list[Measure]:
    """One placeholder measure per stage (named after the stage), shown when the YAML has none,
    so the table and timeline still give the data's timing for every stage."""
    from ..i18n import t

    return [Measure(stage=stage, measure=t(f"strategy.journey.stages.{stage}", lang)) for stage in stages]


def service_plan(measures: list[Measure], journey: pd.DataFrame, lapse_days: int) -> pd.DataFrame:
    """One row per measure in stage order: stage, measure, owner, channel, timing_days,
    timing_source ('yaml' or 'data'), cost (per contact), customers (at the stage now) and
    cost_now (cost x customers: one round of the measure to today's stage)."""
    order = {stage: i for i, stage in enumerate(journey["stage"])}
    customers = dict(zip(journey["stage"], journey["customers"]))
    rows = []
    for m in measures:
        timing = m.timing_days if m.timing_days is not None else data_timing(m.stage, journey, lapse_days)
        reach = customers.get(m.stage)
        rows.append({
            "stage": m.stage, "measure": m.measure, "owner": m.owner, "channel": m.channel,
            "timing_days": timing, "timing_source": "yaml" if m.timing_days is not None else "data",
            "cost": m.cost, "customers": reach,
            "cost_now": None if m.cost is None or reach is None else m.cost * reach,
        })
    frame = pd.DataFrame(rows, columns=["stage", "measure", "owner", "channel", "timing_days", "timing_source",
                                        "cost", "customers", "cost_now"])
    frame["_order"] = frame["stage"].map(order).fillna(len(order))
    return frame.sort_values(["_order", "timing_days"], kind="stable").drop(columns="_order").reset_index(drop=True)


__all__ = ["data_timing", "service_plan", "suggested_measures"]
