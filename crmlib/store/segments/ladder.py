"""The loyalty ladder: the four psychological stages of DOMAIN.md, mapped from purchases, spend and recency.

Stage reached (from the purchases before as_of; thresholds configurable):
1. 不安の払拭 (relieve doubt): one purchase;
2. 期待感の充足 (fulfil expectation): stage2_purchases (2) purchases;
3. 信頼感の獲得 (earn trust): stage3_purchases (3-4) purchases;
4. 優良顧客化 (loyal fan): stage4_purchases (5+) purchases, or top spend (spend among the top
   stage4_top_spend_share = 10% of customers by the tie rule of scoring.py, or >= stage4_spend)
   with at least stage4_spend_min_purchases (2) purchases: one large order is not loyalty.

Lapsed customers are shown apart, with the stage they had reached: a one-time buyer whose
purchase is follow_up_days (90) or more days old never took the second step; a repeat customer
lapses after lapse_days (240, the CPM line) without a purchase.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...i18n import t
from .scoring import top_share_floor
from .settings import LadderSettings

STAGES = (1, 2, 3, 4)
CLASSES = ("stage4", "stage3", "stage2", "stage1", "lapsed")  # best first
LAPSED = frozenset({"lapsed"})
LADDER_DTYPE = pd.CategoricalDtype(list(CLASSES), ordered=True)


def ladder_spend_floor(base: pd.DataFrame, settings: LadderSettings) -> float | None:
    """The spend at or above which a repeat customer reaches stage 4 (None when top spend is off)."""
    if settings.stage4_spend is not None:
        return float(settings.stage4_spend)
    share = settings.top_spend_share()
    if share is None:
        return None
    return top_share_floor(base["revenue"].to_numpy(dtype=np.float64), share)


def ladder_stages(base: pd.DataFrame, settings: LadderSettings, spend_floor: float | None) -> pd.DataFrame:
    """Per customer: ladder_stage reached (1-4), ladder_lapsed, and ladder (stage1..stage4 or lapsed)."""
    purchases = base["purchases"].to_numpy()
    recency = base["recency_days"].to_numpy()
    top = purchases >= settings.stage4_purchases
    if spend_floor is not None:
        top |= (base["revenue"].to_numpy(dtype=np.float64) >= spend_floor) & (
            purchases >= settings.stage4_spend_min_purchases)
    stage = np.select(
        [top, purchases >= settings.stage3_purchases, purchases >= settings.stage2_purchases], [4, 3, 2], 1
    ).astype(np.int8)
    lapsed = np.where(stage == 1, recency >= settings.follow_up_days, recency >= settings.lapse_days)
    codes = np.where(lapsed, len(CLASSES) - 1, 4 - stage).astype(np.int8)  # CLASSES position
    return pd.DataFrame(
        {
            "ladder_stage": stage,
            "ladder_lapsed": lapsed,
            "ladder": pd.Categorical.from_codes(codes, dtype=LADDER_DTYPE),
        },
        index=base.index,
    )


def stage_names(lang: str) -> dict[str, str]:
    """Ladder class key -> display name (stage1..stage4, lapsed)."""
    return {key: t(f"segments.ladder.names.{key}", lang) for key in CLASSES}


__all__ = ["CLASSES", "LADDER_DTYPE", "LAPSED", "STAGES", "ladder_spend_floor", "ladder_stages", "stage_names"]
