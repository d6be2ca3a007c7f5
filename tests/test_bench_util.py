"""The side-by-side plumbing of the benchmarks (bench/_util.py): another revision's code in a
temporary worktree, removed afterwards; each side's YAML without the keys its code does not know."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _util

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and a checkout")


def _worktrees() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], check=False, capture_output=True, text=True).stdout


def test_checkout_gives_the_revisions_code_and_leaves_no_worktree():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    with _util.checkout(head) as code:
        assert (code / "crmlib" / "__init__.py").is_file()
        assert str(code) in _worktrees()
        assert _util.makes_deck_and_pdf(code)  # this code knows report: {deck, pdf}
        env = _util.code_env(code)
        assert env["PYTHONPATH"].split(":")[0] == str(code)
    assert not code.exists() and str(code) not in _worktrees()


def test_an_unknown_revision_is_an_error_naming_it():
    with pytest.raises(SystemExit, match="--against no-such-rev"), _util.checkout("no-such-rev"):
        pass


def test_code_older_than_the_deck_gets_no_report_switches(tmp_path):
    (tmp_path / "crmlib").mkdir()
    (tmp_path / "crmlib" / "config.py").write_text("class ReportSettings:\n    logo: str = ''  # no deck yet\n")
    assert not _util.makes_deck_and_pdf(tmp_path)


def test_cut_reads_as_a_percentage():
    assert _util.cut(10.0, 6.0) == "-40%"
    assert _util.cut(3.75, 2.5) == "-33%"
    assert _util.cut(2.0, 3.0) == "+50%"


def test_rounds_alternate_which_side_runs_first():
    sides = {"this checkout": Path("a"), "741695b": Path("b")}
    assert [[name for name, _ in _util.ordered(sides, i)] for i in range(3)] == [
        ["this checkout", "741695b"], ["741695b", "this checkout"], ["this checkout", "741695b"]]
