"""Segment profiles: size, revenue share, AOV, orders, recency, and the top categories and channels.

Sizes and sums come from the classified customers (one row per customer, vectorised groupby);
categories and channels come from DuckDB over orders.parquet joined to the segment assignment,
so only one small aggregate reaches pandas. A category's share is its part of the segment's
revenue before as_of (each order counts under its own category: the largest product line's).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..orders import connect, orders_sql

DIMENSIONS = ("category", "channel")


def segment_profiles(customers: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per class of `column` (every category, empty ones with zeros), in category order."""
    keys = list(customers[column].cat.categories)
    grouped = customers.groupby(column, observed=False, sort=True)
    frame = pd.DataFrame({
        "customers": grouped.size(),
        "revenue": grouped["revenue"].sum(),
        "orders": grouped["orders"].sum(),
        "purchases": grouped["purchases"].sum(),
        "median_recency_days": grouped["recency_days"].median(),
    }).reindex(keys)
    frame[["customers", "orders", "purchases"]] = frame[["customers", "orders", "purchases"]].fillna(0).astype("int64")
    frame["revenue"] = frame["revenue"].fillna(0.0)
    n, revenue = frame["customers"].sum(), frame["revenue"].sum()
    frame["customer_share"] = frame["customers"] / n if n else np.nan
    frame["revenue_share"] = frame["revenue"] / revenue if revenue else np.nan
    frame["aov"] = frame["revenue"] / frame["orders"].where(frame["orders"] > 0)
    frame["orders_per_customer"] = frame["orders"] / frame["customers"].where(frame["customers"] > 0)
    frame = frame.rename_axis("segment").reset_index()
    return frame[["segment", "customers", "customer_share", "revenue", "revenue_share", "orders", "aov",
                  "orders_per_customer", "purchases", "median_recency_days"]]


TOP_SQL = """
SELECT {seg_columns}, {dim_columns}, sum(o.amount) AS revenue, GROUPING({grouped}) AS grouping_id
FROM ({src}) o JOIN seg_assignment s ON o.customer_id = s.customer_id
GROUP BY GROUPING SETS ({sets})
"""


def top_values(
    orders_path: Path | str,
    as_of: dt.date,
    customers: pd.DataFrame,
    column: str,
    dimensions: tuple[str, ...] = DIMENSIONS,
    n: int = 3,
) -> pd.DataFrame:
    """The n largest categories/channels of each class by revenue share of the class's revenue.

    Columns: segment, dimension, rank (1 = largest), value, revenue, share. Values missing in the
    orders (e.g. no category in the export) are left out, so a dimension may have no rows.
    """
    return top_values_by(orders_path, as_of, customers, (column,), dimensions, n)[column]


def top_values_by(
    orders_path: Path | str,
    as_of: dt.date,
    customers: pd.DataFrame,
    columns: tuple[str, ...],
    dimensions: tuple[str, ...] = DIMENSIONS,
    n: int = 3,
) -> dict[str, pd.DataFrame]:
    """top_values of several class columns (the three schemes) from one read of the orders:
    one GROUPING SETS query gives every (class column, dimension) pair's revenue."""
    assignment = pa.table({  # Arrow: DuckDB scans it in place, no Python string objects
        "customer_id": pa.array(customers["customer_id"].astype("str")),
        **{f"seg{i}": pa.array(customers[c].cat.codes.to_numpy(np.int32)) for i, c in enumerate(columns)},
    })
    seg_names = [f"seg{i}" for i in range(len(columns))]
    raw = pd.DataFrame(columns=["revenue", "grouping_id"])
    if dimensions:
        grouped = [*seg_names, *dimensions]
        sql = TOP_SQL.format(
            seg_columns=", ".join(f"s.{name} AS {name}" for name in seg_names),
            dim_columns=", ".join(f"o.{dim} AS {dim}" for dim in dimensions), grouped=", ".join(grouped),
            sets=", ".join(f"({name}, {dim})" for name in seg_names for dim in dimensions),
            src=orders_sql(orders_path, as_of))
        con = connect()
        try:
            con.register("seg_assignment", assignment)
            raw = con.execute(sql).df()
        finally:
            con.close()
    return {column: _top_of(raw, customers, column, name, grouped if dimensions else [], dimensions, n)
            for column, name in zip(columns, seg_names)}


def _top_of(raw: pd.DataFrame, customers: pd.DataFrame, column: str, seg_name: str, grouped: list[str],
            dimensions: tuple[str, ...], n: int) -> pd.DataFrame:
    """One class column's top values from the GROUPING SETS rows (grouping_id: a bit per grouped
    column, set when the column is not grouped in the row's set, first column highest)."""
    keys = list(customers[column].cat.categories)
    parts = []
    for dim in dimensions:
        not_grouped = [name for name in grouped if name not in (seg_name, dim)]
        mask = sum(1 << (len(grouped) - 1 - grouped.index(name)) for name in not_grouped)
        rows = raw[(raw["grouping_id"] == mask) & raw[dim].notna()]
        part = pd.DataFrame({"seg": rows[seg_name].to_numpy(np.int32), "value": rows[dim].to_numpy(),
                             "revenue": rows["revenue"].to_numpy("float64")})
        part["dimension"] = dim
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["seg", "value", "revenue"])
    seg_revenue = customers.groupby(column, observed=False)["revenue"].sum().reindex(keys).to_numpy()
    frame["share"] = frame["revenue"] / seg_revenue[frame["seg"].to_numpy(np.int64)]
    frame = frame.sort_values(["seg", "dimension", "revenue", "value"], ascending=[True, True, False, True])
    frame["rank"] = frame.groupby(["seg", "dimension"]).cumcount() + 1
    frame = frame[frame["rank"] <= n]
    frame["segment"] = pd.Categorical.from_codes(frame["seg"].to_numpy(np.int64), categories=keys)
    frame["value"] = frame["value"].astype(str)
    return frame[["segment", "dimension", "rank", "value", "revenue", "share"]].reset_index(drop=True)


__all__ = ["DIMENSIONS", "segment_profiles", "top_values", "top_values_by"]
