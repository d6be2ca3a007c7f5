"""Executive summary: which findings are chosen, in which order, with which numbers.

The fixture is a small shop's metrics.json written by hand; every expected figure below is
worked out from the fixture's counts in the comments, not taken from the code's output.
"""

from __future__ import annotations

import copy
import sys
import textwrap

import pytest

import crmlib
from crmlib import registry
from crmlib.report.settings import ReportSettings
from crmlib.report.summary import FINDING_RULES, Metrics, executive_summary

# A shop with 200 customers. F2 within 365 days: 30 of 120 eligible first-time buyers = 25.0%
# (below the 30% benchmark; 75.0% never came back). Last quarter: 40 lapsed customers who had
# spent 480,000 in their last year vs 30 new ones bringing 300,000. Revenue 2,000,000 against
# 2,500,000 (down 500,000 = 20.0%); existing customers 700,000 of it = 35.0% (previous 1,000,000 of
# 2,500,000 = 40.0%). Top 10% of customers: 1,100,000 of 2,000,000 = 55.0%, top 20%: 70.0%.
# CPM lapsed cells: 50 + 10 + 8 + 1 + 2 = 71 of 200 customers = 35.5%, revenue shares
# 0.10 + 0.05 + 0.08 + 0.01 + 0.04 = 28.0%. Predicted LTV 864,300 over 200 customers = 4,321.5
# (shown 4,322円, half-up; below 1万 yen prose keeps the exact figure, 864,300 = 86万円). Retention
# 40 of 200 previous customers = 20.0%, +5 points -> 123,456.7 (12.3万, shown 12万円: from 10万 up
# whole 万) = 6.2% of 2,000,000. Prose writes money in 万円 (fmt_money_short).
SHOP = {
    "data_check": {"orders": 500, "customers": 200},
    "coverage": {"customers": 200, "min_customers": 30},
    "diagnosis": {
        "period_months": 12,
        # what the rules require (crmlib.findings requires=): observable first purchases, samples
        # of at least min_customers, new vs existing observable in both periods
        "min_customers": 30, "observed_from": "2022-03-01",
        "f2_headline": {"window_days": 365, "eligible": 120, "converted": 30, "rate": 30 / 120},
        "f2_conversion": {
            "30": {"eligible": 200, "converted": 20, "rate": 20 / 200},
            "90": {"eligible": 180, "converted": 36, "rate": 36 / 180},
            "365": {"eligible": 120, "converted": 30, "rate": 30 / 120},
        },
        "leaky_bucket": {"lost": 40, "lost_revenue": 480000.0, "new": 30, "new_revenue": 300000.0,
                         "reactivated": 5, "active_start": 150, "active_end": 145,  # 150 + 30 + 5 - 40
                         "period_start": "2024-10-01", "period_end": "2025-01-01",
                         "lapse_days": 365, "period": "quarter", "warmup": False},
        "kpis": {
            "current": {"covered": True, "split_observable": True, "customers": 200, "revenue": 2000000.0,
                        "existing_revenue_share": 700000 / 2000000},
            "previous": {"covered": True, "split_observable": True, "customers": 200, "revenue": 2500000.0,
                         "existing_revenue_share": 1000000 / 2500000},
        },
        "retention_value": {"covered": True, "previous_customers": 200, "uplift_points": 5.0, "gain_next_period": 123456.7,
                            "retention_rate": 40 / 200, "gain_share": 123456.7 / 2000000},
        "concentration": {"top10_share": 1100000 / 2000000, "top20_share": 1400000 / 2000000},
    },
    "segments": {"cpm": {
        cell: {"customers": n, "customer_share": n / 200, "revenue_share": r}
        for cell, n, r in [("first", 60, 0.2), ("early", 20, 0.1), ("steady", 30, 0.2), ("trend", 4, 0.05),
                           ("top", 15, 0.17), ("first_lapsed", 50, 0.10), ("early_lapsed", 10, 0.05),
                           ("steady_lapsed", 8, 0.08), ("trend_lapsed", 1, 0.01), ("top_lapsed", 2, 0.04)]
    }},
    "ltv": {"predictive_status": "ok", "failed_checks": [],
            "clv": {"mean": 864300 / 200, "total": 864300.0, "customers": 200, "horizon_months": 36},
            "annual_ltv": 10000.0, "annual_customers": 200, "annual_complete": True, "formula": {"ltv": 25000.0, "retention_years": 2.5, "cpo_ceiling": 25000.0}},
}


