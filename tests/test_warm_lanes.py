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


def test_the_preload_adds_the_modules_chapters_import_on_first_use(tmp_path):
    from crmlib.registry import Chapter

    params = new_code_cell("lang = 'ja'", metadata={"tags": ["parameters"]})
    for name, first in (("a", "import json"), ("b", "import json\nimport csv")):
        nbformat.write(new_notebook(cells=[new_code_cell(first), params]), tmp_path / f"{name}.ipynb")
    models = Chapter("a", "A", "A", preload=("scipy.optimize", "email"))
    other = Chapter("b", "B", "B", preload=("email",))
    # the import cells first, then each module once, each on a line of its own
    assert warm.report_preload(tmp_path, [models, other]) == (
        "import json\nimport json\nimport csv\nimport scipy.optimize\nimport email")
    assert "scipy" not in warm.report_preload(tmp_path, [other])
    # the report's LTV chapter: its fits import scipy.optimize (0.3 CPU-s) unless the kernel did
    ltv = [chapter for chapter in warm.select_chapters(None) if chapter.name == "03_ltv"]
    assert warm.report_preload(warm.default_notebooks_dir(), ltv).endswith("\nimport scipy.optimize")


def test_the_reset_frees_figures_before_it_freezes_the_survivors():
    # figures closed first, then the reset's collection, then gc.freeze (in that order: a figure
    # frozen before it was collected would never be freed)
    code = warm.RESET_CODE
    assert code.index("close('all')") < code.index("%reset -f") < code.index("freeze()")


def test_a_free_kernel_takes_the_waiting_work_of_highest_priority(fake):
    lanes = warm.KernelLanes("/tmp", 1)
    release, running = threading.Event(), threading.Event()
    ran: list[str] = []

    def first(kernel):
        running.set()
        release.wait(5)
        ran.append("first")

    lanes.submit(first)
    assert running.wait(5)
    low = lanes.submit(lambda kernel: ran.append("low"), priority=1.0)
    high = lanes.submit(lambda kernel: ran.append("high"), priority=3.0)
    lanes.close()
    release.set()
    low.result(timeout=5), high.result(timeout=5)
    lanes.join(5)
    assert ran == ["first", "high", "low"]


def _jobs(*chapters):
    from pathlib import Path

    from crmlib.report.pipeline import _Job

    return [_Job(chapter, Path("x.ipynb"), Path("out.ipynb"), {}) for chapter in chapters]


def test_a_chapter_starts_after_what_it_needs_longest_path_first(fake):
    """Two kernels, the registry's shape: products needs segments and LTV, strategy needs
    segments. Priorities (longest path): ltv 1.5+1.7 = 3.2, segments 1.3+1.7 = 3.0, diagnosis
    1.9, products 1.7, strategy 1.0, data check 0.4."""
    from crmlib.registry import Chapter
    from crmlib.report.pipeline import _when_ready

    chapters = [Chapter("00_dc", "", "", cost=0.4), Chapter("01_dg", "", "", cost=1.9),
                Chapter("02_seg", "", "", cost=1.3), Chapter("03_ltv", "", "", cost=1.5),
                Chapter("04_st", "", "", needs=("02_seg",), cost=1.0),
                Chapter("05_pr", "", "", needs=("02_seg", "03_ltv"), cost=1.7)]
    lanes = warm.KernelLanes("/tmp", 2)
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=5)

    def work(job):
        def run(kernel):
            name = job.chapter.name
            with lock:
                log.append(("start", name))
            if name in ("03_ltv", "02_seg"):
                both.wait()  # the first two taken run side by side
            with lock:
                log.append(("end", name))
            return name
        return run

    futures = _when_ready(_jobs(*chapters), lambda job, priority: lanes.submit(work(job), priority),
                          close=lanes.close, closed=lambda: lanes.closed)
    assert [f.result(timeout=5) for f in futures] == [c.name for c in chapters]  # report order
    lanes.join(5)
    starts = [name for kind, name in log if kind == "start"]
    assert set(starts[:2]) == {"03_ltv", "02_seg"}
    at = {(kind, name): i for i, (kind, name) in enumerate(log)}
    assert at[("start", "05_pr")] > max(at[("end", "02_seg")], at[("end", "03_ltv")])
    assert at[("start", "04_st")] > at[("end", "02_seg")]
    assert [k.shutdowns for k in lanes.kernels] == [[False], [False]]


def test_a_chapter_whose_need_failed_still_runs(fake):
    from crmlib.registry import Chapter
    from crmlib.report.pipeline import _when_ready

    chapters = [Chapter("02_seg", "", ""), Chapter("04_st", "", "", needs=("02_seg",))]
    lanes = warm.KernelLanes("/tmp", 1)

    def work(job):
        def run(kernel):
            if job.chapter.name == "02_seg":
                raise ValueError("segments failed")
            return "strategy ran"
        return run

    failed, strategy = _when_ready(_jobs(*chapters), lambda job, priority: lanes.submit(work(job), priority),
                                   close=lanes.close, closed=lambda: lanes.closed)
    with pytest.raises(ValueError, match="segments failed"):
        failed.result(timeout=5)
    assert strategy.result(timeout=5) == "strategy ran"
    lanes.join(5)


