"""Confidentiality and language of a whole report (issue #8), end to end: ingest + every chapter.

An order file with e-mails, phone numbers and customer names planted in it (the sample shop,
small, plus a name column, customer ids that are e-mail addresses, and a shifted line whose date
column holds contact details) goes through the ingest once and the full report in Japanese and in
English (rendered side by side from the same ingest). Then every
file of the report folder (HTML, ipynb, CSV, xlsx, JSON) is searched for the contact details
and names, every src/href of every page must stay inside the folder, and each language's pages
must not show the other language's interface text.
"""

from __future__ import annotations

import csv
import html
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
import yaml

from crmlib.config import load_config
from crmlib.i18n import catalog, placeholders
from crmlib.ingest import ingest_client
from crmlib.ledger import REASONS
from crmlib.report import render_report
from crmlib.report.chromium import find_chromium
from crmlib.report.pipeline import default_notebooks_dir
from crmlib.report.warm import WarmKernel
from crmlib.sample import write_sample

pytestmark = pytest.mark.slow

NAMES = ["山田 花子", "佐藤 健太", "Hanako Yamada", "Kenta Sato", "鈴木 一郎"]
EMAIL_IDS = ["vip.customer@example.co.jp", "shop.fan+1@example.ne.jp"]  # customer ids that are e-mails
SHIFTED = {"email": "shifted.line@example.jp", "phone": "03-5555-0199", "name": "高橋 三郎"}
EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
DIGIT_RUN = re.compile(r"\+?\d[\d\- ()]{7,}\d")
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
# contact details typed into the text columns the chapters print (issue #19 item 7): one whole
# class of each column is replaced, so the value is big enough to reach tables, figures and
# takeaway sentences; (column, class replaced, planted value, what must not appear)
IN_TEXT_COLUMNS = [
    ("channel", "app", "sato.jiro@example.jp", ["sato.jiro"]),
    ("category", "食品", "\uff10\uff18\uff10\uff0d\uff12\uff12\uff12\uff12\uff0d\uff13\uff13\uff13\uff13",  # ０８０－２２２２－３３３３
     ["\uff12\uff12\uff12\uff12", "2222-3333", "08022223333"]),
    ("source", "ads", "ref:+81-80-4444-5555", ["4444-5555", "+81-80"]),
    ("product", "アミノ酸シャンプー 500mL", "シャンプー 担当 03-7777-8888", ["7777-8888"]),
    ("region", "埼玉県", "TEL 09011112222", ["09011112222"]),
    ("sku", "HG001", "090-3333-4444", ["3333-4444"]),
]


def _plant(folder: Path) -> tuple[Path, pd.DataFrame]:
    """The sample shop (600 customers) with names, e-mail customer ids and one shifted line."""
    path = folder / "orders.csv"
    write_sample(path, n_customers=600)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    codes = frame["customer_id"].where(frame["customer_id"] != "", frame["email"])
    frame["氏名"] = [NAMES[hash(code) % len(NAMES)] for code in codes]  # every row has a planted name
    members = [c for c in frame["customer_id"].unique() if c][:2]
    for member, email in zip(members, EMAIL_IDS):
        frame.loc[frame["customer_id"] == member, "customer_id"] = email
    for column, replaced, value, _ in IN_TEXT_COLUMNS:
        assert (frame[column] == replaced).sum() > 10, column  # the class exists and is not tiny
        frame.loc[frame[column] == replaced, column] = value
    shifted = frame.iloc[0].copy()
    shifted["order_id"], shifted["ordered_at"] = "O-SHIFTED", f"{SHIFTED['name']} {SHIFTED['phone']}"
    shifted["email"], shifted["氏名"] = SHIFTED["email"], SHIFTED["name"]
    frame = pd.concat([frame, shifted.to_frame().T], ignore_index=True)
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path, frame


