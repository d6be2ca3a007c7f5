"""One run per client at a time: an advisory lock file per client, plus cleanup of what a killed
run left behind.

The lock is the filelock package's descriptor lock (``fcntl.flock`` on Unix, ``LockFileEx`` on
the file's first byte on Windows) on a small file that holds the owner's pid after that byte. The
operating system releases it when the owner's process ends for any reason (even SIGKILL), so a
crash never leaves a lock that blocks the next run; the file itself stays (deleting it would race
with the next owner).

The lock file is opened without following a symbolic link (O_NOFOLLOW; on systems without it the
path is checked first) and must be an ordinary file with one name: a link planted at
reports/<client>/.lock would otherwise make the run write into the file it points to.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import stat
import time
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor

from .errors import CrmError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows: the path is checked with lstat instead
# what O_NOFOLLOW answers for a link: ELOOP (Linux, macOS), EMLINK (FreeBSD)
LINK_ERRNOS = frozenset(getattr(errno, name) for name in ("ELOOP", "EMLINK") if hasattr(errno, name))
# byte 0 stays a newline: Windows locks that byte, so another process reads the holder after it
HOLDER_OFFSET = 1


class ClientBusyError(CrmError):
    """Another run holds the client's lock: nothing is wrong with the input, the run was not
    done (exit code 1, as a failed report step)."""

    exit_code = 1


class LockPathError(CrmError):
    """The lock path is a symbolic link, a hard link or not a file: refused, never written
    through (exit code 2: the folder needs fixing by hand)."""


def lock_path(processed_root: Path | str, client: str) -> Path:
    """The lock file of a client: beside its processed folder (data/processed/.<client>.lock)."""
    return Path(processed_root) / f".{client}.lock"


class ClientLock:
    """Exclusive, non-blocking lock on one client's processed data and reports.

    Use as a context manager; raises ClientBusyError naming the holder's pid when taken, and
    LockPathError when the lock path is a link or not an ordinary file.
    """

    def __init__(self, path: Path | str, client: str) -> None:
        self.path = Path(path)
        self.client = client
        self._fd: int | None = None

    def acquire(self) -> "ClientLock":
        """Take the lock or raise ClientBusyError at once (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open()
        try:
            locked = lock_descriptor(fd, blocking=False)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            raise ClientBusyError(
                f"another run on client {self.client} is in progress ({self._holder()}).",
                hint=f"wait for it to finish, or remove {self.path} if that process no longer exists "
                "(the lock is released automatically when its process ends, even when killed)",
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"\npid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        self._fd = fd
        return self

    def _refuse(self, what: str) -> LockPathError:
        return LockPathError(
            f"{self.path}: the lock file of client {self.client} {what}; it is not opened, so nothing "
            "is written through it.",
            hint=f"remove {self.path} (the next run creates an ordinary lock file there) and check who "
            "put it there",
        )

    def _open(self) -> int:
        """The lock file's descriptor, opened without following a link; refuses anything but an
        ordinary file with one name."""
        if self.path.is_symlink():  # the only check where O_NOFOLLOW does not exist
            raise self._refuse(f"is a symbolic link (to {os.readlink(self.path)})")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno in LINK_ERRNOS:  # a link swapped in after the check
                raise self._refuse("is a symbolic link") from None
            raise LockPathError(f"{self.path}: the lock file of client {self.client} cannot be opened "
                                f"({exc.strerror}).",
                                hint="check that the folder exists and is writable") from None
        info = os.fstat(fd)
        problem = ("is not an ordinary file" if not stat.S_ISREG(info.st_mode)
                   else f"has {info.st_nlink} names (a hard link)" if info.st_nlink > 1 else None)
        if problem:
            os.close(fd)
            raise self._refuse(problem)
        return fd

    def _holder(self) -> str:
        """What the lock file says about its holder ('pid N on HOST since ...'), read after the
        locked first byte and without following a link."""
        try:
            fd = os.open(self.path, os.O_RDONLY | NOFOLLOW)
        except OSError:
            return "pid unknown"
        try:
            os.lseek(fd, HOLDER_OFFSET, os.SEEK_SET)
            text = os.read(fd, 4096).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        finally:
            os.close(fd)
        return text or "pid unknown"

    def release(self) -> None:
        """Release the lock and close the descriptor."""
        if self._fd is not None:
            try:
                unlock_descriptor(self._fd)
            finally:
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


__all__ = ["ClientBusyError", "ClientLock", "LockPathError", "clean_leftovers", "lock_path"]
