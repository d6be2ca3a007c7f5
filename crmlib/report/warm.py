"""A kernel kept warm across chapter notebooks (and across clients in a batch worker).

Starting a kernel and importing pandas, matplotlib, seaborn and crmlib costs several seconds
per notebook; a report has four notebooks and a batch dozens of reports. A warm kernel pays it
once. Before each notebook the kernel's namespace is cleared (``%reset -f``) and open figures
closed, so a notebook cannot lean on a variable another one left; only imported modules (and
their caches) carry over. The kernel is restarted after ``max_notebooks`` notebooks to bound its
memory, and whenever it died. A report's lanes of two kernels or more fork them from a zygote
that ran the chapters' imports once (crmlib.report.zygote, Linux).

One kernel client (its sockets) is kept open across the notebooks as well: each new client
waits for the kernel to answer on every channel, a fifth of a second or more while the
subscription to its output settles, which cost a batch client about 2 s of idle time
(two clients per chapter: the reset and the chapter).
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import queue
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from ..cores import shared_threads
from ..registry import Chapter, select_chapters
from .kernel_plan import default_notebooks_dir, forks_kernels, report_lanes, zygote_forks  # noqa: F401 (re-exported)

# Errors only in the kernel's log; and no input history on disk (~/.ipython/.../history.sqlite),
# as nbclient does for the kernels it starts: the cells carry the client's paths and parameters
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]
# Figures closed first, so the reset's garbage collection frees them. Then what survives (the
# imported modules, their caches) is frozen (gc.freeze): the collector no longer walks those
# hundreds of thousands of objects, which made each reset cost 0.2 s of CPU (IPython's reset
# collects twice) and every full collection during a chapter more. Objects still die when no
# longer referenced; only garbage cycles among the frozen survivors would stay.
FREEZE_CODE = "import gc as _gc\n_gc.collect()\n_gc.freeze()\ndel _gc"
RESET_CODE = ("import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n%reset -f\n"
              "import gc as _gc\n_gc.freeze()\ndel _gc")


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
                 stderr: Any = subprocess.DEVNULL, zygote: Any = None, env: dict[str, str] | None = None) -> None:
        self.cwd = str(cwd)
        self.env = dict(env or {})  # added to this process's environment for the kernel
        self.zygote = zygote  # a crmlib.report.zygote.Zygote to fork the kernel from, or None
        self.kernel_name = kernel_name
        self.max_notebooks = max_notebooks
        self.stderr = stderr
        self.manager: _TrackingKernelManager | None = None
        self.notebooks = 0
        self.starts = 0

    def _start(self) -> None:
        self.manager = _TrackingKernelManager(kernel_name=self.kernel_name)
        if self.zygote is not None:
            from .zygote_provisioner import ZygoteProvisioner

            self.manager.kernel_id = str(uuid.uuid4())
            provisioner = ZygoteProvisioner(kernel_id=self.manager.kernel_id, kernel_spec=self.manager.kernel_spec,
                                            parent=self.manager)
            provisioner.zygote, provisioner.quiet = self.zygote, self.stderr is subprocess.DEVNULL
            self.manager.provisioner = provisioner
        # the kernel's own log lines (TCP warning, shutdown noise) go to `stderr` (by default
        # nowhere); it logs errors only, so a kernel that shares the terminal shows no warnings
        run_sync(self.manager.start_kernel)(cwd=self.cwd, stderr=self.stderr,
                                             extra_arguments=KERNEL_ARGUMENTS,
                                             env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", **self.env})
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

    def kill(self) -> None:
        """Kill the kernel process at once, from any thread (Ctrl-C while a chapter runs in it:
        the thread running the chapter sees a dead kernel and ends)."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        if process is not None:
            try:
                process.kill()
            except OSError:  # already gone
                pass

    def __enter__(self) -> "WarmKernel":
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.shutdown(now=kind is not None and not issubclass(kind, Exception))


def import_cells(notebooks: Iterable[Path]) -> str:
    """The code the chapter notebooks run before their parameters cell (their imports), joined:
    run in a kernel before the notebooks, it takes the imports' seconds off their own time."""
    code: list[str] = []
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # unreadable: the chapter reports it itself
            continue
        for cell in nb.cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                break
            if cell.cell_type == "code" and cell.source.strip() and cell.source not in code:
                code.append(cell.source)
    return "\n".join(code)


