"""crmlib.report.engine: a notebook run in one request gives the cells what papermill's own
engine (nbclient, a request per cell) gives them: the same outputs in the same order, the same
execution counts, the same failure."""

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from crmlib.report.engine import NAME

CELLS = [
    new_markdown_cell("# a chapter"),
    new_code_cell("greeting = 'hello'", metadata={"tags": ["parameters"]}),
    new_code_cell("import sys\nfrom IPython.display import HTML, display\nprint(greeting)\nprint('again')"),
    new_code_cell("sys.stderr.write('careful\\n')\ndisplay(HTML('<b>1</b>'))\nprint('after the display')"),
    new_code_cell(""),  # empty: not run
    new_code_cell("40 + 2"),
    new_code_cell("40 + 3;"),  # a trailing ';' shows nothing
    new_code_cell("x = _ + 1\nx"),  # _ is the last result, as in a kernel
    new_code_cell("%config InlineBackend.figure_formats = ['png']\nimport matplotlib.pyplot as plt\n"
                  "plt.plot([1, 2, 3])\nNone"),  # an open figure is shown after the cell (inline backend)
    new_code_cell("print('done')"),
]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """One warm kernel per engine for the module (a kernel start costs 1-2 s), as a report's are."""
    from crmlib.report.warm import WarmKernel

    started = {engine: WarmKernel(tmp_path_factory.mktemp("kernel")) for engine in (NAME, "nbclient")}
    yield started
    for kernel in started.values():
        kernel.shutdown()


def _run(kernels, tmp_path, engine: str, cells=CELLS, parameters=None, **kwargs):
    """The notebook executed by papermill with `engine`, in that engine's warm kernel."""
    source, output = tmp_path / f"in-{engine}.ipynb", tmp_path / f"out-{engine}.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), source)
    return papermill.execute_notebook(str(source), str(output), parameters=parameters, engine_name=engine,
                                      kernel_name="python3", progress_bar=False, km=kernels[engine].prepare(),
                                      **kwargs)


def _cells(nb):
    """(execution count from the notebook's first, outputs) of every cell: the warm kernels have
    run other notebooks before, so counts are compared from each notebook's start."""
    counts = [cell.get("execution_count") for cell in nb.cells if cell.get("execution_count") is not None]
    first = counts[0] - 1 if counts else 0

    def relative(output):
        output = dict(output)
        if output.get("execution_count") is not None:
            output["execution_count"] -= first
        return output

    return [(None if cell.get("execution_count") is None else cell["execution_count"] - first,
             [relative(output) for output in cell.get("outputs", [])]) for cell in nb.cells]


def test_one_request_gives_the_cells_what_a_request_per_cell_gives(kernels, tmp_path):
    ours, theirs = (_run(kernels, tmp_path, engine, parameters={"greeting": "hi"}) for engine in (NAME, "nbclient"))
    assert _cells(ours) == _cells(theirs)
    # ran in one request (nbclient stamps each cell's messages), not by the per-cell fallback
    assert not any("execution" in cell.metadata for cell in ours.cells)
    assert any("execution" in cell.metadata for cell in theirs.cells)
    cells = _cells(ours)
    # worked out by hand: the injected parameters cell follows the parameters cell
    assert [c.source for c in ours.cells][2] == '# Parameters\ngreeting = "hi"\n'
    assert cells[3][1] == [{"output_type": "stream", "name": "stdout", "text": "hi\nagain\n"}]
    kinds = [(o["output_type"], o.get("name")) for o in cells[4][1]]
    assert kinds == [("stream", "stderr"), ("display_data", None), ("stream", "stdout")]
    assert cells[5] == (None, [])  # the empty cell
    assert cells[6][1][0]["data"]["text/plain"] == "42" and cells[6][1][0]["execution_count"] == cells[6][0]
    assert cells[7][1] == []
    assert cells[8][1][0]["data"]["text/plain"] == "43"  # _ was 42: the ';' cell did not set it
    assert [o["output_type"] for o in cells[9][1]] == ["display_data"] and "image/png" in cells[9][1][0]["data"]
    assert cells[10][1] == [{"output_type": "stream", "name": "stdout", "text": "done\n"}]
    counts = [count for count, _ in cells if count is not None]
    assert counts == list(range(counts[0], counts[0] + len(counts)))  # one each, in order
    assert ours.metadata.papermill.exception is None


