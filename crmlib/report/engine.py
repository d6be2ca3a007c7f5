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
(``execution``), its papermill timings are those of the whole notebook, and a kernel that dies
mid-notebook leaves no outputs (nbclient keeps those of the cells before). CRM_NOTEBOOK_ENGINE=nbclient
switches back to papermill's engine (tests compare the two).
"""

from __future__ import annotations

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

    def papermill_execute_cells(self) -> None:
        """Run every code cell in one request, then record each cell as papermill's loop does:
        started, its outputs, failed (and stop) or completed."""
        cells = self.nb.cells
        payload = [{"index": i, "source": cell.source, "may_fail": self._may_fail(cell)}
                   for i, cell in enumerate(cells) if self._runnable(cell)]
        driver = new_code_cell("import crmlib.report.cell_runner as _crm_cells\n"
                               f"_crm_cells.run_cells({json.dumps(json.dumps(payload))})\ndel _crm_cells")
        # nbclient addresses a running cell by its index in the notebook: the driver is the last
        # cell while it runs; not in the history, so the chapter's cells keep nbclient's counts
        cells.append(driver)
        try:
            self.execute_cell(driver, len(cells) - 1, store_history=False)
        finally:
            cells.pop()
        done = {entry["index"]: entry for entry in _cell_results(driver)}
        for index, cell in enumerate(cells):
            self.nb_man.cell_start(cell, index)
            try:
                entry = done.get(index)
                if entry is None:  # not a cell to run (markdown, empty, tagged to skip)
                    continue
                cell.outputs = [nbformat.from_dict(output) for output in entry["outputs"]]
                cell.execution_count = entry["execution_count"]
                if entry["failed"] and not self._may_fail(cell):
                    error = next((o for o in entry["outputs"] if o["output_type"] == "error"),
                                 {"ename": "Error", "evalue": "the cell failed", "traceback": []})
                    self.nb_man.cell_exception(cell, cell_index=index,
                                               exception=CellExecutionError.from_cell_and_msg(cell, error))
                    break  # the cells after it were not run, and papermill's loop stops here too
            finally:
                self.nb_man.cell_complete(cell, cell_index=index)


def _cell_results(driver: Any) -> list[dict[str, Any]]:
    """The cell results the runner displayed; the driver's own error if it failed before."""
    for output in driver.outputs:
        if output.output_type == "display_data" and MIME in output.get("data", {}):
            return json.loads(output.data[MIME])
    error = next((o for o in driver.outputs if o.output_type == "error"), None)
    detail = f"{error.ename}: {error.evalue}" if error else "no cell results came back"
    raise RuntimeError(f"the notebook could not be run in one request ({detail})")


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