def _summary(metrics=SHOP, lang="ja", **settings):
    return executive_summary(metrics, ReportSettings(**settings), lang=lang, currency="JPY")


def test_alerts_come_first_then_priority_and_the_cap():
    found = _summary()
    # alerts: F2 below benchmark, bucket leaking, repeat share < 50%, revenue down, top 10% > 50%
    assert [f.rule for f in found] == [
        "f2_conversion", "leaky_bucket", "repeat_revenue", "revenue_trend", "top_decile",
        "retention_value", "dormant", "predicted_ltv",  # annual_ltv is the ninth: cut at 8
    ]
    assert [f.alert for f in found] == [True] * 5 + [False] * 3
    assert [f.rule for f in _summary(max_findings=5)] == [f.rule for f in found[:5]]


def test_numbers_in_the_japanese_sentences():
    found = {f.rule: f for f in _summary()}
    f2 = found["f2_conversion"]
    assert f2.headline == "25.0%" and f2.href == "01_diagnosis.html#f2"
    assert "F2転換率" in f2.text and "25.0%" in f2.text and "75.0%" in f2.text and "30.0%" in f2.text
    assert "120人中、転換は30人" in f2.text
    bucket = found["leaky_bucket"]
    # money in prose as a consultant writes it: 480,000 -> 48万円, 300,000 -> 30万円
    assert bucket.headline == "48万円" and "40人が離脱" in bucket.text and "30万円" in bucket.text
    assert "直近の四半期（2024年10月1日〜2024年12月31日）" in bucket.text and "新規顧客30人" in bucket.text
    assert "復帰顧客5人" in bucket.text and "稼働顧客は150人から145人に減って" in bucket.text
    assert "35.0%" in found["repeat_revenue"].text and "40.0%" in found["repeat_revenue"].text
    trend = found["revenue_trend"]
    assert "200万円" in trend.text and "250万円" in trend.text and "20.0%減りました" in trend.text
    assert "55.0%" in found["top_decile"].text and "70.0%" in found["top_decile"].text
    value = found["retention_value"]
    assert value.headline == "12万円" and "20.0%" in value.text and "5ポイント" in value.text and "6.2%" in value.text
    dormant = found["dormant"]
    assert dormant.headline == "35.5%" and "71人" in dormant.text and "28.0%" in dormant.text
    # issue 16: CPM lapsed customers are 離脱 (a number of days), not the RFM segment 休眠顧客
    assert "離脱客" in dormant.text and "休眠顧客" not in dormant.text and "2人" in dormant.text
    ltv = found["predicted_ltv"]
    assert ltv.headline == "4,322円" and "86万円" in ltv.text and "36か月" in ltv.text and "200人" in ltv.text


def test_english_sentences_carry_the_same_numbers():
    found = {f.rule: f for f in _summary(lang="en")}
    assert "25.0%" in found["f2_conversion"].text and "30 of 120" in found["f2_conversion"].text
    assert "down 20.0%" in found["revenue_trend"].text
    assert "In the last full quarter (2024-10-01 to 2024-12-31), 40 customers lapsed" in found["leaky_bucket"].text
    assert "active customers fell from 150 to 145" in found["leaky_bucket"].text
    for finding in found.values():
        assert not any("\u3040" <= c <= "\u9fff" for c in finding.text), finding.text


def test_observations_when_nothing_is_wrong():
    shop = copy.deepcopy(SHOP)
    shop["diagnosis"]["f2_conversion"]["365"].update(converted=48, rate=48 / 120)  # 40.0% >= 30%
    shop["diagnosis"]["f2_headline"].update(converted=48, rate=48 / 120)
    # new and returning customers outnumber the lapsed (35 + 10 > 40): the base grew, whatever the
    # lapsed customers' year of spend against the new ones' quarter (Online Retail's case)
    shop["diagnosis"]["leaky_bucket"].update(new=35, reactivated=10, active_end=155)
    found = {f.rule: f for f in _summary(shop)}
    assert found["f2_conversion"].alert is False and "目安の30.0%に届いています" in found["f2_conversion"].text
    assert found["leaky_bucket"].alert is False
    # the benchmark is a setting: 45% makes 40% an alert again
    assert {f.rule: f for f in _summary(shop, f2_benchmark=0.45)}["f2_conversion"].alert is True


