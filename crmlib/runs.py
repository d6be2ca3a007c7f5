"""One client's run, guarded: lock, leftovers of killed runs, up-to-date check, ingest, report.

Shared by `crm-workbook run` and the batch workers, so both behave the same way.
"""

from __future__ import annotations

import datetime as dt
import errno
import importlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, CrmError
from .memory import collector_paused


@dataclass
class RunResult:
    """What one client's run did: 'ok' (report written) or 'skipped' (report up to date)."""

    client: str
    status: str
    report: Path
    seconds: float


def _log_to_stdout(message: str) -> None:
    print(message, flush=True)


def run_client(config_path: Path | str, *, data_dir: Path | str, reports_dir: Path | str,
               as_of: str | None = None, force: bool = False, kernel: Any = None,
               notebooks_dir: Path | None = None, chapters: list[str] | None = None,
               log: Callable[[str], None] = _log_to_stdout, share_kernel: bool = True,
               own_process: bool = False) -> RunResult:
    """Ingest a client's file and render its report, unless a report with the same fingerprint
    exists (force: always). Holds the client's lock throughout; raises CrmError subclasses.

    own_process: the run is all this process does (`crm-workbook run`, a batch worker process),
    so the garbage collector pauses while it imports and ingests and its imports are then frozen
    (crmlib.memory); never where other runs or work share the process (Dask's worker threads)."""
    from .registry import select_chapters
    from .report.kernel_plan import default_notebooks_dir, early_zygote

    started = time.perf_counter()
    notebooks_dir = Path(notebooks_dir or default_notebooks_dir())
    selected = [chapter.name for chapter in select_chapters(chapters)]
    lanes = None  # the report's warm kernels, when this run makes them
    if kernel is None and share_kernel:
        # they start first, and import the chapters' modules while this process imports its own
        # (pandas, papermill: 0.8 s), reads the configuration and ingests the orders (a run that
        # stops early, up to date or on bad input, kills them); the process they are forked from
        # starts before this one imports Jupyter (0.3 s)
        zygote = early_zygote(notebooks_dir, len(selected))
        from .report.warm import report_kernels

        kernel = lanes = report_kernels(notebooks_dir, chapters, zygote=zygote)
    # no automatic collections while the run imports and ingests (crmlib.memory), however it ends
    with collector_paused(own_process) as freeze:
        try:
            from .config import load_config
            from .fingerprint import report_fingerprint, up_to_date_report
            from .ingest import ingest_client
            from .locks import ClientLock, clean_leftovers, lock_path

            cfg = load_config(config_path)
            processed_root, reports_root = Path(data_dir) / "processed", Path(reports_dir)
            requested = parse_as_of(as_of)
        except BaseException:
            if lanes is not None:
                lanes.kill()
                lanes.join()
            raise
        current = processed_root  # the folder being written (for an error that names no file)
        try:
            # two locks: the processed data and the reports may live under different roots
            with ClientLock(lock_path(processed_root, cfg.name), cfg.name), \
                    ClientLock(reports_root / cfg.name / ".lock", cfg.name):
                for path in clean_leftovers(processed_root, reports_root, cfg.name):
                    log(f"[{cfg.name}] cleaned up after an interrupted run: {path.name}")
                fingerprint = report_fingerprint(cfg, notebooks_dir, requested, selected)
                existing = None if force else up_to_date_report(reports_root, cfg.name, fingerprint)
                if existing is not None:
                    log(f"[{cfg.name}] report up to date (same data, configuration and code): {existing}")
                    if lanes is not None:
                        lanes.kill()
                    return RunResult(cfg.name, "skipped", existing, time.perf_counter() - started)
                log(f"[{cfg.name}] ingesting {cfg.data_path().name} ...")
                # the report's modules (pandas, papermill, nbconvert: 1.0 CPU-s) load, and its page
                # templates compile, while DuckDB, which releases the GIL, reads the orders
                loading = threading.Thread(target=_load_report_modules, args=(cfg.lang,),
                                           name="import-pipeline", daemon=True)
                loading.start()
                try:
                    result = ingest_client(cfg, processed_root)
                finally:  # after a failed ingest too: a batch worker's next client must not compile
                    loading.join()  # the same page templates beside this thread
                freeze()  # the imports done: out of the collector's walks from now on
                from .report.pipeline import WARM_KERNEL_MAX_ORDERS, render_report

                led = result.ledger
                if lanes is not None and led.orders > WARM_KERNEL_MAX_ORDERS:
                    # large data: a new kernel per chapter (render_report), so stop these now
                    lanes.close()
                    kernel = None
                log(f"[{cfg.name}] {led.input_rows:,} rows -> {led.kept_rows:,} kept, {led.orders:,} orders, "
                    f"{led.customers:,} customers")
                # the digest of the bytes the ingest actually read (the file may have changed since)
                fingerprint["data_sha256"] = led.source.get("sha256") or fingerprint["data_sha256"]
                when = requested or cfg.as_of or result.as_of
                log(f"[{cfg.name}] rendering report as of {when} ...")
                current = reports_root / cfg.name
                folder = render_report(cfg, result.out_dir, when, reports_root, notebooks_dir, chapters,
                                       fingerprint=fingerprint, kernel=kernel, share_kernel=share_kernel)
        except OSError as exc:  # a read-only folder or a full disk is the user's to fix, not a bug
            folders = {reports_root / cfg.name: "--reports-dir", processed_root: "--data-dir"}
            mapped = folder_error(exc, folders, current)
            if mapped is None:
                raise
            raise mapped from None
        except BaseException:
            if lanes is not None:
                lanes.kill()
            raise
        finally:
            if lanes is not None:
                lanes.close()
                lanes.join()  # every kernel shut down before the run returns
        return RunResult(cfg.name, "ok", folder, time.perf_counter() - started)


