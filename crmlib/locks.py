"""One run per client at a time: an advisory lock file per client, plus cleanup of what a killed
run left behind.

The lock is ``fcntl.flock`` on a small file that holds the owner's pid. The kernel releases it
when the owner's process ends for any reason (even SIGKILL), so a crash never leaves a lock that
blocks the next run; the file itself stays (deleting it would race with the next owner).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import socket
import time
from pathlib import Path

from .errors import CrmError


class ClientBusyError(CrmError):
    """Another run holds the client's lock: nothing is wrong with the input, the run was not
    done (exit code 1, as a failed report step)."""

    exit_code = 1


def lock_path(processed_root: Path | str, client: str) -> Path:
    """The lock file of a client: beside its processed folder (data/processed/.<client>.lock)."""
    return Path(processed_root) / f".{client}.lock"


class ClientLock:
    """Exclusive, non-blocking lock on one client's processed data and reports.

    Use as a context manager; raises ClientBusyError naming the holder's pid when taken.
    """

    def __init__(self, path: Path | str, client: str) -> None:
        self.path = Path(path)
        self.client = client
        self._fd: int | None = None

    def acquire(self) -> "ClientLock":
        """Take the lock or raise ClientBusyError at once (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise ClientBusyError(
                f"another run on client {self.client} is in progress ({self._holder()}).",
                hint=f"wait for it to finish, or remove {self.path} if that process no longer exists "
                "(the lock is released automatically when its process ends, even when killed)",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        self._fd = fd
        return self

    def _holder(self) -> str:
        """What the lock file says about its holder ('pid N on HOST since ...')."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        return text or "pid unknown"

    def release(self) -> None:
        """Release the lock (closing the descriptor drops the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ClientLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def clean_leftovers(processed_root: Path | str, reports_root: Path | str, client: str) -> list[Path]:
    """Remove the hidden temporary siblings a killed run of this client left behind, and put back
    a report that was renamed aside when the run died between the two renames of its swap.

    Call only while holding the client's lock: a running render's temporary folder looks the same.
    Returns what was removed or restored.
    """
    touched: list[Path] = []
    processed_root, client_reports = Path(processed_root), Path(reports_root) / client
    # ingest: .<client>-XXXXXXXX (mkdtemp) and .<client>-old-PID beside data/processed/<client>;
    # matched exactly, so client "a" never touches client "a-b"'s folders
    pattern = re.compile(rf"^\.{re.escape(client)}-(old-\d+|[a-z0-9_]{{8}})$")
    if processed_root.is_dir():
        for path in processed_root.iterdir():
            if path.is_dir() and pattern.match(path.name):
                if not (processed_root / client).exists() and "-old-" in path.name:
                    os.replace(path, processed_root / client)  # killed between the swap's renames
                else:
                    shutil.rmtree(path, ignore_errors=True)
                touched.append(path)
    # report: .<as_of>.tmp-XXXX and .<as_of>.old-XXXX beside reports/<client>/<as_of>
    if client_reports.is_dir():
        for path in sorted(client_reports.glob(".*.tmp-*")) + sorted(client_reports.glob(".*.old-*")):
            if not path.is_dir():
                continue
            final = client_reports / path.name[1:].rsplit(".", 1)[0]
            if ".old-" in path.name and not final.exists():
                os.replace(path, final)
            else:
                shutil.rmtree(path, ignore_errors=True)
            touched.append(path)
    return touched


__all__ = ["ClientBusyError", "ClientLock", "clean_leftovers", "lock_path"]
