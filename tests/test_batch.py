"""`crm-workbook batch` end to end on generated clients, the up-to-date skip, the per-client lock
with two real processes, and a run killed during its notebooks (starts Jupyter kernels).

Only the data-check chapter is rendered (--chapters) to keep the suite fast; the other chapters
go through the same pipeline and are covered by their own tests and by bench/batch.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crmlib.batch import run_batch
from crmlib.cli import main
from crmlib.cores import usable_cores
from crmlib.report.kernel_plan import zygote_forks
from crmlib.sample import write_sample

pytestmark = pytest.mark.slow

CHAPTER = "00_data_check"
AS_OF = "2025-04-01"  # the day after the generator's last order date (2025-03-31)


def _client(folder: Path, name: str, seed: int, customers: int = 1200) -> Path:
    write_sample(folder / f"{name}.csv", n_customers=customers, seed=seed)
    config = folder / f"{name}.yaml"
    config.write_text(f"name: {name}\ntitle: {name} shop\ndata: {name}.csv\npreset: generic\nlang: en\n")
    return config


@pytest.fixture(scope="module")
def clients(tmp_path_factory) -> Path:
    """Three generated shops (a few thousand order lines each) and one broken on purpose: its
    export lacks the order date column."""
    folder = tmp_path_factory.mktemp("clients")
    for i, name in enumerate(("alpha", "beta", "gamma")):
        _client(folder, name, seed=7 + i)
    lines = pd.read_csv(folder / "alpha.csv").drop(columns=["ordered_at"])
    lines.to_csv(folder / "broken.csv", index=False)
    (folder / "broken.yaml").write_text("name: broken\ndata: broken.csv\npreset: generic\n")
    return folder


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def first_batch(clients, tmp_path_factory):
    """The batch run once over the four clients: (root folder, CLI arguments, exit code, output)."""
    root = tmp_path_factory.mktemp("batch")
    args = ["batch", str(clients), "--workers", "2", "--chapters", CHAPTER, "--lang", "en",
            "--data-dir", str(root / "data"), "--reports-dir", str(root / "reports")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return root, args, code, out.getvalue()


def test_batch_keeps_going_past_a_broken_client(first_batch, clients):
    root, args, code, out = first_batch
    assert code == 1
    failures = [line for line in out.splitlines() if "failed" in line and "broken" in line]
    # one progress line and one summary line, both naming the missing column
    assert len([line for line in failures if line.startswith("[")]) == 1
    assert all("ordered_at" in line for line in failures), failures
    assert "4 clients: 3 ok, 0 skipped (up to date), 1 failed" in out
    reports = root / "reports"
    for name in ("alpha", "beta", "gamma"):
        folder = reports / name / AS_OF
        assert (folder / "index.html").is_file()
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        # independent count: the canonical orders the ingest wrote, read with pandas
        orders = pd.read_parquet(root / "data" / "processed" / name / "orders.parquet")
        assert metrics["data_check"]["orders"] == len(orders)
        assert metrics["data_check"]["customers"] == orders["customer_id"].nunique()
        fingerprint = metrics["report"]["fingerprint"]
        assert fingerprint["data_sha256"] == hashlib.sha256((clients / f"{name}.csv").read_bytes()).hexdigest()
        assert fingerprint["chapters"] == [CHAPTER]
    assert not (reports / "broken" / AS_OF).exists()
    # index: one link per report, relative, and the comparison CSV with one row per report
    index = (reports / "index.html").read_text(encoding="utf-8")
    for name in ("alpha", "beta", "gamma"):
        assert f'href="{name}/{AS_OF}/index.html"' in index
    assert "broken" in index and "ordered_at" in index
    table = pd.read_csv(reports / "index-comparison.csv", encoding="utf-8-sig")
    assert sorted(table["client"]) == ["alpha", "beta", "gamma"]
    for name in table["client"]:
        orders = pd.read_parquet(root / "data" / "processed" / name / "orders.parquet")
        assert table.loc[table["client"] == name, "data_check.orders"].item() == len(orders)
    summary = json.loads((reports / "index-summary.json").read_text(encoding="utf-8"))
    assert [c["status"] for c in summary["clients"]] == ["ok", "ok", "failed", "ok"]  # file order


def test_rerun_skips_up_to_date_clients_and_reruns_changed_ones(first_batch, clients, capsys):
    root, args, _, _ = first_batch
    reports = root / "reports"
    before = {name: _snapshot(reports / name / AS_OF) for name in ("alpha", "beta", "gamma")}
    # beta's export changes (one more order line at the end): only beta is re-run
    with (clients / "beta.csv").open("a", encoding="utf-8") as handle:
        handle.write("X-1,c-new,,,2025-03-30 10:00:00,SKU-X,extra,食品,1,1000,1000,web,completed,web,東京都\n")
    code = main(args)
    out = capsys.readouterr().out
    assert code == 1  # broken still fails
    assert "4 clients: 1 ok, 2 skipped (up to date), 1 failed" in out
    assert "beta: ok" in out and "alpha: skipped" in out and "gamma: skipped" in out
    assert _snapshot(reports / "alpha" / AS_OF) == before["alpha"]
    assert _snapshot(reports / "beta" / AS_OF) != before["beta"]
    beta = json.loads((reports / "beta" / AS_OF / "metrics.json").read_text(encoding="utf-8"))
    orders = pd.read_parquet(root / "data" / "processed" / "beta" / "orders.parquet")
    assert beta["data_check"]["orders"] == len(orders) and "X-1" in set(orders["order_id"])
    # `run` skips too (--force re-renders: the kill test below relies on it)
    run = ["run", str(clients / "alpha.yaml"), "--chapters", CHAPTER,
           "--data-dir", str(root / "data"), "--reports-dir", str(reports)]
    assert main(run) == 0
    assert "report up to date" in capsys.readouterr().out
    assert _snapshot(reports / "alpha" / AS_OF) == before["alpha"]


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended ({proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _cli(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crmlib.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def _kill_group(proc: subprocess.Popen) -> None:
    """End what is left of a process group we started (its kernels), by its id."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tmp_notebooks(client_dir: Path) -> list[Path]:
    """Executed notebooks inside a hidden temporary report folder: the run is in its notebooks."""
    return list(client_dir.glob(f".{AS_OF}.tmp-*/notebooks/*.ipynb")) if client_dir.is_dir() else []


