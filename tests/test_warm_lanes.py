"""The report's warm kernels (crmlib.report.warm.KernelLanes) without starting a kernel: a fake
WarmKernel records what each lane does, so the scheduling, the shutdowns and a kill are checked in
milliseconds. The pages made in real kernels are checked in tests/test_report_pipeline.py."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from crmlib.report import warm


class FakeKernel:
    """Stands in for WarmKernel: no process, records prepare and shutdown calls."""

    def __init__(self, cwd, **kwargs):
        self.prepared = 0
        self.shutdowns: list[bool] = []
        self.killed = False

    def prepare(self):
        self.prepared += 1
        return self

    def shutdown(self, now=False):
        self.shutdowns.append(now)

    def kill(self):
        self.killed = True


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(warm, "WarmKernel", FakeKernel)


def test_two_lanes_run_every_chapter_once_and_shut_down_after_close(fake):
    lanes = warm.KernelLanes("/tmp", 2)
    ran: list[tuple[str, int]] = []
    started = threading.Barrier(2, timeout=5)

    def chapter(name):
        def work(kernel):
            if name in ("a", "b"):  # the first two chapters run at the same time, one per kernel
                started.wait()
            ran.append((name, id(kernel)))
            return name.upper()
        return work

    futures = [lanes.submit(chapter(name)) for name in "abcde"]
    lanes.close()
    assert [f.result(timeout=5) for f in futures] == list("ABCDE")  # results in report order
    lanes.join(5)
    assert sorted(name for name, _ in ran) == list("abcde")
    assert len({kernel for name, kernel in ran if name in "ab"}) == 2  # a and b in different kernels
    assert [k.shutdowns for k in lanes.kernels] == [[False], [False]]  # each shut down once, gracefully


def test_a_kill_drops_the_chapters_not_started_and_kills_the_kernels(fake):
    lanes = warm.KernelLanes("/tmp", 1)
    release = threading.Event()
    running = threading.Event()

    def slow(kernel):
        running.set()
        release.wait(5)
        return "done"

    first = lanes.submit(slow)
    second = lanes.submit(lambda kernel: "never")
    assert running.wait(5)
    lanes.kill()
    release.set()
    lanes.join(5)
    assert first.result(timeout=5) == "done"  # the chapter that ran ends (its kernel was killed)
    with pytest.raises(CancelledError):
        second.result(timeout=5)
    kernel = lanes.kernels[0]
    assert kernel.killed and kernel.shutdowns == [True]


def test_a_failing_chapter_is_its_future_and_the_lane_goes_on(fake):
    lanes = warm.KernelLanes("/tmp", 1)

    def boom(kernel):
        raise ValueError("boom")

    failed = lanes.submit(boom)
    after = lanes.submit(lambda kernel: "after")
    lanes.close()
    with pytest.raises(ValueError, match="boom"):
        failed.result(timeout=5)
    assert after.result(timeout=5) == "after"
    lanes.join(5)


def test_import_cells_are_the_code_before_each_parameters_cell(tmp_path):
    def notebook(name, *cells):
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(new_notebook(cells=list(cells)), path)
        return path

    params = new_code_cell("lang = 'ja'", metadata={"tags": ["parameters"]})
    one = notebook("one", new_markdown_cell("# title"), new_code_cell("import pandas as pd"), params,
                   new_code_cell("df = pd.read_parquet(processed_dir)"))
    two = notebook("two", new_code_cell("import pandas as pd"), new_code_cell("from crmlib import charts"), params,
                   new_code_cell("charts.plot()"))
    three = notebook("three", new_code_cell("import numpy"))  # no parameters cell: all its code
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    code = warm.import_cells([one, two, three, broken])
    assert code == "import pandas as pd\nfrom crmlib import charts\nimport numpy"


def test_the_reset_frees_figures_before_it_freezes_the_survivors():
    # figures closed first, then the reset's collection, then gc.freeze (in that order: a figure
    # frozen before it was collected would never be freed)
    code = warm.RESET_CODE
    assert code.index("close('all')") < code.index("%reset -f") < code.index("freeze()")
