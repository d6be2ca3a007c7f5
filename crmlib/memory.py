"""Enough memory for the ingest? Checked before it starts, so a machine or container with too
little memory gets a message instead of the kernel's OOM killer (exit 137, nothing said).

The ingest's peak memory grows with the lines of the file until DuckDB's memory cap
(CRM_DUCKDB_MEMORY, default 3GB), beyond which DuckDB spills to disk. Measured with
bench/ingest.py (peak RSS of the ingest child, generated sample of 1M orders = 1,577,675 lines):
706 MB from CSV, 696 MB from Parquet; the interpreter with crmlib, pandas and DuckDB loaded
holds 160 MB of that. Hence 160 MB plus 350 MB per million lines (about 550 MB per million
orders of 1.6 lines each), the variable part at most the DuckDB cap and a tenth (the same CSV with
CRM_DUCKDB_MEMORY=300MB peaked at 480 MB).
"""

from __future__ import annotations

import gzip
import os
import re
import resource
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import CrmError

MIB = 1 << 20
BASE_BYTES = 160 * MIB
BYTES_PER_MILLION_LINES = 350 * MIB
SKIP_ENV = "CRM_SKIP_MEMORY_CHECK"
UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2^63


class NotEnoughMemoryError(CrmError):
    """Less memory is available than the ingest of the file needs (exit 2: free memory, raise the
    limit, or cap DuckDB lower)."""