def test_a_closed_customer_base_is_not_said_to_cancel_out_acquisition():
    # CDNOW's shape: every customer was acquired before the last quarter; lapses shrink the base,
    # and there is no acquisition for them to "cancel out" (the old sentence named 0 new customers)
    shop = copy.deepcopy(SHOP)
    shop["diagnosis"]["leaky_bucket"].update(new=0, new_revenue=0.0)
    for lang, said, never in (("ja", "新規顧客はいなかった", "新規顧客0人"), ("en", "No new customers came in", "0 new")):
        bucket = {f.rule: f for f in _summary(shop, lang=lang)}["leaky_bucket"]
        assert bucket.alert is True and said in bucket.text and never not in bucket.text
        assert ("48万円" if lang == "ja" else "¥480K") in bucket.text


def test_missing_chapters_and_keys_degrade_to_what_is_there():
    only_diagnosis = {"diagnosis": copy.deepcopy(SHOP["diagnosis"])}
    del only_diagnosis["diagnosis"]["kpis"]["previous"]
    rules = [f.rule for f in _summary(only_diagnosis)]
    assert rules == ["f2_conversion", "leaky_bucket", "repeat_revenue", "top_decile", "retention_value"]
    assert _summary({}) == [] and _summary({"report": {"client": "x"}}) == []
    # an LTV whose model failed its checks gives no predicted LTV
    failed = copy.deepcopy(SHOP)
    failed["ltv"]["failed_checks"] = [{"check": "spend_q"}]
    assert "predicted_ltv" not in [f.rule for f in _summary(failed, max_findings=12)]
    failed["ltv"]["failed_checks"] = [{"check": "holdout", "model": "bgnbd"}]
    assert "predicted_ltv" not in [f.rule for f in _summary(failed, max_findings=12)]
    # Pareto/NBD is shown for comparison only: its failed check leaves the BG/NBD scores standing
    failed["ltv"]["failed_checks"] = [{"check": "at_cap", "model": "pareto_nbd"}]
    assert "predicted_ltv" in [f.rule for f in _summary(failed, max_findings=12)]
    # chapters not in this report are left out even when metrics.json holds them
    found = executive_summary(SHOP, ReportSettings(max_findings=12), lang="ja", currency="JPY",
                              chapters=["00_data_check", "01_diagnosis"])
    assert {f.chapter for f in found} == {"01_diagnosis"}


def test_f2_falls_back_to_the_longest_window_and_nulls_are_missing():
    import pandas as pd

    from crmlib.diagnosis import f2_headline
    f2 = pd.DataFrame({"window_days": [30, 180, 365], "eligible": [50, 40, 0], "converted": [5, 14, 0],
                       "rate": [0.1, 14 / 40, None]})
    # 365 days has nobody, so the longest window with at least 30 customers: 180 days, 14 of 40
    diagnosis = {"observed_from": "2022-03-01", "min_customers": 30, "f2_headline": f2_headline(f2, 30)}
    (f2,) = _summary({"diagnosis": diagnosis})
    assert "180日以内" in f2.text and f2.headline == "35.0%"
    assert Metrics({"a": {"b": None, "c": float("nan")}}).get("a.c") is None
    assert not Metrics({"a": {"b": None}}).has("a.b")


