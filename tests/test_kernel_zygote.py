"""Report kernels forked from the zygote (crmlib.report.zygote): real kernels, a few seconds each.

What must hold: the kernels are the zygote's children and find its imports loaded; they run a
notebook as a started kernel does (the inline matplotlib backend, the notebooks' folder as the
working directory); shutting the lanes down or killing them leaves no process behind; and
without the zygote (CRM_KERNEL_ZYGOTE=0, or a zygote that died) kernels start as usual.
"""

from __future__ import annotations

import os
import time

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from crmlib.report import warm, zygote

pytestmark = pytest.mark.skipif(not zygote.FORKS, reason="the zygote forks on Linux only")

PROBE = ("import gc, os, sys, matplotlib\n"
         "print(os.getppid(), 'json' in sys.modules and 'pandas' in sys.modules, matplotlib.get_backend(), "
         "gc.isenabled(), gc.get_freeze_count() > 0, os.getcwd())")


def _probe(kernel: warm.WarmKernel) -> list[str]:
    nb = new_notebook(cells=[new_code_cell(PROBE)])
    NotebookClient(nb, km=kernel.prepare(), timeout=60).execute()
    return nb.cells[0].outputs[0]["text"].split()


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not zygote._running(pid):
            return True
        time.sleep(0.05)
    return False


def _duckdb_threads(kernel: warm.WarmKernel) -> str:
    nb = new_notebook(cells=[new_code_cell(
        "from crmlib.orders import connect\nprint(connect().execute(\"SELECT current_setting('threads')\").fetchone()[0])")])
    NotebookClient(nb, km=kernel.prepare(), timeout=60).execute()
    return nb.cells[0].outputs[0]["text"].strip()


def test_lanes_fork_their_kernels_from_one_zygote_and_leave_nothing_behind(tmp_path, monkeypatch):
    from crmlib.cores import THREADS_ENV, usable_cores

    monkeypatch.delenv(THREADS_ENV, raising=False)
    lanes = warm.KernelLanes(tmp_path, 2, preload="import pandas")
    try:
        # two chapters at once: each kernel's DuckDB gets half the cores (crmlib.cores)
        assert [lanes.submit(_duckdb_threads).result(timeout=120) for _ in range(2)] == [
            str(max(1, usable_cores() // 2))] * 2
        assert lanes.zygote is not None
        outputs = [lanes.submit(_probe).result(timeout=120) for _ in range(2)]
        kernels = [kernel.manager.provisioner.process for kernel in lanes.kernels]
        assert all(isinstance(process, zygote.ForkedKernel) for process in kernels)
        for parent, preloaded, backend, collecting, frozen, cwd in outputs:
            assert int(parent) == lanes.zygote.process.pid  # forked, not started
            assert preloaded == "True"  # the zygote's imports came with the fork
            assert backend == zygote.INLINE_BACKEND  # as ipykernel sets it in the kernels it starts
            # the zygote imports with the collector off and freezes what it imported; each
            # kernel collects again (or a chapter's garbage cycles would never be freed)
            assert (collecting, frozen) == ("True", "True")
            assert os.path.samefile(cwd, tmp_path)
        pids = [process.pid for process in kernels] + [lanes.zygote.process.pid]
    finally:
        lanes.close()
        lanes.join(60)
    assert all(_gone(pid) for pid in pids)


def test_killed_lanes_kill_the_kernels_and_the_zygote(tmp_path):
    lanes = warm.KernelLanes(tmp_path, 2, preload="import pandas")
    busy = [lanes.submit(_probe) for _ in range(2)]
    for future in busy:
        future.result(timeout=120)
    pids = [kernel.manager.provisioner.process.pid for kernel in lanes.kernels] + [lanes.zygote.process.pid]
    lanes.kill()
    lanes.join(30)
    assert all(_gone(pid) for pid in pids)


def test_kernels_start_as_usual_without_the_zygote(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_KERNEL_ZYGOTE", "0")
    lanes = warm.KernelLanes(tmp_path, 2, preload="import json")
    try:
        assert lanes.zygote is None
        parent, *_ = lanes.submit(_probe).result(timeout=120)
        assert int(parent) == os.getpid()
    finally:
        lanes.close()
        lanes.join(60)


def test_a_dead_zygote_falls_back_to_a_started_kernel(tmp_path):
    spare = zygote.Zygote("", str(tmp_path))
    spare.kill()
    spare.process.wait(10)
    kernel = warm.WarmKernel(tmp_path, stderr=None, zygote=spare)
    try:
        parent, *_ = _probe(kernel)
        assert int(parent) == os.getpid()  # jupyter_client's own launch
        assert not isinstance(kernel.manager.provisioner.process, zygote.ForkedKernel)
    finally:
        kernel.shutdown()
        spare.close()


def test_a_zygote_stuck_in_its_imports_is_killed_and_the_kernel_started(tmp_path, monkeypatch):
    monkeypatch.setattr(zygote, "READY_SECONDS", 1.0)
    stuck = zygote.Zygote("import time\ntime.sleep(60)", str(tmp_path))
    kernel = warm.WarmKernel(tmp_path, stderr=None, zygote=stuck)
    try:
        parent, *_ = _probe(kernel)
        assert int(parent) == os.getpid()
        assert stuck.process.wait(10) is not None  # killed, not left sleeping
    finally:
        kernel.shutdown()
        stuck.close()


def test_a_zygote_started_early_forks_once_it_has_its_imports(tmp_path):
    """`run` starts the zygote before it has read the notebooks (kernel_plan.early_zygote): it
    forks nothing before its preload, then the lanes given it send the preload and fork from it."""
    early = zygote.Zygote(None, str(tmp_path))
    with pytest.raises(OSError, match="not been given its imports"):
        early.fork(["python", "-m", "ipykernel_launcher"], dict(os.environ), str(tmp_path), True)
    lanes = warm.KernelLanes(tmp_path, 2, preload="import json", zygote=early)
    try:
        assert lanes.zygote is early
        parent, preloaded, *_ = lanes.submit(_probe).result(timeout=120)
        assert int(parent) == early.process.pid and preloaded == "True"  # BASE_IMPORTS brought pandas
        with pytest.raises(OSError, match="has its imports already"):
            early.send_preload("import json")
    finally:
        lanes.close()
        lanes.join(60)
    assert _gone(early.process.pid)


def test_lanes_that_need_no_zygote_end_the_one_started_early(tmp_path):
    early = zygote.Zygote(None, str(tmp_path))
    lanes = warm.KernelLanes(tmp_path, 1, preload="import json", zygote=early)  # one kernel: started, not forked
    try:
        assert lanes.zygote is None
        assert _gone(early.process.pid)
    finally:
        lanes.close()
        lanes.join(60)


def test_a_kernel_left_running_ends_with_the_zygote(tmp_path):
    # a kernel whose shutdown never came (a process that exited without it): closing the zygote
    # stops it and waits for it, so nothing is left to init
    early = zygote.Zygote("import json", str(tmp_path))
    kernel = warm.WarmKernel(tmp_path, zygote=early)
    assert int(_probe(kernel)[0]) == early.process.pid  # forked by it
    pid = kernel.manager.provisioner.process.pid
    assert zygote._running(pid)
    started = time.monotonic()
    early.close()
    assert not zygote._running(pid)  # gone when close() returns, not once it notices
    assert time.monotonic() - started < 8
    kernel.manager = None  # its kernel is gone: nothing to shut down