@pytest.mark.skipif(not zygote_forks() or usable_cores() < 2, reason="forked kernels on two cores or more")
def test_the_last_client_runs_in_a_kernel_per_core_and_gets_the_same_pages(clients, tmp_path):
    # the same shop twice under two names: one worker runs 'alpha' in its warm kernel, then
    # 'twin', which no client waits behind, in two kernels forked from the worker's zygote
    twin = tmp_path / "twin.yaml"
    twin.write_text(f"name: twin\ntitle: alpha shop\ndata: {clients / 'alpha.csv'}\npreset: generic\nlang: en\n")
    chapters = [CHAPTER, "01_diagnosis"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        outcomes = run_batch([clients / "alpha.yaml", twin], data_dir=tmp_path / "data",
                             reports_dir=tmp_path / "reports", workers=1, chapters=chapters, lang="en")
    assert [o["status"] for o in outcomes] == ["ok", "ok"], out.getvalue()
    logs = tmp_path / "reports" / "batch-logs"
    assert "kernels" not in (logs / "alpha.log").read_text(encoding="utf-8")
    assert "no client waits behind this one: its chapters run in 2 kernels" in (logs / "twin.log").read_text(encoding="utf-8")
    first, last = (tmp_path / "reports" / name / AS_OF for name in ("alpha", "twin"))
    pages = sorted(p.name for p in first.glob("*.html"))
    assert pages == sorted(p.name for p in last.glob("*.html")) and len(pages) == 4
    for page in pages:  # the client's name is on no page; its title and data are the same
        assert (first / page).read_bytes() == (last / page).read_bytes(), page
    # again, both up to date: the last client's kernels, never given a chapter, are stopped
    with contextlib.redirect_stdout(io.StringIO()):
        again = run_batch([clients / "alpha.yaml", twin], data_dir=tmp_path / "data",
                          reports_dir=tmp_path / "reports", workers=1, chapters=chapters, lang="en")
    assert [o["status"] for o in again] == ["skipped", "skipped"]


def test_two_runs_on_one_client_do_not_overlap(clients, tmp_path):
    args = ["run", str(clients / "gamma.yaml"), "--chapters", CHAPTER, "--force",
            "--data-dir", str(tmp_path / "data"), "--reports-dir", str(tmp_path / "reports")]
    first = _cli(args)
    try:
        lock = tmp_path / "data" / "processed" / ".gamma.lock"
        _wait_for(lambda: lock.is_file() and f"pid {first.pid} " in lock.read_text(), 60, "the lock", first)
        # the first run (its whole group: kernels too) waits, lock held, while the second tries:
        # otherwise a small client's run may end before the second one reaches the lock
        os.killpg(first.pid, signal.SIGSTOP)
        try:
            second = _cli(args)
            out, err = second.communicate(timeout=60)
        finally:
            os.killpg(first.pid, signal.SIGCONT)
        assert second.returncode == 1, (out, err)
        assert f"error: another run on client gamma is in progress (pid {first.pid} on " in err
        assert f"remove {lock}" in err
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        assert "Kernel is running over TCP" not in err  # no kernel start-up noise in the terminal
    finally:
        _kill_group(first)
    folder = tmp_path / "reports" / "gamma" / AS_OF
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    orders = pd.read_parquet(tmp_path / "data" / "processed" / "gamma" / "orders.parquet")
    assert metrics["data_check"]["orders"] == len(orders)
    assert sorted(p.name for p in (tmp_path / "reports" / "gamma").iterdir()) == [".lock", AS_OF]


def test_a_run_killed_during_its_notebooks_leaves_the_previous_report(first_batch, clients, tmp_path):
    root = first_batch[0]
    shutil.copytree(root / "data", tmp_path / "data")  # a rendered report of gamma to protect
    shutil.copytree(root / "reports" / "gamma", tmp_path / "reports" / "gamma")
    base = ["run", str(clients / "gamma.yaml"), "--chapters", CHAPTER,
            "--data-dir", str(tmp_path / "data"), "--reports-dir", str(tmp_path / "reports")]
    client_dir = tmp_path / "reports" / "gamma"
    before = _snapshot(client_dir / AS_OF)
    for sig in (signal.SIGKILL, signal.SIGTERM):
        proc = _cli(base + ["--force"])  # --force: renders although the report is up to date
        try:
            started = _wait_for(lambda: _tmp_notebooks(client_dir), 120, "the notebooks to start", proc)
            os.kill(proc.pid, sig)
            proc.wait(timeout=60)
        finally:
            _kill_group(proc)
        assert proc.returncode != 0 and started
        visible = sorted(p.name for p in client_dir.iterdir() if not p.name.startswith("."))
        assert visible == [AS_OF], sig
        assert _snapshot(client_dir / AS_OF) == before, sig
    # the next run (up to date, so it renders nothing) removes what the killed runs left
    assert main(base) == 0
    assert sorted(p.name for p in client_dir.iterdir()) == [".lock", AS_OF]
    assert not [p for p in (tmp_path / "data" / "processed").iterdir() if p.name.startswith(".gamma-")]


def test_batch_on_a_dask_cluster(clients, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="Dask distributed is not installed (pip install -e '.[dask]')")
    configs = [clients / "alpha.yaml", clients / "broken.yaml"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        outcomes = run_batch(configs, data_dir=tmp_path / "data", reports_dir=tmp_path / "reports",
                             scheduler=cluster.scheduler_address, chapters=[CHAPTER], lang="en",
                             stream=open(os.devnull, "w"))
    assert [(o["client"], o["status"]) for o in outcomes] == [("alpha", "ok"), ("broken", "failed")]
    assert "ordered_at" in outcomes[1]["error"]
    for name in ("alpha",):
        metrics = json.loads((tmp_path / "reports" / name / AS_OF / "metrics.json").read_text(encoding="utf-8"))
        orders = pd.read_parquet(tmp_path / "data" / "processed" / name / "orders.parquet")
        assert metrics["data_check"]["orders"] == len(orders)
    assert (tmp_path / "reports" / "index.html").is_file()


def test_warm_kernel_keeps_imports_but_not_variables(tmp_path):
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook
    from papermill.exceptions import PapermillExecutionError

    from crmlib.report.warm import WarmKernel

    first = new_notebook(cells=[new_code_cell("import json\nleak = 41\nleak += 1")])
    second = new_notebook(cells=[new_code_cell("import sys\nprint('json' in sys.modules)"),
                                 new_code_cell("print(leak)")])
    for name, nb in (("first", first), ("second", second)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    with WarmKernel(tmp_path) as kernel:
        done = papermill.execute_notebook(str(tmp_path / "first.ipynb"), str(tmp_path / "out1.ipynb"),
                                          km=kernel.prepare(), progress_bar=False)
        assert done.cells[0].execution_count == 1
        with pytest.raises(PapermillExecutionError, match="NameError.*leak"):
            papermill.execute_notebook(str(tmp_path / "second.ipynb"), str(tmp_path / "out2.ipynb"),
                                       km=kernel.prepare(), progress_bar=False)
        code = [c for c in nbformat.read(tmp_path / "out2.ipynb", as_version=4).cells if c.cell_type == "code"]
        assert code[0].outputs[0]["text"] == "True\n"  # the module stayed imported
        assert kernel.starts == 1  # one kernel for both notebooks


def test_warm_kernel_shares_one_client_and_replaces_it_with_a_dead_kernel(tmp_path):
    """The kernel client (its sockets) stays open across notebooks, so a notebook does not wait
    for a new client to connect; when the kernel died, the next notebook gets a new kernel and a
    new client, and runs."""
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    from crmlib.report.warm import WarmKernel

    nb = new_notebook(cells=[new_code_cell("import os\nprint(os.getpid())")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "pid.ipynb")

    def run(kernel: WarmKernel, n: int) -> int:
        done = papermill.execute_notebook(str(tmp_path / "pid.ipynb"), str(tmp_path / f"out{n}.ipynb"),
                                          km=kernel.prepare(), progress_bar=False)
        return int(done.cells[0].outputs[0]["text"])

    with WarmKernel(tmp_path) as kernel:
        first_pid = run(kernel, 1)
        client = kernel.manager.client()
        assert run(kernel, 2) == first_pid and run(kernel, 3) == first_pid
        assert kernel.manager.client() is client and client.channels_running
        os.kill(first_pid, signal.SIGKILL)
        for _ in range(100):  # until the manager sees it gone
            if not kernel._alive():
                break
            time.sleep(0.05)
        new_pid = run(kernel, 4)
        assert new_pid != first_pid and kernel.starts == 2
        assert kernel.manager.client() is not client and not client.channels_running


def test_warm_kernel_keeps_no_input_history_on_disk_and_recovers_a_stopped_client(tmp_path, monkeypatch):
    """Cells carry a client's paths and parameters: like the kernels nbclient starts, the warm
    kernel keeps its input history in memory, not in IPython's history.sqlite. A client whose
    channels were stopped (nbclient's clean-up after an error) is replaced, not restarted."""
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    from crmlib.report.warm import WarmKernel

    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    secret = "secret-client-path-4711"
    nb = new_notebook(cells=[new_code_cell(f"x = '{secret}'\nprint(len(x))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "nb.ipynb")
    with WarmKernel(tmp_path) as kernel:
        for n in range(2):
            done = papermill.execute_notebook(str(tmp_path / "nb.ipynb"), str(tmp_path / f"out{n}.ipynb"),
                                              km=kernel.prepare(), progress_bar=False)
            assert done.cells[0].outputs[0]["text"] == f"{len(secret)}\n"
            kernel.manager.client().stop_channels()  # as nbclient's clean-up does
        assert kernel.starts == 1
    written = [p for p in ipython_dir.rglob("*") if p.is_file()]
    assert not any(secret.encode() in p.read_bytes() for p in written), written
