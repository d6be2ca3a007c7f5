"""Benchmark of the products chapter's computations on generated orders (default 10 million).

Generates the sample with ``crmlib.sample.write_sample`` and ingests it with preset "generic"
(both cached under bench/out/ and shared with bench/diagnosis.py, not timed here), then runs the
whole chapter in a child process: open_lines (one read of order_lines.parquet into the purchase
tables), entry products by product and category, the 2nd -> 3rd step, transitions by product and
category, key accounts, basket pairs, re-buy cycles, the best customers (the store's segment
classification read) and the seasonal calendar, with their tables and sentences. Prints each
step, the total, and the child's peak memory against the targets: under 30 s and under 4 GB.

In a report the segmentation is the store's, computed once (by the segments chapter, which runs
before) and kept beside the data; the products chapter reads the kept copy. ``--store kept`` (the
default) prepares that copy first, untimed, as the report would have; ``--store cold`` removes it,
so the chapter also pays for the classification (as when it is the first chapter to need it).

    .venv/bin/python bench/products.py [--orders 1e7] [--threads 2] [--seed N] [--store kept|cold] [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import GIB, MIB, OUT, label, parse_sizes, print_table, run_child, timed
from diagnosis import ensure_processed

TARGET_SECONDS = 30
TARGET_BYTES = 4 * GIB


def run_products(processed: Path, threads: int | None) -> dict:
    """In the child: every computation of the chapter, timed step by step (default settings)."""
    from crmlib import products as pd_
    from crmlib.products import report as pr
    from crmlib.products.best import best_flags
    from crmlib.store.asof import resolve_as_of

    cfg = pd_.ProductSettings()
    steps: dict[str, float] = {}
    cpu_steps: dict[str, float] = {}

    def step(name, fn, *args, **kwargs):
        cpu = time.process_time()
        result, seconds = timed(fn, *args, **kwargs)
        steps[name] = seconds
        cpu_steps[name] = time.process_time() - cpu
        return result

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    day: dt.date = resolve_as_of(processed / "orders.parquet", "")
    lines = step("open_lines", pd_.open_lines, processed, day, threads=threads)
    entry = step("entry_products", pd_.entry_products, lines, cfg, "product")
    entry_cat = step("entry_categories", pd_.entry_products, lines, cfg, "category")
    step3 = step("second_to_third", pd_.entry_products, lines, cfg, "product", 2)
    moves = step("transitions", pd_.transitions, lines, cfg, "product")
    cat_moves = step("category_transitions", pd_.transitions, lines, cfg, "category")
    keys = step("key_accounts", pd_.key_accounts, lines, cfg)
    pairs = step("basket_pairs", pd_.basket_pairs, lines, cfg)
    rebuy = step("replenishment", pd_.replenishment, lines, cfg)
    flags = step("best_flags (segments)", best_flags, processed, day, cfg)
    best = step("best_customer_products", pd_.best_customer_products, lines, flags, cfg)
    season = step("seasonal_index", pd_.seasonal_index, lines, cfg)

    def texts():
        for lang in ("ja", "en"):
            pr.entry_table(entry, cfg, lang, "JPY"), pr.entry_takeaway(entry, cfg, lang)
            pr.category_takeaway(entry_cat, cfg, lang), pr.entry_table(step3, cfg, lang, "JPY")
            pr.transitions_table(moves, cfg, lang), pr.transitions_takeaway(moves, cfg, lang)
            pr.category_transitions_takeaway(cat_moves, cfg, lang)
            pr.key_table(keys, cfg, lang, "JPY"), pr.key_takeaway(keys, cfg, lang, "JPY")
            pr.basket_table(pairs, cfg, lang), pr.rebuy_table(rebuy, cfg, lang), pr.best_table(best, cfg, lang)
            pr.season_takeaway(season, lang)
        return pr.headline_metrics(entry, keys, cfg)

    step("tables_and_text", texts)
    compute = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    lines_count = int(lines.query("SELECT count(*) FROM pl").iloc[0, 0])
    purchases = int(lines.query("SELECT count(*) FROM pu").iloc[0, 0])
    lines.close()
    return {"steps": steps, "cpu_steps": cpu_steps, "compute": compute, "cpu": cpu, "lines": lines_count,
            "purchases": purchases, "key_accounts": len(keys)}


def prepare_store(processed: Path, store: str) -> None:
    """kept: the segmentation the segments chapter keeps (computed here if missing, untimed);
    cold: no kept segmentation, so the chapter computes it."""
    for kept in (processed / "store").glob("segments-*.parquet") if store == "cold" else ():
        kept.unlink()
    if store == "kept":
        from crmlib.store.asof import resolve_as_of
        from crmlib.store.segments.classify import segment_customers
        from crmlib.store.segments.settings import load_settings as load_segment_settings

        print("  keeping the segmentation as the segments chapter would (not timed) ...", flush=True)
        segment_customers(processed / "orders.parquet", resolve_as_of(processed / "orders.parquet", ""),
                          load_segment_settings({}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1e7", help="generated orders, e.g. 1e6 or 1e7")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="DuckDB threads (default: all cores)")
    parser.add_argument("--store", choices=("kept", "cold"), default="kept",
                        help="kept: the segmentation kept by the segments chapter, as in a report; cold: none")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        options = json.loads(args.child)
        print(json.dumps(run_products(Path(options["processed"]), options.get("threads"))))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    (n_orders,) = parse_sizes(args.orders)
    processed = ensure_processed(n_orders, args.seed)
    prepare_store(processed, args.store)
    print(f"products chapter on {processed.name} (segmentation: {args.store}) ...", flush=True)
    r, peak = run_child(Path(__file__), {"processed": str(processed), "threads": args.threads})
    print()
    print(f"Products chapter on {label(n_orders)} generated orders: {r['lines']:,} purchase lines, "
          f"{r['purchases']:,} purchases, {r['key_accounts']:,} key accounts slipping (imports excluded)")
    print_table(["step", "wall s", "CPU s"], [[name, f"{seconds:.2f}", f"{r['cpu_steps'][name]:.2f}"]
                                              for name, seconds in r["steps"].items()])
    ok = r["compute"] < TARGET_SECONDS and peak < TARGET_BYTES
    print()
    print_table(["compute wall s", "compute CPU s", "peak RSS MB", "target", "result"],
                [[f"{r['compute']:.1f}", f"{r['cpu']:.1f}", f"{peak / MIB:,.0f}",
                  f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB", "ok" if ok else "MISSED"]])
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    raise SystemExit(main())
