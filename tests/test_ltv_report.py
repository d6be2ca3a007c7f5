"""The chapter's pieces around the models: settings, the too-little-data path, text, tables, figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from crmlib.ltv import LTVSettings, charts, display, formula, historical, predictive, tables, text
from crmlib.ltv.headline import headline_metrics
from crmlib.store.ltv.validation import Check, frequency_bucket, model_checks
from crmlib.metrics import plain
from crmlib.style import apply_style


def test_settings_defaults_and_typos():
    settings = LTVSettings.model_validate({})
    # no gross margin unless the client gives one (issue #16): revenue is not profit
    assert (settings.cpa, settings.gross_margin, settings.discount_rate) == (None, None, 0.10)
    assert (settings.horizon_months, settings.holdout_share, settings.min_repeat_buyers) == (36, 0.25, 200)
    with pytest.raises(ValidationError, match="extra"):
        LTVSettings.model_validate({"cpa": 3000, "retention_cost": 100})
    with pytest.raises(ValidationError):
        LTVSettings.model_validate({"gross_margin": 1.5})


def test_too_little_data_is_a_message_not_a_failure(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    settings = LTVSettings()
    result = predictive.predictive_ltv(orders, "2024-05-01", settings)
    assert result.status == "too_little_data" and not result.ok
    assert result.repeat_buyers < 200
    message = text.too_little_data(result.repeat_buyers, result.min_repeat_buyers, "ja")
    assert "200人" in message and "予測LTVは算出しません" in message
    annual = historical.annual_ltv(orders, "2024-05-01")
    inputs = formula.formula_inputs(orders, "2024-05-01")
    values = headline_metrics(annual, inputs, formula.formula_ltv(inputs, settings), result, settings)
    assert plain(values, "ltv")["predictive_status"] == "too_little_data"
    assert "params" not in values and values["annual_ltv"] == pytest.approx(8500 / 3)


def test_predictive_on_simulated_orders_runs_end_to_end(simulated_orders):
    settings = LTVSettings(min_repeat_buyers=50, horizon_months=12)
    result = predictive.predictive_ltv(*simulated_orders, settings)
    assert result.ok, result.status
    assert set(result.fits) == {"bgnbd", "pareto_nbd", "gamma_gamma"}
    assert len(result.scores) == result.customers and result.scores["clv"].notna().all()
    assert result.scores["p_alive"].between(0, 1).all()
    assert result.tracking["actual"].is_monotonic_increasing
    assert result.tracking["holdout"].any() and not result.tracking["holdout"].all()
    assert result.by_frequency["customers"].sum() <= result.customers
    segments = predictive.clv_segments(result, "first_channel")
    assert segments["customers"].sum() == result.customers
    assert segments["clv_share"].sum() == pytest.approx(1.0)
    assert segments["clv_total"].is_monotonic_decreasing
    cohorts = predictive.clv_segments(result, "cohort", "quarter")
    assert cohorts["segment"].is_monotonic_increasing and cohorts["customers"].sum() == result.customers


def test_checks_and_warnings():
    checks = model_checks({"bgnbd": {"error": -0.25}, "pareto_nbd": {"error": 0.05}}, spend_q=0.8,
                          correlation=0.45, converged={"bgnbd": True})
    failed = [c.key for c in checks if not c.ok]
    assert failed == ["holdout", "spend_q", "spend_correlation"]
    ja = text.warnings(checks, "ja")
    assert len(ja) == 3
    assert len(text.warnings(checks, "ja", only={"holdout"})) == 1
    assert len(text.warnings(checks, "ja", skip={"holdout"})) == 2
    assert "BG/NBD" in ja[0] and "-25.0%" in ja[0] and "±20%" in ja[0]
    assert "0.80" in ja[1] and "0.45" in ja[2]
    assert text.warnings([Check("converged", False, {"model": "pareto_nbd"})], "en")[0].startswith("The Pareto/NBD fit")
    capped = model_checks({}, spend_q=None, correlation=0.0, converged={}, at_cap={"pareto_nbd": True, "bgnbd": False})
    assert [(c.key, c.ok) for c in capped if c.key == "at_cap"] == [("at_cap", False), ("at_cap", True)]
    assert "Pareto/NBD" in text.warnings(capped, "ja")[0] and "BG/NBD" in text.warnings(capped, "en")[0]
    html = display.warning_html("<b>x</b>")
    assert 'class="crm-warning"' in html and "&lt;b&gt;" in html


def test_labels_and_buckets():
    assert text.cohort_label(pd.Timestamp("2024-04-01"), "quarter", "ja") == "2024年4〜6月"
    assert text.cohort_label(pd.Timestamp("2024-04-01"), "quarter", "en") == "Apr–Jun 2024"
    assert text.cohort_label(pd.Timestamp("2024-01-01"), "year", "ja") == "2024年"
    assert text.lever_name("retention", "points", 0.05, "ja") == "継続率 +5pt"
    assert text.lever_name("cpa", "relative", -0.10, "en") == "CPA -10%"
    assert frequency_bucket(pd.Series([0, 3, 7, 12])).tolist() == ["0", "3", "7+", "7+"]
    assert tables.param_text(1.1e-7) == "1.1e-07" and tables.param_text(0.24259) == "0.2426"
    assert tables.param_text(float("nan")) == "—"


def test_takeaways_on_the_tiny_case(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    cohorts = historical.cumulative_ltv(orders, "2024-05-01")
    ja = text.cohort_takeaway(cohorts, "month", "ja", "JPY")
    assert ja.startswith("初回購入月から0か月目までの1人あたり累積売上は、"
                         "2024年1月獲得の顧客で1,750円、2024年4月獲得の顧客で3,000円")
    groups = historical.cumulative_ltv(orders, "2024-05-01", by="first_channel")
    en = text.groups_takeaway(groups, "first_channel", "en", "JPY")
    assert '"App" (¥3,000)' in en and '"Web" (¥1,750)' in en and "1.7 times" in en  # display names of app/web
    assert "省略" in text.groups_takeaway(None, None, "ja", "JPY")
    settings = LTVSettings(cpa=1000, retention_cost_per_customer_year=100, gross_margin=0.5)
    inputs = formula.formula_inputs(orders, "2024-05-01")
    result = formula.formula_ltv(inputs, settings, historical.cumulative_ltv(orders, "2024-05-01", by="all"))
    sentence = text.formula_takeaway(result, "ja", "JPY")
    assert sentence.startswith("客単価1,700円×年間購入頻度") and "上限CPO" in sentence and "  " not in sentence
    table = tables.formula_table(inputs, result, "en", "JPY")
    assert table.iloc[0].tolist()[:2] == ["Average order value (AOV)", "¥1,700"]
    assert "CPO ceiling" in table.iloc[:, 0].tolist()
    levers = formula.lever_table(inputs, settings, result)
    assert len(tables.lever_table(levers, result, "ja", "JPY")) == len(levers) == 8


def test_figures_render(tiny_processed_dir):
    apply_style("ja")
    orders = tiny_processed_dir / "orders.parquet"
    cohorts = historical.cumulative_ltv(orders, "2024-05-01")
    fig = charts.cumulative_chart(cohorts, "cohort", "month", "ja", "JPY")
    assert fig.axes[0].get_title() == "獲得時期別 1人あたり累積売上"
    tracking = pd.DataFrame({"period_end": pd.date_range("2024-01-07", periods=10, freq="7D"), "t": np.arange(1, 11.0),
                             "holdout": [False] * 7 + [True] * 3, "actual": np.arange(10.0), "bgnbd": np.arange(10.0) * 1.1})
    fig = charts.tracking_chart(tracking, "2024-02-20", "en")
    assert [line.get_label() for line in fig.axes[0].get_lines()][:2] == ["Actual", "BG/NBD"]
    buckets = pd.DataFrame({"bucket": ["0", "1", "7+"], "customers": [5, 3, 1], "actual": [0.1, 0.5, 2.0],
                            "bgnbd": [0.2, 0.4, 2.5], "pareto_nbd": [0.1, 0.5, 2.2]})
    fig = charts.frequency_chart(buckets, "ja")
    assert len(fig.axes[0].patches) == 9
    assert math.isclose(fig.axes[0].patches[0].get_height(), 0.1)


def test_models_read_a_hash_sample_above_max_model_customers(simulated_orders):
    """1,000 of about 3,000 customers: exact counts per segment, means from the sample, totals scaled."""
    from crmlib.store.ltv.summary import rfm_summary

    path, as_of = simulated_orders
    orders = pd.read_parquet(path)
    orders = orders[orders["ordered_at"] < pd.Timestamp(as_of)].sort_values(["ordered_at", "order_id"])
    firsts = orders.drop_duplicates("customer_id")  # each customer's first order (pandas, not the SQL)
    everyone = len(firsts)
    full = predictive.predictive_ltv(path, as_of, LTVSettings(min_repeat_buyers=50))
    sampled = predictive.predictive_ltv(path, as_of, LTVSettings(min_repeat_buyers=50, max_model_customers=1000))
    assert not full.sampled and full.sample_sizes is None and full.customers == everyone
    assert sampled.sampled and sampled.sample_share == pytest.approx(1000 / everyone)
    n = len(sampled.scores)
    assert 1000 - 4 * math.sqrt(1000) < n < 1000 + 4 * math.sqrt(1000)  # binomial, 4 sigma
    assert sampled.sample_sizes == (n, everyone)
    # the same customers every time, and the calibration sample is part of the full one
    again = rfm_summary(path, as_of, None, 7, sample_share=sampled.sample_share)
    assert again["customer_id"].tolist() == sampled.summary["customer_id"].tolist()
    calibration = rfm_summary(path, as_of, sampled.calibration_end, 7, sample_share=sampled.sample_share)
    assert set(calibration["customer_id"]) <= set(sampled.summary["customer_id"])
    # weighted by cohort x first channel: exact counts per channel and per cohort, one total everywhere
    period = historical.choose_period(path, as_of)
    by_channel = predictive.clv_segments(sampled, "first_channel").set_index("segment")
    by_cohort = predictive.clv_segments(sampled, "cohort", period).set_index("segment")
    assert by_channel["customers"].to_dict() == firsts["channel"].value_counts().to_dict()
    cohorts = firsts["ordered_at"].dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).dt.start_time
    assert by_cohort["customers"].to_dict() == cohorts.value_counts().to_dict()
    total = predictive.total_clv(sampled)
    assert by_channel["clv_total"].sum() == pytest.approx(total) == pytest.approx(by_cohort["clv_total"].sum())
    assert sampled.weights.sum() == pytest.approx(everyone)
    # what the sample estimates is close to what every customer gives
    assert abs(sampled.scores["p_alive"].mean() - full.scores["p_alive"].mean()) < 0.05
    assert sampled.errors["bgnbd"]["actual"] == pytest.approx(full.errors["bgnbd"]["actual"], rel=0.2)
    values = headline_metrics(historical.annual_ltv(path, as_of), formula.formula_inputs(path, as_of),
                              formula.formula_ltv(formula.formula_inputs(path, as_of), LTVSettings()), sampled,
                              LTVSettings())
    assert values["clv"]["customers"] == everyone and values["clv"]["model_customers"] == n
    assert values["clv"]["total"] == pytest.approx(total)
    assert values["clv"]["mean"] == pytest.approx(total / everyone)
    lead = text.validation_lead(sampled.calibration_end, as_of, "en", sampled.sample_sizes)
    assert f"random {n:,} of them" in lead and f"{everyone:,} customers" in lead
    assert "無作為に抽出した" in text.validation_lead(sampled.calibration_end, as_of, "ja", sampled.sample_sizes)


def test_stratum_weights_by_hand():
    """Cells quarter x first channel: 10 web and 5 app customers in Q1, 4 web and 2 app in Q2; the
    sample holds 2 Q1-web, 1 Q1-app and 2 Q2-web customers. Q2-app has nobody in the sample, so its
    2 customers go to Q2's sampled cell: Q2-web rows stand for (4 + 2) / 2 = 3 customers each."""
    day = pd.Timestamp
    summary = pd.DataFrame({
        "first_purchase": [day("2024-01-05"), day("2024-02-01"), day("2024-03-30"), day("2024-04-02"), day("2024-06-30")],
        "first_channel": ["web", "web", "app", "web", "web"],
    })
    population = pd.DataFrame({
        "first_purchase": [day("2024-01-10"), day("2024-02-10"), day("2024-01-20"), day("2024-05-01"), day("2024-05-02")],
        "first_channel": ["web", "web", "app", "web", "app"],
        "customers": [6, 4, 5, 4, 2],
    })
    weights = predictive.stratum_weights(summary, population, "quarter", "first_channel")
    assert weights.tolist() == [5.0, 5.0, 5.0, 3.0, 3.0]
    assert weights.sum() == population["customers"].sum()


