"""Benchmark of the strategy chapter's computations on generated orders (default 10 million).

Uses the generated, ingested sample that bench/diagnosis.py caches under bench/out/ (made when
missing, not timed), then runs in a child process what notebooks/04_strategy.ipynb computes with
the demo's goals and targets: the purchases, the goal metrics' history (the heaviest part: three
queries per month-end), the goal plan and levers, the segmentation, the targets' one-year
backtest, the journey rows (with the products of every purchase from order_lines.parquet), the
service plan, the KPI tree of the baseline period and a before/after comparison. Prints each
step, the total, and the child's peak memory (peak RSS); targets: under 60 s and under 4 GB.

    .venv/bin/python bench/strategy.py [--orders 1e7] [--check]

--case chapter --processed DIR runs the chapter as a report does, on a processed folder (write it
on a copy: the kept classification goes into DIR/store/), with a client YAML of default settings
(as bench/report_100m.py): first, untimed, the segmentation the segments chapter keeps; then in
one child the code cells of notebooks/04_strategy.ipynb and in another the chapter's exports (the
action plan's lists and workbook, written by the report process after the notebook). Printed per
cell: wall and CPU seconds, RSS after it and the peak so far; per child its peak, bytes per
customer and the projection to 51M customers (the 100M-order sample).

    .venv/bin/python bench/strategy.py --case chapter --processed /tmp/copy-of-processed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    GIB, MIB, OUT, cell_table, label, parse_sizes, print_table, run_child, run_notebook_cells, timed,
)
from diagnosis import ensure_processed  # noqa: E402

TARGET_SECONDS = 60
TARGET_BYTES = 4 * GIB
SETTINGS = {
    "goals": [{"metric": "revenue", "change": 0.1}, {"metric": "f2_rate", "target": 0.3}],
    "targets": [{"segment": "ladder:stage1"}, {"segment": "ladder:stage2"}, {"segment": "cpm:first_lapsed"},
                {"segment": "rfm:at_risk"}],
    "service": [{"stage": s, "measure": s} for s in
                ("first_purchase", "arrival", "second_purchase", "habit", "loyal", "lapsed")],
}


def run_strategy(processed: Path) -> dict:
    """In the child: every computation of the chapter, timed step by step."""
    import datetime as dt

    from crmlib import strategy as st
    from crmlib.diagnosis import open_purchases, resolve_as_of
    from crmlib.segments import segment_customers
    from crmlib.strategy.settings import BeforeAfter

    config = st.load_settings(SETTINGS)
    orders = processed / "orders.parquet"
    steps: dict[str, float] = {}

    def step(name, fn, *args, **kwargs):
        result, seconds = timed(fn, *args, **kwargs)
        steps[name] = seconds
        return result

    t0 = time.perf_counter()
    day = resolve_as_of(orders, "")
    p = step("open_purchases", open_purchases, orders, day)
    history = step("metric_history", st.metric_history, p, 12, 90)
    plan = step("goal_plan", st.goal_plan, p, config.goals, 12, 90, history=history)
    current = history.iloc[0].to_dict()
    step("revenue_levers", st.revenue_levers, current, 1_000_000.0)
    seg = step("segment_customers", segment_customers, orders, day, {})
    step("target_values", st.target_values, seg, config.targets)
    journey = step("journey_data", st.journey_data, p, seg, config.journey, processed / "order_lines.parquet")
    step("service_plan", st.service_plan, config.service, journey, seg.settings.ladder.lapse_days)
    step("kpi_values (baseline)", st.kpi_values, p, st.period_ending(st.baseline_span(day, 12).start, 12), 90)
    step("before_after", st.before_after, p, BeforeAfter(name="x", date=day - dt.timedelta(days=120), window_days=90))
    total = time.perf_counter() - t0
    p.close()
    return {"steps": steps, "total": total, "customers": len(seg.customers), "goals": len(plan)}


def _report_settings(processed: str) -> tuple[dict, dict, str]:
    """(segments settings, strategy settings, as-of) as a report of a default client YAML builds them."""
    import tempfile

    from crmlib.config import load_config
    from crmlib.diagnosis import resolve_as_of
    from crmlib.registry import chapter_settings, select_chapters

    with tempfile.TemporaryDirectory() as tmp:
        yaml = Path(tmp) / "bench.yaml"
        yaml.write_text(f"name: bench\ntitle: bench\ndata: {Path(processed, 'orders.parquet').as_posix()}\n"
                        "preset: generic\nlang: ja\ncurrency: JPY\n", encoding="utf-8")
        cfg = load_config(yaml)
    segments, strategy = (chapter_settings(cfg, c) for c in select_chapters(["02_segments", "04_strategy"]))
    return segments, strategy, resolve_as_of(Path(processed) / "orders.parquet", "").isoformat()


def chapter_child(args: dict) -> None:
    """In the child: 'keep' the segmentation, run the notebook's cells, or write the exports (JSON out)."""
    import os
    import tempfile

    segments, strategy, day = _report_settings(args["processed"])
    orders = Path(args["processed"]) / "orders.parquet"
    if args["step"] == "keep":
        from crmlib.segments import segment_customers

        print(json.dumps({"customers": len(segment_customers(orders, day, segments).customers)}))
        return
    if args["step"] == "notebook":
        scope, steps = run_notebook_cells("04_strategy.ipynb", {
            "processed_dir": args["processed"], "as_of": day, "lang": "ja", "metrics_path": "",
            "settings": strategy})
        print(json.dumps({"customers": len(scope["seg"].customers), "steps": steps, "pid": os.getpid()}))
        return
    from crmlib.strategy import write_strategy_exports

    from _util import rss

    before = rss()
    c0, t0 = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_strategy_exports(args["processed"], day, strategy, out, "ja")
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    now, peak = rss()
    print(json.dumps({"steps": [{"cell": "imports", "wall": 0.0, "cpu": 0.0, "rss": before[0], "peak": before[1]},
                                {"cell": "write_strategy_exports", "wall": time.perf_counter() - t0,
                                 "cpu": time.process_time() - c0, "rss": now, "peak": peak}], "bytes": size}))


