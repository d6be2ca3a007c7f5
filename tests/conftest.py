"""Shared fixtures: a tiny processed folder (ingest output) written by hand, with known answers.

Orders (5, customers c1-c3, March 2024 has none):
  O1 c1 2024-01-10 10:00  1000.0 | O2 c2 2024-01-20 12:00 2500.0 | O3 c1 2024-02-05 09:30 1500.0
  O4 c3 2024-04-01 00:00  3000.0 | O5 c1 2024-04-30 23:59  500.0
  -> revenue 8500.0, AOV 1700.0, 5/3 orders per customer, 112 days (Jan 10 .. Apr 30, leap year).
Ledger: 10 input rows (9700), 7 kept (8500), excluded: cancelled 2 (1000), non_product 1 (200).
Column types follow docs/chapter-contract.md (what crmlib.ingest writes; quantity is float64).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import settings as hypothesis_settings

from crmlib.ledger import Ledger, LedgerLine

# reports in the tests print no PDF unless a test asks for one (`report.pdf: true`, or
# CRM_REPORT_PDF=1 for a subprocess): printing costs seconds per report (crmlib/report/pdf.py)
os.environ.setdefault("CRM_REPORT_PDF", "0")

# Property-based tests: "ci" (the default, used by `make test`) is reproducible: a fixed seed
# derived from each test and no example database; "dev" (`make fuzz`) explores with random seeds
# and remembers failures in .hypothesis/. Choose with HYPOTHESIS_PROFILE.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("dev", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("ordered_at", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("quantity", pa.float64()),
        ("n_lines", pa.int64()),
        ("channel", pa.string()),
        ("status", pa.string()),
        ("source", pa.string()),
        ("region", pa.string()),
        ("category", pa.string()),
    ]
)
LINES_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("ordered_at", pa.timestamp("us")),
        ("sku", pa.string()),
        ("product", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.float64()),
        ("unit_price", pa.float64()),
        ("amount", pa.float64()),
        ("line_type", pa.string()),
    ]
)

T = dt.datetime
ORDERS = [
    # order_id, customer_id, ordered_at, amount, quantity, n_lines, channel, status, source, region, category
    ("O1", "c1", T(2024, 1, 10, 10, 0), 1000.0, 1.0, 1, "web", "completed", "tiny", "東京都", "お茶"),
    ("O2", "c2", T(2024, 1, 20, 12, 0), 2500.0, 2.0, 2, "web", "completed", "tiny", None, "菓子"),
    ("O3", "c1", T(2024, 2, 5, 9, 30), 1500.0, 1.0, 1, None, "completed", "tiny", "東京都", "お茶"),
    ("O4", "c3", T(2024, 4, 1, 0, 0), 3000.0, 3.0, 2, "app", "completed", "tiny", "大阪府", None),
    ("O5", "c1", T(2024, 4, 30, 23, 59), 500.0, 1.0, 1, "web", "completed", "tiny", "東京都", "お茶"),
]
LINES = [
    # order_id, customer_id, ordered_at, sku, product, category, quantity, unit_price, amount, line_type
    ("O1", "c1", T(2024, 1, 10, 10, 0), "TEA-1", "煎茶", "お茶", 1.0, 1000.0, 1000.0, "product"),
    ("O2", "c2", T(2024, 1, 20, 12, 0), "TEA-1", "煎茶", "お茶", 1.0, 1000.0, 1000.0, "product"),
    ("O2", "c2", T(2024, 1, 20, 12, 0), "SW-1", "羊羹", "菓子", 1.0, 1500.0, 1500.0, "product"),
    ("O3", "c1", T(2024, 2, 5, 9, 30), "SW-1", "羊羹", "菓子", 1.0, 1500.0, 1500.0, "product"),
    ("O4", "c3", T(2024, 4, 1, 0, 0), "TEA-1", "煎茶", "お茶", 1.0, 1000.0, 1000.0, "product"),
    ("O4", "c3", T(2024, 4, 1, 0, 0), "TEA-2", "玉露", "お茶", 2.0, 1000.0, 2000.0, "product"),
    ("O5", "c1", T(2024, 4, 30, 23, 59), "TEA-3", "ほうじ茶", "お茶", 1.0, 500.0, 500.0, "product"),
]


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """A pyarrow table from row tuples with an explicit schema."""
    columns = list(zip(*rows))
    return pa.table([pa.array(col, type=field.type) for col, field in zip(columns, schema)], schema=schema)


def tiny_ledger() -> Ledger:
    """The ledger of the tiny case: 10 rows in, 7 kept, 3 excluded for two reasons."""
    return Ledger(
        source={"file": "tiny.csv", "preset": "generic"},
        input_rows=10,
        input_amount=Decimal("9700"),
        kept_rows=7,
        kept_amount=Decimal("8500"),
        excluded=[LedgerLine("cancelled", 2, Decimal("1000")), LedgerLine("non_product", 1, Decimal("200"))],
        orders=5,
        customers=3,
        first_order="2024-01-10T10:00:00",
        last_order="2024-04-30T23:59:00",
    )


def write_tiny_processed_dir(folder: Path) -> Path:
    """Write orders.parquet, order_lines.parquet and ledger.json of the tiny case into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(_table(ORDERS, ORDERS_SCHEMA), folder / "orders.parquet")
    pq.write_table(_table(LINES, LINES_SCHEMA), folder / "order_lines.parquet")
    tiny_ledger().save(folder / "ledger.json")
    return folder


