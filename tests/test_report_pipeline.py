"""render_report end to end on the tiny processed folder (starts Jupyter kernels)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from crmlib import __version__
from crmlib.config import parse_config
from crmlib.errors import ConfigError, ReportError
from crmlib.report import render_report
from crmlib.report.chromium import find_chromium
from crmlib.report.pdf import pdf_wanted
from crmlib.report.pipeline import check_parameters

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
AS_OF = dt.date(2024, 5, 1)


def _config(lang: str = "ja"):
    return parse_config({"name": "tiny", "title": "タイニー茶舗", "data": "orders.csv", "lang": lang})


@pytest.fixture(scope="module")
def report(tiny_processed_dir, tmp_path_factory):
    """One rendered report (ja) of the tiny case; tests read it, the failure test reuses its root."""
    root = tmp_path_factory.mktemp("reports")
    folder = render_report(_config(), tiny_processed_dir, AS_OF, root, chapters=["00_data_check"])
    return root, folder


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


class _Refs(HTMLParser):
    """Every tag with its attributes, plus the text of <style> elements."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False if tag == "style" else self._style

    def handle_data(self, data):
        if self._style:
            self.styles.append(data)


def _parse(page: str) -> _Refs:
    refs = _Refs()
    refs.feed(page)
    return refs


def test_report_folder_layout(report):
    root, folder = report
    assert folder == root.resolve() / "tiny" / "2024-05-01"
    names = {str(p.relative_to(folder)) for p in folder.rglob("*")}
    assert names == {
        "index.html", "report.html", "00_data_check.html", "notebooks", "notebooks/00_data_check.ipynb",
        "ledger.json", "ledger.csv", "metrics.json", "report.pptx", "consultant", "consultant/notes.html",
    } | ({"report.pdf"} if pdf_wanted(None) else set())  # printed when Chromium is installed (and wanted)
    assert [p.name for p in folder.parent.iterdir()] == ["2024-05-01"]  # no temporary folders left


def test_metrics_hold_the_hand_computed_figures(report):
    metrics = json.loads((report[1] / "metrics.json").read_text(encoding="utf-8"))
    dc = metrics["data_check"]
    assert (dc["orders"], dc["customers"], dc["revenue"], dc["aov"]) == (5, 3, 8500.0, 1700.0)
    assert dc["gap_months"] == ["2024-03"] and dc["ledger_reconciles"] is True
    assert dc["first_order"] == "2024-01-10T10:00:00" and dc["last_order"] == "2024-04-30T23:59:00"
    assert metrics["report"] == {
        "client": "tiny", "as_of": "2024-05-01", "lang": "ja", "currency": "JPY",
        "chapters": ["00_data_check"], "crmlib_version": __version__,
        # no chapter failed; which metrics sections each chapter recorded (a later --chapters run keeps them)
        "failed": [], "sections": {"00_data_check": ["coverage", "data_check"]}, "exports": {},  # coverage: issue 16
    }


