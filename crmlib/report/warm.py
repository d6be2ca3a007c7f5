"""A kernel kept warm across chapter notebooks (and across clients in a batch worker).

Starting a kernel and importing pandas, matplotlib, seaborn and crmlib costs several seconds
per notebook; a report has four notebooks and a batch dozens of reports. A warm kernel pays it
once. Before each notebook the kernel's namespace is cleared (``%reset -f``) and open figures
closed, so a notebook cannot lean on a variable another one left; only imported modules (and
their caches) carry over. The kernel is restarted after ``max_notebooks`` notebooks to bound its
memory, and whenever it died.

One kernel client (its sockets) is kept open across the notebooks as well: each new client
waits for the kernel to answer on every channel, a fifth of a second or more while the
subscription to its output settles, which cost a batch client about 2 s of idle time
(two clients per chapter: the reset and the chapter).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

# Errors only in the kernel's log; and no input history on disk (~/.ipython/.../history.sqlite),
# as nbclient does for the kernels it starts: the cells carry the client's paths and parameters
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]
RESET_CODE = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt"


class _ReusedClient(AsyncKernelClient):
    """A kernel client that nbclient may start and wait for again: once its channels run and
    the kernel has answered, both are no-ops (nbclient still asks the kernel for its info before
    each notebook, and every request waits for its own reply, so late messages of an earlier
    notebook are skipped by their parent id)."""

    _crm_ready = False

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        if not self.channels_running:
            super().start_channels(*args, **kwargs)

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        if not self._crm_ready:
            await super()._async_wait_for_ready(timeout=timeout)
            self._crm_ready = True


class _TrackingKernelManager(AsyncKernelManager):
    """A kernel manager that hands out one kernel client for all notebooks and can close it
    (nbclient leaves a borrowed kernel's client open)."""

    client_factory = _ReusedClient

    def client(self, **kwargs: Any):
        kc = self.__dict__.get("_crm_client")
        # a client whose channels were stopped (nbclient's clean-up after an error) cannot be
        # started again: the next notebook gets a new one
        if kc is None or (kc._crm_ready and not kc.channels_running):
            kc = self.__dict__["_crm_client"] = super().client(**kwargs)
        return kc

    def close_clients(self) -> None:
        """Stop the shared client's channels (the next notebook makes a new client)."""
        kc = self.__dict__.pop("_crm_client", None)
        if kc is not None:
            kc.stop_channels()


class WarmKernel:
    """One python3 kernel reused for many notebooks; use as a context manager."""

    def __init__(self, cwd: Path | str, *, kernel_name: str = "python3", max_notebooks: int = 200,
                 stderr: Any = subprocess.DEVNULL) -> None:
        self.cwd = str(cwd)
        self.kernel_name = kernel_name
        self.max_notebooks = max_notebooks
        self.stderr = stderr
        self.manager: _TrackingKernelManager | None = None
        self.notebooks = 0
        self.starts = 0

    def _start(self) -> None:
        self.manager = _TrackingKernelManager(kernel_name=self.kernel_name)
        # the kernel's own log lines (TCP warning, shutdown noise) go to `stderr` (by default
        # nowhere); it logs errors only, so a kernel that shares the terminal shows no warnings
        run_sync(self.manager.start_kernel)(cwd=self.cwd, stderr=self.stderr,
                                             extra_arguments=KERNEL_ARGUMENTS,
                                             env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        self.notebooks = 0
        self.starts += 1

    def _alive(self) -> bool:
        return self.manager is not None and bool(run_sync(self.manager.is_alive)())

    def prepare(self) -> AsyncKernelManager:
        """A started kernel with an empty namespace, ready for the next notebook."""
        if self.manager is not None and (self.notebooks >= self.max_notebooks or not self._alive()):
            self.shutdown()
        if self.manager is None:
            self._start()
        elif self.notebooks:
            reset = new_notebook(cells=[new_code_cell(RESET_CODE)])
            NotebookClient(reset, km=self.manager, timeout=60).execute()
        self.notebooks += 1
        return self.manager

    def shutdown(self, now: bool = False) -> None:
        """Stop the kernel (quietly if it is already gone); now: kill it at once (on Ctrl-C or
        SIGTERM: a kernel asked to stop in the middle of a cell logs errors about its sockets)."""
        if self.manager is None:
            return
        manager, self.manager = self.manager, None
        manager.close_clients()
        try:
            run_sync(manager.shutdown_kernel)(now=now)
        except Exception:  # already dead: nothing to stop
            pass

    def __enter__(self) -> "WarmKernel":
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.shutdown(now=kind is not None and not issubclass(kind, Exception))


__all__ = ["WarmKernel"]
