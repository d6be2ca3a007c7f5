"""Data codes with display names: a channel recorded as web/app/store reads ウェブ/アプリ/店舗 in a
Japanese report (catalog defaults), names the client gives in report.display_names win, and a bad
display_names section is refused when the YAML is loaded."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from crmlib.config import parse_config
from crmlib.display import display_value, use_names, use_processed, write_names
from crmlib.errors import ConfigError


@pytest.fixture(autouse=True)
def _catalog_names_only():
    use_names(None)
    yield
    use_names(None)


def test_catalog_names_by_language_and_unknown_codes_as_they_are():
    assert [display_value("channel", c, "ja") for c in ("web", "app", "store")] == ["ウェブ", "アプリ", "店舗"]
    assert [display_value("channel", c, "en") for c in ("web", "app", "store")] == ["Web", "App", "Store"]
    assert display_value("channel", "WEB", "ja") == "ウェブ"  # matched in lower case too
    assert display_value("source", "affiliate", "ja") == "アフィリエイト"
    assert display_value("channel", "kiosk-7", "ja") == "kiosk-7"  # no name: the code itself
    assert display_value("category", "お茶", "ja") == "お茶"


def test_client_names_win_and_travel_through_the_processed_folder(tmp_path):
    write_names(tmp_path, {"channel": {"web": "公式サイト", "7": "カタログ"}})
    use_processed(tmp_path)
    assert display_value("channel", "web", "ja") == "公式サイト"
    assert display_value("channel", 7, "ja") == "カタログ"
    assert display_value("channel", "app", "ja") == "アプリ"  # not named by the client: the catalog's
    use_processed(tmp_path / "nothing-kept")
    assert display_value("channel", "web", "ja") == "ウェブ"


def test_chapters_show_display_names():
    """The LTV group label, the segment profile's top channels and the F2 split table."""
    from crmlib.diagnosis.funnel import segment_value
    from crmlib.ltv.text import group_label
    from crmlib.segments.report import _top_text

    assert group_label("web", "first_channel", "month", "ja") == "ウェブ"
    tops = pd.DataFrame({"segment": ["a", "a"], "dimension": ["channel", "channel"], "value": ["web", "app"],
                         "share": [0.6, 0.4]})
    assert _top_text(tops, "channel", "ja") == {"a": "ウェブ 60%、アプリ 40%"}
    use_names({"channel": {"app": "自社アプリ"}})
    assert _top_text(tops, "channel", "ja") == {"a": "ウェブ 60%、自社アプリ 40%"}
    assert segment_value("store", "ja", "channel") == "店舗"


BASE = {"name": "acme", "data": "orders.csv"}


def test_display_names_are_validated_on_load():
    config = parse_config({**BASE, "report": {"display_names": {"channel": {"web": "公式サイト", 1: "電話"}}}})
    from crmlib.report.settings import load_report_settings

    assert load_report_settings(config.report).display_names == {"channel": {"web": "公式サイト", "1": "電話"}}
    bad = [
        ({"medium": {"web": "ウェブ"}}, "display_names.medium"),
        ({"channel": {"web": ""}}, "display_names.channel.web"),
        ({"channel": {"web": "ウェブ", "pc": "ウェブ"}}, "both named 'ウェブ'"),
        ({"channel": ["web", "app"]}, "code: name pairs"),
    ]
    for names, expected in bad:
        with pytest.raises(ConfigError) as caught:
            parse_config({**BASE, "report": {"display_names": names}}, "acme.yaml")
        assert "acme.yaml" in str(caught.value) and expected in str(caught.value), str(caught.value)


@pytest.mark.slow
def test_the_japanese_demo_shows_no_raw_channel_code(demo_report):
    """The demo's channels are web/app/store: its diagnosis, segments and LTV pages name them."""
    code = re.compile(r"(?<![\w./-])(?:web|app|store)(?![\w./-])")
    for name in ("01_diagnosis.html", "02_segments.html", "03_ltv.html"):
        page = (demo_report / name).read_text(encoding="utf-8")
        shown = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)))
        assert not code.findall(shown), name
        assert "ウェブ" in shown, name
