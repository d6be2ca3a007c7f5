"""Generated shops that stress the chapters, for the run matrix (tests/test_run_matrix.py).

Each shop is a folder with orders.csv (generic preset), the strategy chapter's input files and
client.yaml; build(name, folder) writes one and returns the YAML's path. The shops are small
frames written to CSV (or crmlib.sample's generator, with values replaced), so every cell runs
the real ingest and all five chapters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from crmlib.sample import STRATEGY_FILES, write_sample

# data values that have broken figures or pages: a mathtext '$' pair, HTML, template syntax
DOLLAR = "app (US$ price, 10% off $)"
ANGLE = "<b>store</b> & <script>x</script>"
BRACES = "{{ web }} {% raw %}"
STRESS_VALUES = {"web": BRACES, "app": DOLLAR, "store": ANGLE}


def _orders(rows: list[tuple[str, str, str, float]], channel: str = "web", category: str = "お茶") -> pd.DataFrame:
    """(order_id, customer_id, ordered_at, amount) rows as a generic-preset order file."""
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "amount"])
    return frame.assign(quantity=1, sku="TEA-1", product="煎茶", category=category, channel=channel,
                        status="completed", region="東京都")


def _write(folder: Path, orders: pd.DataFrame, strategy: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    orders.to_csv(folder / "orders.csv", index=False)
    config = {"name": folder.name.replace("_", "-"), "title": f"Matrix {folder.name}", "data": "orders.csv",
              "preset": "generic", "currency": "JPY", "lang": "ja", "strategy": strategy or {}}
    path = folder / "client.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def stress_values(folder: Path) -> Path:
    """The sample shop with `$` pairs, HTML and template syntax in channel, category and product;
    an experiment whose window has not ended, one with only a treated group; an execution log with
    a header and no rows."""
    write_sample(folder / "orders.csv", n_customers=200, strategy_inputs=True)
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    orders["channel"] = orders["channel"].map(STRESS_VALUES).fillna(orders["channel"])
    first = orders["category"].iloc[0]
    orders["category"] = orders["category"].where(orders["category"] != first, f"$x^2$ {first}")
    orders["product"] = orders["product"].where(orders.index % 3 != 0, BRACES)
    last = pd.to_datetime(orders["ordered_at"]).max().date()
    trial = pd.read_csv(folder / STRATEGY_FILES["trial"], dtype=str)
    running = trial.assign(sent_at=(last - dt.timedelta(days=10)).isoformat())  # 60-day window still open
    running.to_csv(folder / "running.csv", index=False)
    trial[trial["group"] == "treated"].to_csv(folder / "treated_only.csv", index=False)
    (folder / "empty_log.csv").write_text("date,measure,segment,channel,volume,cost\n", encoding="utf-8")
    strategy = {
        "execution_log": "empty_log.csv",
        "experiments": [{"name": "running", "file": "running.csv", "window_days": 60},
                        {"name": "treated only", "file": "treated_only.csv", "window_days": 60}],
        "nps": {"file": STRATEGY_FILES["survey"], "segment": "ladder"},
    }
    return _write(folder, orders, strategy)


def single_customer(folder: Path) -> Path:
    """One customer, three orders a month apart."""
    return _write(folder, _orders([("1", "c1", "2024-01-10 10:00", 1000.0), ("2", "c1", "2024-02-10 10:00", 1500.0),
                                   ("3", "c1", "2024-03-10 10:00", 500.0)]))


def one_day(folder: Path) -> Path:
    """Twenty customers, all orders on one day."""
    return _write(folder, _orders([(str(i), f"c{i % 20}", f"2024-05-01 {8 + i % 12:02d}:00", 1000.0 + 10 * i)
                                   for i in range(30)]))


def all_guests(folder: Path) -> Path:
    """Guest checkouts only: no customer id, the buyer known by e-mail or phone alone (the ingest
    makes the identity from the contact; some guests come back with the same address)."""
    orders = _orders([(str(i), "", f"2024-0{1 + i % 5}-1{i % 9} 12:00", 800.0 + i) for i in range(40)])
    orders["email"] = [f"guest{i % 25}@example.jp" if i % 4 else "" for i in range(40)]
    orders["phone"] = [f"090-0000-{i % 25:04d}" for i in range(40)]
    return _write(folder, orders)


def no_new_customers(folder: Path) -> Path:
    """Every customer's first purchase in early 2022, repeat purchases to mid-2024: no new
    customers in the last year, and the ladder's stage 1 empty now and a year before (CDNOW's
    shape)."""
    rows = []
    for c in range(30):
        first = dt.date(2022, 1, 3) + dt.timedelta(days=2 * c)
        days = [first] + ([first + dt.timedelta(days=70 * k) for k in range(1, 13)] if c % 3 == 0 else [])
        rows += [(f"{c}-{k}", f"c{c}", f"{d.isoformat()} 12:00", 1200.0 + 100 * (c % 4)) for k, d in enumerate(days)]
    return _write(folder, _orders(rows))


SHOPS: dict[str, Callable[[Path], Path]] = {
    "stress_values": stress_values,
    "single_customer": single_customer,
    "one_day": one_day,
    "all_guests": all_guests,
    "no_new_customers": no_new_customers,
}


def build(name: str, folder: Path) -> Path:
    """Write the shop `name` into folder/name and return its client YAML."""
    return SHOPS[name](folder / name)
