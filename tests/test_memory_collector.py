"""The garbage collector around a run's imports (crmlib.memory.pause_collector / freeze_imports).

A run that is all its process does (`crm-workbook run`, a batch worker process) stops automatic
collection while it imports its modules and reads the orders, then collects once, freezes what
exists (the collector no longer walks the imported modules) and turns collection back on. What
must hold: the collector is back on after every run, the ones that fail early included; the
freeze happens once per process (a batch worker runs many clients); garbage in reference cycles
from before the freeze is freed, not frozen; a run that shares its process (Dask's worker
threads) leaves the collector alone. Each case runs in a fresh interpreter: a freeze cannot be
undone in the test process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_collector_is_off_while_importing_then_frozen_once_and_on():
    out = _python("""
        import gc
        from crmlib import memory
        memory.pause_collector()
        paused = gc.isenabled()
        import pandas  # noqa: F401
        import weakref

        class Workbook:  # a cycle, as an Excel reader's workbook and its sheets make
            pass
        book = Workbook()
        book.sheet = {"parent": book}
        alive = weakref.ref(book)
        del book
        memory.freeze_imports()
        freed = alive() is None  # collected before the freeze, not kept for the process's life
        frozen = gc.get_freeze_count()
        memory.pause_collector()  # a later client of the same process: no second pause or freeze
        second = gc.isenabled()
        memory.freeze_imports()
        print(paused, freed, frozen > 10_000, second, gc.get_freeze_count() == frozen, gc.isenabled())
    """)
    assert out == ["False", "True", "True", "True", "True", "True"]


@pytest.mark.parametrize("yaml, error", [
    ("name: shop\ndata: missing.csv\npreset: generic\n", "InputFileError"),  # in the ingest
    ("name: shop\ndata: missing.csv\nlang: fr\n", "ConfigError"),  # reading the YAML
])
def test_a_run_that_fails_early_leaves_the_collector_on(tmp_path, yaml, error):
    config = tmp_path / "shop.yaml"
    config.write_text(yaml, encoding="utf-8")
    out = _python(f"""
        import gc
        from crmlib.errors import CrmError
        from crmlib.runs import run_client
        try:
            run_client({str(config)!r}, data_dir={str(tmp_path / 'data')!r},
                       reports_dir={str(tmp_path / 'reports')!r}, share_kernel=False, own_process=True)
        except CrmError as exc:
            print(type(exc).__name__, gc.isenabled())
    """)
    assert out[-2:] == [error, "True"]


def test_a_run_that_shares_its_process_leaves_the_collector_alone(tmp_path):
    # on Dask, runs share a worker process's threads: one run's pause must not stop another's
    # collections, nor its end restart a collector someone else had stopped
    config = tmp_path / "shop.yaml"
    config.write_text("name: shop\ndata: missing.csv\npreset: generic\n", encoding="utf-8")
    out = _python(f"""
        import gc
        from crmlib.errors import CrmError
        from crmlib.runs import run_client
        gc.disable()
        try:
            run_client({str(config)!r}, data_dir={str(tmp_path / 'data')!r},
                       reports_dir={str(tmp_path / 'reports')!r}, share_kernel=False)
        except CrmError as exc:
            print(type(exc).__name__, gc.isenabled(), gc.get_freeze_count())
    """)
    assert out[-3:] == ["InputFileError", "False", "0"]
