"""HTML helpers: table of contents, offline check, index page (no kernel needed)."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from crmlib.report.html import TOC_MARKER, add_toc, chapter_html, external_urls, index_html, report_cells


def test_add_toc_links_headings_inside_main():
    page = (
        f"<body><h2 id='outside'>x</h2>{TOC_MARKER}<main><h2 id='ledger'>1. 取込</h2>"
        "<p>t</p><h3 id='sub'>A &amp; B</h3><h2>no id</h2></main></body>"
    )
    out = add_toc(page, "このページの内容")
    assert TOC_MARKER not in out
    assert '<a href="#ledger">1. 取込</a>' in out
    assert '<li class="crm-toc-3"><a href="#sub">A &amp; B</a></li>' in out
    assert "#outside" not in out
    assert add_toc(f"{TOC_MARKER}<main></main>", "t") == "<main></main>"


def test_external_urls_finds_every_network_reference():
    page = """<html><head><link rel="stylesheet" href="https://cdn.example/x.css">
    <script src="//cdn.example/require.js"></script>
    <style>body { background: url('http://example.com/a.png') } .i { background: url(data:image/png;base64,AA) }
    @import "https://fonts.example/f.css";</style></head>
    <body><a href="#top">top</a><a href="00_data_check.html">ch</a><img src="data:image/png;base64,AA">
    <div style="background-image: url(https://example.com/b.png)"></div></body></html>"""
    assert sorted(external_urls(page)) == sorted([
        "https://cdn.example/x.css", "//cdn.example/require.js", "http://example.com/a.png",
        "https://fonts.example/f.css", "https://example.com/b.png",
    ])


def _tiny_notebook() -> nbformat.NotebookNode:
    hidden = new_markdown_cell("# Notes for the analyst", metadata={"tags": ["notebook-only"]})
    params = new_code_cell("lang = 'ja'", metadata={"tags": ["parameters"]})
    shown = new_code_cell("secret_source_code()", outputs=[
        new_output("display_data", data={"text/html": '<h2 id="s1">売上</h2>', "text/plain": "h"}),
        new_output("stream", name="stderr", text="SomeWarning: noisy\n"),
        new_output("stream", name="stdout", text="kept stdout\n"),
    ])
    silent = new_code_cell("x = 1")
    return new_notebook(cells=[hidden, params, shown, silent],
                        metadata={"kernelspec": {"name": "python3", "display_name": "p", "language": "python"}})


def test_report_cells_keeps_only_what_the_client_sees():
    cells = report_cells(_tiny_notebook()).cells
    assert len(cells) == 1
    assert [o.get("name") for o in cells[0].outputs] == [None, "stdout"]


def test_chapter_html_is_offline_and_has_no_code():
    page = chapter_html(_tiny_notebook(), lang="ja", chapter_title="データチェック",
                        client_title="テスト商店", as_of="2024-05-01", version="9.9")
    assert external_urls(page) == []
    assert "<script" not in page
    assert "secret_source_code" not in page and "Notes for the analyst" not in page
    assert "noisy" not in page and "kept stdout" in page
    assert '<html lang="ja">' in page and "<title>データチェック | テスト商店</title>" in page
    assert '<a href="#s1">売上</a>' in page  # table of contents
    assert "crmlib 9.9 で作成" in page


def test_index_html_escapes_and_links():
    page = index_html(lang="en", client_title="A&B <Shop>", as_of="2024-05-01", version="9.9",
                      chapters=[("00_data_check.html", "Data check")], files=[("ledger.csv", "Ledger")])
    assert "A&amp;B &lt;Shop&gt;: CRM report" in page
    assert '<a href="00_data_check.html">Data check</a>' in page
    assert "As of 2024-05-01" in page and "Made with crmlib 9.9" in page
    assert external_urls(page) == [] and '"Hiragino' in page  # CSS inlined unescaped


def test_warm_pages_compiles_the_exporter_and_changes_no_page():
    """`run` renders one small page in its import thread (warm_pages) so the first chapter page
    does not compile the templates while the chapters run; a page is the same either way."""
    from crmlib.report import html

    nb = new_notebook(cells=[new_markdown_cell("## 売上 & trends"), new_code_cell("", outputs=[
        new_output("display_data", data={"text/html": "<table><tr><td>1,707万円 &lt; 2</td></tr></table>"})])])
    kwargs = dict(lang="ja", chapter_title="診断", client_title="Shop", as_of="2024-04-01", version="1",
                  number=1, embed=False)
    html._exporter.cache_clear()
    cold = chapter_html(nb, **kwargs)
    html._exporter.cache_clear()
    html._environment.cache_clear()
    html.warm_pages("ja")
    compiled = html._exporter.cache_info().currsize
    # the index and report.html templates compiled once, kept by the process's one environment
    assert {key[1] for key in html._environment().cache} >= {"report_index.html.j2", "report_single.html.j2"}
    assert chapter_html(nb, **kwargs) == cold
    assert compiled == 1 and html._exporter.cache_info().hits >= 1  # the warmed exporter served the page
    assert html._exporter("ja").optimistic_validation  # one validation after the preprocessors, not twelve
