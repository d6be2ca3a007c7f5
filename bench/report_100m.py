"""Benchmark of a full report on generated orders (default 100 million): ingest + every chapter.

Generates the sample as Parquet with ``crmlib.sample.write_sample`` (cached, not timed), then runs
in child processes, one per step: the ingest (``crmlib.ingest.ingest_client``) and the report
(``crmlib.report.pipeline.render_report``: every chapter notebook, the customer-list exports, the
HTML pages). Prints wall time and peak memory of each step: the child's peak RSS (``os.wait4``,
which covers the chapter kernels it waited for) and, from ``/proc`` sampled every second, the peak
RSS of each process of the report (one Jupyter kernel per chapter) and of the whole process tree.
Per-chapter times come from papermill's cell durations in the executed notebooks.

Everything (sample, processed data, report, DuckDB spill files) goes under --work (default
bench/out/report/; use a folder outside the repository for 100M: the sample is about 5 GB and the
ingest spills several times that), so:

    .venv/bin/python bench/report_100m.py --orders 1e8 --work /work/bench-data
    .venv/bin/python bench/report_100m.py --orders 1e7 --work /work/bench-data   # a 10M check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import GIB, MIB, OUT, label, parse_sizes, print_table, sample_cache_path, timed  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- /proc sampling (no psutil)

def _children(pid: int) -> list[int]:
    """Direct children of a process, from /proc/<pid>/task/*/children."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return out


def _rss_and_name(pid: int) -> tuple[int, str] | None:
    """Resident set size in bytes and a short command line of one process (None when gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * PAGE
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except (OSError, IndexError, ValueError):
        return None
    text = " ".join(a.decode(errors="replace") for a in args if a)
    name = "kernel" if "ipykernel" in text else ("bench child" if "--child" in text else text[:40])
    return rss, name


class TreeSampler(threading.Thread):
    """Samples the RSS of a process and all its descendants every `every` seconds."""

    def __init__(self, pid: int, every: float = 1.0, report_every: float = 300.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.report_every = pid, every, report_every
        self.peak_total = 0
        self.peaks: dict[int, tuple[int, str, float]] = {}  # pid -> (peak rss, name, first seen)
        self.stop = threading.Event()

    def run(self) -> None:
        t0 = last_report = time.perf_counter()
        while not self.stop.is_set():
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo += _children(pid)
            total = 0
            for pid in pids:
                got = _rss_and_name(pid)
                if got is None:
                    continue
                rss, name = got
                total += rss
                old = self.peaks.get(pid)
                self.peaks[pid] = (max(rss, old[0] if old else 0), name,
                                   old[2] if old else time.perf_counter() - t0)
            self.peak_total = max(self.peak_total, total)
            if time.perf_counter() - last_report >= self.report_every:  # progress for long runs
                last_report = time.perf_counter()
                kernels = sum(1 for v in self.peaks.values() if v[1] == "kernel")
                print(f"  [{time.strftime('%H:%M:%S', time.gmtime())} UTC] {last_report - t0:,.0f} s: "
                      f"{total / MIB:,.0f} MB in {len(pids)} processes now, peak {self.peak_total / MIB:,.0f} MB; "
                      f"chapter kernels started so far: {kernels}", flush=True)
            self.stop.wait(self.every)


def run_step(args: dict) -> tuple[dict, int, TreeSampler]:
    """Run one step in a child process; its JSON result, its peak RSS (wait4) and the tree sampler."""
    cmd = [sys.executable, str(Path(__file__)), "--child", json.dumps(args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1], text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    sampler.stop.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:  # say how far it got and where the memory was before giving up
        print(f"step {args['task']} failed with exit code {code} (negative: killed by that signal, "
              f"-9 is usually the out-of-memory killer); peak RSS {usage.ru_maxrss / 1024:,.0f} MB, "
              f"process tree peak {sampler.peak_total / MIB:,.0f} MB", flush=True)
    else:
        print(f"step {args['task']}: peak RSS by process (sampled), process tree peak "
              f"{sampler.peak_total / MIB:,.0f} MB", flush=True)
    for pid, (rss, name, seen) in sorted(sampler.peaks.items(), key=lambda kv: kv[1][2]):
        if rss >= 50 * MIB or code != 0:  # Chromium's dozens of small helpers only when it failed
            print(f"  pid {pid} {name}: started at {seen:,.0f} s, peak {rss / MIB:,.0f} MB", flush=True)
    if code != 0:
        raise SystemExit(1)
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss * 1024, sampler


# ---------------------------------------------------------------- the steps (in the child)

def client_yaml(work: Path, sample: Path, n_orders: int) -> Path:
    """A client YAML for the generated sample (Japanese report, default chapter settings)."""
    path = work / f"bench_{label(n_orders)}.yaml"
    path.write_text(
        f"name: bench-{label(n_orders)}\ntitle: \"bench {label(n_orders)} orders\"\n"
        f"data: {sample.as_posix()}\npreset: generic\nlang: ja\ncurrency: JPY\n", encoding="utf-8")
    return path


def chapter_times(report: Path) -> dict[str, dict]:
    """Per chapter: papermill's total duration and its three slowest cells (from the executed notebooks)."""
    import nbformat

    out = {}
    for nb_path in sorted((report / "notebooks").glob("*.ipynb")):
        try:
            nb = nbformat.read(nb_path, as_version=4)
        except Exception:  # a figure is never worth losing the run's figures
            continue
        cells = [(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0),
                  (c.source.strip().splitlines() or [""])[0][:60]) for c in nb.cells if c.cell_type == "code"]
        total = nb.metadata.get("papermill", {}).get("duration") or sum(d for d, _ in cells)
        out[nb_path.stem] = {"seconds": float(total), "slowest": sorted(cells, reverse=True)[:3]}
    return out


def child(args: dict) -> None:
    """In the child: generate, ingest or render; print the figures as JSON."""
    if args["task"] == "generate":
        from crmlib.sample import write_sample

        _, seconds = timed(write_sample, Path(args["path"]), n_orders=args["n_orders"], seed=args["seed"],
                           fmt="parquet")
        print(json.dumps({"seconds": seconds}))
        return
    from crmlib.config import load_config

    cfg = load_config(args["config"])
    processed = Path(args["work"]) / "processed"
    if args["task"] == "ingest":
        from crmlib.ingest import ingest_client

        result, seconds = timed(ingest_client, cfg, processed)
        led = result.ledger
        print(json.dumps({"seconds": seconds, "input_rows": led.input_rows, "kept_rows": led.kept_rows,
                          "orders": led.orders, "customers": led.customers, "reconciles": led.reconciles(),
                          "as_of": result.as_of.isoformat()}))
        return
    import datetime as dt

    from crmlib.report.pipeline import render_report

    report, seconds = timed(render_report, cfg, processed / cfg.name, dt.date.fromisoformat(args["as_of"]),
                            Path(args["work"]) / "reports")
    exports = report / "exports"
    size = sum(p.stat().st_size for p in exports.glob("*")) if exports.is_dir() else 0
    print(json.dumps({"seconds": seconds, "report": str(report), "chapters": chapter_times(report),
                      "exports_bytes": size}))


# ---------------------------------------------------------------- the parent

def reused_ingest(ledger_json: Path) -> dict:
    """The counts and as-of date of an earlier, kept ingest, from its ledger.json."""
    import datetime as dt

    led = json.loads(ledger_json.read_text(encoding="utf-8"))
    last = dt.datetime.fromisoformat(led["last_order"]).date()
    return {"input_rows": led["input_rows"], "kept_rows": led["kept_rows"], "orders": led["orders"],
            "customers": led["customers"], "reconciles": led["reconciles"],
            "as_of": (last + dt.timedelta(days=1)).isoformat()}


def disk_free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1e8", help="generated orders, e.g. 1e7 or 1e8")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--work", default=str(OUT / "report"),
                        help="folder for the sample, processed data, report and spill files")
    parser.add_argument("--min-free-gb", type=float, default=20,
                        help="refuse to start below this much free disk in --work (default 20)")
    parser.add_argument("--keep", action="store_true", help="keep the processed data and the report")
    parser.add_argument("--reuse-ingest", action="store_true",
                        help="render from the processed data a kept earlier run left in --work (its ledger.json "
                             "gives the counts; the ingest is neither run nor timed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    (n_orders,) = parse_sizes(args.orders)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    free = disk_free(work)
    if free < args.min_free_gb * GIB:
        raise SystemExit(f"{work}: only {free / GIB:.0f} GB free, below --min-free-gb {args.min_free_gb:g}")
    spill = work / "tmp"
    spill.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(spill)  # the ingest's DuckDB spill folder and working file go here
    sample = work / sample_cache_path(n_orders, args.seed).name
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    print(f"[{stamp} UTC] full report on {label(n_orders)} generated orders; work folder {work} "
          f"({free / GIB:.0f} GB free); DuckDB memory cap {os.environ.get('CRM_DUCKDB_MEMORY', '3GB')}",
          flush=True)
    rows: list[list[str]] = []
    if not sample.exists():
        print(f"generating {sample.name} (Parquet) ...", flush=True)
        r, peak, _ = run_step({"task": "generate", "path": str(sample), "n_orders": n_orders, "seed": args.seed})
        print(f"  generated in {r['seconds']:.0f} s, peak {peak / MIB:,.0f} MB", flush=True)
    print(f"sample: {sample} ({sample.stat().st_size / GIB:.1f} GB)", flush=True)
    config = client_yaml(work, sample, n_orders)

    kept = work / "processed" / f"bench-{label(n_orders)}" / "ledger.json"
    if args.reuse_ingest and kept.is_file():
        r = reused_ingest(kept)
        print(f"reusing the ingest in {kept.parent} ({r['input_rows']:,} rows -> {r['orders']:,} orders, "
              f"{r['customers']:,} customers; not timed)", flush=True)
        ingest_s = 0.0
        rows.append(["ingest (reused, not timed)", "", "", ""])
    else:
        print("ingesting ...", flush=True)
        r, peak, tree = run_step({"task": "ingest", "config": str(config), "work": str(work)})
        print(f"  {r['input_rows']:,} rows -> {r['kept_rows']:,} kept, {r['orders']:,} orders, "
              f"{r['customers']:,} customers in {r['seconds']:.0f} s, peak {peak / MIB:,.0f} MB, "
              f"ledger reconciles: {r['reconciles']}", flush=True)
        ingest_s = r["seconds"]
        rows.append(["ingest", f"{r['seconds']:.0f}", f"{peak / MIB:,.0f}", f"{tree.peak_total / MIB:,.0f}"])

    print(f"rendering the report as of {r['as_of']} (every chapter) ...", flush=True)
    rep, peak, tree = run_step({"task": "report", "config": str(config), "work": str(work), "as_of": r["as_of"]})
    kernels = sorted((v for v in tree.peaks.values() if v[1] == "kernel"), key=lambda v: v[2])
    chapters = list(rep["chapters"].items())
    for i, (name, info) in enumerate(chapters):
        kernel_peak = f"{kernels[i][0] / MIB:,.0f}" if len(kernels) == len(chapters) else "?"
        rows.append([f"  {name}", f"{info['seconds']:.0f}", kernel_peak, ""])
    notebooks_s = sum(info["seconds"] for _, info in chapters)
    rows.append(["  exports, pages, kernel start-up", f"{rep['seconds'] - notebooks_s:.0f}", "", ""])
    rows.append(["report (all chapters)", f"{rep['seconds']:.0f}", f"{peak / MIB:,.0f}", f"{tree.peak_total / MIB:,.0f}"])
    rows.append(["total", f"{ingest_s + rep['seconds']:.0f}", "", ""])
    print()
    print(f"Full report on {label(n_orders)} generated orders ({r['input_rows']:,} lines, {r['customers']:,} "
          f"customers); exports {rep['exports_bytes'] / MIB:,.0f} MB; 2-core machine, shared")
    print_table(["step", "wall s", "peak RSS MB (process)", "peak RSS MB (process tree)"], rows)
    print()
    print("Slowest cells per chapter (s):")
    for name, info in chapters:
        print(f"  {name}: " + "; ".join(f"{d:.0f} {src!r}" for d, src in info["slowest"]))
    if not args.keep:  # only this run's folders: another size may be running in the same --work
        client = f"bench-{label(n_orders)}"
        shutil.rmtree(work / "processed" / client, ignore_errors=True)
        shutil.rmtree(work / "reports" / client, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