class KernelLanes:
    """Warm kernels for one report's chapters, each in a thread of its own from its start to its
    shutdown (a kernel client belongs to the thread that made it).

    Made before the ingest, the kernels start and run the chapters' imports (``preload``) while
    the orders are read. A free kernel takes the waiting work of highest priority (ties: the
    first submitted); after close() each kernel is shut down by its thread as soon as no chapter
    is left for it, while the other kernel and the pages go on. Each chapter starts from an empty
    namespace (WarmKernel.prepare).
    """

    def __init__(self, cwd: Path | str, count: int, *, preload: str = "", stderr: Any = None,
                 zygote: Any = None, shared_zygote: Any = None) -> None:
        """zygote: one started early (kernel_plan.early_zygote), given its imports here and owned
        (closed with the lanes); shared_zygote: one that has its imports already and outlives
        the lanes (a batch worker's), only forked from."""
        self.count = max(1, count)
        # two kernels or more, each running the chapters' imports: fork them from one process
        # that ran the imports once (crmlib.report.zygote; Linux), the one given if it was
        # started early (kernel_plan.early_zygote), which gets the imports now
        self.zygote = None  # the zygote these lanes own
        if preload and shared_zygote is None and forks_kernels(self.count):
            from .zygote import Zygote

            try:
                if zygote is not None:
                    zygote.send_preload(preload)
                    self.zygote, zygote = zygote, None
                else:
                    self.zygote = Zygote(preload, str(cwd), stderr=stderr)
            except OSError:  # no fork server: the kernels start as usual
                self.zygote = None
        if zygote is not None:  # started early but not needed after all
            zygote.close()
        # the kernels run chapters at once: each one's DuckDB gets its share of the cores
        self.kernels = [WarmKernel(cwd, stderr=stderr, zygote=shared_zygote or self.zygote,
                                   env=shared_threads(self.count)) for _ in range(self.count)]
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()  # (-priority, sequence, item)
        self._sequence = itertools.count()
        self._now = False
        self._closed = False
        self._threads = [threading.Thread(target=self._lane, args=(kernel, preload), name=f"kernel-lane-{i}",
                                          daemon=True) for i, kernel in enumerate(self.kernels)]
        for thread in self._threads:
            thread.start()

    def _lane(self, kernel: WarmKernel, preload: str) -> None:
        try:
            if preload and not self._now:
                cells = [new_code_cell(preload), new_code_cell(FREEZE_CODE)]
                client = None
                try:
                    client = NotebookClient(new_notebook(cells=cells), km=kernel.prepare(), timeout=300)
                    client.execute()
                except Exception:  # a failing import fails its chapter, with the chapter's message
                    # a kernel killed while the client started (Ctrl-C) leaves nbclient's exit hook,
                    # which would print a traceback as Python exits
                    if client is not None:
                        atexit.unregister(client._cleanup_kernel)
            while True:
                *_, item = self._jobs.get()
                if item is None:
                    return
                future, work = item
                if self._now:  # stopped: what was not started is dropped
                    future.cancel()
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(work(kernel))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            kernel.shutdown(now=self._now)

    @property
    def closed(self) -> bool:
        """No more work is taken (close() or kill() was called)."""
        return self._closed

    def submit(self, work: Callable[[WarmKernel], Any], priority: float = 0.0) -> Future:
        """Run work(kernel) in the next free kernel, before waiting work of lower priority; its Future."""
        if self._closed:
            raise RuntimeError("the kernels were closed")
        future: Future = Future()
        self._jobs.put((-priority, next(self._sequence), (future, work)))
        return future

    def close(self) -> None:
        """No more work: each kernel is shut down once the work given to it is done."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._jobs.put((math.inf, next(self._sequence), None))

    def kill(self) -> None:
        """Stop now (Ctrl-C, SIGTERM, an error): work not started is dropped, the kernels killed."""
        self._now = True
        self.close()
        for kernel in self.kernels:
            kernel.kill()
        if self.zygote is not None:
            self.zygote.kill()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the kernels to be shut down (after close() or kill()); bounded by nbclient's
        timeouts (a cell, a shutdown), and a killed kernel ends its lane at once."""
        for thread in self._threads:
            thread.join(timeout)
        if self.zygote is not None and not any(thread.is_alive() for thread in self._threads):
            self.zygote.close()  # every kernel it forked is shut down


def report_kernels(notebooks_dir: Path, chapters: list[str] | None = None, count: int | None = None,
                   zygote: Any = None):
    """Warm kernels for one report (crmlib.report.warm.KernelLanes), started now, in the
    background, with the chapters' imports run in them: `run` makes them before its ingest
    (zygote: one kernel_plan.early_zygote started)."""
    selected = select_chapters(chapters)
    notebooks_dir = Path(notebooks_dir).resolve()
    # kernel errors reach the terminal, as with the kernels nbclient starts
    return KernelLanes(notebooks_dir, count or report_lanes(len(selected)),
                       preload=report_preload(notebooks_dir, selected), stderr=None, zygote=zygote)


def report_preload(notebooks_dir: Path, chapters: Iterable[Chapter]) -> str:
    """The code a report's warm kernels run before its chapters: the notebooks' import cells, then
    the modules the chapters import on first use (Chapter.preload), last, so that one failing
    to import stops no other."""
    chapters = list(chapters)
    code = import_cells(Path(notebooks_dir) / f"{chapter.name}.ipynb" for chapter in chapters)
    modules = dict.fromkeys(module for chapter in chapters for module in chapter.preload)
    return code + "".join(f"\nimport {module}" for module in modules)


__all__ = ["KernelLanes", "WarmKernel", "default_notebooks_dir", "import_cells", "report_kernels", "report_lanes",
           "report_preload"]