def test_ledger_files_are_copied(report, tiny_processed_dir):
    folder = report[1]
    assert (folder / "ledger.json").read_bytes() == (tiny_processed_dir / "ledger.json").read_bytes()
    lines = (folder / "ledger.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "reason,label,rows,amount" and len(lines) == 5  # input, kept, 2 reasons


def test_html_is_offline_without_code_and_with_embedded_images(report):
    folder = report[1]
    pages = sorted(folder.glob("*.html"))
    assert [p.name for p in pages] == ["00_data_check.html", "index.html", "report.html"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        refs = _parse(text)
        for tag, attrs in refs.tags:
            for name in ("src", "href"):
                value = attrs.get(name) or ""
                assert not value.lower().startswith(("http:", "https:", "//")), (page.name, tag, value)
            assert not (tag == "script" and "src" in attrs), page.name
            assert not (tag == "link" and "href" in attrs), page.name
        for css in refs.styles:
            assert "url(http" not in css.replace("'", "").replace('"', "").replace(" ", "")
        assert "jp-InputArea" not in text and "highlight-ipynb" not in text  # no code input
        assert "datacheck.basic_counts" not in text and "record_metrics" not in text
        assert "In&nbsp;[" not in text and "Out[" not in text  # no prompts
    chapter = (folder / "00_data_check.html").read_text(encoding="utf-8")
    images = [attrs for tag, attrs in _parse(chapter).tags if tag == "img"]
    assert len(images) == 1
    assert all(img["src"].startswith("data:image/png;base64,") and img.get("alt") for img in images)


def test_chapter_page_shows_the_numbers_in_japanese(report):
    text = (report[1] / "00_data_check.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in text and "<h1>0. データチェック</h1>" in text  # numbered after 00_
    assert "元データ10行（9,700円）のうち7行（8,500円）を分析対象とし" in text
    assert "2024年3月の1か月は注文が0件です" in text
    assert "<td>客単価</td>" in text and '<td class="crm-num">¥1,700</td>' in text
    assert '<a href="#coverage">0.3 月別の注文数' in text  # table of contents, numbered sections (2 is returns)
    assert "Glyph" not in text


def test_index_links_every_chapter(report):
    text = (report[1] / "index.html").read_text(encoding="utf-8")
    assert "タイニー茶舗 CRM分析レポート" in text and "基準日 2024-05-01" in text
    assert '<a href="00_data_check.html">0. データチェック</a>' in text
    # footer: the data fingerprint from the tiny ledger (tiny.csv, 10 input rows, no sha256 recorded)
    assert "<li>元データ tiny.csv（10行）</li>" in text
    assert f"crmlib {__version__}" in text


def test_executed_notebook_is_kept_without_glyph_warnings(report):
    nb = nbformat.read(report[1] / "notebooks" / "00_data_check.ipynb", as_version=4)
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [t for t in texts if "Glyph" in t]
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_same_inputs_give_the_same_pages_and_replace_the_old_folder(report, tiny_processed_dir, tmp_path):
    root, folder = report
    before = {p.name: p.read_bytes() for p in folder.glob("*.html")}
    (folder / "stale.txt").write_text("from an older run")
    again = render_report(_config(), tiny_processed_dir, AS_OF, root, chapters=["00_data_check"])
    assert again == folder
    assert not (folder / "stale.txt").exists()
    assert {p.name: p.read_bytes() for p in folder.glob("*.html")} == before
    assert [p.name for p in folder.parent.iterdir()] == ["2024-05-01"]


def _copy_notebook(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.read(NOTEBOOKS / "00_data_check.ipynb", as_version=4)
    edit(nb)
    nbformat.write(nb, folder / "00_data_check.ipynb")
    return folder


def test_undeclared_parameter_is_an_error(tiny_processed_dir, tmp_path):
    def drop_settings(nb):
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("settings"))

    folder = _copy_notebook(tmp_path, drop_settings)
    with pytest.raises(ReportError, match=r"00_data_check\.ipynb: unknown parameter\(s\) settings"):
        render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "reports", notebooks_dir=folder,
                      chapters=["00_data_check"])
    assert not (tmp_path / "reports" / "tiny").exists() or not any((tmp_path / "reports" / "tiny").iterdir())


def test_check_parameters_names_the_parameter():
    with pytest.raises(ReportError, match="unknown parameter.*colour"):
        check_parameters(NOTEBOOKS / "00_data_check.ipynb", {"lang": "ja", "colour": "red"})


def test_failing_notebook_names_chapter_and_cell_and_still_writes_the_report(report, tiny_processed_dir, tmp_path):
    # a failed chapter no longer keeps the previous report as it was (issue 19): the report is
    # written with the chapter's failure page (tests/test_report_partial.py), the error names
    # chapter and cell as before, and the run exits 4
    root = tmp_path / "reports"
    shutil.copytree(report[0] / "tiny", root / "tiny")
    folder = root / "tiny" / "2024-05-01"

    def break_it(nb):
        index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "setup") + 1
        nb.cells.insert(index, new_code_cell('raise ValueError("boom in test")', id="broken"))
        assert index == 4

    broken = _copy_notebook(tmp_path, break_it)
    with pytest.raises(ReportError) as caught:
        render_report(_config(), tiny_processed_dir, AS_OF, root, notebooks_dir=broken, chapters=["00_data_check"])
    message = str(caught.value)
    assert caught.value.exit_code == 4
    assert "chapter 00_data_check failed in cell 4" in message
    assert "starting 'raise ValueError(\"boom in test\")'" in message
    assert "ValueError: boom in test" in message
    page = (folder / "00_data_check.html").read_text(encoding="utf-8")
    assert 'class="crm-failed"' in page and "boom in test" not in page
    assert [p.name for p in folder.parent.iterdir()] == ["2024-05-01"]


def test_unknown_chapter_and_missing_inputs(tiny_processed_dir, tmp_path):
    with pytest.raises(ConfigError, match="unknown chapter"):  # a user error: exit 2
        render_report(_config(), tiny_processed_dir, AS_OF, tmp_path, chapters=["99_nothing"])
    partial = tmp_path / "partial"
    shutil.copytree(tiny_processed_dir, partial)
    (partial / "ledger.json").unlink()
    with pytest.raises(ReportError, match="missing ledger.json"):
        render_report(_config(), partial, AS_OF, tmp_path)


def test_kept_notebook_does_not_point_into_the_temporary_folder(report):
    nb = nbformat.read(report[1] / "notebooks" / "00_data_check.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'metrics_path = ""' in injected.source and ".tmp-" not in injected.source
    assert 'as_of = "2024-05-01"' in injected.source


def test_chapter_exports_land_in_the_report_and_the_index(tiny_processed_dir, tmp_path):
    from crmlib.report.warm import WarmKernel

    with WarmKernel(tmp_path) as kernel:  # one kernel start for the two chapters
        folder = render_report(_config(), tiny_processed_dir, AS_OF, tmp_path, chapters=["00_data_check", "02_segments"],
                               kernel=kernel)
    exports = sorted(p.name for p in (folder / "exports").iterdir())
    assert "segments.xlsx" in exports and any(name.endswith(".csv") for name in exports)
    # which chapter wrote which file (a later --chapters run keeps the other chapters' files)
    recorded = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["report"]["exports"]
    assert recorded == {"02_segments": exports}
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert 'href="exports/"' in index and "CSV・Excel、メール配信用" in index


def test_index_says_csv_only_when_the_workbook_was_left_out(tmp_path):
    from crmlib.report.pipeline import exports_label

    (tmp_path / "rfm_01_champions.csv").write_text("customer_id\r\n", encoding="utf-8")
    assert exports_label(tmp_path, "ja") == "顧客リスト（セグメント別、離脱の兆しがある優良顧客。CSV、メール配信用）"
    assert "Excel" not in exports_label(tmp_path, "en")
    (tmp_path / "segments.xlsx").write_bytes(b"")
    assert exports_label(tmp_path, "ja") == "顧客リスト（セグメント別、離脱の兆しがある優良顧客。CSV・Excel、メール配信用）"


def test_warm_kernel_gives_the_same_pages_as_a_new_kernel_per_chapter(tiny_processed_dir, tmp_path):
    # All chapters, rendered once with a new kernel per chapter (two at a time) and once one
    # after the other in one warm kernel, as a batch worker (and `run` on a small machine) does:
    # a namespace reset between chapters must leave nothing that changes a page.
    from crmlib.report.warm import WarmKernel

    fresh = render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "fresh", workers=2)
    with WarmKernel(tmp_path) as kernel:
        warm = render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "warm", kernel=kernel)
        assert kernel.starts == 1
    pages = sorted(p.name for p in fresh.glob("*.html"))
    assert len(pages) == 8  # index, report.html and the six chapters
    assert sorted(p.name for p in warm.glob("*.html")) == pages
    for name in pages:
        assert (warm / name).read_bytes() == (fresh / name).read_bytes(), name
    assert json.loads((warm / "metrics.json").read_text()) == json.loads((fresh / "metrics.json").read_text())


