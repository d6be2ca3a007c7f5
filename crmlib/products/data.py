"""The product lines the chapter reads: one client's purchases before as_of, line by line, in one DuckDB session.

A purchase is what a customer bought on one calendar day (same-day orders merged, as in the
diagnosis). order_lines.parquet is read once; customers and products become integer codes, so
every later join and window runs on integers. Tables of the session:
- dim_customer(k, customer_id), dim_product(p, product, c), dim_category(c, category): the codes
  (product = the product name, else the SKU; its category = the smallest seen on its lines);
- li(k, day, order_id, p, amount, returned): the lines (p NULL on discount and return lines). A
  return line (the ingest's returns model nets a credit note into an earlier order of the customer,
  keeping the credit note's time) takes the day of that order, so it lowers that purchase's revenue
  and is never a purchase of its own (as in orders.parquet);
- pu(k, day, n, revenue, prev_day, next_day): one row per purchase, revenue net of discount lines;
- pl(k, day, n, has_next, p, c, amount): one row per customer, purchase and product;
- firsts(k, first_day, second_day, third_day, observable): observable = first seen on or after
  observed_from (the store's coverage model: an earlier first purchase in the data may not be the
  customer's first ever, so entry products leave those customers out).
Everything else aggregates these tables in SQL into small pandas frames, named at the end.
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
CREATE TEMP VIEW src AS
SELECT customer_id, CAST(ordered_at AS DATE) AS day, order_id,
       CASE WHEN line_type = 'product' THEN coalesce(product, sku, '?') END AS product, category, amount,
       line_type = 'return' AS returned
FROM read_parquet({path}) WHERE ordered_at < {as_of};
CREATE TEMP TABLE dim_category AS
SELECT CAST(row_number() OVER (ORDER BY category) - 1 AS INTEGER) AS c, category
FROM (SELECT DISTINCT category FROM (SELECT product, min(category) AS category FROM src
                                     WHERE product IS NOT NULL GROUP BY product));
CREATE TEMP TABLE dim_product AS
SELECT CAST(row_number() OVER (ORDER BY s.product) - 1 AS INTEGER) AS p, s.product, d.c
FROM (SELECT product, min(category) AS category FROM src WHERE product IS NOT NULL GROUP BY product) s
JOIN dim_category d ON d.category IS NOT DISTINCT FROM s.category;
CREATE TEMP TABLE dim_customer AS
SELECT CAST(row_number() OVER () AS INTEGER) AS k, customer_id FROM (SELECT DISTINCT customer_id FROM src);
CREATE TEMP TABLE li AS
SELECT c.k, s.day, s.order_id, d.p, s.amount, s.returned
FROM src s JOIN dim_customer c USING (customer_id) LEFT JOIN dim_product d USING (product);
UPDATE li SET day = od.day
FROM (SELECT l.order_id, min(l.day) AS day FROM li l SEMI JOIN (SELECT order_id FROM li WHERE returned) x USING (order_id)
      WHERE NOT l.returned GROUP BY l.order_id) od
WHERE li.returned AND li.order_id = od.order_id;
CREATE TEMP TABLE pu AS
SELECT k, day, CAST(row_number() OVER w AS INTEGER) AS n, revenue, lag(day) OVER w AS prev_day,
       lead(day) OVER w AS next_day
FROM (SELECT k, day, sum(amount) AS revenue FROM li GROUP BY k, day)
WINDOW w AS (PARTITION BY k ORDER BY day);
CREATE TEMP TABLE pl AS
SELECT l.k, l.day, u.n, u.next_day IS NOT NULL AS has_next, l.p, d.c, l.amount
FROM (SELECT k, day, p, sum(amount) AS amount FROM li WHERE p IS NOT NULL GROUP BY k, day, p) l
JOIN pu u USING (k, day) JOIN dim_product d USING (p);
CREATE TEMP TABLE firsts AS
SELECT k, min(day) AS first_day, min(day) FILTER (WHERE n = 2) AS second_day,
       min(day) FILTER (WHERE n = 3) AS third_day, min(day) >= {observed_from} AS observable
FROM pu GROUP BY k;
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

    def named_products(self) -> int:
        """How many products the lines name ('?' stands for a product line with neither a name nor
        a code: CDNOW's lines carry only an amount)."""
        return int(self.con.execute("SELECT count(*) FILTER (WHERE product <> '?') FROM dim_product").fetchone()[0])

    def close(self) -> None:
        """Close the session (its temporary tables go with it)."""
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_lines(processed_dir: Path | str, as_of: dt.date, threads: int | None = None, *,
               observed_from: dt.date | None = None) -> ProductLines:
    """Read order_lines.parquet before as_of into the session's purchase tables (threads: DuckDB's,
    default all; observed_from: the coverage model's first day of observable first purchases)."""
    path = Path(processed_dir) / "order_lines.parquet"
    con = connect(threads)
    start = f"DATE '{observed_from.isoformat()}'" if observed_from else "DATE '0001-01-01'"
    con.execute(LINES_SQL.format(path=sql_literal(str(path)), as_of=as_timestamp(as_of), observed_from=start))
    return ProductLines(con, as_of)
