"""Run a notebook's code cells inside the kernel from one request (the kernel's half of
crmlib.report.engine).

Each cell runs through IPython's own run_cell, as an execute request would run it (magics,
history, execution counts, the post-execute hooks that show open figures); what it prints,
displays, returns and raises is kept in nbformat's output shapes instead of being sent as
messages, and all of it goes back as one display output when the notebook is done or a cell has
failed. This module runs in the kernel: it imports only IPython and jupyter_client, which any
kernel has.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from IPython import get_ipython
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from jupyter_client.jsonutil import json_default

MIME = "application/x-crm-workbook-cells"  # the one output that carries every cell's outputs


class _Sink:
    """The outputs of the cell now running, in the order the cell made them."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []

    def stream(self, name: str, text: str) -> None:
        """Text on stdout or stderr; runs of the same stream are one output, as a kernel's
        buffered stream messages are within a cell."""
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while a cell runs."""

    def __init__(self, sink: _Sink, name: str) -> None:
        super().__init__()
        self._sink, self._name = sink, name

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self._sink.stream(self._name, text)
        return len(text)


class _Displays(DisplayPublisher):
    """display() while a cell runs: a display_data output each."""

    def __init__(self, sink: _Sink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sink = sink

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False) -> None:  # noqa: ANN001
        self._sink.outputs.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})

    def clear_output(self, wait: bool = False) -> None:
        self._sink.outputs.clear()


class _Results(DisplayHook):
    """The value of a cell's last expression (Out[n]) as an execute_result, with IPython's own
    rules (None and a trailing ';' show nothing; _ and Out are updated)."""

    def __init__(self, sink: _Sink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sink = sink

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:  # noqa: ANN001
        self._sink.outputs.append({"output_type": "execute_result", "execution_count": self.prompt_count,
                                   "data": format_dict, "metadata": md_dict or {}})

    def finish_displayhook(self) -> None:
        pass


def _run(shell: Any, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cell's outputs and execution count, up to and including the first failing cell that
    may not fail."""
    sink = _Sink()
    shown = _Displays(sink, shell=shell)
    results = _Results(sink, shell=shell, cache_size=shell.displayhook.cache_size)

    def error(etype, evalue, stb) -> None:  # noqa: ANN001 (IPython's _showtraceback hook)
        sink.outputs.append({"output_type": "error", "ename": str(etype.__name__), "evalue": str(evalue),
                             "traceback": stb})

    saved = (sys.stdout, sys.stderr, sys.displayhook, shell.display_pub)
    sys.stdout, sys.stderr = _Stream(sink, "stdout"), _Stream(sink, "stderr")
    sys.displayhook, shell.display_pub = results, shown
    shell._showtraceback = error  # the instance's hook, in place of the kernel's error message
    done: list[dict[str, Any]] = []
    try:
        for cell in cells:
            sink.outputs = []
            count = shell.execution_count
            outcome = shell.run_cell(cell["source"], store_history=True)
            failed = not outcome.success
            done.append({"index": cell["index"], "execution_count": count, "outputs": sink.outputs,
                         "failed": failed})
            if failed and not cell["may_fail"]:
                break
    finally:
        del shell._showtraceback
        sys.stdout, sys.stderr, sys.displayhook, shell.display_pub = saved
    return done


def run_cells(payload: str) -> None:
    """Run the cells of `payload` (JSON: [{index, source, may_fail}]) and display every cell's
    outputs as one output of MIME type MIME (JSON text)."""
    shell = get_ipython()
    done = _run(shell, json.loads(payload))
    shell.display_pub.publish({MIME: json.dumps(done, default=json_default)}, metadata={})


__all__ = ["MIME", "run_cells"]
