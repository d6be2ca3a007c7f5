"""`crm-workbook batch`: many clients' reports in parallel, each failure contained.

Clients run in worker processes (one per CPU core by default) or on a Dask distributed cluster.
Each worker keeps one warm Jupyter kernel for all the notebooks of all its clients (forked, on
Linux, from a process of the worker's that ran the chapters' imports once). The client a worker
takes when no other waits runs its chapters in a kernel per core (the report's lanes, as `run`
does): the other workers are finishing their last clients and their cores fall free. A client's
failure becomes one line in the summary; the others go on. At the end: a summary table, an
offline index page linking every report, a cross-client comparison (HTML + CSV), and exit
code 1 when any client failed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from .cores import shared_threads, usable_cores
from .errors import ChapterFailed, ConfigError, CrmError
from .redact import redact_message

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BatchTask:
    """One client's run in a batch, as sent to a worker process or a Dask worker (picklable)."""

    index: int  # position in the batch's list of configs
    config: str
    client: str
    data_dir: str
    reports_dir: str
    log: str  # the client's log file
    as_of: str | None = None
    force: bool = False
    chapters: list[str] | None = None
    warm: bool = True  # a warm kernel per worker (False: a new kernel per notebook)
    notebooks_dir: str | None = None
    # run in a worker process of its own, one client at a time (not on a Dask worker's threads):
    # the run may pause the process's garbage collector (runs.run_client's own_process)
    own_process: bool = False


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
    line with it), redacted as the ledger is: the summary, the index page and index-summary.json
    leave the client's own log, so the raw values a message quotes as examples must not."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    if lines[0].endswith(":") and len(lines) > 1:
        return redact_message(f"{lines[0]} {lines[1]}")
    return redact_message(lines[0])


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return usable_cores()


# ------------------------------------------------------------------ the work of one client

_local = threading.local()
_zygote_lock = threading.Lock()
_zygotes: dict[str, Any] = {}  # this process's kernel zygote (one per notebooks folder), or None
_unstarted: Any = None  # the batch's count of clients no worker has taken (a shared Value), or None


def _worker_zygote(notebooks_dir: Path, chapters: list[str] | None):
    """This worker process's kernel zygote (crmlib.report.zygote: the chapters' imports run once,
    kernels forked from it), made on first use; None where kernels are not forked (not Linux,
    CRM_KERNEL_ZYGOTE=0) or it cannot start."""
    from .report.kernel_plan import zygote_forks

    with _zygote_lock:
        key = str(notebooks_dir)
        if key not in _zygotes:
            _zygotes[key] = None
            if zygote_forks():
                import subprocess

                from .registry import select_chapters
                from .report.warm import report_preload
                from .report.zygote import Zygote

                try:
                    zygote = Zygote(report_preload(notebooks_dir, select_chapters(chapters)), key,
                                    stderr=subprocess.DEVNULL)
                except OSError:  # no process to spare: kernels start as usual
                    zygote = None
                else:
                    atexit.register(zygote.close)  # after the kernels' shutdowns (atexit runs last-in first)
                _zygotes[key] = zygote
        return _zygotes[key]


def _warm_kernel(notebooks_dir: Path, chapters: list[str] | None = None):
    """This worker thread's warm kernel (made on first use, shut down when the process exits)."""
    kernel = getattr(_local, "kernel", None)
    if kernel is None:
        from .report.warm import WarmKernel

        kernel = _local.kernel = WarmKernel(notebooks_dir, zygote=_worker_zygote(notebooks_dir, chapters))
        atexit.register(kernel.shutdown)
    return kernel


def _took_last_client() -> bool:
    """Count the client this worker starts as taken; whether no client is left waiting (so the
    other workers' cores fall free as their clients end). False outside a local batch."""
    if _unstarted is None:
        return False
    with _unstarted.get_lock():
        _unstarted.value -= 1
        return _unstarted.value <= 0


def _tail_lanes(notebooks_dir: Path, chapters: list[str] | None):
    """Kernels for a client no other waits behind: one per core (at most one per chapter, as
    `run` has), forked from the worker's zygote; None when that would be one kernel, or where
    kernels are not forked (starting one costs more than it saves)."""
    from .registry import select_chapters
    from .report.kernel_plan import report_lanes

    count = report_lanes(len(select_chapters(chapters)))
    zygote = _worker_zygote(notebooks_dir, chapters) if count > 1 else None
    if zygote is None:
        return None
    import subprocess

    from .report.warm import KernelLanes, report_preload

    return KernelLanes(notebooks_dir, count, preload=report_preload(notebooks_dir, select_chapters(chapters)),
                       stderr=subprocess.DEVNULL, shared_zygote=zygote)


