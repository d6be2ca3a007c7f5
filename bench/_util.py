"""Shared helpers of the benchmark scripts: child processes, cached samples, tables.

Each measured case runs in its own child process, so its peak memory (the child's maximum
resident set size, read from its own ``/proc/self/status`` as it exits) is not mixed up with the
parent's or another case's. Not ``os.wait4``: Linux carries the parent's peak over into a child
started from it (exec keeps the larger of the two), so a bench that had written a 3 GB CSV copy
reported 3 GB for every later case, the 541,909-row Online Retail file included.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
GIB = 1 << 30
MIB = 1 << 20


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """This repository's code at git revision `rev` in a temporary worktree (removed afterwards),
    byte-compiled as this checkout is: the baseline of a side-by-side measurement (`--against`)."""
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-against-"))
    code = folder / "code"
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(code), rev], check=False,
                           capture_output=True, text=True)
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"--against {rev}: git could not check it out ({added.stderr.strip()}); "
                         "give a commit of this repository, e.g. --against 741695b")
    try:
        for root in (ROOT, code):  # neither side pays for compiling its modules in the runs
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "crmlib")], check=False,
                           stdout=subprocess.DEVNULL)
        yield code
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], check=False,
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def code_env(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that runs `root`'s crmlib in the CLI and in every kernel it starts (which
    would otherwise import the installed crmlib)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return env


def makes_deck_and_pdf(root: Path) -> bool:
    """Whether the code at `root` knows `report: {deck, pdf}`; older code made neither, so its
    YAMLs leave the switches out (it refuses unknown keys)."""
    field = re.compile(r"^\s+deck: bool\b", re.MULTILINE)  # the settings field, not a word in a comment
    return any(field.search(path.read_text(encoding="utf-8")) for path in (root / "crmlib").rglob("*.py"))


def ordered(sides: dict[str, Path], round_number: int) -> list[tuple[str, Path]]:
    """The sides in the order of this round: as given in even rounds, reversed in odd ones (A B,
    B A, A B ...), so a drift of the machine's speed during the runs favours no side."""
    items = list(sides.items())
    return items if round_number % 2 == 0 else items[::-1]


def cut(before: float, after: float) -> str:
    """'-41%': how much shorter `after` is than `before`."""
    return f"{(after - before) / before:+.0%}".replace("+-", "-")


def parse_sizes(text: str) -> list[int]:
    """'1e6,1e7' or '1000000, 5e6' -> [1000000, 10000000]."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if part:
            value = float(part)
            if value < 1 or value != int(value):
                raise SystemExit(f"--sizes: {part!r} is not a whole number of orders")
            sizes.append(int(value))
    return sizes


def label(n: int) -> str:
    """10000000 -> '10M', 1500000 -> '1.5M', 20000 -> '20k'."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            text = f"{n / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(n)


def datasets_dir() -> Path:
    """The shared datasets folder: $CRM_DATASETS, else ../shared/datasets beside the project."""
    env = os.environ.get("CRM_DATASETS")
    return Path(env) if env else (ROOT.parent / "shared" / "datasets")


# Runs a bench script as __main__ and, as the process exits, writes its own peak RSS (VmHWM, kB)
# to the file named by argv[1]
_PEAK_WRAPPER = """
import atexit, runpy, sys
peak_file = sys.argv[1]
sys.argv = sys.argv[2:]
def _write_peak():
    with open('/proc/self/status') as fh:
        kb = next(line.split()[1] for line in fh if line.startswith('VmHWM:'))
    with open(peak_file, 'w') as fh:
        fh.write(kb)
atexit.register(_write_peak)
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def run_child(script: Path, args: dict) -> tuple[dict, int]:
    """Run ``python script --child JSON``; return the JSON it prints last and its peak RSS in bytes
    (the child's own high-water mark; wait4's figure where /proc is missing)."""
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        peak_file = Path(tmp) / "peak_kb"
        wrapped = Path("/proc/self/status").exists()
        cmd = ([sys.executable, "-c", _PEAK_WRAPPER, str(peak_file)] if wrapped else [sys.executable]) + [
            str(script), "--child", json.dumps(args)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, text=True)
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"child {args} failed with exit code {proc.returncode}")
        result = json.loads(out.strip().splitlines()[-1])
        peak_kb = int(peak_file.read_text()) if wrapped and peak_file.exists() else usage.ru_maxrss
    return result, peak_kb * 1024  # Linux reports kilobytes


def sample_cache_path(n_orders: int, seed: int) -> Path:
    """Where the generated sample of n_orders is cached; the name changes with the generator code."""
    import crmlib.sample as sample

    digest = hashlib.sha256(Path(sample.__file__).read_bytes()).hexdigest()[:10]
    return OUT / f"sample_{label(n_orders)}_seed{seed}_{digest}.parquet"


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    """Call fn and return (result, seconds of wall time)."""
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


def timed_cpu(fn, *args, **kwargs) -> tuple[object, float, float]:
    """Call fn and return (result, wall seconds, CPU seconds of this process: user + sys, all threads).

    CPU time is what a busy shared machine disturbs least: compare it when wall times are noisy.
    """
    c0 = time.process_time()
    result, seconds = timed(fn, *args, **kwargs)
    return result, seconds, time.process_time() - c0


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned text table (first column left, the others right aligned)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def chapter_seconds(report: Path) -> dict[str, float]:
    """Seconds each notebook of a report ran (papermill's own record, kernel start excluded)."""
    import nbformat

    out = {}
    for path in sorted((report / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = float(nb.metadata.get("papermill", {}).get("duration") or 0.0)
    return out


def rss() -> tuple[int, int]:
    """(current, peak) resident set size of this process in bytes (/proc/self/status)."""
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, kb = line.split()[:2]
                values[key] = int(kb) * 1024
    return values["VmRSS:"], values["VmHWM:"]


def run_notebook_cells(notebook: str, params: dict, replace: dict[str, str] | None = None,
                       scope: dict | None = None) -> tuple[dict, list[dict]]:
    """Run a chapter notebook's code cells in this process, one by one (page output discarded), with
    `params` appended to its parameters cell and each `replace` pair applied to the sources; returns
    (the namespace, per cell: its first line, wall and CPU seconds, RSS after it and the peak so far)."""
    import contextlib
    import io

    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    scope = {} if scope is None else scope
    steps = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source += "".join(f"\n{name} = {value!r}" for name, value in params.items())
        for old, new in (replace or {}).items():
            source = source.replace(old, new)
        c0, t0 = time.process_time(), time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<cell>", "exec"), scope)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        import matplotlib.pyplot as plt
        plt.close("all")
        now, peak = rss()
        first = next((line for line in cell.source.splitlines() if not line.startswith(("#", "from ", "import "))),
                     "imports")
        steps.append({"cell": first[:60], "wall": wall, "cpu": cpu, "rss": now, "peak": peak})
    return scope, steps


def cell_table(steps: list[dict], peak: int) -> None:
    """Print run_notebook_cells' steps as a table, with a last row for the whole child."""
    rows = [[s["cell"], f"{s['wall']:.1f}", f"{s['cpu']:.1f}", f"{s['rss'] / MIB:,.0f}", f"{s['peak'] / MIB:,.0f}"]
            for s in steps]
    rows.append(["all", f"{sum(s['wall'] for s in steps):.1f}", f"{sum(s['cpu'] for s in steps):.1f}",
                 "", f"{peak / MIB:,.0f}"])
    print_table(["cell", "wall s", "CPU s", "RSS after MB", "peak so far MB"], rows)
