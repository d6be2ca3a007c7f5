"""Benchmark of the segmentation: score and classify 5 million customers (RFM, CPM, ladder, deciles).

The customer frame (what crmlib.segments.customer_base returns) is generated with numpy in a child
process: geometric purchase counts (most customers buy once), recency uniform over four years,
tenure within the customer's life, log-normal spend. Timed, each case in its own child: the
yardstick (quantile bounds, AOV spend line, top-spend floor, decile bounds) plus the
classification of every customer, with the quantile and with the fixed RFM method; and, for
information, a migration of the same customers (classification of an earlier state with the
as-of yardstick, matching by customer id, moves for the three schemes).
Peak memory is the child's peak RSS (generation included). Targets: under 10 s and 2 GB for
5 million customers.

--case chapter --processed DIR runs the segments chapter's own work on a processed folder in a
child: the code cells of notebooks/02_segments.ipynb (customer base and classification, the
profiles, the migration and the metrics; page output discarded), classifying afresh
(reuse=False, the kept copy is written as in a report). Printed: wall and CPU seconds and the
peak RSS per cell and in all, bytes per customer and the projection to 51M customers (the
100M-order sample). The kept store is written into DIR/store/: run it on a copy.

    .venv/bin/python bench/segments.py [--sizes 1e6,5e6] [--check]
    .venv/bin/python bench/segments.py --case chapter --processed /tmp/copy-of-processed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import GIB, MIB, cell_table, label, parse_sizes, print_table, run_child, run_notebook_cells  # noqa: E402

TARGET_SECONDS = 10
TARGET_BYTES = 2 * GIB
TARGET_CUSTOMERS = 5_000_000


def synthetic_customers(n: int, seed: int = 20240401):
    """A customer_base-shaped frame of n customers, generated with numpy (ids 'C000000001' ...)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    purchases = np.minimum(rng.geometric(0.55, n), 60).astype(np.int64)
    recency = rng.integers(1, 1461, n)
    life = 1461 - recency
    tenure = np.where(purchases > 1, (rng.random(n) * life).astype(np.int64), 0)
    orders = purchases + rng.binomial(purchases, 0.05)
    revenue = np.round(orders * rng.lognormal(8.6, 0.6, n), 0)
    as_of = np.datetime64("2025-04-01T00:00:00", "us")
    last = as_of - (recency * 86_400_000_000).astype("timedelta64[us]") + np.timedelta64(12, "h")
    first = last - (tenure * 86_400_000_000).astype("timedelta64[us]")
    ids = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 9, "0"), "")
    return pd.DataFrame({
        "customer_id": pd.Series(pd.arrays.ArrowStringArray(ids)),
        "first_order": first, "last_order": last, "orders": orders.astype(np.int32),
        "purchases": purchases.astype(np.int32), "revenue": revenue, "recency_days": recency.astype(np.int32),
        "tenure_days": tenure.astype(np.int32),  # int32, as customer_base types them
    })


def child(args: dict) -> None:
    """In the child: generate (untimed), then time one task and print the figures as JSON.

    classify: yardstick + classification of every customer with one RFM method, then the
    per-scheme counts; migration: the same customers 90 days earlier (those who had bought by
    then) classified with the as-of yardstick and paired with their as-of class."""
    from crmlib.segments import classify_customers, load_settings, segment_cuts
    from crmlib.store.segments.migration import SCHEME_COLUMNS, aligned_start, class_order, match_rows, migration_moves

    base = synthetic_customers(args["n"])
    settings = load_settings({"rfm": {"method": args.get("method", "quantile")}})
    t0 = time.perf_counter()
    cuts = segment_cuts(base, settings)
    customers = classify_customers(base, settings, cuts)
    classify_s = time.perf_counter() - t0
    if args["task"] == "classify":
        t0 = time.perf_counter()
        counts = {column: customers[column].value_counts(sort=False) for column in SCHEME_COLUMNS.values()}
        counts_s = time.perf_counter() - t0
        ok = all(int(v.sum()) == len(base) for v in counts.values())
        print(json.dumps({"seconds": classify_s, "counts_s": counts_s, "sums_ok": ok}))
        return
    earlier = base[base["recency_days"] > 90].reset_index(drop=True)
    earlier["recency_days"] -= 90  # as seen 90 days before as_of (tenure and spend kept: a sketch)
    t0 = time.perf_counter()
    start = classify_customers(earlier, settings, cuts)
    rows, ok = match_rows(start, customers), True
    for scheme, column in SCHEME_COLUMNS.items():
        moves = migration_moves(aligned_start(start, customers, column, rows), customers[column],
                                class_order(scheme, settings.rfm.segment_rules()))
        ok &= int(moves.sum()) == len(base)
    print(json.dumps({"seconds": time.perf_counter() - t0, "sums_ok": ok}))