def test_every_need_names_an_earlier_chapter():
    """One kernel runs the chapters in report order (a batch worker, a large client): a chapter
    must come after the chapters it needs, so that order honours every need."""
    from crmlib.registry import CHAPTERS, run_priority

    names = [chapter.name for chapter in CHAPTERS]
    for i, chapter in enumerate(CHAPTERS):
        assert set(chapter.needs) <= set(names[:i]), chapter.name
    priority = run_priority(CHAPTERS)
    for chapter in CHAPTERS:
        for need in chapter.needs:
            assert priority[need] > priority[chapter.name]


def test_a_chapter_is_finished_while_a_chapter_before_it_still_runs(fake, monkeypatch):
    """Pages and customer lists are made as chapters finish, not in report order: the data check
    (first in the report, last to run) must not hold back every other chapter's page and lists."""
    from pathlib import Path

    from crmlib.registry import Chapter
    from crmlib.report import pipeline

    seen: dict[str, bool] = {}
    later_finished = threading.Event()

    def run_chapter(job, cwd, kernel=None):
        if job.chapter.name == "00_first":
            seen["later page made while the first ran"] = later_finished.wait(5)
        return job.chapter.name

    monkeypatch.setattr(pipeline, "run_chapter", run_chapter)

    def finish(job, outcome):
        if job.chapter.name == "01_later":
            later_finished.set()
        return outcome.upper()

    jobs = _jobs(Chapter("00_first", "", "", cost=1.0), Chapter("01_later", "", "", cost=2.0))
    lanes = warm.KernelLanes("/tmp", 2)
    assert pipeline._run_all(jobs, Path("/tmp"), 2, lanes, finish=finish) == ["00_FIRST", "01_LATER"]
    lanes.join(5)
    assert seen == {"later page made while the first ran": True}


@pytest.mark.parametrize("done_at_once", [("03_ltv",), ("02_segments", "03_ltv"), tuple(
    c.name for c in __import__("crmlib.registry", fromlist=["CHAPTERS"]).CHAPTERS)])
def test_each_chapter_is_submitted_once_even_when_it_is_done_at_submit(done_at_once):
    """A chapter whose Future is already done when it is handed out (it failed at once, or a
    synchronous runner) runs its callback at once: that callback must not hand out the rest of the
    batch a second time, nor close and cancel what is running (it did, through the re-entrant lock)."""
    from collections import Counter
    from concurrent.futures import Future
    from types import SimpleNamespace

    from crmlib.registry import CHAPTERS
    from crmlib.report.pipeline import _when_ready

    calls: list[str] = []
    closes: list[bool] = []
    running: list[tuple[str, Future]] = []

    def submit(job, priority):
        calls.append(job.chapter.name)
        future = Future()
        future.set_running_or_notify_cancel()
        if job.chapter.name in done_at_once:
            future.set_result(job.chapter.name)
        else:
            running.append((job.chapter.name, future))
        return future

    results = _when_ready([SimpleNamespace(chapter=c) for c in CHAPTERS], submit,
                          close=lambda: closes.append(True), closed=lambda: bool(closes))
    while running:  # the others finish one by one, handing out what needed them
        name, future = running.pop(0)
        future.set_result(name)
    assert Counter(calls) == Counter(c.name for c in CHAPTERS)  # each once
    assert closes == [True]
    assert not any(f.cancelled() for f in results)
    assert [f.result(timeout=1) for f in results] == [c.name for c in CHAPTERS]


def test_large_data_finishes_each_chapter_before_the_next_starts(monkeypatch):
    """Above a million orders (overlap=False) a chapter's lists and page are made before the next
    chapter's kernel starts: at 100M orders the lists of 51M customers (several GB) and the next
    chapter's kernel had peaked together."""
    from pathlib import Path

    from crmlib.registry import Chapter
    from crmlib.report import pipeline

    log: list[str] = []
    monkeypatch.setattr(pipeline, "run_chapter", lambda job, cwd, kernel=None: log.append(f"run {job.chapter.name}")
                        or job.chapter.name)

    def finish(job, outcome):
        log.append(f"finish {outcome}")
        return outcome

    jobs = _jobs(Chapter("00_a", "", ""), Chapter("01_b", "", ""), Chapter("02_c", "", ""))
    assert pipeline._run_all(jobs, Path("/tmp"), 1, finish=finish, overlap=False) == ["00_a", "01_b", "02_c"]
    assert log == ["run 00_a", "finish 00_a", "run 01_b", "finish 01_b", "run 02_c", "finish 02_c"]