@pytest.mark.parametrize("engine", [NAME, "nbclient"])
def test_a_failing_cell_stops_the_notebook_with_papermills_error(kernels, tmp_path, engine):
    cells = [new_code_cell("print('before')"), new_code_cell("1 / 0"), new_code_cell("print('never')"),
             new_code_cell("def broken(:\n    pass")]
    with pytest.raises(PapermillExecutionError) as failure:
        _run(kernels, tmp_path, engine, cells)
    assert (failure.value.cell_index, failure.value.ename) == (1, "ZeroDivisionError")
    assert failure.value.source == "1 / 0"
    nb = nbformat.read(tmp_path / f"out-{engine}.ipynb", as_version=4)
    ran = [cell for cell in nb.cells if cell.cell_type == "code"]
    # papermill puts its error banner first; the cell after the failing one never ran
    assert ran[0].outputs[0]["text"] == "before\n"
    assert ran[1].outputs[0]["output_type"] == "error" and ran[1].metadata.papermill.exception is True
    assert ran[2].get("execution_count") is None and ran[2].outputs == []


def test_a_syntax_error_is_the_cells_failure(kernels, tmp_path):
    with pytest.raises(PapermillExecutionError) as failure:
        _run(kernels, tmp_path, NAME, [new_code_cell("x = 1"), new_code_cell("def broken(:\n    pass")])
    assert (failure.value.cell_index, failure.value.ename) == (1, "SyntaxError")


def _outputs(kernels, tmp_path, engine, cells, **kwargs):
    """Every cell's outputs (a failure: the PapermillExecutionError instead)."""
    try:
        return _cells(_run(kernels, tmp_path, engine, cells, **kwargs))
    except PapermillExecutionError as exc:
        return (exc.cell_index, exc.ename)


def test_displays_are_checked_cleaned_updated_and_cleared_as_nbclient_does(kernels, tmp_path):
    cells = [
        new_code_cell("from IPython.display import display, clear_output\n"
                      "display({'text/plain': 'nan'}, metadata={'x': float('nan')}, raw=True)"),  # cleaned
        new_code_cell("h = display('first', display_id='d')\nprint('a')"),
        new_code_cell("h.update('second')\nclear_output(wait=True)"),  # the update reaches the cell above
        new_code_cell("print('kept')\nclear_output(wait=True)\nprint('after')"),
    ]
    def shown(outputs):  # jupyter_client also warns on stderr about the NaN it cleaned: pages show no stderr
        return [(count, [o for o in outs if o.get("name") != "stderr"]) for count, outs in outputs]

    assert shown(_outputs(kernels, tmp_path, NAME, cells)) == shown(_outputs(kernels, tmp_path, "nbclient", cells))
    second = _cells(_run(kernels, tmp_path, NAME, cells))
    assert second[0][1][0]["metadata"] == {"x": "nan"}
    assert second[1][1][0]["data"]["text/plain"] == "'second'" and second[3][1][0]["text"] == "after\n"
    broken = [new_code_cell("print(1)"), new_code_cell("display({'text/plain': 'x'}, metadata={'o': object()}, "
                                                       "raw=True)"), new_code_cell("print(2)")]
    assert _outputs(kernels, tmp_path, NAME, broken) == _outputs(kernels, tmp_path, "nbclient", broken) == (1, "ValueError")


def test_a_stream_kept_by_an_earlier_notebook_writes_into_the_running_cell(kernels, tmp_path):
    """A logging handler made in one notebook of a warm kernel prints into a later notebook's cell."""
    first = [new_code_cell("import logging, sys\n"
                           "logging.getLogger('crm-test').addHandler(logging.StreamHandler(sys.stdout))")]
    second = [new_code_cell("import logging\nlogging.getLogger('crm-test').warning('hello')")]
    seen = {}
    for engine in (NAME, "nbclient"):
        _run(kernels, tmp_path, engine, first)
        seen[engine] = _cells(_run(kernels, tmp_path, engine, second))[0][1]
    assert seen[NAME] == seen["nbclient"] == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]


def test_kernel_times_a_time_limit_and_top_level_await(kernels, tmp_path):
    nb = _run(kernels, tmp_path, NAME, [new_code_cell("import time\ntime.sleep(0.4)"), new_code_cell("x = 1")])
    assert nb.cells[0].metadata.papermill.duration >= 0.4 > nb.cells[1].metadata.papermill.duration
    # nbclient's time limit is per cell: such a run goes cell by cell (two cells of 0.6 s, 1 s each)
    slow = [new_code_cell("import time\ntime.sleep(0.6)"), new_code_cell("time.sleep(0.6)")]
    limited = _run(kernels, tmp_path, NAME, slow, execution_timeout=1)  # would fail as one 1.2 s request
    assert [cell.execution_count is not None for cell in limited.cells] == [True, True]
    assert all("execution" in cell.metadata for cell in limited.cells)  # nbclient's own run
    awaited = [new_code_cell("import asyncio\nawait asyncio.sleep(0)\n'awaited'")]
    assert _cells(_run(kernels, tmp_path, NAME, awaited))[0][1][0]["data"]["text/plain"] == "'awaited'"