def _config(folder: Path, lang: str) -> Path:
    path = folder / f"pii-{lang}.yaml"
    path.write_text(yaml.safe_dump({
        "name": f"pii-{lang}", "title": "PII Test Shop", "data": "orders.csv", "preset": "generic",
        "lang": lang, "currency": "JPY",
        "report": {"pdf": find_chromium() is not None},  # the PDF's text is searched too when it can be printed
    }), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(input frame, {lang: report folder}) for one planted input rendered in ja and en."""
    folder = tmp_path_factory.mktemp("pii")
    _, frame = _plant(folder)
    configs = {lang: load_config(_config(folder, lang)) for lang in ("ja", "en")}
    ingested = ingest_client(configs["ja"], folder / "data" / "processed")
    def render(config):
        # one warm kernel per language, as a batch worker runs them: one kernel start instead of five
        with WarmKernel(default_notebooks_dir()) as kernel:
            return render_report(config, ingested.out_dir, ingested.as_of, folder / "reports", kernel=kernel)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two kernels at a time: about half the wall time
        jobs = {lang: pool.submit(render, config) for lang, config in configs.items()}
        reports = {lang: job.result() for lang, job in jobs.items()}
    assert reports["ja"].name == "2025-04-01"  # the sample's last order is 2025-03-31
    return frame, reports


def _text_of(path: Path) -> str:
    """A report file as text: xlsx and pptx XML members unzipped, report.pdf's extracted text,
    everything else read as UTF-8 (BOM kept out)."""
    if path.suffix in (".xlsx", ".pptx"):
        with zipfile.ZipFile(path) as book:
            return "\n".join(book.read(name).decode("utf-8") for name in book.namelist()
                             if name.endswith((".xml", ".rels")))
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return path.read_text(encoding="utf-8-sig")


def _report_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".json", ".csv", ".xlsx"} <= kinds, kinds
    return files


def _digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return "0" + digits[2:] if digits.startswith("81") else digits


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_contact_details_or_names_in_any_report_file(planted, lang):
    frame, reports = planted
    emails = {e.lower() for e in frame["email"] if e} | {e.lower() for e in EMAIL_IDS} | {SHIFTED["email"]}
    phones = {_digits(p) for p in frame["phone"] if p} | {_digits(SHIFTED["phone"])}
    assert len(emails) > 300 and len(phones) > 50  # the input really holds contact details
    leaks = []
    for path in _report_files(reports[lang]):
        text = _text_of(path)
        found = [m for m in EMAIL_LIKE.findall(text) if m.lower() in emails or "@example" in m.lower()]
        found += [m for m in DIGIT_RUN.findall(text) if _digits(m) in phones]
        found += [name for name in NAMES + [SHIFTED["name"]] if name in text]
        found += [local for local in (e.split("@")[0] for e in EMAIL_IDS) if local in text]
        found += [raw for *_, raws in IN_TEXT_COLUMNS for raw in raws if raw in text or html.escape(raw) in text]
        if found:
            leaks.append((str(path.relative_to(reports[lang])), sorted(set(found))[:5]))
    assert leaks == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_masked_text_values_still_reach_the_pages_masked(planted, lang):
    """The planted classes are still there, masked: the data check says which columns were
    masked, and the masked channel and category show in the chapters' pages."""
    _, reports = planted
    pages = {p.name: html.unescape(p.read_text(encoding="utf-8")) for p in reports[lang].glob("*.html")}
    check = next(text for name, text in pages.items() if name.startswith("00_"))
    item = {"ja": r"{}[\d,]+行", "en": r"{} \([\d,]+ of the kept lines\)"}[lang]
    labels = {"ja": ["チャネル", "カテゴリ", "流入元", "商品名", "地域", "SKU"],
              "en": ["channel", "category", "source", "product", "region", "SKU"]}[lang]
    assert {"ja": "連絡先の伏せ字", "en": "Contact details masked"}[lang] in check
    assert all(re.search(item.format(label), check) for label in labels), labels
    assert any("<e-mail>" in text for text in pages.values())
    assert any("<phone>" in text for text in pages.values())


class _Refs(HTMLParser):
    """Every URL-bearing attribute of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "srcset", "poster", "data", "action") and value is not None:
                self.refs.append((tag, name, value))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_src_and_href_stays_inside_the_report_folder(planted, lang):
    folder = planted[1][lang]
    pages = sorted(folder.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "report.html", "00_data_check.html", "03_ltv.html"}
    ids_of = {}
    for page in pages:
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8"))
        ids_of[page.name] = (parser.ids, parser.refs)
    for name, (ids, refs) in ids_of.items():
        assert refs, name
        for tag, attr, value in refs:
            where = (name, tag, attr, value[:60])
            parts = urlsplit(value)
            assert not value.startswith("//"), where
            if parts.scheme == "data":
                assert tag in ("img", "source"), where
                continue
            assert parts.scheme == "" and parts.netloc == "", where  # no http(s):, file:, mailto: ...
            target = (folder / unquote(parts.path)).resolve() if parts.path else folder / name
            assert target == folder or folder in target.parents, where  # nothing outside the folder
            assert target.exists(), where
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in ids_of[target.name][0], where  # anchors resolve
    # report.html is self-contained: only in-file anchors and embedded images
    single = ids_of["report.html"][1]
    assert all(v.startswith(("#", "data:")) for _, _, v in single), [v for _, _, v in single if v[0] != "#"][:5]


def _visible_text(page: str) -> str:
    """Text and attribute values a reader can see (entities decoded), without <style>, <script>
    or data: URIs."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"data:[^\"')\s]+", " ", page)
    return html.unescape(page)


def _english_only_fragments() -> set[str]:
    """Literal pieces of English interface text (between placeholders) that Japanese never uses."""
    en, ja = catalog("en"), catalog("ja")
    fragments = set()
    for key, text in en.items():
        for piece in re.split(r"\{[^}]*\}", text):
            piece = piece.strip(" .,:;()·-")
            if len(piece) >= 12 and len(piece.split()) >= 3 and piece not in ja[key]:
                fragments.add(piece)
    fragments |= {reason["en"] for reason in REASONS.values()}
    return fragments


def test_japanese_pages_show_no_english_interface_text(planted):
    fragments = _english_only_fragments()
    assert len(fragments) > 200
    folder = planted[1]["ja"]
    for page in sorted(folder.glob("*.html")):
        text = _visible_text(page.read_text(encoding="utf-8"))
        assert [f for f in fragments if f in text] == [], page.name


def test_english_pages_show_japanese_only_in_client_data(planted):
    frame, reports = planted
    # the client's own words: product, category, region, channel ... values of the input
    data_words = set()
    for column in ("product", "category", "region", "channel", "status", "source", "sku"):
        data_words |= {v for v in frame[column].unique() if v}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(data_words, key=len, reverse=True)))
    for page in sorted(reports["en"].glob("*.html")):
        text = pattern.sub(" ", _visible_text(page.read_text(encoding="utf-8")))
        stray = sorted(set(CJK.findall(text)))
        context = [text[max(0, m.start() - 30): m.end() + 30] for m in CJK.finditer(text)][:3]
        assert stray == [], (page.name, context)


