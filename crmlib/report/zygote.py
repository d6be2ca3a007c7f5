"""Report kernels forked from one process that imported the chapters' modules once (Linux).

A report's chapters run in two warm kernels (crmlib.report.warm.KernelLanes), and each kernel
imports pandas, matplotlib, DuckDB and the chapters' modules before its first chapter: 1.2-1.5
CPU-s a kernel, paid twice on a two-core machine while the ingest needs the same cores. The
zygote is a plain Python process that runs those imports once and then forks a kernel on
request; a forked kernel starts with every module loaded (copy-on-write memory) and costs
about a tenth of a started one.

The zygote holds no threads, sockets or DuckDB connections when it forks (imports create
none; OpenBLAS re-creates its workers after a fork). It exits when its parent closes the request
pipe or dies; a kernel it forked runs in a session of its own, as jupyter_client's do, and
exits when the zygote is gone (ipykernel's parent poller watches the zygote's pid). Anything
unexpected (no fork, a custom kernel command, a dead zygote) falls back to jupyter_client's own
launch: the zygote saves time, it is never needed.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

# fork without exec is unsafe on macOS and Windows has none; /proc tells a forked kernel's end
FORKS = sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")
READY_SECONDS = 120.0  # the zygote's imports and a fork; past this the kernel is started as usual
END_SECONDS = 5.0  # at its end, the zygote gives a kernel still running this long after SIGTERM
LAUNCHER = ["-m", "ipykernel_launcher"]
# ipykernel makes the inline backend matplotlib's default in every kernel it starts, before
# matplotlib is imported: the zygote imports matplotlib, so it sets the same first
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# what every chapter's kernel imports, whatever the chapters: the zygote imports these first
BASE_IMPORTS = ("ipykernel.kernelapp", "pandas", "duckdb", "matplotlib.pyplot")


class Zygote:
    """A child process that ran `preload` (the chapters' import cells) and forks kernels."""

    def __init__(self, preload: str | None, cwd: str, stderr: Any = None) -> None:
        """Start the zygote; it imports what every kernel needs (BASE_IMPORTS) and then runs
        `preload`, sent now or later (send_preload: kernel_plan.early_zygote starts it before
        the notebooks are read)."""
        replies, reply_end = os.pipe()
        env = {**os.environ, "MPLBACKEND": os.environ.get("MPLBACKEND") or INLINE_BACKEND,
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crmlib.report.zygote", str(reply_end)], stdin=subprocess.PIPE,
            stderr=stderr, cwd=cwd, env=env, pass_fds=(reply_end,), text=True)
        os.close(reply_end)  # the zygote's end of the reply pipe
        self._replies = os.fdopen(replies, "r", encoding="utf-8")
        self._lock = threading.Lock()
        self._preloaded = False
        if preload is not None:
            self.send_preload(preload)

    def send_preload(self, preload: str) -> None:
        """Give the zygote the chapters' imports to run before it forks (once); OSError when it is gone."""
        with self._lock:
            if self._preloaded:
                raise OSError("the kernel zygote has its imports already")
            try:
                self._send({"preload": preload})
            except ValueError as exc:  # its pipe was closed
                raise OSError(f"the kernel zygote is gone: {exc}") from None
            self._preloaded = True

    def _send(self, message: dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def fork(self, cmd: list[str], env: dict[str, str], cwd: str, quiet: bool) -> int:
        """Fork a kernel running `cmd`'s ipykernel arguments; its pid. OSError when the zygote is gone."""
        with self._lock:
            if self.process.poll() is not None:
                raise OSError("the kernel zygote has ended")
            if not self._preloaded:
                raise OSError("the kernel zygote has not been given its imports")
            try:
                self._send({"argv": cmd, "env": env, "cwd": cwd, "quiet": quiet})
                ready, _, _ = select.select([self._replies], [], [], READY_SECONDS)
                if not ready:  # stuck in its imports: not worth waiting for
                    self.kill()
                    raise OSError(f"the kernel zygote did not answer within {READY_SECONDS:.0f} s")
                reply = self._replies.readline()
            except (OSError, ValueError) as exc:
                raise OSError(f"the kernel zygote did not answer: {exc}") from None
            if not reply:
                raise OSError("the kernel zygote has ended")
            return int(json.loads(reply)["pid"])

    def close(self) -> None:
        """End the zygote (its kernels end with it, once they notice)."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._replies.close()

    def kill(self) -> None:
        """Kill the zygote at once (Ctrl-C, SIGTERM)."""
        try:
            self.process.kill()
        except OSError:
            pass


def forkable(cmd: list[str]) -> bool:
    """Whether a kernel command is the standard ipykernel launch the zygote reproduces."""
    return FORKS and len(cmd) >= 3 and cmd[1:3] == LAUNCHER


class ForkedKernel:
    """The Popen-like handle jupyter_client needs for a kernel that is the zygote's child, not ours."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while the kernel runs; 0 once it has ended (its exit status goes to the zygote)."""
        if self.returncode is None and not _running(self.pid):
            self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.01)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _running(pid: int) -> bool:
    """A process that exists and is not a zombie (/proc: Linux only, as the fork)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# ------------------------------------------------------------------ the zygote process itself


_reaped: set[int] = set()  # kernels whose exit the zygote collected (their pids may be reused)


def _reap(_signum: int, _frame: Any) -> None:
    """Collect the exit status of every kernel that ended (no zombies)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _reaped.add(pid)


def _kernel(request: dict, reply_fd: int) -> None:
    """In the forked child: become the kernel `request` describes; never returns."""
    code = 1
    try:
        os.setsid()
        gc.enable()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the kernel's interrupts
        os.close(reply_fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        if request.get("quiet"):
            os.dup2(null, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # the parent poller ends the kernel when the zygote (its parent) is gone
        sys.argv = ["ipykernel_launcher", *request["argv"][3:], f"--IPKernelApp.parent_handle={os.getppid()}"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except BaseException:  # noqa: BLE001 (the kernel's end, whatever it is)
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def serve(reply_fd: int) -> None:
    """Read the preload, run it, then fork a kernel for each request line; exits at end of input."""
    # Ctrl-C in the terminal reaches the whole process group: the run stops the zygote itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.path and (sys.path[0] in ("", os.getcwd())):
        del sys.path[0]  # as ipykernel_launcher does: the notebooks' folder is not a package root
    gc.disable()  # no collections during the imports (0.3 CPU-s); frozen as they are below
    for module in BASE_IMPORTS:  # while the run reads its notebooks and the preload is on its way
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 (a chapter that needs it says so)
            pass
    first = json.loads(sys.stdin.readline() or "{}")
    try:
        exec(compile(first.get("preload", ""), "<chapters' imports>", "exec"), {"__name__": "__crm_preload__"})
    except Exception:  # noqa: BLE001 (a failing import fails its chapter, with the chapter's message)
        pass
    import ipykernel.kernelapp  # noqa: F401  (the kernel's own modules, loaded once too)

    # what the imports made stays out of the collector's walks, so neither the zygote nor a
    # kernel writes to those objects' pages (which would copy them into every kernel); the
    # collector stays off in the zygote, which makes nothing more, and is on in each kernel
    gc.freeze()
    signal.signal(signal.SIGCHLD, _reap)
    replies = os.fdopen(reply_fd, "w", encoding="utf-8")
    forked: list[int] = []
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _kernel(request, reply_fd)
        forked.append(pid)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
    _end_kernels(forked)
    os._exit(0)  # no teardown of the modules: the run waits for this exit


def _end_kernels(pids: list[int], grace: float = END_SECONDS) -> None:
    """At the end of the requests: stop the kernels still running (the run shuts its kernels down
    first, so these are ones it lost, e.g. a shutdown that failed as a process exited) and wait
    for every kernel, so that none outlives the zygote (left to init, its CPU time would count
    for nobody) and the zygote's exit means its kernels are gone."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # from now on reaped here: an unreaped pid stays ours
    pids = [pid for pid in pids if pid not in _reaped]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for pid in pids:
        while True:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped already
                break
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)


if __name__ == "__main__":
    serve(int(sys.argv[1]))


__all__ = ["BASE_IMPORTS", "FORKS", "ForkedKernel", "Zygote", "forkable"]
