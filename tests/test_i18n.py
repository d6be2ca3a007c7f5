"""The message catalogs: same keys and placeholders in ja and en, clear errors."""

from __future__ import annotations

import re

import pytest

from crmlib.i18n import catalog, placeholders, t


def test_catalogs_have_exactly_the_same_keys():
    ja, en = set(catalog("ja")), set(catalog("en"))
    assert ja - en == set(), "keys only in ja.yaml"
    assert en - ja == set(), "keys only in en.yaml"


def test_catalogs_use_the_same_placeholders():
    ja, en = catalog("ja"), catalog("en")
    different = {key for key in ja if placeholders(ja[key]) != placeholders(en[key])}
    assert different == set()


def test_japanese_messages_have_no_folded_spaces():
    # a YAML folded block would put an ASCII space between Japanese sentences
    bad = {k: v for k, v in catalog("ja").items() if "\n" in v or re.search(r"[。、] ", v)}
    assert bad == {}


def test_t_fills_values():
    assert t("report.as_of", "ja", date="2024-05-01") == "基準日 2024-05-01"
    assert t("report.as_of", "en", date="2024-05-01") == "As of 2024-05-01"
    assert t("metric.aov", "ja") == "客単価"


def test_missing_key_names_key_and_language():
    with pytest.raises(KeyError, match=r"no\.such\.key.*'en'"):
        t("no.such.key", "en")


def test_missing_value_names_the_placeholder():
    with pytest.raises(KeyError, match="date"):
        t("report.as_of", "ja")


def test_unsupported_language():
    with pytest.raises(ValueError, match="unsupported language"):
        t("metric.orders", "de")


def test_catalogs_read_by_libyaml_are_the_pure_python_reading(monkeypatch):
    # the catalogs are read with libyaml (about eight times faster, in every chapter's kernel);
    # every message must be what yaml.safe_load's pure-Python loader reads
    import yaml

    from crmlib import i18n

    assert i18n._LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    fast = {lang: dict(catalog(lang)) for lang in ("ja", "en")}
    monkeypatch.setattr(i18n, "_LOADER", yaml.SafeLoader)
    i18n.catalog.cache_clear()
    try:
        assert {lang: i18n.catalog(lang) for lang in ("ja", "en")} == fast
    finally:
        i18n.catalog.cache_clear()
