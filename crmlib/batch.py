"""`crm-workbook batch`: many clients' reports in parallel, each failure contained.

Clients run in worker processes (one per CPU core by default) or on a Dask distributed cluster.
Each worker keeps one warm Jupyter kernel for all the notebooks of all its clients. A client's
failure becomes one line in the summary; the others go on. At the end: a summary table, an
offline index page linking every report, a cross-client comparison (HTML + CSV), and exit
code 1 when any client failed.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from .errors import ConfigError, CrmError

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Outcome:
    """One client's result in a batch."""

    config: str
    client: str
    status: str  # ok, skipped, failed
    seconds: float
    report: str | None = None
    error: str | None = None  # the first line of the message, for the summary
    log: str | None = None


def discover_configs(paths: Iterable[Path | str]) -> list[Path]:
    """The client YAMLs to run: each folder's *.yaml/*.yml (sorted, not recursive) and each file."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in YAML_SUFFIXES and p.is_file()
                            and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder.", hint="give a folder of client YAMLs or YAML files")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise ConfigError(f"no client YAML (*.yaml, *.yml) in {', '.join(map(str, paths))}.",
                          hint="crm-workbook init NAME -o clients/NAME.yaml writes one")
    return unique


def first_error_line(message: str) -> str:
    """The line of an error message to show in the summary (a heading ending in ':' takes the next
    line with it)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------ the work of one client

_local = threading.local()


def _warm_kernel(notebooks_dir: Path):
    """This worker thread's warm kernel (made on first use, shut down when the process exits)."""
    kernel = getattr(_local, "kernel", None)
    if kernel is None:
        from .report.warm import WarmKernel

        kernel = _local.kernel = WarmKernel(notebooks_dir)
        atexit.register(kernel.shutdown)
    return kernel


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one client (in a worker process or on a Dask worker); never raises: returns an Outcome
    as a dict. Progress lines and warnings go to the client's log file."""
    from .report.pipeline import default_notebooks_dir
    from .runs import run_client

    started = time.perf_counter()
    log_path = Path(task["log"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(config=task["config"], client=task["client"], status="failed", seconds=0.0,
                      log=str(log_path))
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            notebooks = Path(task.get("notebooks_dir") or default_notebooks_dir())
            kernel = _warm_kernel(notebooks) if task.get("warm", True) else None
            result = run_client(task["config"], data_dir=task["data_dir"], reports_dir=task["reports_dir"],
                                as_of=task.get("as_of"), force=task.get("force", False), kernel=kernel,
                                notebooks_dir=notebooks, chapters=task.get("chapters"),
                                share_kernel=task.get("warm", True))
            outcome.status, outcome.report = result.status, str(result.report)
        except CrmError as exc:
            print(f"error: {exc.message}" + (f"\nWhat to do: {exc.hint}" if exc.hint else ""))
            outcome.error = first_error_line(exc.message)
        except Exception as exc:  # a bug in crmlib: keep the traceback in the client's log
            import traceback

            traceback.print_exc()
            outcome.error = first_error_line(f"internal error: {type(exc).__name__}: {exc}")
    outcome.seconds = time.perf_counter() - started
    return asdict(outcome)


# ------------------------------------------------------------------ executors


def _started_since(task: dict, since: float) -> bool:
    """Whether a task began after `since` (run_task opens the client's log first thing)."""
    try:
        return Path(task["log"]).stat().st_mtime >= since
    except OSError:
        return False


def _died(task: dict) -> dict:
    return asdict(Outcome(config=task["config"], client=task["client"], status="failed", seconds=0.0,
                          log=task["log"], error="the worker process died while running this client "
                          "(killed, or out of memory); the other clients were not affected"))


def _local_results(tasks: list[dict], workers: int, fn: Callable[[dict], dict] = run_task) -> Iterator[dict]:
    """Run tasks in worker processes; yields outcomes as they finish.

    A worker that dies (killed, out of memory) breaks the whole pool. Its clients that had not
    started go back to a new pool; those that had started are re-run one at a time in a pool of
    their own, where a death can only be theirs: that client fails, the others go on.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    pending, suspects = list(tasks), []
    while pending or suspects:
        isolated = not pending
        batch = [suspects.pop(0)] if isolated else pending
        pending, broken, finished = [], [], 0
        round_start = time.time() - 1.0  # file times can lag the clock a little
        pool = ProcessPoolExecutor(max_workers=1 if isolated else min(workers, len(batch)), mp_context=context)
        try:
            futures = {pool.submit(fn, task): task for task in batch}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                except BaseException as exc:  # e.g. SystemExit raised in the worker
                    outcome = asdict(Outcome(config=task["config"], client=task["client"], status="failed",
                                             seconds=0.0, log=task["log"],
                                             error=first_error_line(f"worker stopped: {type(exc).__name__}: {exc}")))
                finished += 1
                yield outcome
        except BaseException:
            # the batch itself is stopped (Ctrl-C, SIGTERM): stop the workers now rather than wait for
            # their clients; what they leave is hidden and cleaned up by the next run of each client
            pool.shutdown(wait=False, cancel_futures=True)
            for child in multiprocessing.active_children():
                child.terminate()
            raise
        pool.shutdown(wait=True)
        started = [task for task in broken if isolated or _started_since(task, round_start)]
        if isolated or (broken and not started and not finished):  # nothing ran at all: do not loop
            for task in broken:
                yield _died(task) if isolated else asdict(Outcome(
                    config=task["config"], client=task["client"], status="failed", seconds=0.0, log=task["log"],
                    error="worker processes could not be started"))
            continue
        suspects += started
        pending = [task for task in broken if task not in started]


def _dask_results(tasks: list[dict], scheduler: str) -> Iterator[dict]:
    """Run tasks on a Dask distributed cluster; yields outcomes as they finish."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask distributed, which is not installed.",
                          hint="pip install -e '.[dask]'") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                          hint="check the address (tcp://HOST:8786) and that the scheduler runs") from None
    with client:
        futures = client.map(run_task, tasks, pure=False, key=[f"crm-{t['client']}-{i}" for i, t in enumerate(tasks)])
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        for future in as_completed(futures):
            task = by_key[future.key]
            try:
                yield future.result()
            except Exception as exc:  # the worker died or the task could not be sent
                yield asdict(Outcome(config=task["config"], client=task["client"], status="failed",
                                     seconds=0.0, log=task["log"],
                                     error=first_error_line(f"dask: {type(exc).__name__}: {exc}")))


