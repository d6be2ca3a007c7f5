"""Generated shops of any size, history and guest share, for the summary's property test
(tests/test_summary_properties.py).

A shop is crmlib.sample's generator run over `prehistory_days + history_days` days and cut to
the last `history_days`: customers acquired in the prehistory are long-standing accounts whose
first purchase is before the data (left-censored), as in a real export. Lines the ingest would
drop anyway (shipping, cancelled, returned, pending) are left out, the sample's guest orders
(known only by e-mail) are given that e-mail, lowercased, as their customer id, and no e-mail or phone column
is written, so the file's customer_id is exactly the ingest's customer: the test can recompute
every coverage fact from the frame with plain pandas. Then a `guest_share` of the orders lose
their customer id: guest checkouts, which the ingest leaves outside every customer analysis.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crmlib.sample import generate_lines

END = dt.date(2025, 3, 31)  # the shops' last day
COLUMNS = ["order_id", "customer_id", "ordered_at", "sku", "product", "category", "quantity", "unit_price",
           "amount", "channel", "status", "source", "region"]


@dataclass(frozen=True)
class ShopSpec:
    """What a generated shop is drawn from."""

    history_days: int  # days of orders in the file (the last one is END)
    customers: int  # customers generated over prehistory + history (those without an order in the file drop out)
    guest_share: float  # share of orders written without a customer (guest checkouts)
    prehistory_days: int  # days the shop traded before the data starts (0: a new shop)
    seed: int


def shop_orders(spec: ShopSpec) -> pd.DataFrame:
    """The shop's order lines, as written to its orders.csv (guest lines with an empty customer_id)."""
    start = END - dt.timedelta(days=spec.history_days - 1)
    began = start - dt.timedelta(days=spec.prehistory_days)
    lines = generate_lines(spec.customers, seed=spec.seed, start=began.isoformat(), end=END.isoformat()).to_pandas()
    kept = (lines["ordered_at"] >= pd.Timestamp(start)) & (lines["status"] == "completed") & (lines["sku"] != "SHIPPING")
    lines = lines[kept].copy()
    # the e-mail as written (the sample varies its case, as people do), lowercased as the ingest reads it
    lines["customer_id"] = lines["customer_id"].fillna(lines["email"].str.lower())
    orders = lines["order_id"].drop_duplicates()
    rng = np.random.default_rng([spec.seed, 16])
    guests = set(orders[rng.random(len(orders)) < spec.guest_share])
    lines.loc[lines["order_id"].isin(guests), "customer_id"] = None
    return lines[COLUMNS].reset_index(drop=True)


def write_shop(spec: ShopSpec, folder: Path, lang: str = "en") -> tuple[Path, pd.DataFrame]:
    """Write orders.csv and client.yaml (generic preset) into folder; returns the YAML and the lines."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = shop_orders(spec)
    lines.to_csv(folder / "orders.csv", index=False)
    name = f"gen-{spec.history_days}d-{spec.customers}c-{spec.seed}"
    config = {"name": name, "title": f"Generated {name}", "data": "orders.csv", "preset": "generic",
              "currency": "JPY", "lang": lang}
    path = folder / "client.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path, lines
