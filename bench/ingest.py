"""Benchmark of the ingest: the Online Retail file and 1M / 10M generated orders.

Prints input rows per second, wall time, CPU time (user + sys of the ingest) and peak memory (peak RSS of a child process per case)
of ``crmlib.ingest.ingest_file`` writing its Parquet output, with the targets beside them:
10 million orders in under 60 s and under 4 GB. Generated samples are cached in bench/out/
(git-ignored; the name changes when the generator changes). Online Retail is read from
$CRM_DATASETS or ../shared/datasets beside the project, and skipped when absent.

Each generated size is ingested as Parquet and as CSV (the form most client exports take; a
CSV copy of the sample is cached beside it), unless --formats says otherwise.

    .venv/bin/python bench/ingest.py [--sizes 1e6,1e7] [--formats parquet,csv] [--skip-retail]
                                     [--keep] [--check]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    GIB, MIB, OUT, datasets_dir, label, parse_sizes, print_table, run_child, sample_cache_path, timed,
    timed_cpu,
)

RETAIL = Path("online_retail") / "online_retail_2010-12-01_2011-12-09.csv.gz"
TARGET_SECONDS = 60
TARGET_BYTES = 4 * GIB
TARGET_ORDERS = 10_000_000


def child(args: dict) -> None:
    """In the child: one ingest (or one sample generation), figures printed as JSON."""
    if args["task"] == "generate":
        from crmlib.sample import write_sample

        _, seconds = timed(write_sample, Path(args["path"]), n_orders=args["n_orders"], seed=args["seed"])
        print(json.dumps({"seconds": seconds}))
        return
    from crmlib.ingest import ingest_file

    result, seconds, cpu = timed_cpu(ingest_file, Path(args["path"]), preset=args["preset"],
                                     out_dir=Path(args["out_dir"]))
    ledger = result.ledger
    print(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu, "input_rows": ledger.input_rows, "kept_rows": ledger.kept_rows,
        "orders": ledger.orders, "customers": ledger.customers, "reconciles": ledger.reconciles(),
    }))


def ensure_sample(n_orders: int, seed: int) -> Path:
    """The cached generated sample of n_orders, generated (in a child process) when missing."""
    path = sample_cache_path(n_orders, seed)
    if not path.exists():
        print(f"  generating {label(n_orders)} orders for the cache (not timed here) ...", flush=True)
        result, _ = run_child(Path(__file__), {"task": "generate", "path": str(path),
                                               "n_orders": n_orders, "seed": seed})
        print(f"  generated in {result['seconds']:.1f} s: {path.name}", flush=True)
    return path


def csv_copy(parquet: Path) -> Path:
    """The cached CSV copy of a generated Parquet sample (written by DuckDB when missing)."""
    import duckdb

    path = parquet.with_suffix(".csv")
    if not path.exists():
        print(f"  writing the CSV copy {path.name} (not timed here) ...", flush=True)
        tmp = path.with_suffix(".csv.tmp")
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{tmp}' (HEADER)")
        con.close()
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="generated orders per case, e.g. 1e6,1e7")
    parser.add_argument("--formats", default="parquet,csv", help="file formats of the generated cases")
    parser.add_argument("--skip-retail", action="store_true", help="leave out the Online Retail file")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--keep", action="store_true", help="keep the ingest output under bench/out/")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path, str, int | None]] = []
    if args.skip_retail:
        print("skip: Online Retail (--skip-retail)")
    else:
        retail = datasets_dir() / RETAIL
        if retail.exists():
            cases.append(("online-retail", retail, "online-retail", None))
        else:
            print(f"skip: Online Retail not found at {retail} (set CRM_DATASETS to the datasets folder)")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - {"parquet", "csv"}
    if unknown:
        parser.error(f"unknown format(s) {', '.join(sorted(unknown))}; choose parquet and/or csv")
    for n in parse_sizes(args.sizes):
        sample = ensure_sample(n, args.seed)
        for fmt in formats:
            path = sample if fmt == "parquet" else csv_copy(sample)
            cases.append((f"generated {label(n)} {fmt}", path, "generic", n))

    rows, missed = [], False
    for name, path, preset, n in cases:
        out_dir = OUT / f"ingest-{name.replace(' ', '-')}"
        shutil.rmtree(out_dir, ignore_errors=True)
        print(f"ingesting {name} ({path.name}, preset {preset}) ...", flush=True)
        r, peak = run_child(Path(__file__), {"task": "ingest", "path": str(path), "preset": preset,
                                             "out_dir": str(out_dir)})
        if not args.keep:
            shutil.rmtree(out_dir, ignore_errors=True)
        target = "-"
        if n is not None and n >= TARGET_ORDERS:
            ok = r["seconds"] < TARGET_SECONDS and peak < TARGET_BYTES
            missed |= not ok
            target = f"<{TARGET_SECONDS}s <{TARGET_BYTES // GIB}GB: {'ok' if ok else 'MISSED'}"
        rows.append([
            name, f"{r['input_rows']:,}", f"{r['kept_rows']:,}", f"{r['orders']:,}",
            f"{r['customers']:,}", f"{r['seconds']:.1f}", f"{r['cpu_seconds']:.1f}", f"{r['input_rows'] / r['seconds']:,.0f}",
            f"{peak / MIB:,.0f}", "yes" if r["reconciles"] else "NO", target,
        ])
    print()
    print("Ingest to Parquet (one child process per case; time excludes interpreter start and imports)")
    print_table(["case", "input rows", "kept rows", "orders", "customers", "wall s", "CPU s", "rows/s",
                 "peak RSS MB", "ledger ok", "target (10M orders)"], rows)
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