def chapter_case(processed: str) -> int:
    """The chapter on a processed folder, as in a report: the notebook, then the exports."""
    processed = str(Path(processed).resolve())
    r, _ = run_child(Path(__file__), {"task": "chapter", "step": "keep", "processed": processed})
    n = r["customers"]
    print(f"Strategy chapter on {processed}: {n:,} customers (the kept segmentation written first, untimed)")
    for step, what in (("notebook", "notebooks/04_strategy.ipynb code cells"),
                       ("exports", "the exports (action plan lists and workbook)")):
        r, peak = run_child(Path(__file__), {"task": "chapter", "step": step, "processed": processed})
        print(f"\n{what}:")
        cell_table(r["steps"], peak)
        fixed = r["steps"][0]["peak"]
        per = (peak - fixed) / n
        print(f"peak {peak / GIB:.2f} GB = {fixed / MIB:,.0f} MB after the imports + {per:,.0f} bytes per customer;"
              f" at 51M customers: {(fixed + per * 51e6) / GIB:.1f} GB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1e7", help="generated orders, e.g. 1e6 or 1e7")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("steps", "chapter"), default="steps",
                        help="steps: the chapter's computations on generated orders; chapter: the notebook and"
                             " exports on --processed")
    parser.add_argument("--processed", help="processed folder for --case chapter (it writes store/: use a copy)")
    args = parser.parse_args(argv)
    if args.child:
        task = json.loads(args.child)
        if task.get("task") == "chapter":
            chapter_child(task)
        else:
            print(json.dumps(run_strategy(Path(task["processed"]))))
        return 0
    if args.case == "chapter":
        if not args.processed:
            parser.error("--case chapter needs --processed DIR")
        return chapter_case(args.processed)
    OUT.mkdir(parents=True, exist_ok=True)
    (n_orders,) = parse_sizes(args.orders)
    processed = ensure_processed(n_orders, args.seed)
    r, peak = run_child(Path(__file__), {"processed": str(processed)})
    print(f"\nStrategy chapter on {label(n_orders)} generated orders, {r['customers']:,} customers "
          "(one child process; imports excluded)")
    print_table(["step", "wall s"], [[name, f"{s:.2f}"] for name, s in r["steps"].items()])
    ok = r["total"] < TARGET_SECONDS and peak < TARGET_BYTES
    print()
    print_table(["total s", "peak RSS MB", "target", "result"],
                [[f"{r['total']:.1f}", f"{peak / MIB:,.0f}", f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB",
                  "ok" if ok else "MISSED"]])
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    raise SystemExit(main())