def test_placeholders_match_so_both_languages_show_the_same_numbers():
    ja, en = catalog("ja"), catalog("en")
    assert {k for k in ja if placeholders(ja[k]) != placeholders(en[k])} == set()


# ---- the batch index (issue #19 item 8)

def test_batch_index_and_summary_show_no_raw_example_of_a_failed_client(tmp_path):
    """A client whose dates hold e-mails and phone numbers fails in the ingest with examples in
    its message. The batch's console, index.html, index-summary.json and comparison CSV leave the
    client's own log: they show the examples redacted as in ledger.json. The client's log keeps
    the full message (it is the client's own console)."""
    import io
    import json

    from crmlib.batch import run_batch

    rows = [f"O{i},C{i},{SHIFTED['email'] if i % 2 else SHIFTED['name'] + ' ' + SHIFTED['phone']},100\n"
            for i in range(40)]
    (tmp_path / "leaky.csv").write_text("order_id,customer_id,ordered_at,amount\n" + "".join(rows), encoding="utf-8")
    (tmp_path / "leaky.yaml").write_text("name: leaky\ndata: leaky.csv\npreset: generic\nlang: en\n", encoding="utf-8")
    console = io.StringIO()
    outcomes = run_batch([tmp_path / "leaky.yaml"], data_dir=tmp_path / "data", reports_dir=tmp_path / "reports",
                         workers=1, warm=False, lang="en", stream=console, tty=False)
    assert [o["status"] for o in outcomes] == ["failed"]
    # the error line still says what is wrong, with the examples' shape
    assert "order dates cannot be read" in outcomes[0]["error"]
    assert "line 2: '** ** <phone>'" in outcomes[0]["error"] and "line 3: '<e-mail>'" in outcomes[0]["error"]
    shown = {"console": console.getvalue()}
    for path in (tmp_path / "reports").iterdir():
        if path.is_file():
            shown[path.name] = path.read_text(encoding="utf-8-sig")
    assert {"index.html", "index-summary.json"} <= set(shown)
    json.loads(shown["index-summary.json"])
    for where, text in shown.items():
        for raw in (SHIFTED["email"], SHIFTED["phone"], SHIFTED["name"], "shifted.line"):
            assert raw not in text and html.escape(raw) not in text, (where, raw)
    log = (tmp_path / "reports" / "batch-logs" / "leaky.log").read_text(encoding="utf-8")
    assert SHIFTED["email"] in log  # the client's own console keeps the full message