def test_chapters_run_one_after_the_other_share_one_kernel_and_a_failure_still_names_its_cell(
        tiny_processed_dir, tmp_path, monkeypatch):
    # With one chapter at a time (workers=1, the default on 2 cores) the report makes one warm
    # kernel for all its chapters; a chapter that fails in it is reported as with new kernels.
    from crmlib.report import warm

    starts = []
    real_start = warm.WarmKernel._start
    monkeypatch.setattr(warm.WarmKernel, "_start", lambda self: (starts.append(1), real_start(self))[1])
    folder = render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "ok", workers=1,
                           chapters=["00_data_check", "01_diagnosis", "02_segments"])
    assert len(starts) == 1
    assert {p.name for p in folder.glob("0*.html")} == {"00_data_check.html", "01_diagnosis.html", "02_segments.html"}

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOKS / "00_data_check.ipynb", notebooks)
    nb = nbformat.read(NOTEBOOKS / "01_diagnosis.ipynb", as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "setup") + 1
    nb.cells.insert(index, new_code_cell('raise ValueError("boom in the second chapter")', id="broken"))
    nbformat.write(nb, notebooks / "01_diagnosis.ipynb")
    with pytest.raises(ReportError) as caught:
        render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "failed", notebooks_dir=notebooks,
                      workers=1, chapters=["00_data_check", "01_diagnosis"])
    assert f"chapter 01_diagnosis failed in cell {index}" in str(caught.value)
    assert "ValueError: boom in the second chapter" in str(caught.value)
    assert len(starts) == 2

    # above WARM_KERNEL_MAX_ORDERS every chapter gets a new kernel (none of the last one's memory)
    import crmlib.report.pipeline as pipeline

    monkeypatch.setattr(pipeline, "WARM_KERNEL_MAX_ORDERS", 4)  # the tiny case has 5 orders
    render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "big", workers=1,
                  chapters=["00_data_check", "01_diagnosis"])
    assert len(starts) == 2
    # a batch worker's warm kernel is left alone too, and the chapters run one at a time even
    # where the machine would run them in parallel (each worker would multiply the peak memory)
    seen = []
    real_run_all = pipeline._run_all
    monkeypatch.setattr(pipeline, "_run_all", lambda jobs, cwd, workers, kernel=None, share_kernel=True, **kw: (
        seen.append((workers, kernel, share_kernel)), real_run_all(jobs, cwd, workers, kernel, share_kernel, **kw))[1])
    monkeypatch.setattr(pipeline, "default_workers", lambda jobs: 4)
    with warm.WarmKernel(tmp_path) as kernel:
        render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "big", chapters=["00_data_check"],
                      kernel=kernel)
        assert kernel.notebooks == 0 and len(starts) == 2
    assert seen[-1] == (1, None, False)

    # share_kernel=False (the batch bench's --cold): a new kernel per chapter at any size
    monkeypatch.setattr(pipeline, "WARM_KERNEL_MAX_ORDERS", 1_000_000)
    render_report(_config(), tiny_processed_dir, AS_OF, tmp_path / "cold", workers=1,
                  chapters=["00_data_check", "01_diagnosis"], share_kernel=False)
    assert len(starts) == 2 and seen[-1] == (1, None, False)
