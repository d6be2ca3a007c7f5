"""A kernel kept warm across chapter notebooks (and across clients in a batch worker).

Starting a kernel and importing pandas, matplotlib, seaborn and crmlib costs several seconds
per notebook; a report has four notebooks and a batch dozens of reports. A warm kernel pays it
once. Before each notebook the kernel's namespace is cleared (``%reset -f``) and open figures
closed, so a notebook cannot lean on a variable another one left; only imported modules (and
their caches) carry over. The kernel is restarted after ``max_notebooks`` notebooks to bound its
memory, and whenever it died.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

RESET_CODE = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt"


class _TrackingKernelManager(AsyncKernelManager):
    """A kernel manager that remembers the clients made for it, so their sockets can be closed
    (nbclient leaves a borrowed kernel's client open)."""

    def client(self, **kwargs: Any):
        kc = super().client(**kwargs)
        self.__dict__.setdefault("_crm_clients", []).append(kc)
        return kc

    def close_clients(self) -> None:
        """Stop the channels of every client made so far."""
        for kc in self.__dict__.pop("_crm_clients", []):
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
        # the kernel's own log lines (TCP warning, shutdown noise) go to stderr, not the terminal
        run_sync(self.manager.start_kernel)(cwd=self.cwd, stderr=self.stderr,
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
            self.manager.close_clients()
        self.notebooks += 1
        return self.manager

    def done(self) -> None:
        """Close the client sockets the last notebook opened."""
        if self.manager is not None:
            self.manager.close_clients()

    def shutdown(self) -> None:
        """Stop the kernel (quietly if it is already gone)."""
        if self.manager is None:
            return
        manager, self.manager = self.manager, None
        manager.close_clients()
        try:
            run_sync(manager.shutdown_kernel)(now=False)
        except Exception:  # already dead: nothing to stop
            pass

    def __enter__(self) -> "WarmKernel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


__all__ = ["WarmKernel"]
