"""Display tables, takeaway sentences and headline metrics of the products chapter.

Tables are formatted text (no customer-level data but ids in the key-account list); every
sentence comes from crmlib/messages/<lang>/products.yaml.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ..i18n import t
from ..store.coverage import LAPSE_DEFAULT
from ..style import fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from .analysis import VALUE_FALLBACK_DAYS
from .settings import ProductSettings

KEY_FILE = "key_accounts.csv"


def item_label(value: Any, lang: str) -> str:
    """A product or category as shown (a missing one named so)."""
    return t("products.label.none", lang) if value is None or pd.isna(value) or value == "" else str(value)


def _level(settings: ProductSettings) -> str:
    return fmt_pct(settings.confidence, 0)


def lead(customers: int, as_of: dt.date, lang: str) -> str:
    """The chapter's introduction."""
    return t("products.lead", lang, customers=fmt_int(customers), date=fmt_date(as_of - dt.timedelta(days=1), lang))


def _interval(low: pd.Series, high: pd.Series) -> pd.Series:
    return pd.Series([f"{fmt_pct(a)}–{fmt_pct(b)}" for a, b in zip(low, high)], index=low.index, dtype="str")


def entry_table(frame: pd.DataFrame, settings: ProductSettings, lang: str, currency: str) -> pd.DataFrame:
    """The ranked rows (n >= floor) of entry_products, top_n, formatted."""
    by, stage, days = frame.attrs["by"], frame.attrs["stage"], frame.attrs["window"]
    rows = frame[frame["ranked"]].head(settings.top_n)
    count_col = "new_customers" if stage == 1 else "second_customers"
    rate_col = "f2" if stage == 1 else "f3"
    out = pd.DataFrame({
        t(f"products.col.{by}", lang): [item_label(v, lang) for v in rows["item"]],
        t(f"products.col.{count_col}", lang): rows["eligible"].map(fmt_int),
        t(f"products.col.{rate_col}", lang, days=days): rows["rate"].map(fmt_pct),
        t("products.col.interval", lang, level=_level(settings)): _interval(rows["low"], rows["high"]),
        t("products.col.lift", lang): rows["lift"].map(fmt_num),
    })
    window = frame.attrs.get("value_window")
    days_of_value = window.days if window is not None else settings.value_days
    if stage == 1 and days_of_value is not None:  # not observable yet: the columns go, value_note says why
        out[t("products.col.value", lang, days=days_of_value)] = rows["value"].map(lambda v: fmt_money(v, currency)).to_numpy()
        out[t("products.col.value_index", lang)] = rows["value_index"].map(fmt_num).to_numpy()
    return out


