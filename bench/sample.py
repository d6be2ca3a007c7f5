"""Benchmark of the sample generator: write 1M and 10M generated orders to Parquet.

Prints lines and orders per second, wall time and peak memory (peak RSS of a child process per
case). The files go to bench/out/ (git-ignored) under the names bench/ingest.py reuses.

    .venv/bin/python bench/sample.py [--sizes 1e6,1e7] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    GIB, MIB, OUT, label, parse_sizes, print_table, run_child, sample_cache_path, timed,
)

TARGET_SECONDS = 60
TARGET_BYTES = 4 * GIB
TARGET_ORDERS = 10_000_000


def child(args: dict) -> None:
    """In the child: generate and write one sample, print the figures as JSON."""
    from crmlib.sample import customers_for_orders, write_sample

    path = Path(args["path"])
    (customers, sizing_s) = timed(customers_for_orders, args["n_orders"], seed=args["seed"])
    _, write_s = timed(write_sample, path, n_customers=customers, seed=args["seed"])
    print(json.dumps({"customers": customers, "sizing_s": sizing_s, "write_s": write_s}))


def count(path: Path) -> tuple[int, int]:
    """Lines and distinct orders of a written sample (in the parent, outside the measurement)."""
    import duckdb

    with duckdb.connect() as con:
        lines, orders = con.execute(
            "SELECT count(*), count(DISTINCT order_id) FROM read_parquet(?)", [path.as_posix()]
        ).fetchone()
    return int(lines), int(orders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="orders per case, e.g. 1e6,1e7")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in parse_sizes(args.sizes):
        path = sample_cache_path(n, args.seed)
        print(f"generating {label(n)} orders -> {path.relative_to(OUT.parents[1])} ...", flush=True)
        result, peak = run_child(Path(__file__), {"n_orders": n, "seed": args.seed, "path": str(path)})
        lines, orders = count(path)
        total_s = result["sizing_s"] + result["write_s"]
        target = "-"
        if n >= TARGET_ORDERS:
            ok = total_s < TARGET_SECONDS and peak < TARGET_BYTES
            target = f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB: {'ok' if ok else 'MISSED'}"
        rows.append([
            label(n), f"{result['customers']:,}", f"{orders:,}", f"{lines:,}", f"{total_s:.1f}",
            f"{orders / total_s:,.0f}", f"{lines / total_s:,.0f}", f"{peak / MIB:,.0f}",
            f"{path.stat().st_size / MIB:,.0f}", target,
        ])
    print()
    print("Sample generation + Parquet write (one child process per case; time excludes imports)")
    print_table(["case", "customers", "orders", "lines", "wall s", "orders/s", "lines/s",
                 "peak RSS MB", "file MB", "target (10M orders)"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