@dataclass(frozen=True)
class Available:
    """Memory this process can still use, and which limit says so."""

    bytes: int
    source: str


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _stat(path: Path, key: str) -> int:
    """A value of a cgroup memory.stat file (0 when missing)."""
    text = _read(path) or ""
    found = re.search(rf"^{key} (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def _cgroup_dirs(root: Path, relative: str) -> list[Path]:
    """The process's cgroup folder and its ancestors under a mount (the path as /proc/self/cgroup
    gives it; in a container the mount often shows the container's own group at its root)."""
    own = root / relative.lstrip("/")
    dirs = [own, *[p for p in own.parents if root == p or root in p.parents]] if own.is_dir() else []
    return dirs or [root]


def cgroup_available(proc_cgroup: Path = Path("/proc/self/cgroup"),
                     root: Path = Path("/sys/fs/cgroup")) -> Available | None:
    """The tightest cgroup memory limit above this process minus what its group uses (page cache
    that can be dropped not counted), v2 (memory.max) or v1 (memory.limit_in_bytes); None if none."""
    best: Available | None = None
    for line in (_read(proc_cgroup) or "").splitlines():
        _, controllers, relative = line.split(":", 2)
        if controllers == "":  # cgroup v2
            files = (root, "memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):
            files = (root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        mount, limit_name, usage_name, inactive = files
        for folder in _cgroup_dirs(mount, relative):
            limit = _read(folder / limit_name)
            if not limit or not limit.isdigit() or int(limit) >= UNLIMITED:
                continue
            used = int(_read(folder / usage_name) or 0) - _stat(folder / "memory.stat", inactive)
            free = max(int(limit) - max(used, 0), 0)
            if best is None or free < best.bytes:
                best = Available(free, f"under the memory limit of this container or cgroup, "
                                       f"{int(limit) / MIB:,.0f} MB in {folder / limit_name}")
    return best


def rlimit_available(status: Path = Path("/proc/self/status")) -> Available | None:
    """What RLIMIT_AS (ulimit -v) leaves of this process's address space; None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    found = re.search(r"^VmSize:\s+(\d+) kB$", _read(status) or "", re.MULTILINE)
    used = int(found.group(1)) * 1024 if found else 0
    return Available(max(soft - used, 0), f"under the address-space limit, ulimit -v of {soft / MIB:,.0f} MB")


def meminfo_available(meminfo: Path = Path("/proc/meminfo")) -> Available | None:
    """MemAvailable of /proc/meminfo: what the machine can give without swapping."""
    found = re.search(r"^MemAvailable:\s+(\d+) kB$", _read(meminfo) or "", re.MULTILINE)
    return Available(int(found.group(1)) * 1024, "on this machine, MemAvailable in /proc/meminfo") if found else None


def available_memory() -> Available | None:
    """The smallest of the cgroup limit's headroom, RLIMIT_AS's and MemAvailable (None where none
    of them can be read, e.g. not Linux)."""
    figures = [a for a in (cgroup_available(), rlimit_available(), meminfo_available()) if a is not None]
    return min(figures, key=lambda a: a.bytes) if figures else None


def parse_size(text: str) -> int | None:
    """'3GB', '512MB', '1.5GiB' -> bytes (DuckDB's memory_limit forms); None when unreadable."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)I?B?\s*", text.upper())
    if not found:
        return None
    try:
        value = float(found.group(1))
    except ValueError:
        return None
    return int(value * 1024 ** "BKMGT".index(found.group(2) or "B"))


def estimate_lines(path: Path) -> int | None:
    """The file's lines (rows), exact for Parquet, estimated from the first megabyte for text
    (gzip included); None for other files (Excel: small by nature) or when unreadable."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head == b"PAR1":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if head[:2] == b"PK":
            return None
        size = path.stat().st_size
        with path.open("rb") as raw:
            if head[:2] == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=raw) as fh:
                    sample = fh.read(1 << 20)
                    whole = len(fh.read(1)) == 0
                    consumed = raw.tell() or size
            else:
                sample, consumed = raw.read(1 << 20), None
                whole = len(sample) == size
    except (OSError, EOFError, ValueError, zlib.error):  # damaged: the reader says what is wrong
        return None
    lines = sample.count(b"\n")
    if whole or not lines:
        return lines + (0 if sample.endswith(b"\n") or not sample else 1)
    # lines per byte of the sample's whole lines, times the file's bytes (decompressed: the
    # compressed bytes read so far stand for the sample's)
    per_byte = lines / (sample.rindex(b"\n") + 1)
    return round(per_byte * size * len(sample) / consumed if consumed else per_byte * size)


def required_memory(lines: int, duckdb_cap: int | None) -> int:
    """Memory the ingest of `lines` lines needs at its peak (see the module docstring)."""
    variable = BYTES_PER_MILLION_LINES * lines / 1_000_000
    if duckdb_cap is not None:  # DuckDB keeps to its cap within a tenth or so
        variable = min(variable, duckdb_cap * 1.1)
    return int(BASE_BYTES + variable)


def check_memory(path: Path, duckdb_memory: str, lines: int | None = None) -> None:
    """Raise NotEnoughMemoryError when the ingest of the file would need more memory than is
    available; skipped with CRM_SKIP_MEMORY_CHECK=1, or when the figures cannot be read.
    lines: estimate_lines(path) when the caller has it already."""
    if os.environ.get(SKIP_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return
    lines = lines if lines is not None else estimate_lines(Path(path))
    available = available_memory() if lines else None
    if not lines or available is None:
        return
    cap = parse_size(duckdb_memory)
    need = required_memory(lines, cap)
    if need <= available.bytes:
        return
    lower = max(int((available.bytes - BASE_BYTES) * 0.8 / MIB), 0)
    cap_hint = (f"set CRM_DUCKDB_MEMORY={lower}MB so that DuckDB spills to disk sooner, "
                if lower >= 64 else "")
    raise NotEnoughMemoryError(
        f"{path}: the ingest of about {lines:,} lines needs about {need / MIB:,.0f} MB of memory, but only "
        f"{available.bytes / MIB:,.0f} MB are available {available.source}; the system would stop it "
        "part-way.",
        hint=f"free memory or raise the limit (the ingest needs {BASE_BYTES / MIB:,.0f} MB plus about "
             f"{BYTES_PER_MILLION_LINES / MIB:,.0f} MB per million lines), {cap_hint}"
             f"or set {SKIP_ENV}=1 to try anyway",
    )


__all__ = ["Available", "NotEnoughMemoryError", "available_memory", "check_memory", "estimate_lines",
           "required_memory"]


_FROZEN = False


def pause_collector() -> None:
    """Stop automatic garbage collection while a run imports its modules (until freeze_imports):
    each full collection during the imports walked every object imported so far (0.3-0.4 CPU-s
    of a cold run). Only before a process's first freeze_imports, and only in a process that
    does nothing else meanwhile: the switch is the whole process's (runs.run_client's own_process)."""
    if not _FROZEN:
        import gc

        gc.disable()


def resume_collector() -> None:
    """Restart automatic garbage collection (a run that ends before freeze_imports)."""
    import gc

    gc.enable()


def freeze_imports() -> None:
    """Collect once, then take the objects that exist now (imported modules and their caches) out
    of the collector's walks and restart it; once per process. Without it every full collection
    of a report's process walked them all again. The collection first frees what the ingest left
    in reference cycles (an Excel reader's workbook and its sheets point at each other), which a
    freeze would otherwise keep for the life of the process."""
    global _FROZEN
    import gc

    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN = True
    gc.enable()


@contextmanager
def collector_paused(active: bool) -> Iterator[Callable[[], None]]:
    """A run's imports and ingest without automatic collections (pause_collector); yields the call
    that ends the pause (freeze_imports), and the collector is on again however the run ends.
    active=False, for a run that shares its process: nothing is switched, the call does nothing."""
    if not active:
        yield lambda: None
        return
    pause_collector()
    try:
        yield freeze_imports
    finally:
        resume_collector()


def release_freed_memory() -> None:
    """Give memory freed by a finished step back to the system: Arrow's pool and glibc keep freed
    blocks for reuse, so the process writing a 50M-customer report's lists would otherwise stay
    at its largest list while the next chapter's kernel runs beside it."""
    import gc
    import sys

    gc.collect()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass
