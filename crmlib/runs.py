"""One client's run, guarded: lock, leftovers of killed runs, up-to-date check, ingest, report.

Shared by `crm-workbook run` and the batch workers, so both behave the same way.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import load_config
from .errors import ConfigError
from .fingerprint import report_fingerprint, up_to_date_report
from .locks import ClientLock, clean_leftovers, lock_path


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
               log: Callable[[str], None] = _log_to_stdout, share_kernel: bool = True) -> RunResult:
    """Ingest a client's file and render its report, unless a report with the same fingerprint
    exists (force: always). Holds the client's lock throughout; raises CrmError subclasses."""
    from .ingest import ingest_client
    from .report.pipeline import default_notebooks_dir, render_report, select_chapters

    started = time.perf_counter()
    cfg = load_config(config_path)
    processed_root, reports_root = Path(data_dir) / "processed", Path(reports_dir)
    notebooks_dir = Path(notebooks_dir or default_notebooks_dir())
    requested = parse_as_of(as_of)
    selected = [chapter.name for chapter in select_chapters(chapters)]
    # two locks: the processed data and the reports may live under different roots
    with ClientLock(lock_path(processed_root, cfg.name), cfg.name), \
            ClientLock(reports_root / cfg.name / ".lock", cfg.name):
        for path in clean_leftovers(processed_root, reports_root, cfg.name):
            log(f"[{cfg.name}] cleaned up after an interrupted run: {path.name}")
        fingerprint = report_fingerprint(cfg, notebooks_dir, requested, selected)
        existing = None if force else up_to_date_report(reports_root, cfg.name, fingerprint)
        if existing is not None:
            log(f"[{cfg.name}] report up to date (same data, configuration and code): {existing}")
            return RunResult(cfg.name, "skipped", existing, time.perf_counter() - started)
        log(f"[{cfg.name}] ingesting {cfg.data_path().name} ...")
        result = ingest_client(cfg, processed_root)
        led = result.ledger
        log(f"[{cfg.name}] {led.input_rows:,} rows -> {led.kept_rows:,} kept, {led.orders:,} orders, "
            f"{led.customers:,} customers")
        # the digest of the bytes the ingest actually read (the file may have changed since)
        fingerprint["data_sha256"] = led.source.get("sha256") or fingerprint["data_sha256"]
        when = requested or cfg.as_of or result.as_of
        log(f"[{cfg.name}] rendering report as of {when} ...")
        folder = render_report(cfg, result.out_dir, when, reports_root, notebooks_dir, chapters,
                               fingerprint=fingerprint, kernel=kernel, share_kernel=share_kernel)
    return RunResult(cfg.name, "ok", folder, time.perf_counter() - started)


def parse_as_of(text: str | None) -> dt.date | None:
    """The --as-of date, or ConfigError naming the expected form."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r} is not a date.", hint="write it as YYYY-MM-DD, e.g. 2025-03-31") from None


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks run: temporary folders are removed and
    kernels shut down (the default action would end the process on the spot)."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


__all__ = ["RunResult", "parse_as_of", "run_client", "terminate_on_sigterm"]
