"""Check that a change to the ingest leaves its outputs unchanged: old code vs new code.

``write DIR`` ingests the check cases with whichever ``crmlib`` Python imports (run it once with
PYTHONPATH pointing at a copy of main's code, once without) into DIR/<case>/; ``diff OLD NEW``
compares the two: every Parquet output as a multiset of rows (same schema, same rows, same
count; orders.parquet also still sorted by ordered_at), per-customer totals and ledger.json.

    git archive main crmlib | tar -x -C /tmp/ref
    PYTHONPATH=/tmp/ref .venv/bin/python bench/ingest_compare.py write /tmp/old
    .venv/bin/python bench/ingest_compare.py write /tmp/new
    .venv/bin/python bench/ingest_compare.py diff /tmp/old /tmp/new
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import OUT, datasets_dir, parse_sizes, sample_cache_path  # noqa: E402

OUTPUTS = ("orders.parquet", "order_lines.parquet", "contacts.parquet")


def cases(sizes: list[int], seed: int) -> list[tuple[str, Path, str, bool]]:
    """(name, file, preset, keep_contacts) of every check case present on this machine."""
    from crmlib.sample import write_sample

    demo = OUT / "compare_demo_orders.csv"
    if not demo.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        write_sample(demo)
    found = [("demo", demo, "generic", True), ("demo-no-contacts", demo, "generic", False)]
    for name, rel, preset in (("online-retail", "online_retail/online_retail_2010-12-01_2011-12-09.csv.gz",
                               "online-retail"),
                              ("cdnow", "cdnow/CDNOW_master.txt", "cdnow")):
        if (datasets_dir() / rel).exists():
            found.append((name, datasets_dir() / rel, preset, False))
    for n in sizes:
        path = sample_cache_path(n, seed)
        if path.exists():
            found.append((f"generated-{n}", path, "generic", True))
        else:
            print(f"skip: {path.name} not generated (run bench/ingest.py --sizes {n} once)")
    return found


def write(root: Path, sizes: list[int], seed: int) -> None:
    import crmlib
    from crmlib.ingest import ingest_file

    print(f"crmlib from {Path(crmlib.__file__).parent}")
    for name, path, preset, contacts in cases(sizes, seed):
        result = ingest_file(path, preset=preset, out_dir=root / name, keep_contacts=contacts)
        print(f"{name}: {result.ledger.input_rows:,} rows, {result.ledger.orders:,} orders")


def diff(old: Path, new: Path) -> int:
    import duckdb

    con = duckdb.connect()
    bad = 0
    for case in sorted(p.name for p in old.iterdir() if p.is_dir()):
        a, b = old / case, new / case
        problems = []
        for name in OUTPUTS:
            fa, fb = a / name, b / name
            if fa.exists() != fb.exists():
                problems.append(f"{name}: present in only one")
                continue
            if not fa.exists():
                continue
            qa, qb = f"read_parquet('{fa}')", f"read_parquet('{fb}')"
            sa = con.execute(f"DESCRIBE SELECT * FROM {qa}").fetchall()
            sb = con.execute(f"DESCRIBE SELECT * FROM {qb}").fetchall()
            if sa != sb:
                problems.append(f"{name}: schema differs {sa} vs {sb}")
                continue
            na, nb = (con.execute(f"SELECT count(*) FROM {q}").fetchone()[0] for q in (qa, qb))
            only_a, only_b = (con.execute(f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})")
                              .fetchone()[0] for x, y in ((qa, qb), (qb, qa)))
            if na != nb or only_a or only_b:
                problems.append(f"{name}: {na:,} vs {nb:,} rows, {only_a:,} only in old, {only_b:,} only in new")
            if name == "orders.parquet":
                unsorted = con.execute(f"""SELECT count(*) FROM (SELECT ordered_at < lag(ordered_at) OVER () AS down
                                            FROM {qb}) WHERE down""").fetchone()[0]
                if unsorted:
                    problems.append(f"orders.parquet: new file not sorted by ordered_at ({unsorted} descents)")
                # summed as decimals: a sum of doubles depends on the order of the rows
                per_customer = "SELECT customer_id, count(*) n, sum(CAST(amount AS DECIMAL(38, 4))) s FROM {} GROUP BY ALL"
                moved = con.execute(f"SELECT count(*) FROM ({per_customer.format(qa)} EXCEPT "
                                    f"{per_customer.format(qb)})").fetchone()[0]
                if moved:
                    problems.append(f"orders.parquet: {moved:,} customers' order count or total differ")
        la, lb = (json.loads((d / "ledger.json").read_text()) for d in (a, b))
        if la != lb:
            keys = sorted(k for k in set(la) | set(lb) if la.get(k) != lb.get(k))
            problems.append(f"ledger.json differs in {keys}")
        if (a / "ledger.csv").read_text() != (b / "ledger.csv").read_text():
            problems.append("ledger.csv differs")
        print(f"{case}: {'identical' if not problems else 'DIFFERENT'}")
        for p in problems:
            print(f"  {p}")
        bad += bool(problems)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="ingest the check cases into DIR/<case>/")
    w.add_argument("root", type=Path)
    w.add_argument("--sizes", default="1e6", help="generated samples to include (cached ones only)")
    w.add_argument("--seed", type=int, default=20240401)
    d = sub.add_parser("diff", help="compare two write folders")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "write":
        write(args.root, parse_sizes(args.sizes), args.seed)
        return 0
    return diff(args.old, args.new)


if __name__ == "__main__":
    raise SystemExit(main())
