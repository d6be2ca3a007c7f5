"""The products chapter on Online Retail (a year of a UK gift wholesaler's invoices, 2010-12-01 to
2011-12-09): the entry products and their value window, recomputed here with plain pandas from
order_lines.parquet (issue #21: the 12-month value was empty on this one-year history).

Independent figures: a purchase is a customer's lines on one calendar day (a return line on the
day of the order it was netted into, as in orders.parquet); a first purchase
counts from the coverage model's observed_from (an input here, tested in
test_coverage_online_retail.py); F2 within 90 days; revenue within 180 days of the first purchase.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from datasets import ONLINE_RETAIL, need

from crmlib.ingest import ingest_file
from crmlib.products import ProductSettings, entry_products, open_lines
from crmlib.products import report as pr
from crmlib.store.coverage import measure_coverage

AS_OF = dt.date(2011, 12, 10)


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory):
    out = tmp_path_factory.mktemp("online_retail_products")
    return ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out).orders_path.parent


@need(ONLINE_RETAIL)
def test_online_retail_entry_products_show_a_180_day_value_recomputed_by_hand(online_retail):
    observed_from = measure_coverage(online_retail / "orders.parquet", AS_OF).observed_from
    settings = ProductSettings()
    with open_lines(online_retail, AS_OF, observed_from=observed_from) as lines:
        frame = entry_products(lines, settings)
    window = frame.attrs["value_window"]

    lines_ = pd.read_parquet(online_retail / "order_lines.parquet")
    lines_ = lines_[lines_["ordered_at"] < pd.Timestamp(AS_OF)]
    lines_["day"] = lines_["ordered_at"].dt.normalize()
    # a return line (a credit note netted into an earlier order) counts on that order's day
    order_day = lines_[lines_["line_type"] != "return"].groupby("order_id")["day"].min()
    lines_["day"] = lines_["order_id"].map(order_day).fillna(lines_["day"])
    days = lines_.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    days = days.sort_values(["customer_id", "day"])
    days["n"] = days.groupby("customer_id").cumcount() + 1
    first = days[days["n"] == 1].set_index("customer_id")["day"]
    second = days[days["n"] == 2].set_index("customer_id")["day"].reindex(first.index)
    first = first[first >= pd.Timestamp(observed_from)]
    as_of = pd.Timestamp(AS_OF)
    span = (as_of - first.min()).days
    assert span < 365 and window.observable_days == span
    valued = first[first + pd.Timedelta(days=180) <= as_of]
    assert (window.days, window.requested, window.customers) == (180, 365, len(valued))
    # the top product by lift, recomputed: its first-purchase customers, F2 within 90 days, value in 180 days
    top = frame.iloc[0]
    products = lines_[lines_["line_type"] == "product"]
    first_day = products["customer_id"].map(first)
    buyers = products.loc[(products["day"] == first_day) & (products["product"] == top["item"]), "customer_id"].unique()
    eligible = [c for c in buyers if first[c] + pd.Timedelta(days=90) < as_of]
    converted = [c for c in eligible if (second[c] - first[c]).days <= 90]
    assert (top["eligible"], top["converted"]) == (len(eligible), len(converted))
    # the shop's F2 is the diagnosis's: 530 of 1,383 new customers within 90 days (returns are no purchase)
    assert (frame.attrs["shop_eligible"], round(frame.attrs["shop_rate"] * 1383)) == (1383, 530)
    in_window = days[days["customer_id"].isin([c for c in buyers if c in valued.index])]
    in_window = in_window[in_window["day"] < in_window["customer_id"].map(first) + pd.Timedelta(days=180)]
    assert top["value"] == pytest.approx(in_window["amount"].sum() / in_window["customer_id"].nunique())
    note = pr.value_note(frame, settings, "en")
    assert f"{365 - span} more" in note and f"the {len(valued):,} new customers" in note