def test_the_open_frequency_bucket_reads_as_or_more() -> None:
    """The last bucket of the holdout-by-frequency table is '7+': the sentence says 7回以上 / 7 or
    more, not 「7+回の顧客」."""
    from crmlib.ltv.text import frequency_takeaway

    table = pd.DataFrame({"bucket": ["0", "1", "7+"], "customers": [900, 300, 219],
                          "actual": [0.2, 0.8, 6.0], "bgnbd": [0.25, 0.7, 4.1]})
    assert "リピート購入が7回以上の顧客（219人）" in frequency_takeaway(table, "ja")
    assert "customers with 7 or more repeat purchases" in frequency_takeaway(table, "en")
    assert "リピート購入が1回の顧客（300人）" in frequency_takeaway(table.iloc[:2], "ja")


def test_two_models_with_one_answer_are_not_offered_as_a_second_check():
    """Online Retail's holdout: 4,545 repeat purchases, BG/NBD and Pareto/NBD both predicted 3,407
    (both fitted as if no customer dropped out); the page offered Pareto/NBD "for comparison"."""
    from crmlib.ltv import text

    errors = {"bgnbd": {"actual": 4545, "predicted": 3407.2, "error": 3407.2 / 4545 - 1},
              "pareto_nbd": {"actual": 4545, "predicted": 3406.9, "error": 3406.9 / 4545 - 1}}
    same = text.tracking_takeaway(errors, pd.Timestamp("2011-09-07"), pd.Timestamp("2011-12-10"), "en")
    assert "predicted the same 3,407 (error -25.0%)" in same and "no second check" in same
    assert "同じ3,407回" in text.tracking_takeaway(errors, pd.Timestamp("2011-09-07"), pd.Timestamp("2011-12-10"), "ja")
    errors["pareto_nbd"] = {"actual": 4545, "predicted": 4100.0, "error": 4100 / 4545 - 1}
    apart = text.tracking_takeaway(errors, pd.Timestamp("2011-09-07"), pd.Timestamp("2011-12-10"), "en")
    assert "Pareto/NBD, for comparison, predicted 4,100 (error -9.8%)." in apart
