"""A papermill engine that sends a chapter notebook to its kernel as one request.

papermill's own engine (nbclient) sends every code cell as an execute request: the kernel
answers each with five to eight messages (status, the input, each output, the reply), each
flushed, signed, sent and parsed on both sides. A chapter has 40-50 cells: 5.5 ms of CPU a cell
and 2.3 ms an output across the kernel and the run, about 1.2 CPU-s of a report. This engine
sends one request that runs the cells in the kernel (crmlib.report.cell_runner: IPython's own
run_cell, cell by cell, with the same magics, history, execution counts and hooks) and gets every
cell's outputs back in one message; papermill still injects the parameters, records the run in
the notebook's metadata and raises PapermillExecutionError for a failing cell, as before.

What differs from nbclient's run: a cell's metadata has no per-message timestamps
(``execution``; papermill's start, end and duration are the kernel's own around the cell); output
written below Python's sys.stdout (a C library, a subprocess) goes to the kernel's log, not to the
cell; a stream's writes in a cell are joined into one output (the pages show no streams); a
notebook with a time limit or a cell that awaits at its top level runs as nbclient runs it.
CRM_NOTEBOOK_ENGINE=nbclient switches back to papermill's engine (tests compare the two).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import nbformat
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from .cell_runner import MIME

NAME = "crm-one-request"


def engine_name() -> str:
    """The papermill engine the chapters run with: this one unless CRM_NOTEBOOK_ENGINE names another."""
    return os.environ.get("CRM_NOTEBOOK_ENGINE") or NAME


class OneRequestClient(PapermillNotebookClient):
    """papermill's notebook client with its cell loop replaced by one request."""

    def _runnable(self, cell: Any) -> bool:
        """Whether nbclient would execute the cell (code, not empty, not tagged to skip)."""
        return (cell.cell_type == "code" and bool(cell.source.strip())
                and self.skip_cells_with_tag not in cell.metadata.get("tags", []))

    def _may_fail(self, cell: Any) -> bool:
        """Whether a failure of the cell lets the notebook go on (nbclient's rule)."""
        return not self.force_raise_errors and (
            self.allow_errors or "raises-exception" in cell.metadata.get("tags", []))

    def _one_request(self) -> bool:
        """Whether this notebook can run in one request: not with a time limit (nbclient's is per
        cell) nor with a cell that may await at its top level (IPython runs those on the kernel's
        event loop, which the one request occupies); a false alarm only costs the time saved."""
        return not self.timeout and not any(
            self._runnable(cell) and ("await" in cell.source or "async " in cell.source) for cell in self.nb.cells)

    def papermill_execute_cells(self) -> None:
        """Run every code cell in one request, then record each cell as papermill's loop does:
        started, its outputs, failed (and stop) or completed, with the times the kernel took."""
        if not self._one_request():
            return super().papermill_execute_cells()
        cells = self.nb.cells
        payload = [{"index": i, "source": cell.source, "may_fail": self._may_fail(cell)}
                   for i, cell in enumerate(cells) if self._runnable(cell)]
        done = {entry["index"]: entry for entry in self._run_in_kernel(payload)}
        failed = False
        for index, cell in enumerate(cells):
            entry = done.get(index)
            if entry is None and self._runnable(cell):
                if failed:
                    break  # after a failing cell nothing ran (a cell that may fail lets it go on)
                raise RuntimeError(f"the kernel stopped before cell {index} without saying why")
            self.nb_man.cell_start(cell, index)
            try:
                if entry is None:  # markdown, empty, tagged to skip
                    continue
                cell.outputs = [nbformat.from_dict(output) for output in entry["outputs"]]
                cell.execution_count = entry["execution_count"]
                failed = failed or entry["failed"]
                if entry["failed"] and not self._may_fail(cell):
                    error = next((o for o in entry["outputs"] if o["output_type"] == "error"),
                                 {"ename": "Error", "evalue": "the cell failed", "traceback": []})
                    self.nb_man.cell_exception(cell, cell_index=index,
                                               exception=CellExecutionError.from_cell_and_msg(cell, error))
                    break  # papermill's loop stops here too
            finally:
                self.nb_man.cell_complete(cell, cell_index=index)
                if entry is not None:
                    _kernel_times(cell, entry)

    def _run_in_kernel(self, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each cell's result, from one request; a failure of the request itself (the runner
        could not be imported) is a short error, not one that quotes every cell."""
        # nbclient addresses a running cell by its index in the notebook: the driver is the last
        # cell while it runs; not in the history, so the chapter's cells keep nbclient's counts
        driver = new_code_cell("import crmlib.report.cell_runner as _crm_cells\n"
                               f"_crm_cells.run_cells({json.dumps(json.dumps(payload, ensure_ascii=False))})\n"
                               "del _crm_cells")
        self.nb.cells.append(driver)
        try:
            self.execute_cell(driver, len(self.nb.cells) - 1, store_history=False)
        except CellExecutionError as exc:
            if not any(MIME in output.get("data", {}) for output in driver.outputs):
                raise RuntimeError(f"the notebook could not be run in its kernel: {exc.ename}: {exc.evalue}") from None
        finally:
            self.nb.cells.pop()
        return _cell_results(driver)


def _kernel_times(cell: Any, entry: dict[str, Any]) -> None:
    """papermill's record of a cell's run, with the times the kernel measured around it."""
    start, end = entry.get("start"), entry.get("end")
    if start is None or end is None:
        return
    record = cell.metadata.papermill
    record["start_time"] = dt.datetime.fromtimestamp(start, dt.timezone.utc).isoformat()
    record["end_time"] = dt.datetime.fromtimestamp(end, dt.timezone.utc).isoformat()
    record["duration"] = end - start


def _cell_results(driver: Any) -> list[dict[str, Any]]:
    """The cell results the runner displayed."""
    for output in driver.outputs:
        if output.output_type == "display_data" and MIME in output.get("data", {}):
            return json.loads(output.data[MIME])
    raise RuntimeError("the notebook could not be run in its kernel: no cell results came back")


class OneRequestEngine(NBClientEngine):
    """papermill's nbclient engine with OneRequestClient in place of its client."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: float | None = None, **kwargs: Any) -> Any:
        """NBClientEngine's own argument handling, with OneRequestClient as the client."""
        kwargs = remove_args(["input_path"], **kwargs)
        final_kwargs = merge_kwargs(
            remove_args(["timeout", "startup_timeout"], **kwargs),
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout, kernel_name=kernel_name, log=logger, log_output=log_output,
            stdout_file=stdout_file, stderr_file=stderr_file,
        )
        return OneRequestClient(nb_man, **final_kwargs).execute()


papermill_engines.register(NAME, OneRequestEngine)

__all__ = ["NAME", "OneRequestClient", "OneRequestEngine", "engine_name"]
