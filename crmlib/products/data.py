"""The product lines the chapter reads: one client's purchases before as_of, line by line, in one DuckDB session.

A purchase is what a customer bought on one calendar day (same-day orders merged, as in the
diagnosis). Tables of the session:
- pl(cid, day, n, product, category, amount): one row per customer, purchase and product
  (product = the product name, else the SKU; category = the smallest category seen on those lines);
- pu(cid, day, n, revenue, prev_day, next_day): one row per purchase, revenue net of discount lines;
- firsts(cid, first_day, second_day, third_day).
Everything else aggregates these tables in SQL into small pandas frames.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import duckdb
import pandas as pd

from ..orders import as_timestamp, connect
from ..sql import sql_literal

LINES_SQL = """
CREATE TEMP TABLE raw AS
SELECT customer_id AS cid, CAST(ordered_at AS DATE) AS day, order_id,
       coalesce(product, sku, '?') AS product, category, amount, line_type
FROM read_parquet({path})
WHERE ordered_at < {as_of};
CREATE TEMP TABLE pu AS
SELECT cid, day, row_number() OVER (PARTITION BY cid ORDER BY day) AS n, sum(amount) AS revenue,
       lag(day) OVER (PARTITION BY cid ORDER BY day) AS prev_day,
       lead(day) OVER (PARTITION BY cid ORDER BY day) AS next_day
FROM raw GROUP BY cid, day;
CREATE TEMP TABLE pl AS
SELECT r.cid, r.day, p.n, r.product, min(r.category) AS category, sum(r.amount) AS amount
FROM raw r JOIN pu p USING (cid, day)
WHERE r.line_type = 'product'
GROUP BY r.cid, r.day, p.n, r.product;
CREATE TEMP TABLE firsts AS
SELECT cid, min(day) AS first_day, min(day) FILTER (WHERE n = 2) AS second_day,
       min(day) FILTER (WHERE n = 3) AS third_day
FROM pu GROUP BY cid;
"""


@dataclass
class ProductLines:
    """The chapter's DuckDB session over order_lines.parquet before as_of (close it, or use `with`)."""

    con: duckdb.DuckDBPyConnection
    as_of: dt.date

    @property
    def as_of_sql(self) -> str:
        """as_of as a SQL date literal (exclusive end of the data)."""
        return f"DATE '{self.as_of.isoformat()}'"

    def query(self, sql: str) -> pd.DataFrame:
        """Run one aggregate query on the session's tables and return pandas."""
        return self.con.execute(sql).df()

    def close(self) -> None:
        """Close the session (its temporary tables go with it)."""
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_lines(processed_dir: Path | str, as_of: dt.date, threads: int | None = None) -> ProductLines:
    """Read order_lines.parquet before as_of into the session's purchase tables (threads: DuckDB's, default all)."""
    path = Path(processed_dir) / "order_lines.parquet"
    con = connect(threads)
    con.execute(LINES_SQL.format(path=sql_literal(str(path)), as_of=as_timestamp(as_of)))
    return ProductLines(con, as_of)
