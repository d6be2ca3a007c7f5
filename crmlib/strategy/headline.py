"""The strategy chapter's headline figures for metrics.json (cross-client tables, the summary page)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{c: (None if pd.isna(v) else v) for c, v in zip(columns, row)}
            for row in frame[columns].itertuples(index=False)]


def headline_metrics(plan: pd.DataFrame, targets: pd.DataFrame, journey: pd.DataFrame,
                     effects: list[pd.DataFrame], nps: dict[str, Any] | None) -> dict[str, Any]:
    """Goals (baseline, target, pace, assessment), targets (customers, gain), the journey's
    conversions, each experiment's effect on buying (difference and 95% interval) and NPS."""
    experiments = []
    for effect in effects:
        row = effect.set_index("outcome").loc["bought"]
        experiments.append({"name": effect.attrs["name"], "window_days": effect.attrs["window"],
                            **{k: (None if pd.isna(row[k]) else float(row[k]))
                               for k in ("treated", "control", "difference", "low", "high", "p")},
                            "n_treated": int(row["n_treated"]), "n_control": int(row["n_control"])})
    return {
        "goals": _records(plan, ["metric", "label", "window_days", "baseline", "target", "required_per_year",
                                 "feasibility"]),
        "targets": _records(targets.assign(segment=targets["scheme"] + ":" + targets["key"]),
                            ["segment", "customers", "value_n", "value_at_stake", "gain", "status"]),
        "journey": {r.stage: (None if pd.isna(r.conversion) else float(r.conversion))
                    for r in journey.itertuples(index=False)},
        "experiments": experiments,
        "nps": None if nps is None else {"nps": nps["nps"], "n": nps["n"], "low": nps["low"], "high": nps["high"]},
    }


__all__ = ["headline_metrics"]
