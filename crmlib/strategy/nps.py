"""NPS (Net Promoter Score) from a survey file, overall, per segment, and joined to purchases.

NPS = % promoters (9-10) - % detractors (0-6), in points from -100 to 100. Its 95% interval
uses the variance of the difference of two shares of one sample: (pP + pD - (pP - pD)^2) / n.
Respondents are classified with the segments chapter's classes on as_of; ids not found among
the customers are counted and left out of the per-segment rows. Free-text comments are never
shown: they can hold names and contact details.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..store.segments.classify import Segmentation
from ..store.segments.migration import SCHEME_COLUMNS
from ..store.segments.names import display_order
from .inputs import bad_rows_error, read_table
from .verification import Z95

CATEGORIES = ("promoter", "passive", "detractor")


def read_survey(path: Path | str) -> pd.DataFrame:
    """customer_id and score (whole numbers 0-10) of every answer; other columns are dropped."""
    frame = read_table(path, ("customer_id", "score"), "NPS survey")
    score = pd.to_numeric(frame["score"].str.strip(), errors="coerce")
    bad = score.isna() | (score < 0) | (score > 10) | (score % 1 != 0)
    if bad.any():
        raise bad_rows_error(path, "score", bad, "whole numbers from 0 to 10")
    return pd.DataFrame({"customer_id": frame["customer_id"].str.strip(), "score": score.astype("int64")})


def nps_category(score: pd.Series) -> pd.Series:
    """promoter (9-10), passive (7-8) or detractor (0-6)."""
    return pd.Series(pd.cut(score, [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"]).astype(str),
                     index=score.index, name="category")


def nps_score(score: pd.Series) -> dict[str, float | int | None]:
    """n, shares of promoters/passives/detractors, NPS (points) and its 95% interval."""
    n = len(score)
    if n == 0:
        return {"n": 0, "promoters": None, "passives": None, "detractors": None, "nps": None, "low": None, "high": None}
    p = float((score >= 9).mean())
    d = float((score <= 6).mean())
    se = math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return {"n": n, "promoters": p, "passives": 1 - p - d, "detractors": d, "nps": 100 * (p - d),
            "low": 100 * (p - d - Z95 * se), "high": 100 * (p - d + Z95 * se)}


def survey_customers(survey: pd.DataFrame, seg: Segmentation) -> pd.DataFrame:
    """The answers joined to the customers on as_of (class columns, purchases, revenue); known
    is False for ids not among the customers."""
    columns = ["customer_id", "purchases", "revenue", *SCHEME_COLUMNS.values()]
    out = survey.merge(seg.customers[columns], on="customer_id", how="left", indicator=True)
    out["known"] = out["_merge"] == "both"
    out["category"] = nps_category(out["score"])
    return out.drop(columns="_merge")


def nps_by_segment(answers: pd.DataFrame, seg: Segmentation, scheme: str = "ladder") -> pd.DataFrame:
    """NPS per class of the scheme (classes in display order, only those with answers)."""
    column = SCHEME_COLUMNS[scheme]
    known = answers[answers["known"]]
    rows = []
    for key in display_order(seg, scheme):
        scores = known.loc[known[column].astype(str) == key, "score"]
        if len(scores):
            rows.append({"class": key, **nps_score(scores)})
    return pd.DataFrame(rows)


def nps_by_category(answers: pd.DataFrame) -> pd.DataFrame:
    """Per promoter/passive/detractor: respondents, mean purchases, mean spend and repeat share
    (2+ purchases), from the purchase data of the known respondents."""
    known = answers[answers["known"]]
    grouped = known.groupby("category")
    out = pd.DataFrame({
        "respondents": grouped.size(),
        "purchases": grouped["purchases"].mean(),
        "revenue": grouped["revenue"].mean(),
        "repeat_share": grouped["purchases"].agg(lambda s: float((s >= 2).mean())),
    }).reindex(list(CATEGORIES))
    return out.reset_index(names="category")


__all__ = ["CATEGORIES", "nps_by_category", "nps_by_segment", "nps_category", "nps_score", "read_survey",
           "survey_customers"]
