"""Benchmark of the strategy chapter's computations on generated orders (default 10 million).

Uses the generated, ingested sample that bench/diagnosis.py caches under bench/out/ (made when
missing, not timed), then runs in a child process what notebooks/04_strategy.ipynb computes with
the demo's goals and targets: the purchases, the goal metrics' history (the heaviest part: three
queries per month-end), the goal plan and levers, the segmentation, the targets' one-year
backtest, the journey rows (with the products of every purchase from order_lines.parquet), the
service plan, the KPI tree of the baseline period and a before/after comparison. Prints each
step, the total, and the child's peak memory (peak RSS); targets: under 60 s and under 4 GB.

    .venv/bin/python bench/strategy.py [--orders 1e7] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import GIB, MIB, OUT, label, parse_sizes, print_table, run_child, timed  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1e7", help="generated orders, e.g. 1e6 or 1e7")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_strategy(Path(json.loads(args.child)["processed"]))))
        return 0
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
