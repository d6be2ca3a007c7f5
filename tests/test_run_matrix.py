"""The run matrix: `crm-workbook run` over generated shops that stress the chapters (issue 19).

Every cell must end with a report folder holding all five chapters and the documented exit code
(README, "Exit codes": 0 done). The shops are in tests/run_matrix_shops.py. `make test` runs the
two cells that lost the whole report before (values with `$`, `<`, `{{`, an experiment still
running, one with a single group, an empty execution log; no new customers and an empty ladder
stage 1); `make fuzz` (CRM_RUN_MATRIX=full) runs every shop. Starts Jupyter kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from run_matrix_shops import SHOPS, build

from crmlib import registry
from crmlib.i18n import t

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("stress_values", "no_new_customers")
CELLS = list(SHOPS) if os.environ.get("CRM_RUN_MATRIX") == "full" else list(DEFAULT)
CHAPTERS = tuple(registry.chapter_names())


def _run(config: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "crmlib.cli", "run", str(config), "--data-dir", str(tmp_path / "data"),
         "--reports-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )


@pytest.mark.parametrize("shop", CELLS)
def test_every_shop_ends_with_a_whole_report_and_exit_0(shop: str, tmp_path: Path) -> None:
    config = build(shop, tmp_path / "shops")
    done = _run(config, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    name = yaml.safe_load(config.read_text(encoding="utf-8"))["name"]
    reports = list((tmp_path / "reports" / name).iterdir())
    folders = [p for p in reports if p.is_dir() and not p.name.startswith(".")]
    assert len(folders) == 1, reports
    folder = folders[0]
    pages = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}
    assert set(pages) == {"index.html", "report.html", *(f"{c}.html" for c in CHAPTERS)}
    assert "crm-chapter-failed" not in pages["index.html"]
    assert not any('class="crm-failed"' in page for page in pages.values())
    assert not any("<script>x" in page or "<b>store" in page for page in pages.values())  # escaped
    strategy = pages["04_strategy.html"]
    if shop == "stress_values":
        # the experiment still running, the one with only the treated, the log with no rows
        assert "「running」：対象の" in strategy and "観測期間がまだ終わっていないため、比較できません" in strategy and "「treated only」：比較できる対照群の顧客がいません" in strategy
        assert t("strategy.log.empty", "ja") in strategy
        assert "&lt;b&gt;store&lt;/b&gt;" in pages["01_diagnosis.html"] + pages["03_ltv.html"]
    if shop == "no_new_customers":
        assert t("strategy.targets.basis_backtest", "ja") in strategy