def value_note(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str | None:
    """Why the value column has a shorter window than value_days, or is left out (None: the window asked for)."""
    window = frame.attrs.get("value_window")
    if window is None or frame.attrs.get("stage") != 1 or not (window.shortened or window.days is None):
        return None
    if window.missing_days:
        reason = t("products.entry.value_reason_history", lang, have=fmt_int(window.observable_days),
                   missing=fmt_int(window.missing_days))
    else:
        reason = t("products.entry.value_reason_few", lang, floor=fmt_int(settings.min_customers),
                   requested=fmt_int(window.requested))
    if window.days is None:
        return t("products.entry.value_unobservable", lang, requested=fmt_int(window.requested), reason=reason,
                 shortest=fmt_int(min(window.requested, *VALUE_FALLBACK_DAYS)))
    return t("products.entry.value_shortened", lang, requested=fmt_int(window.requested), reason=reason,
             days=fmt_int(window.days), n=fmt_int(window.customers))


def _rate_values(row: pd.Series, frame: pd.DataFrame, lang: str) -> dict[str, str]:
    return {"item": item_label(row["item"], lang), "rate": fmt_pct(row["rate"]), "low": fmt_pct(row["low"]),
            "high": fmt_pct(row["high"]), "lift": fmt_num(row["lift"]), "n": fmt_int(row["eligible"]),
            "shop": fmt_pct(frame.attrs["shop_rate"]), "days": str(frame.attrs["window"])}


def entry_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The best entry product by lift, said plainly when its interval is above the shop's rate."""
    ranked = frame[frame["ranked"]]
    stage = frame.attrs["stage"]
    key = "entry" if stage == 1 else "step3"
    if ranked.empty:
        return t(f"products.{key}.empty", lang, floor=fmt_int(settings.min_customers), days=frame.attrs["window"])
    top = ranked.iloc[0]
    values = _rate_values(top, frame, lang)
    if stage == 1 and not top["low"] > frame.attrs["shop_rate"]:
        return t("products.entry.takeaway_weak", lang, **values)
    return t(f"products.{key}.takeaway", lang, **values)


def has_categories(frame: pd.DataFrame, *columns: str) -> bool:
    """True when the frame names two or more categories (else a category table says nothing)."""
    values = pd.concat([frame[c] for c in (columns or ("item",))], ignore_index=True)
    return values.dropna().nunique() >= 2


def category_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The entry category that converts best and the one that converts least."""
    if not has_categories(frame):
        return t("products.label.no_categories", lang)
    ranked = frame[frame["ranked"]]
    if ranked.empty:
        return t("products.entry.empty", lang, floor=fmt_int(settings.min_customers), days=frame.attrs["window"])
    top, worst = ranked.iloc[0], ranked.iloc[-1]
    return t("products.entry.category_takeaway", lang, **_rate_values(top, frame, lang),
             worst=item_label(worst["item"], lang), worst_rate=fmt_pct(worst["rate"]))


def shown_transitions(frame: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The top_n transitions by lift, at most half of them the same item again (when other pairs
    qualify): re-buys of one product have the largest lifts, and filled the demo's table (15 of
    15) while its takeaway named a move to another product the table did not show."""
    same, other = frame[frame["same"]], frame[~frame["same"]]
    keep_same = max(top_n // 2, top_n - len(other))
    rows = pd.concat([same.head(keep_same), other.head(top_n - min(len(same), keep_same))])
    return rows.sort_values("lift", ascending=False, kind="stable")


def transitions_table(frame: pd.DataFrame, settings: ProductSettings, lang: str, by: str = "product") -> pd.DataFrame:
    """The transitions shown (shown_transitions), formatted (the same item again is marked)."""
    rows = shown_transitions(frame, settings.top_n)
    to = [item_label(b, lang) + (" " + t("products.label.same", lang) if same else "")
          for b, same in zip(rows["to_item"], rows["same"])]
    return pd.DataFrame({
        t("products.col.from", lang): [item_label(a, lang) for a in rows["from_item"]],
        t("products.col.to", lang): to,
        t("products.col.pairs", lang): rows["pairs"].map(fmt_int).to_numpy(),
        t("products.col.support", lang): rows["support"].map(lambda v: fmt_pct(v, 2)).to_numpy(),
        t("products.col.confidence", lang): rows["confidence"].map(fmt_pct).to_numpy(),
        t("products.col.lift", lang): rows["lift"].map(fmt_num).to_numpy(),
    })


def transitions_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The strongest move to another product, and how much of the table is the same product again."""
    if frame.empty:
        return t("products.transitions.empty", lang, floor=fmt_int(settings.min_pairs))
    cross = frame[~frame["same"]]
    top = cross.iloc[0] if not cross.empty else frame.iloc[0]
    return t("products.transitions.takeaway", lang, a=item_label(top["from_item"], lang), b=item_label(top["to_item"], lang),
             lift=fmt_num(top["lift"]), confidence=fmt_pct(top["confidence"]), pairs=fmt_int(top["pairs"]),
             same_share=fmt_pct(frame["same"].mean()), floor=fmt_int(settings.min_pairs))


def category_transitions_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The share of next purchases in the same category, and the strongest move across categories."""
    if not frame.empty and not has_categories(frame, "from_item", "to_item"):
        return t("products.label.no_categories", lang)
    if frame.empty:
        return t("products.transitions.empty", lang, floor=fmt_int(settings.min_pairs))
    same = frame.loc[frame["same"], "pairs"].sum() / frame["pairs"].sum()
    cross = frame[~frame["same"]]
    if cross.empty or not cross["lift"].iloc[0] > 1:
        return t("products.transitions.category_takeaway_same", lang, same=fmt_pct(same))
    top = cross.iloc[0]
    return t("products.transitions.category_takeaway", lang, same=fmt_pct(same), a=item_label(top["from_item"], lang),
             b=item_label(top["to_item"], lang), lift=fmt_num(top["lift"]))


def basket_table(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> pd.DataFrame:
    """The top_n basket pairs by lift, formatted."""
    rows = frame.head(settings.top_n)
    return pd.DataFrame({
        t("products.col.a", lang): [item_label(v, lang) for v in rows["a"]],
        t("products.col.b", lang): [item_label(v, lang) for v in rows["b"]],
        t("products.col.together", lang): rows["together"].map(fmt_int).to_numpy(),
        t("products.col.support", lang): rows["support"].map(lambda v: fmt_pct(v, 2)).to_numpy(),
        t("products.col.confidence_ab", lang): rows["confidence_ab"].map(fmt_pct).to_numpy(),
        t("products.col.confidence_ba", lang): rows["confidence_ba"].map(fmt_pct).to_numpy(),
        t("products.col.lift", lang): rows["lift"].map(fmt_num).to_numpy(),
    })


def basket_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The pair bought together most above chance."""
    if frame.empty:
        return t("products.basket.empty", lang, floor=fmt_int(settings.min_pairs))
    top = frame.iloc[0]
    return t("products.basket.takeaway", lang, a=item_label(top["a"], lang), b=item_label(top["b"], lang),
             lift=fmt_num(top["lift"]), together=fmt_int(top["together"]))


def rebuy_table(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> pd.DataFrame:
    """The top_n most re-bought products with their cycle, formatted."""
    rows = frame.head(settings.top_n)
    return pd.DataFrame({
        t("products.col.product", lang): [item_label(v, lang) for v in rows["product"]],
        t("products.col.rebuys", lang): rows["rebuys"].map(fmt_int).to_numpy(),
        t("products.col.customers", lang): rows["customers"].map(fmt_int).to_numpy(),
        t("products.col.median_days", lang): rows["median_days"].map(lambda v: fmt_num(v, 0)).to_numpy(),
        t("products.col.quartiles", lang): [f"{fmt_num(a, 0)}–{fmt_num(b, 0)}" for a, b in zip(rows["q1_days"], rows["q3_days"])],
        t("products.col.vs_shop", lang): rows["vs_shop"].map(fmt_num).to_numpy(),
    })


def rebuy_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The most re-bought product's cycle against the shop-wide gap; remind at its lower quartile."""
    if frame.empty:
        return t("products.rebuy.empty", lang, floor=fmt_int(settings.min_rebuys))
    top = frame.iloc[0]
    shop = frame.attrs.get("shop_median_gap")
    return t("products.rebuy.takeaway", lang, product=item_label(top["product"], lang), days=fmt_num(top["median_days"], 0),
             rebuys=fmt_int(top["rebuys"]), shop=fmt_num(shop, 0), remind=fmt_num(top["q1_days"], 0))


def best_table(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> pd.DataFrame:
    """The top_n products the best customers buy more than the others, formatted."""
    rows = frame.head(settings.top_n)
    return pd.DataFrame({
        t("products.col.product", lang): [item_label(v, lang) for v in rows["product"]],
        t("products.col.best_share", lang): rows["best_share"].map(fmt_pct).to_numpy(),
        t("products.col.other_share", lang): rows["other_share"].map(fmt_pct).to_numpy(),
        t("products.col.difference", lang): (rows["difference"] * 100).map(lambda v: fmt_num(v, 1)).to_numpy(),
        t("products.col.interval", lang, level=_level(settings)):
            [f"{fmt_num(a * 100, 1)}–{fmt_num(b * 100, 1)}" for a, b in zip(rows["low"], rows["high"])],
    })


def best_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str) -> str:
    """The product that most sets the best customers apart."""
    if frame.empty or not frame["best_n"].iloc[0]:
        return t("products.best.empty", lang, floor=fmt_int(settings.min_customers))
    top = frame.iloc[0]
    return t("products.best.takeaway", lang, product=item_label(top["product"], lang), best_share=fmt_pct(top["best_share"]),
             other_share=fmt_pct(top["other_share"]), best_n=fmt_int(top["best_n"]),
             difference=fmt_num(top["difference"] * 100, 1), low=fmt_num(top["low"] * 100, 1),
             high=fmt_num(top["high"] * 100, 1))


def month_name(month: int, lang: str) -> str:
    """A month of the year: ja '12月', en 'December'."""
    return t("products.season.month", lang, month=month if lang == "ja" else dt.date(2000, month, 1).strftime("%B"))


def season_takeaway(frame: pd.DataFrame, lang: str) -> str:
    """The biggest category's peak month and the month to start its campaign."""
    if frame.empty:
        return t("products.season.empty", lang)
    top = frame.iloc[0]
    peak = int(top["peak"])
    index = float(top[str(peak)])
    return t("products.season.takeaway", lang, category=item_label(top["category"], lang), month=month_name(peak, lang),
             index=fmt_num(index), index_pct=fmt_pct(index, 0), before=month_name((peak - 2) % 12 + 1, lang))


def key_table(frame: pd.DataFrame, settings: ProductSettings, lang: str, currency: str) -> pd.DataFrame:
    """The top of the key-account list (report_rows rows): customer ids only, no contact data; with
    the model that passed its checks, each customer's P(alive)."""
    rows = frame.head(settings.key_accounts.report_rows)
    out = pd.DataFrame({
        t("products.col.customer_id", lang): rows["customer_id"].astype("str").to_numpy(),
        t("products.col.purchases", lang): rows["purchases"].map(fmt_int).to_numpy(),
        t("products.col.last_purchase", lang): [fmt_date(pd.Timestamp(d).date(), lang) for d in rows["last_day"]],
        t("products.col.cycle", lang): rows["median_gap"].map(lambda v: fmt_num(v, 0)).to_numpy(),
        t("products.col.expected", lang): [fmt_date(pd.Timestamp(d).date(), lang) for d in rows["expected_day"]],
        t("products.col.overdue", lang): rows["overdue_days"].map(lambda v: fmt_num(v, 0)).to_numpy(),
        t("products.col.value_at_risk", lang, days=settings.key_accounts.value_days):
            rows["value_at_risk"].map(lambda v: fmt_money(v, currency)).to_numpy(),
    })
    model = frame.attrs.get("model")
    if model is not None and model.ok:
        out[t("products.col.p_alive", lang)] = rows["p_alive"].map(lambda v: fmt_pct(v, 0)).to_numpy()
    return out


def key_model_note(frame: pd.DataFrame, lang: str) -> str | None:
    """One line on the predictive model behind the list: used (passed its checks), not passed, or
    not fitted (too few repeat buyers); None when the report gave no model."""
    model = frame.attrs.get("model")
    if model is None:
        return None
    if model.ok:
        return t("products.key.model_ok", lang)
    if model.status == "too_little_data":
        return t("products.key.model_too_little", lang)
    return t("products.key.model_failed", lang)


def key_takeaway(frame: pd.DataFrame, settings: ProductSettings, lang: str, currency: str) -> str:
    """How many regular customers are overdue and the revenue they stand for."""
    rule = settings.key_accounts
    common = {"min_purchases": fmt_int(rule.min_purchases), "factor": fmt_num(rule.overdue_factor, 1)}
    if frame.empty:
        return t("products.key.empty", lang, **common)
    return t("products.key.takeaway", lang, **common, customers=fmt_int(len(frame)),
             lapse=fmt_int(frame.attrs.get("lapse_days", LAPSE_DEFAULT)),
             value=fmt_money(frame["value_at_risk"].sum(), currency, lang, prose=True), days=rule.value_days, file=KEY_FILE)


def _top_rows(frame: pd.DataFrame, n: int = 5) -> list[dict[str, Any]]:
    rows = frame[frame["ranked"]].head(n)
    return [{"item": None if pd.isna(i) else str(i), "n": int(e), "rate": float(r), "low": float(lo), "lift": float(li)}
            for i, e, r, lo, li in zip(rows["item"], rows["eligible"], rows["rate"], rows["low"], rows["lift"])]


def headline_metrics(entry: pd.DataFrame, keys: pd.DataFrame, settings: ProductSettings) -> dict[str, Any]:
    """What the chapter records under 'products' in metrics.json."""
    return {
        "entry": {"window_days": int(entry.attrs["window"]), "shop_rate": entry.attrs["shop_rate"],
                  "shop_eligible": int(entry.attrs["shop_eligible"]), "top": _top_rows(entry)},
        "key_accounts": {"customers": len(keys), "value_at_risk": float(keys["value_at_risk"].sum()),
                         "value_days": int(settings.key_accounts.value_days)},
    }
