"""A failed chapter still leaves a report, and rendering some chapters keeps the others (issue 19,
items 4 and 5). The slow tests start Jupyter kernels."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from crmlib.config import parse_config
from crmlib.errors import ChapterFailed, ReportError
from crmlib.i18n import t
from crmlib.report import render_report

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
AS_OF = dt.date(2024, 5, 1)
SECRET = "secret-value-7731"  # the error's text: it must not reach a page


def _config():
    return parse_config({"name": "tiny", "title": "タイニー茶舗", "data": "orders.csv", "lang": "ja"})


def _broken_notebooks(tmp_path: Path) -> Path:
    """00 as it is; 01 with a KeyError right after the heading of its section 2 (trends)."""
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(NOTEBOOKS / "00_data_check.ipynb", folder)
    nb = nbformat.read(NOTEBOOKS / "01_diagnosis.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "trends")
    lines = cell.source.splitlines()
    assert lines[0].startswith('nb.heading(t("diagnosis.trends.heading"')
    cell.source = "\n".join([lines[0], f'raise KeyError("{SECRET}")', *lines[1:]])
    nbformat.write(nb, folder / "01_diagnosis.ipynb")
    return folder


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _without_font(path: Path) -> str:
    """A page without its embedded font subset (one subset is shared by the pages of a run, so it
    changes with the other pages' characters)."""
    return re.sub(r"@font-face \{[^}]*\}", "", _text(path))


@pytest.mark.slow
def test_a_failed_chapter_leaves_a_report_and_a_rerun_of_it_keeps_the_others(tiny_processed_dir, tmp_path):
    root = tmp_path / "reports"
    both = ["00_data_check", "01_diagnosis"]
    folder = render_report(_config(), tiny_processed_dir, AS_OF, root, chapters=both)
    data_check = _without_font(folder / "00_data_check.html")
    good_diagnosis = _without_font(folder / "01_diagnosis.html")

    # 4. the diagnosis fails in its section 2: the report is still written, exit 4
    with pytest.raises(ChapterFailed) as caught:
        render_report(_config(), tiny_processed_dir, AS_OF, root, notebooks_dir=_broken_notebooks(tmp_path),
                      chapters=both)
    assert caught.value.exit_code == 4 and caught.value.chapters == ("01_diagnosis",)
    assert caught.value.report == folder
    assert "chapter 01_diagnosis failed in cell" in caught.value.message  # the console's message, as before
    page = _text(folder / "01_diagnosis.html")
    # the section as the page numbers it: chapter 1, section 2 ('2. 月次推移' -> '1.2 月次推移')
    heading = t("diagnosis.trends.heading", "ja")
    section = re.sub(r"^2\.\s*", "1.2 ", heading)
    where = t("report.failure.in_section", "ja", section=section)
    assert t("report.failure.headline", "ja", where=where, error="KeyError") in page
    assert t("report.failure.todo", "ja", chapter="01_diagnosis").split("`")[0] in page
    assert SECRET not in page and "Traceback" not in page and "raise KeyError" not in page
    assert _without_font(folder / "00_data_check.html") == data_check  # the other chapter renders
    data_check = (folder / "00_data_check.html").read_bytes()
    index = _text(folder / "index.html")
    marks = re.findall(r'<li class="crm-chapter-failed"><a href="([^"]+)"', index)
    assert marks == ["01_diagnosis.html"]
    assert t("report.failure.index_mark", "ja") in index
    report = json.loads(_text(folder / "metrics.json"))["report"]
    assert report["failed"] == ["01_diagnosis"] and "fingerprint" not in report
    assert "diagnosis" not in json.loads(_text(folder / "metrics.json"))  # no half-recorded figures
    kept = nbformat.read(folder / "notebooks" / "01_diagnosis.ipynb", as_version=4)  # the error, in full
    assert any(o.get("ename") == "KeyError" for c in kept.cells for o in c.get("outputs", []))
    assert [p.name for p in folder.parent.iterdir()] == ["2024-05-01"]

    # 5. rendering only the diagnosis again (fixed) keeps the data check's page and its figures
    again = render_report(_config(), tiny_processed_dir, AS_OF, root, chapters=["01_diagnosis"])
    assert again == folder
    assert (folder / "00_data_check.html").read_bytes() == data_check
    assert (folder / "notebooks" / "00_data_check.ipynb").is_file()
    assert _without_font(folder / "01_diagnosis.html") == good_diagnosis
    index = _text(folder / "index.html")
    assert 'href="00_data_check.html"' in index and 'href="01_diagnosis.html"' in index
    assert "crm-chapter-failed" not in index
    single = _text(folder / "report.html")
    assert 'id="00_data_check"' in single and 'id="01_diagnosis"' in single
    metrics = json.loads(_text(folder / "metrics.json"))
    assert metrics["report"]["chapters"] == both and metrics["report"]["failed"] == []
    assert "data_check" in metrics and "diagnosis" in metrics


@pytest.mark.slow
def test_rendering_some_chapters_into_a_report_of_other_data_is_refused(tiny_processed_dir, tmp_path):
    root = tmp_path / "reports"
    folder = render_report(_config(), tiny_processed_dir, AS_OF, root, chapters=["00_data_check"])
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    other = tmp_path / "other"
    shutil.copytree(tiny_processed_dir, other)
    ledger = json.loads(_text(other / "ledger.json"))
    ledger["input_rows"] += 1
    (other / "ledger.json").write_text(json.dumps(ledger), encoding="utf-8")
    with pytest.raises(ReportError, match="made from other data or settings") as caught:
        render_report(_config(), other, AS_OF, root, chapters=["01_diagnosis"])
    assert caught.value.exit_code == 2
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_kept_chapter_keeps_its_own_export_files_only(tmp_path):
    from crmlib.report.pipeline import CHAPTERS, _keep_previous

    final, tmp = tmp_path / "final", tmp_path / "tmp"
    (final / "exports").mkdir(parents=True)
    (final / "notebooks").mkdir()
    (tmp / "notebooks").mkdir(parents=True)
    (final / "exports" / "rfm_01.csv").write_text("segments' list")
    (final / "exports" / "log_template.csv").write_text("strategy's template")
    (final / "notebooks" / "02_segments.ipynb").write_text("{}")
    (final / "metrics.json").write_text(json.dumps({"report": {"exports": {
        "02_segments": ["rfm_01.csv"], "04_strategy": ["log_template.csv"]}}}))
    segments = next(c for c in CHAPTERS if c.name == "02_segments")
    previous = _keep_previous(final, tmp, [segments])  # 04_strategy is rendered again
    assert sorted(p.name for p in (tmp / "exports").iterdir()) == ["rfm_01.csv"]
    assert (tmp / "notebooks" / "02_segments.ipynb").is_file()
    assert previous["report"]["exports"]["04_strategy"] == ["log_template.csv"]


def test_the_cli_exits_4_when_a_chapter_failed(monkeypatch, capsys, tmp_path):
    import signal

    from crmlib import cli

    def failed(*args, **kwargs):
        raise ChapterFailed("the report was written to r/x/2024-05-01, but 1 chapter(s) failed (04_strategy); ...",
                            hint="fix it", report=tmp_path, chapters=("04_strategy",))

    monkeypatch.setattr(cli, "run_client", failed)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # cmd_run's SIGTERM handler: not in pytest
    assert cli.main(["run", "client.yaml"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: the report was written to") and "What to do: fix it" in err
