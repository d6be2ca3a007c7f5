"""Japanese prose with full-width punctuation: （）and ： in every Japanese catalog message and
ledger label ({placeholders}, `code`, {{YAML snippets}} and ratios such as 5:25 excepted)."""

from __future__ import annotations

from ja_punctuation import half_width_marks, to_full_width

from crmlib.i18n import catalog


def test_the_check_tells_prose_from_code():
    assert half_width_marks("継続率(現在{rate})を高めると") == ["(", ")"]
    assert half_width_marks("データの限界:このデータでは") == [":"]
    assert half_width_marks("5:25の法則を{x:,}で `mapping: status:` 「- {{stage: arrival}}」") == []
    assert half_width_marks("Retention (current {rate}): English text") == []
    assert to_full_width("上位20%: {share}(目安)") == "上位20%：{share}（目安）"


def test_japanese_catalogs_use_full_width_brackets_and_colons():
    found = {key: marks for key, text in catalog("ja").items() if (marks := half_width_marks(text))}
    assert found == {}


def test_japanese_ledger_labels_use_full_width_brackets():
    from crmlib.ledger import REASONS

    labels = [names["ja"] for names in REASONS.values()]
    assert labels and not [label for label in labels if half_width_marks(label)]
