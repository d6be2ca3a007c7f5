"""What a report was made from, so a re-run can tell that an existing report is up to date.

A fingerprint is the sha256 of the client's data file and of the chapters' other input files
(crmlib.registry), a hash of the validated configuration, the crmlib version, a hash of crmlib's code and notebooks
(the version stays 0.1.0 while the code changes in development), the requested as-of date and
the chapters. It is stored in the report's metrics.json ``report.fingerprint``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import __version__, registry
from .config import ClientConfig
from .history import earlier_report
from .metrics import read_metrics

PACKAGE_DIR = Path(__file__).resolve().parent


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (the same digest the ledger records)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_sha256(config: ClientConfig) -> str:
    """sha256 of the validated configuration as canonical JSON (key order and YAML comments do
    not matter; any value that changes the report does)."""
    data = config.model_dump(mode="json", exclude={"source_path"})
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def code_sha256(notebooks_dir: Path) -> str:
    """sha256 over crmlib's source and data files and the chapter notebooks (path + bytes)."""
    digest = hashlib.sha256()
    files = [p for p in PACKAGE_DIR.rglob("*") if p.suffix in (".py", ".yaml", ".j2", ".css", ".json")]
    # the chapters' notebooks only: the workshop notebook renders no page
    files += [p for name in registry.chapter_names() if (p := Path(notebooks_dir) / f"{name}.ipynb").is_file()]
    for path in sorted(files):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def input_files_sha256(config: ClientConfig, chapters: list[str]) -> dict[str, str]:
    """sha256 of the other files the chapters read (crmlib.registry: the strategy chapter's execution
    log, experiment and NPS files), by YAML key: a changed execution log must re-render the report."""
    return {key: file_sha256(path) for key, path in registry.input_files(config, chapters) if path.is_file()}


def report_fingerprint(config: ClientConfig, notebooks_dir: Path, as_of: dt.date | None,
                       chapters: list[str]) -> dict[str, Any]:
    """The fingerprint of the report this config would produce now (as_of: the requested date,
    None when it comes from the data, which the data hash already covers)."""
    data = config.data_path()
    return {
        # a missing file matches no report; the ingest then says what is wrong with it
        "data_sha256": file_sha256(data) if data.is_file() else None,
        "config_sha256": config_sha256(config),
        "crmlib_version": __version__,
        "code_sha256": code_sha256(Path(notebooks_dir).resolve()),
        "inputs_sha256": input_files_sha256(config, list(chapters)),
        "as_of_requested": as_of.isoformat() if as_of else None,
        "chapters": list(chapters),
    }


def up_to_date_report(reports_root: Path | str, client: str, fingerprint: dict[str, Any]) -> Path | None:
    """The newest complete report of the client whose recorded fingerprint equals this one."""
    folder = Path(reports_root) / client
    if not folder.is_dir():
        return None
    for report in sorted((p for p in folder.iterdir() if not p.name.startswith(".")), reverse=True):
        metrics = report / "metrics.json"
        if not (report / "index.html").is_file() or not metrics.is_file():
            continue
        try:
            data = read_metrics(metrics)
        except (OSError, ValueError):  # unreadable metrics: treat as not up to date
            continue
        if data.get("report", {}).get("fingerprint") == fingerprint and _same_previous(folder, report, data):
            return report
    return None


def _same_previous(client_dir: Path, report: Path, metrics: dict[str, Any]) -> bool:
    """True when the report compares with the earlier report it would compare with now (its
    "since the last report" section, crmlib.report.tracking): an earlier report made or removed
    since makes it out of date. Reports made before tracking was recorded count as up to date."""
    if "tracking" not in metrics:
        return True
    try:
        as_of = dt.date.fromisoformat(report.name)
    except ValueError:
        return True
    previous = earlier_report(client_dir, as_of)
    recorded = (metrics["tracking"].get("previous") or {}).get("as_of")
    return recorded == (previous.as_of.isoformat() if previous else None)


__all__ = ["code_sha256", "config_sha256", "file_sha256", "input_files_sha256", "report_fingerprint",
           "up_to_date_report"]