@pytest.fixture(scope="session")
def tiny_processed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A processed folder with 5 hand-made orders (gap in March 2024); treat it as read-only."""
    return write_tiny_processed_dir(tmp_path_factory.mktemp("processed") / "tiny")


@dataclass(frozen=True)
class Installed:
    """crmlib built as a wheel and installed into a fresh venv outside the repository."""

    wheel: Path
    venv: Path
    env: dict  # the environment to run its commands in (no PYTHONPATH to the checkout)

    def command(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def shared_across_workers(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> Path:
    """build(folder) once per test run, even when pytest-xdist runs the tests in several worker
    processes: the first worker builds under a file lock, the others wait and reuse its folder."""
    from filelock import FileLock

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent  # shared by the run's workers
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _install_wheel(root: Path) -> None:
    """Build this checkout's wheel into root/dist and install it into the fresh venv root/venv."""
    import site
    import subprocess
    import sys
    import venv

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(Path(__file__).resolve().parents[1])],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("crmlib-*.whl")
    fresh = root / "venv"
    venv.EnvBuilder(with_pip=True).create(fresh)
    python = str(fresh / "bin" / "python")
    # without PYTHONPATH: a checkout on it (a worktree's crmlib.egg-info) would look installed to pip
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300, env=clean)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, env=clean).stdout.strip()
    Path(purelib, "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel of this checkout installed into a fresh venv, as `pip install .` would; its
    dependencies come from this environment's site-packages (no network): a plain path line, so
    the editable install's finder there is not activated and crmlib comes from the wheel."""
    import sys

    root = shared_across_workers(tmp_path_factory, "wheel", _install_wheel)
    (wheel,) = (root / "dist").glob("crmlib-*.whl")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the dependencies' data files (nbconvert's templates) as their own install would place them
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    return Installed(wheel, root / "venv", env)


@pytest.fixture(scope="session")
def demo_report(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's rendered report folder: `crm-workbook demo` of the installed wheel, run in an
    empty folder (about half a minute; tests/test_packaging.py checks that install and folder);
    CRM_TEST_DEMO_REPORT=<folder> reuses one already rendered by the current code."""
    import subprocess

    reuse = os.environ.get("CRM_TEST_DEMO_REPORT")
    if reuse:
        return Path(reuse)

    def render(work: Path) -> None:
        # printed as a consultant gets it (report.pdf when Chromium is installed)
        result = subprocess.run([installed.command("crm-workbook"), "demo"], cwd=work,
                                env={**installed.env, "CRM_REPORT_PDF": "1"}, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr

    work = shared_across_workers(tmp_path_factory, "demo", render)
    return sorted((work / "reports" / "demo").glob("20*-*-*"))[-1]  # the later of its two as-of dates


@pytest.fixture(scope="session")
def simulated_orders(tmp_path_factory):
    """(orders.parquet, as-of) of an ingested generated shop of 3,000 customers over several years:
    every segment class and list is populated. Shared by the session: never change its files."""
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample

    folder = tmp_path_factory.mktemp("simulated-shop")
    out = ingest_file(write_sample(folder / "orders.csv", n_customers=3000), preset="generic",
                      out_dir=folder / "processed")
    return out.orders_path, out.as_of