# ------------------------------------------------------------------ progress and summary


class Progress:
    """A progress bar on a terminal, one plain line per finished client otherwise."""

    def __init__(self, total: int, stream: TextIO, tty: bool | None = None) -> None:
        self.total, self.stream = total, stream
        self.tty = stream.isatty() if tty is None else tty
        self.done = 0
        self.counts = {"ok": 0, "skipped": 0, "failed": 0}
        self.started = time.perf_counter()

    def _bar(self) -> str:
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return (f"[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total}  ok {self.counts['ok']}  "
                f"skipped {self.counts['skipped']}  failed {self.counts['failed']}  "
                f"{elapsed:.0f}s elapsed, ~{eta:.0f}s left")

    def start(self) -> None:
        if self.tty:
            self.stream.write(self._bar())
            self.stream.flush()

    def update(self, outcome: dict) -> None:
        self.done += 1
        self.counts[outcome["status"]] += 1
        line = (f"[{self.done:>{len(str(self.total))}}/{self.total}] {outcome['client']}: {outcome['status']} "
                f"in {outcome['seconds']:.1f}s" + (f" - {outcome['error']}" if outcome["error"] else ""))
        if self.tty:
            # finished clients scroll above the bar; the bar is redrawn on the last line
            self.stream.write("\r\033[K" + line + "\n" + self._bar())
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def print_summary(outcomes: list[dict], wall: float, workers: str, stream: TextIO) -> None:
    """The end-of-batch table: client, status, time, report or first error line."""
    print("", file=stream)
    width = max([len("client")] + [len(o["client"]) for o in outcomes])
    print(f"{'client':<{width}}  {'status':<7}  {'time':>7}  report / first error line", file=stream)
    for o in outcomes:
        detail = o["report"] if o["status"] != "failed" else f"{o['error']} (log: {o['log']})"
        print(f"{o['client']:<{width}}  {o['status']:<7}  {o['seconds']:>6.1f}s  {detail}", file=stream)
    counts = {s: sum(1 for o in outcomes if o["status"] == s) for s in ("ok", "skipped", "failed")}
    per = wall / len(outcomes) if outcomes else 0.0
    print(f"{len(outcomes)} clients: {counts['ok']} ok, {counts['skipped']} skipped (up to date), "
          f"{counts['failed']} failed; wall time {wall:.1f}s ({per:.1f}s per client) on {workers}", file=stream)


# ------------------------------------------------------------------ the batch


def _client_name(config: Path) -> tuple[str, str | None]:
    """The client's name from its YAML (validated), or the file stem and the error."""
    from .config import load_config

    try:
        return load_config(config).name, None
    except CrmError as exc:
        return config.stem, first_error_line(exc.message)