def chapter_child(args: dict) -> None:
    """In the child: run the segments notebook's code cells on a processed folder, cell by cell,
    and print per cell the wall and CPU seconds, the RSS after it and the peak so far (JSON)."""
    import os

    scope, steps = run_notebook_cells(
        "02_segments.ipynb",
        {"processed_dir": args["processed"], "as_of": args.get("as_of", ""), "lang": args.get("lang", "ja"),
         "metrics_path": ""},
        {"segment_customers(orders_path, resolve_as_of(orders_path, as_of), config)":
         "segment_customers(orders_path, resolve_as_of(orders_path, as_of), config, reuse=False)"})
    print(json.dumps({"customers": len(scope["seg"].customers), "steps": steps, "pid": os.getpid()}))


def chapter_case(processed: str) -> int:
    """The segments chapter on a processed folder: per-cell figures and the projection to 51M customers."""
    r, peak = run_child(Path(__file__), {"task": "chapter", "processed": str(Path(processed).resolve())})
    n = r["customers"]
    print(f"Segments chapter (notebooks/02_segments.ipynb code cells) on {processed}: {n:,} customers")
    cell_table(r["steps"], peak)
    per = peak / n
    print(f"peak {peak / GIB:.2f} GB = {per:,.0f} bytes per customer; at 51M customers: "
          f"{per * 51e6 / GIB:.1f} GB (the fixed part, about {r['steps'][0]['peak'] / MIB:,.0f} MB after the"
          f" imports, included)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,5e6", help="customers per case, e.g. 1e6,5e6")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--case", choices=("generated", "chapter"), default="generated",
                        help="generated: the customer frames of --sizes; chapter: the segments notebook on --processed")
    parser.add_argument("--processed", help="processed folder (orders.parquet) for --case chapter; it writes store/")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task = json.loads(args.child)
        (chapter_child if task["task"] == "chapter" else child)(task)
        return 0
    if args.case == "chapter":
        if not args.processed:
            parser.error("--case chapter needs --processed DIR")
        return chapter_case(args.processed)

    rows, missed = [], False
    for n in parse_sizes(args.sizes):
        for task, method in (("classify", "quantile"), ("classify", "fixed"), ("migration", "quantile")):
            case = f"{task} ({method} RFM)" if task == "classify" else "migration, 3 schemes"
            print(f"{label(n)} customers: {case} ...", flush=True)
            r, peak = run_child(Path(__file__), {"task": task, "method": method, "n": n})
            target = "-"
            if task == "classify" and n >= TARGET_CUSTOMERS:
                ok = r["seconds"] < TARGET_SECONDS and peak < TARGET_BYTES
                missed |= not ok
                target = f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB: {'ok' if ok else 'MISSED'}"
            rows.append([label(n), case, f"{r['seconds']:.2f}", f"{n / r['seconds'] / 1e6:.2f}",
                         f"{peak / MIB:,.0f}", "yes" if r["sums_ok"] else "NO", target])
    print()
    print("Segmentation of a generated customer frame (one child process per case; generation not timed,"
          " peak RSS includes it)")
    print_table(["customers", "case", "wall s", "M customers/s", "peak RSS MB", "sums ok", "target (5M)"], rows)
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