def _load_report_modules(lang: str) -> None:
    """Import the report's modules and compile its page templates (the import thread of `run`);
    a failure here is left for the report itself to raise."""
    try:
        importlib.import_module("crmlib.report.pipeline")
        from .report.html import warm_pages

        warm_pages(lang)
        if lang == "ja":
            importlib.import_module("fontTools.subset")  # the pages' font subset (0.1 CPU-s)
    except Exception:  # noqa: BLE001 (the same error surfaces where the report needs the module)
        pass


def parse_as_of(text: str | None) -> dt.date | None:
    """The --as-of date, or ConfigError naming the expected form."""
    if not text:
        return None
    from .config import AS_OF_RANGE

    try:
        when = dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r} is not a date.", hint="write it as YYYY-MM-DD, e.g. 2025-03-31") from None
    first, last = AS_OF_RANGE
    if not first <= when <= last:  # the chapters count days before and after it
        raise ConfigError(f"--as-of {text}: the date is outside {first} .. {last}, the dates orders are read in.",
                          hint="give the analysis date of the data, e.g. the day after the last order")
    return when


# errno of a write that failed for a reason of the folder, not of crm-workbook
_NOT_WRITABLE = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                 errno.EROFS: "the file system is read-only"}
_FULL = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up"}


def folder_error(exc: OSError, folders: dict[Path, str], current: Path) -> CrmError | None:
    """A read-only folder or a full disk as a message naming the folder (and file) and what to do;
    None for other errors (bugs pass through). folders: each output folder and the option that
    moves it; current: the folder being written when the error names no file."""
    why = _NOT_WRITABLE.get(exc.errno) or _FULL.get(exc.errno)
    if why is None:
        return None
    folder, name = current, Path(str(exc.filename)).resolve() if exc.filename else None
    if name is not None:
        inside = [f for f in folders if name == f.resolve() or f.resolve() in name.parents or name in f.resolve().parents]
        if not inside:  # some other file (the order file, a strategy input): name it alone
            return CrmError(f"cannot use {exc.filename}: {why}.",
                            hint="check the file's permissions and the free space on its disk")
        folder = inside[0]
    where = f"{folder}" + (f" ({exc.filename})" if name is not None and name != folder.resolve() else "")
    option = folders[folder]
    if exc.errno in _FULL:
        hint = f"free disk space there, or write elsewhere with {option} on a disk with room"
    else:
        hint = f"make the folder writable for this user, or write elsewhere with {option}"
    return CrmError(f"cannot write to {where}: {why}.", hint=hint)


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks run: temporary folders are removed and
    kernels shut down (the default action would end the process on the spot)."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


__all__ = ["RunResult", "parse_as_of", "run_client", "terminate_on_sigterm"]
