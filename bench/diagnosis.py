"""Benchmark of the diagnosis chapter's computations on generated orders (default 10 million).

Generates the sample with ``crmlib.sample.write_sample`` and ingests it with preset "generic"
(both cached under bench/out/ and not timed here), then runs the whole diagnosis in a child
process: open_purchases (one read of orders.parquet into the purchase table) and every analysis
of the chapter with its tables and takeaway sentences, as the notebook calls them. Prints the
time of each step, the total compute time, the time to draw the chapter's figures (apart), and
the child's peak memory (peak RSS), with the targets beside them: under 20 s and under 4 GB.

    .venv/bin/python bench/diagnosis.py [--orders 1e7] [--threads 2] [--seed N] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import GIB, MIB, OUT, label, parse_sizes, print_table, run_child, sample_cache_path, timed  # noqa: E402

TARGET_SECONDS = 20
TARGET_BYTES = 4 * GIB


def run_diagnosis(orders_path: Path, threads: int | None, figures: bool) -> dict:
    """In the child: every computation of the chapter, timed step by step (default settings)."""
    from crmlib import diagnosis as dg

    cfg = dg.DiagnosisSettings()
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
    p = step("open_purchases", dg.open_purchases, orders_path, "", merge_same_day=cfg.merge_same_day,
             dimensions=tuple(cfg.f2_splits), threads=threads)
    kpis = step("headline_kpis", dg.headline_kpis, p, cfg.period_months, cfg.compare_to)
    trends = step("monthly_trends", dg.monthly_trends, p, cfg.trend_months)
    bucket = step("leaky_bucket", dg.leaky_bucket, p, cfg.bucket_period, cfg.lapse_days, cfg.bucket_periods_shown)
    cohorts = step("cohort_tables", dg.cohort_tables, p, cfg.cohort_count, cfg.cohort_months)
    funnel = step("purchase_funnel", dg.purchase_funnel, p, cfg.funnel_steps)
    f2 = step("f2_conversion", dg.f2_conversion, p, cfg.f2_windows)
    segments = step("f2_by_segment", dg.f2_by_segment, p, cfg.f2_windows, cfg.f2_splits)
    intervals = step("purchase_intervals", dg.purchase_intervals, p, cfg.interval_steps)
    histogram = step("gap_histogram", dg.gap_histogram, p, 1, cfg.interval_max_days, cfg.interval_bin_days)
    deciles, pareto = step("decile_analysis", dg.decile_analysis, p, cfg.decile_basis, cfg.period_months)
    value = step("retention_value", dg.retention_value, p, cfg.period_months, cfg.retention_uplift_points,
                 cfg.uplift_horizon_periods)

    def texts():
        for lang in ("ja", "en"):
            dg.kpi_table(kpis, lang, "JPY"), dg.kpi_takeaway(kpis, lang, "JPY")
            dg.trends_takeaway(trends, lang, "JPY"), dg.bucket_takeaway(bucket, lang, "JPY")
            dg.retention_takeaway(cohorts, lang), dg.orders_takeaway(cohorts, lang)
            dg.revenue_takeaway(cohorts, lang, "JPY"), dg.funnel_takeaway(funnel, lang)
            dg.f2_table(f2, lang), dg.f2_takeaway(f2, lang), dg.segment_table(segments, lang)
            dg.segment_takeaway(segments, lang, dg.segment_window(cfg.f2_windows))
            dg.intervals_table(intervals, lang), dg.intervals_takeaway(intervals, histogram, lang)
            dg.decile_table(deciles, lang, "JPY"), dg.decile_takeaway(deciles, pareto, lang)
            dg.value_table(value, lang, "JPY"), dg.value_takeaway(value, lang, "JPY")
        return dg.headline_metrics(kpis, f2, bucket, value)

    metrics = step("tables_and_text", texts)
    compute = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    customers = int(p.scalar("SELECT count(*) FROM firsts"))
    purchases = int(p.scalar("SELECT count(*) FROM purchases"))
    p.close()

    figure_seconds = None
    if figures:
        def draw():
            from crmlib.charts import figure_png
            from crmlib.diagnosis import charts
            from crmlib.style import apply_style

            apply_style("ja")
            for fig in (charts.trends_chart(trends, "ja", "JPY"), charts.bucket_chart(bucket, "ja"),
                        charts.cohort_heatmap(cohorts, "retention", "ja", "JPY"),
                        charts.cohort_heatmap(cohorts, "orders_per_customer", "ja", "JPY"),
                        charts.cohort_heatmap(cohorts, "revenue_per_customer", "ja", "JPY"),
                        charts.funnel_chart(funnel, "ja"), charts.interval_chart(histogram, intervals, "ja"),
                        charts.decile_chart(deciles, pareto, "ja")):
                figure_png(fig)

        _, figure_seconds = timed(draw)
    return {"steps": steps, "cpu_steps": cpu_steps, "compute": compute, "cpu": cpu, "figures": figure_seconds,
            "customers": customers, "purchases": purchases,
            "revenue": metrics["kpis"]["current"]["revenue"]}


def child(args: dict) -> None:
    """In the child: generate, ingest or diagnose, then print the figures as JSON."""
    if args["task"] == "generate":
        from crmlib.sample import write_sample

        _, seconds = timed(write_sample, Path(args["path"]), n_orders=args["n_orders"], seed=args["seed"],
                           fmt="parquet")
        print(json.dumps({"seconds": seconds}))
    elif args["task"] == "ingest":
        from crmlib.ingest import ingest_file

        result, seconds = timed(ingest_file, Path(args["path"]), preset="generic", out_dir=Path(args["out_dir"]))
        print(json.dumps({"seconds": seconds, "orders": result.ledger.orders}))
    else:
        print(json.dumps(run_diagnosis(Path(args["orders"]), args.get("threads"), args.get("figures", True))))


def ensure_processed(n_orders: int, seed: int) -> Path:
    """The cached processed folder (ingest output) of n generated orders, made when missing."""
    sample = sample_cache_path(n_orders, seed)
    if not sample.exists():
        print(f"  generating {label(n_orders)} orders (not timed) ...", flush=True)
        run_child(Path(__file__), {"task": "generate", "path": str(sample), "n_orders": n_orders, "seed": seed})
    processed = OUT / f"diagnosis_processed_{sample.stem}"
    if not (processed / "orders.parquet").exists():
        print(f"  ingesting {sample.name} with preset generic (not timed) ...", flush=True)
        shutil.rmtree(processed, ignore_errors=True)
        run_child(Path(__file__), {"task": "ingest", "path": str(sample), "out_dir": str(processed)})
    return processed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1e7", help="generated orders, e.g. 1e6 or 1e7")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="DuckDB threads (default: all cores)")
    parser.add_argument("--no-figures", action="store_true", help="do not time drawing the figures")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    (n_orders,) = parse_sizes(args.orders)
    processed = ensure_processed(n_orders, args.seed)
    print(f"diagnosing {processed.name} with {args.threads} DuckDB thread(s) ...", flush=True)
    r, peak = run_child(Path(__file__), {"task": "diagnose", "orders": str(processed / "orders.parquet"),
                                         "threads": args.threads, "figures": not args.no_figures})
    print()
    print(f"Diagnosis of {label(n_orders)} generated orders: {r['purchases']:,} purchases, "
          f"{r['customers']:,} customers (one child process; imports excluded)")
    print_table(["step", "wall s", "CPU s"], [[name, f"{seconds:.2f}", f"{r['cpu_steps'][name]:.2f}"]
                                              for name, seconds in r["steps"].items()])
    ok = r["compute"] < TARGET_SECONDS and peak < TARGET_BYTES
    print()
    print_table(
        ["compute wall s", "compute CPU s", "figures s", "peak RSS MB", "target", "result"],
        [[f"{r['compute']:.1f}", f"{r['cpu']:.1f}", "-" if r["figures"] is None else f"{r['figures']:.1f}",
          f"{peak / MIB:,.0f}", f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB", "ok" if ok else "MISSED"]],
    )
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    raise SystemExit(main())