def test_a_chapter_adds_findings_through_its_registry_entry(tmp_path, monkeypatch):
    # a new chapter: its own package with a findings module and one registry entry; the summary
    # engine is not edited
    package = tmp_path / "zz_plan"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "findings.py").write_text(textwrap.dedent('''
        from crmlib.findings import Assessment, Count, finding_rule

        @finding_rule("zz_goal_gap", chapter="05_zz_plan", anchor="goals", priority=99,
                      needs=("zz_plan.gap",), message="summary.empty")
        def goal_gap(m, settings):
            return Assessment(True, {"gap": Count(m.get("zz_plan.gap"))})
    '''))
    monkeypatch.setattr(crmlib, "__path__", [*crmlib.__path__, str(tmp_path)])
    entry = registry.Chapter("05_zz_plan", "Plan", "計画", findings="crmlib.zz_plan.findings", metrics="zz_plan")
    monkeypatch.setattr(registry, "CHAPTERS", (*registry.CHAPTERS, entry))
    try:
        found = executive_summary({**SHOP, "zz_plan": {"gap": 1234}}, ReportSettings(), lang="ja", currency="JPY")
        assert found[0].rule == "zz_goal_gap" and found[0].href == "05_zz_plan.html#goals"
        assert found[0].headline == "1,234"
        # without its metrics the rule is skipped, not an error
        assert "zz_goal_gap" not in [f.rule for f in _summary()]
        # a report without the chapter does not show its findings
        chapters = [c for c in registry.chapter_names() if c != "05_zz_plan"]
        shown = executive_summary({**SHOP, "zz_plan": {"gap": 1}}, ReportSettings(), lang="ja", currency="JPY",
                                  chapters=chapters)
        assert "zz_goal_gap" not in [f.rule for f in shown]
    finally:
        FINDING_RULES.pop("zz_goal_gap", None)
        for name in ("crmlib.zz_plan.findings", "crmlib.zz_plan"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_rule_sentence_exists(lang):
    # each registered rule renders in both languages on the full fixture (no KeyError)
    assert len(_summary(lang=lang, max_findings=12)) == 9  # the shop has no strategy section


def test_strategy_chapter_findings():
    # 3 goals: one 'beyond' (more than 1.5x the largest yearly change seen), one 'stretch' (above
    # it, within 1.5x), one 'within'; two trials: the significant one lifted buying from 18.0% to
    # 26.0% = 8.0 points (5.5 to 10.5). The summary judges goals as section 4.1 does: the goal
    # beyond reach is the alert, named by its label; the stretch goal (no label: its metric and
    # window) is named as a stretch, not as one the shop "never achieved" (the demo's F2 goal read
    # "act: never achieved" in the summary and "a stretch" in 4.1)
    strategy = {"goals": [{"metric": "revenue", "feasibility": "beyond", "label": "年間売上 前年比130%"},
                          {"metric": "f2_rate", "feasibility": "stretch", "label": None, "window_days": 90},
                          {"metric": "aov", "feasibility": "within"}],
                "experiments": [
                    {"name": "F2フォローメール", "window_days": 60, "treated": 0.26, "control": 0.18,
                     "difference": 0.08, "low": 0.055, "high": 0.105, "p": 0.001},
                    {"name": "クーポン", "window_days": 30, "treated": 0.40, "control": 0.10,
                     "difference": 0.30, "low": -0.1, "high": 0.7, "p": 0.2},  # not significant: ignored
                ]}
    found = {f.rule: f for f in _summary({"strategy": strategy}, max_findings=12)}
    goals = found["strategy_goals"]
    assert goals.alert and goals.headline == "目標3件中1件"
    assert "目標3件のうち1件「年間売上 前年比130%」は過去に例のない水準" in goals.text
    assert "ほかに「F2転換率（90日以内・直近期間の初回購入者）」は挑戦的な水準です" in goals.text
    en = {f.rule: f for f in _summary({"strategy": strategy}, max_findings=12, lang="en")}["strategy_goals"]
    assert en.headline == "1 of 3 goals" and ": 年間売上 前年比130%. " in en.text
    assert "Also a stretch (above the shop's best year, within 1.5 times it): F2 conversion (90 days, the latest period's first-time buyers)." in en.text
    assert goals.href == "04_strategy.html#goals"
    # a stretch goal alone is a note, worded as 4.1 words it
    stretch = {**strategy, "goals": strategy["goals"][1:]}
    only = {f.rule: f for f in _summary({"strategy": stretch}, max_findings=12)}["strategy_goals"]
    assert not only.alert and only.headline == "目標2件中1件" and "挑戦的な水準です" in only.text
    assert "実績のない" not in only.text
    trial = found["strategy_experiment"]
    assert not trial.alert and trial.headline == "+8.0 pt"
    assert "F2フォローメール" in trial.text and "18.0%から26.0%" in trial.text and "5.5〜10.5" in trial.text
    strategy["goals"] = [{"metric": "aov", "feasibility": "within"}]
    assert _summary({"strategy": strategy})[0].alert is False


def test_rules_declare_what_they_rest_on_and_are_skipped_without_it():
    # issue 16: no finding on existing customers' share or F2 that rests on left-censored customers
    shop = copy.deepcopy(SHOP)
    shop["diagnosis"]["kpis"]["current"]["split_observable"] = False  # period starts in the look-back
    del shop["diagnosis"]["observed_from"]  # F2 not restricted to observable first purchases
    rules = [f.rule for f in _summary(shop, max_findings=12)]
    assert "repeat_revenue" not in rules and "f2_conversion" not in rules
    # a sample below the floor feeds no finding: 29 eligible < 30
    shop = copy.deepcopy(SHOP)
    shop["diagnosis"]["f2_headline"]["eligible"] = 29
    shop["diagnosis"]["kpis"]["current"]["customers"] = 12  # top decile of 12 customers is one customer
    rules = [f.rule for f in _summary(shop, max_findings=12)]
    assert "f2_conversion" not in rules and "top_decile" not in rules and "repeat_revenue" not in rules
    # 年間LTV on less than a year of data, or on fewer customers than the floor, is no finding
    # (found by tests/test_summary_properties.py on a generated 155-day shop of 17 customers)
    shop = copy.deepcopy(SHOP)
    shop["ltv"]["annual_complete"] = False
    assert "annual_ltv" not in [f.rule for f in _summary(shop, max_findings=12)]
    shop["ltv"].update(annual_complete=True, annual_customers=29)
    assert "annual_ltv" not in [f.rule for f in _summary(shop, max_findings=12)]
    assert "annual_ltv" in [f.rule for f in _summary(SHOP, max_findings=12)]
    # every rule that needs a sample or coverage says so
    for name in ("f2_conversion", "repeat_revenue", "top_decile", "leaky_bucket", "retention_value", "annual_ltv"):
        assert FINDING_RULES[name].requires, name


def test_no_sentence_makes_a_priority_of_nobody():
    shop = copy.deepcopy(SHOP)
    shop["segments"]["cpm"]["top_lapsed"]["customers"] = 0
    found = {f.rule: f for f in _summary(shop, lang="en", max_findings=12)}
    assert "lapsed top customers" not in found["dormant"].text and "first to win back" not in found["dormant"].text
    # a cell the history is too short to fill (top_lapsed needs 210 + 240 days) is no priority either
    shop = copy.deepcopy(SHOP)
    shop["segments"]["cpm_unobservable"] = {"top_lapsed": 450}
    found = {f.rule: f for f in _summary(shop, lang="en", max_findings=12)}
    assert "first to win back" not in found["dormant"].text
    # a finding whose headline is zero customers or no money is dropped
    from crmlib.findings import Assessment, Count, FindingRule
    from crmlib.report.summary import _substantive
    rule = FindingRule("x", "01_diagnosis", "a", 1, (), lambda m, s: None, headline="n")
    assert not _substantive(Assessment(True, {"n": Count(0)}), rule)
    assert _substantive(Assessment(True, {"n": Count(3)}), rule)


def test_revenue_without_a_customer_is_a_finding_and_a_data_limit():
    from crmlib.report.limits import data_limits
    metrics = {"coverage": {"no_customer_revenue": 1510677.49, "no_customer_share": 0.1474, "customers": 4334,
                            "min_customers": 30, "censored_customers": 1985, "observable_customers": 2349,
                            "data_start": "2010-12-01", "observed_from": "2011-03-22", "history_days": 374},
               "diagnosis": {"kpis": {"current": {"split_observable": False}}, "retention_value": {"covered": False},
                             "period_months": 12}}
    found = executive_summary(metrics, ReportSettings(), lang="en", currency="GBP")
    assert [f.rule for f in found] == ["no_customer_revenue"] and not found[0].alert
    assert "14.7%" in found[0].text and "£1.5M" in found[0].text  # prose money: 1,510,677.49 = 1.51 million
    limits = data_limits(metrics, "en", "GBP")
    assert len(limits) == 4 and "14.7%" in limits[0] and "1,985" in limits[1] and "5:25" in limits[3]
    assert all(line for line in data_limits(metrics, "ja", "GBP"))


def test_f2_on_a_shorter_window_is_not_judged_against_the_365_day_benchmark():
    # the benchmark counts 365 days: 25.0% within 90 days (30 of 120) may still reach 30% within a
    # year, so it is no alert; 40.0% within 90 days (48 of 120) is above it at 365 days as well
    shop = copy.deepcopy(SHOP)
    shop["diagnosis"]["f2_headline"].update(window_days=90)
    (f2,) = [f for f in _summary(shop, lang="en") if f.rule == "f2_conversion"]
    assert not f2.alert and "within 90 days" in f2.text and "cannot observe yet" in f2.text
    shop["diagnosis"]["f2_headline"].update(converted=48, rate=48 / 120)
    (f2,) = [f for f in _summary(shop, lang="ja") if f.rule == "f2_conversion"]
    assert not f2.alert and "90日以内" in f2.text and "すでに届いています" in f2.text and f2.headline == "40.0%"
