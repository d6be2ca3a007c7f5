"""Run a notebook's code cells inside the kernel from one request (the kernel's half of
crmlib.report.engine).

Each cell runs through IPython's own run_cell, as an execute request would run it (magics,
history, execution counts, the post-execute hooks that show open figures); what it prints,
displays, returns and raises is kept in nbformat's output shapes instead of being sent as
messages, checked as the kernel's messages would be (JSON, cleaned as jupyter_client cleans
them), and all of it goes back as one display output when the notebook is done or a cell has
failed. This module runs in the kernel: it imports only IPython and jupyter_client, which any
kernel has.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

from IPython import get_ipython
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from jupyter_client.jsonutil import json_clean, json_default

MIME = "application/x-crm-workbook-cells"  # the one output that carries every cell's outputs


def _sendable(content: dict[str, Any]) -> dict[str, Any]:
    """`content` as the kernel's message would carry it: as it is when it is JSON, else cleaned
    as jupyter_client cleans a message (NaN as text, bytes as base64); raises where sending would."""
    try:
        json.dumps(content, default=json_default, ensure_ascii=False, allow_nan=False)
        return content
    except (TypeError, ValueError):
        cleaned = json_clean(content)
        json.dumps(cleaned, default=json_default, ensure_ascii=False, allow_nan=False)
        return cleaned


class _Sink:
    """The outputs of the cell now running, in the order the cell made them, and the notebook's
    displays by display id (update_display changes them in any cell, as nbclient does)."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.clear_first = False  # clear_output(wait=True): clear when the next output comes
        self.by_id: dict[str, list[dict[str, Any]]] = {}

    def add(self, output: dict[str, Any]) -> None:
        if self.clear_first:
            self.outputs.clear()
            self.clear_first = False
        self.outputs.append(output)

    def stream(self, name: str, text: str) -> None:
        """Text on stdout or stderr; runs of the same stream are one output, as a kernel's
        buffered stream messages mostly are within a cell."""
        last = self.outputs[-1] if self.outputs and not self.clear_first else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.add({"output_type": "stream", "name": name, "text": text})


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while the cells run; after them (an object kept a reference, as a
    logging handler does) it writes to whatever sys.stdout or sys.stderr is then: the kernel's
    own stream, or the capture of a later notebook's cell, where nbclient would show it too."""

    def __init__(self, sink: _Sink, name: str, kernel_stream: Any) -> None:
        super().__init__()
        self._sink: _Sink | None = sink
        self._name, self._kernel_stream = name, kernel_stream

    encoding = "utf-8"

    @property
    def name(self) -> str:  # type: ignore[override]
        return getattr(self._kernel_stream, "name", f"<{self._name}>")

    def fileno(self) -> int:
        return self._kernel_stream.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self._sink is None:
            return self._after().write(text)
        if text:
            self._sink.stream(self._name, text)
        return len(text)

    def flush(self) -> None:
        if self._sink is None:
            self._after().flush()

    def _after(self) -> Any:
        """Where a write goes once the cells are done: sys.stdout or sys.stderr as they are now."""
        current = getattr(sys, self._name)
        return current if current is not self else self._kernel_stream

    def release(self) -> None:
        """The cells are done: write to the kernel's stream from now on."""
        self._sink = None


class _Displays(DisplayPublisher):
    """display() while the cells run: a display_data output each; update_display and
    clear_output as nbclient applies them."""

    def __init__(self, sink: _Sink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sink = sink

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False) -> None:  # noqa: ANN001
        content = _sendable({"data": data, "metadata": metadata or {}})
        display_id = (transient or {}).get("display_id")
        if update:
            for output in self._sink.by_id.get(display_id, []):
                output["data"], output["metadata"] = content["data"], content["metadata"]
            return
        output = {"output_type": "display_data", **content}
        if display_id is not None:
            self._sink.by_id.setdefault(display_id, []).append(output)
        self._sink.add(output)

    def clear_output(self, wait: bool = False) -> None:
        if wait:
            self._sink.clear_first = True
        else:
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
        content = _sendable({"data": format_dict, "metadata": md_dict or {}})
        self._sink.add({"output_type": "execute_result", "execution_count": self.prompt_count, **content})

    def finish_displayhook(self) -> None:
        pass


def _error(ename: str, evalue: str, traceback: list[str]) -> dict[str, Any]:
    """An error output."""
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}


def _run(shell: Any, cells: list[dict[str, Any]], done: list[dict[str, Any]]) -> None:
    """Run the cells, appending each one's outputs, execution count and times to `done`, up to
    and including the first failing cell that may not fail. Whatever ends the run between two
    cells or inside the capture (an interrupt, a failure to clean an output) is the failure of
    the cell that was running, or of the next one; the kernel's streams and hooks are back in
    place either way."""
    sink = _Sink()
    streams = (_Stream(sink, "stdout", sys.stdout), _Stream(sink, "stderr", sys.stderr))
    shown = _Displays(sink, shell=shell)
    results = _Results(sink, shell=shell, cache_size=shell.displayhook.cache_size)

    def error(etype, evalue, stb) -> None:  # noqa: ANN001 (IPython's _showtraceback hook)
        sink.add(_error(str(etype.__name__), str(evalue), stb))

    def start(cell: dict[str, Any]) -> dict[str, Any]:
        sink.outputs, sink.clear_first = [], False
        entry = {"index": cell["index"], "execution_count": shell.execution_count, "outputs": sink.outputs,
                 "failed": False, "start": time.time(), "end": None}
        done.append(entry)
        return entry

    saved = (sys.stdout, sys.stderr, sys.displayhook, shell.display_pub)
    own_hook = shell.__dict__.get("_showtraceback")  # ipykernel sets one on the instance
    sys.stdout, sys.stderr = streams
    sys.displayhook, shell.display_pub = results, shown
    shell._showtraceback = error
    todo = iter(cells)
    running: dict[str, Any] | None = None  # the entry of the cell that has not finished
    try:
        for cell in todo:
            running = start(cell)
            outcome = shell.run_cell(cell["source"], store_history=True)
            running["end"], running["outputs"], running["failed"] = time.time(), sink.outputs, not outcome.success
            entry, running = running, None
            if entry["failed"] and not cell["may_fail"]:
                break
    except BaseException as exc:  # noqa: BLE001 (between cells or in the capture: that cell's failure)
        if running is None:  # between two cells: the next one's
            upcoming = next(todo, None)
            if upcoming is None:
                return
            running = start(upcoming)
        running["end"], running["failed"] = time.time(), True
        running["outputs"] = [*running["outputs"], _error(type(exc).__name__, str(exc), [])]
    finally:
        sys.stdout, sys.stderr, sys.displayhook, shell.display_pub = saved
        if own_hook is None:
            del shell._showtraceback
        else:
            shell._showtraceback = own_hook
        for stream in streams:
            stream.release()


def run_cells(payload: str) -> None:
    """Run the cells of `payload` (JSON: [{index, source, may_fail}]) and display every cell's
    outputs, execution count and times (start, end: seconds since the epoch) as one output of
    MIME type MIME (JSON text)."""
    shell = get_ipython()
    done: list[dict[str, Any]] = []
    _run(shell, json.loads(payload), done)
    text = json.dumps(done, default=json_default, ensure_ascii=False, allow_nan=False)
    shell.display_pub.publish({MIME: text}, metadata={})


__all__ = ["MIME", "run_cells"]