def run_batch(configs: list[Path], *, data_dir: Path, reports_dir: Path, out: Path | None = None,
              workers: int | None = None, scheduler: str | None = None, force: bool = False,
              as_of: str | None = None, lang: str = "ja", chapters: list[str] | None = None,
              notebooks_dir: Path | None = None, warm: bool = True, stream: TextIO | None = None,
              tty: bool | None = None) -> list[dict]:
    """Run every client, print progress and the summary, write the index; returns the outcomes
    in the order of configs."""
    from .report.overview import ClientEntry, write_index

    stream = stream or sys.stdout
    data_dir, reports_dir = Path(data_dir).resolve(), Path(reports_dir).resolve()
    out = Path(out).resolve() if out else reports_dir / "index.html"
    logs = out.parent / "batch-logs"
    outcomes: dict[int, dict] = {}
    tasks: list[dict] = []
    seen: dict[str, Path] = {}
    for i, config in enumerate(configs):
        name, problem = _client_name(config)
        log = logs / f"{name}.log"
        if problem is None and name in seen:
            problem = f"client name {name} is also used by {seen[name]}; names must be unique"
        if problem is not None:  # a config that does not load fails here, without a worker
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(problem + "\n", encoding="utf-8")
            outcomes[i] = asdict(Outcome(str(config), name, "failed", 0.0, error=problem, log=str(log)))
            continue
        seen[name] = config
        tasks.append({"index": i, "config": str(config), "client": name, "data_dir": str(data_dir),
                      "reports_dir": str(reports_dir), "as_of": as_of, "force": force, "log": str(log),
                      "chapters": chapters, "warm": warm,
                      "notebooks_dir": str(notebooks_dir) if notebooks_dir else None})
    workers = max(1, min(workers or default_workers(), max(len(tasks), 1)))
    where = f"Dask cluster {scheduler}" if scheduler else f"{workers} worker process{'es' if workers > 1 else ''}"
    print(f"Batch: {len(configs)} clients on {where}; logs in {logs}", file=stream, flush=True)
    progress = Progress(len(configs), stream, tty)
    progress.start()
    for i, outcome in outcomes.items():
        progress.update(outcome)
    started = time.perf_counter()
    index_of = {task["client"]: task["index"] for task in tasks}
    if tasks:
        results = _dask_results(tasks, scheduler) if scheduler else _local_results(tasks, workers)
        for outcome in results:
            outcomes[index_of[outcome["client"]]] = outcome
            progress.update(outcome)
    wall = time.perf_counter() - started
    progress.close()
    ordered = [outcomes[i] for i in sorted(outcomes)]
    print_summary(ordered, wall, where, stream)
    entries = [ClientEntry(o["client"], o["status"], o["seconds"],
                           Path(o["report"]) if o["report"] else _latest_report(reports_dir / o["client"]),
                           o["error"]) for o in ordered]
    index, csv_path = write_index(entries, out, lang=lang)
    (out.parent / f"{out.stem}-summary.json").write_text(
        json.dumps({"wall_seconds": wall, "workers": where, "clients": ordered}, ensure_ascii=False, indent=2),
        encoding="utf-8")
    print(f"Index: {index}\nComparison: {csv_path}", file=stream, flush=True)
    return ordered


def _latest_report(client_dir: Path) -> Path | None:
    """A client's newest complete report folder (a failed client's previous report)."""
    if not client_dir.is_dir():
        return None
    reports = sorted(p for p in client_dir.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and (p / "index.html").is_file())
    return reports[-1] if reports else None


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `crm-workbook batch`."""
    p.add_argument("paths", nargs="+", help="a folder of client YAMLs and/or YAML files")
    p.add_argument("--workers", type=int, help="parallel clients (default: one per CPU core)")
    p.add_argument("--scheduler", help="run on a Dask distributed cluster at this address (tcp://HOST:8786)")
    p.add_argument("--force", action="store_true", help="re-run clients whose report is up to date")
    p.add_argument("--as-of", help="analysis date YYYY-MM-DD for every client")
    p.add_argument("--out", help="the index page (default REPORTS_DIR/index.html); the comparison CSV, "
                   "summary JSON and batch-logs/ go beside it")
    p.add_argument("--lang", choices=["ja", "en"], default="ja", help="language of the index page (default ja)")
    p.add_argument("--chapters", help="comma-separated chapters to render (default: all), e.g. 00_data_check")
    p.add_argument("--data-dir", default="data", help="where processed data goes (default data/)")
    p.add_argument("--reports-dir", default="reports", help="where reports go (default reports/)")


def run_batch_command(args: argparse.Namespace) -> int:
    """`crm-workbook batch`: exit 0 when every client is ok or up to date, 1 when any failed."""
    from .runs import terminate_on_sigterm

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}.")
    from .report.pipeline import select_chapters
    from .runs import parse_as_of

    parse_as_of(args.as_of)  # wrong options fail once, before any client runs
    chapters = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None
    select_chapters(chapters)
    terminate_on_sigterm()
    configs = discover_configs(args.paths)
    outcomes = run_batch(configs, data_dir=Path(args.data_dir), reports_dir=Path(args.reports_dir),
                         out=Path(args.out) if args.out else None, workers=args.workers,
                         scheduler=args.scheduler, force=args.force, as_of=args.as_of, lang=args.lang,
                         chapters=chapters,
                         warm=os.environ.get("CRM_BATCH_COLD") != "1")  # benchmark switch: a kernel per notebook
    return 1 if any(o["status"] == "failed" for o in outcomes) else 0


__all__ = ["Outcome", "Progress", "add_batch_arguments", "discover_configs", "first_error_line", "run_batch",
           "run_batch_command", "run_task"]