def run_task(task: BatchTask) -> dict[str, Any]:
    """Run one client (in a worker process or on a Dask worker); never raises: returns an Outcome
    as a dict. Progress lines and warnings go to the client's log file."""
    from .report.pipeline import default_notebooks_dir
    from .runs import run_client

    started = time.perf_counter()
    last = _took_last_client()
    log_path = Path(task.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(config=task.config, client=task.client, status="failed", seconds=0.0, log=str(log_path))
    lanes = None
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            notebooks = Path(task.notebooks_dir or default_notebooks_dir()).resolve()
            kernel = _warm_kernel(notebooks, task.chapters) if task.warm else None
            if kernel is not None and last:
                lanes = _tail_lanes(notebooks, task.chapters)
                if lanes is not None:
                    kernel = lanes
                    print(f"[{task.client}] no client waits behind this one: its chapters run in "
                          f"{lanes.count} kernels")
            result = run_client(task.config, data_dir=task.data_dir, reports_dir=task.reports_dir,
                                as_of=task.as_of, force=task.force, kernel=kernel, notebooks_dir=notebooks,
                                chapters=task.chapters, share_kernel=task.warm, own_process=task.own_process)
            outcome.status, outcome.report = result.status, str(result.report)
        except CrmError as exc:
            print(f"error: {exc.message}" + (f"\nWhat to do: {exc.hint}" if exc.hint else ""))
            outcome.error = first_error_line(exc.message)
            if isinstance(exc, ChapterFailed) and exc.report is not None:
                outcome.report = str(exc.report)  # written, with the failed chapters marked: link it
        except Exception as exc:  # a bug in crmlib: keep the traceback in the client's log
            import traceback

            traceback.print_exc()
            outcome.error = first_error_line(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            if lanes is not None:
                if not lanes.closed:  # the report never handed them its chapters (up to date, bad input)
                    lanes.kill()
                lanes.join()  # every kernel of theirs shut down before the next client
    outcome.seconds = time.perf_counter() - started
    return asdict(outcome)


# ------------------------------------------------------------------ executors


def _started_since(task: BatchTask, since: float) -> bool:
    """Whether a task began after `since` (run_task opens the client's log first thing)."""
    try:
        return Path(task.log).stat().st_mtime >= since
    except OSError:
        return False


def _failed(task: BatchTask, error: str) -> dict:
    """A failed outcome for a task that gave none of its own."""
    return asdict(Outcome(config=task.config, client=task.client, status="failed", seconds=0.0, log=task.log,
                          error=error))


def _died(task: BatchTask) -> dict:
    return _failed(task, "the worker process died while running this client "
                          "(killed, or out of memory); the other clients were not affected")


def _start_worker(env: dict[str, str], unstarted: Any = None) -> None:
    """A worker process's start: these variables added to its environment (and its kernels'), and
    the batch's shared count of clients not yet taken (see _took_last_client)."""
    global _unstarted
    os.environ.update(env)
    _unstarted = unstarted


def _local_results(tasks: list[BatchTask], workers: int,
                   fn: Callable[[BatchTask], dict] = run_task) -> Iterator[dict]:
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
        size = 1 if isolated else min(workers, len(batch))
        # each worker's DuckDB databases (its ingest, its kernel's) get their share of the cores
        pool = ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=_start_worker,
                                   initargs=(shared_threads(size), context.Value("i", len(batch))))
        try:
            # each worker process runs one client at a time, so a run may pause its collector
            futures = {pool.submit(fn, replace(task, own_process=True)): task for task in batch}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                except BaseException as exc:  # e.g. SystemExit raised in the worker
                    outcome = _failed(task, first_error_line(f"worker stopped: {type(exc).__name__}: {exc}"))
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
                yield _died(task) if isolated else _failed(task, "worker processes could not be started")
            continue
        suspects += started
        pending = [task for task in broken if task not in started]


def _dask_results(tasks: list[BatchTask], scheduler: str) -> Iterator[dict]:
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
        futures = client.map(run_task, tasks, pure=False, key=[f"crm-{t.client}-{i}" for i, t in enumerate(tasks)])
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        for future in as_completed(futures):
            task = by_key[future.key]
            try:
                yield future.result()
            except Exception as exc:  # the worker died or the task could not be sent
                yield _failed(task, first_error_line(f"dask: {type(exc).__name__}: {exc}"))


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
    tasks: list[BatchTask] = []
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
        tasks.append(BatchTask(i, str(config), name, str(data_dir), str(reports_dir), str(log), as_of=as_of,
                               force=force, chapters=chapters, warm=warm,
                               notebooks_dir=str(notebooks_dir) if notebooks_dir else None))
    workers = max(1, min(workers or default_workers(), max(len(tasks), 1)))
    where = f"Dask cluster {scheduler}" if scheduler else f"{workers} worker process{'es' if workers > 1 else ''}"
    print(f"Batch: {len(configs)} clients on {where}; logs in {logs}", file=stream, flush=True)
    progress = Progress(len(configs), stream, tty)
    progress.start()
    for i, outcome in outcomes.items():
        progress.update(outcome)
    started = time.perf_counter()
    index_of = {task.client: task.index for task in tasks}
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


__all__ = ["BatchTask", "Outcome", "Progress", "discover_configs", "first_error_line", "run_batch", "run_task"]
