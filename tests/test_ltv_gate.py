"""The predictive models' validity gate (issue #16, item 4): predictive_status is "ok" only when
the parameters are identified, the holdout error is within the limit and the holdout is not a
peak season. Online Retail (as of 2011-12-10) fails it; CDNOW, the published case, passes.

Independent figures: the season ratio is recomputed here with plain pandas from orders.parquet;
the Online Retail symptoms (BG/NBD a ~ 0.003, P(alive) ~ 100% for everyone) are the issue's.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from datasets import CDNOW_SAMPLE, ONLINE_RETAIL, need

import crmlib.ltv.findings  # noqa: F401  (registers the chapter's summary rules)
from crmlib.findings import FINDING_RULES, Metrics
from crmlib.ingest import ingest_file
from crmlib.ltv import LTVSettings, formula, historical, predictive, text, validation
from crmlib.ltv.headline import headline_metrics
from crmlib.metrics import plain
from crmlib.store.ltv.validation import Check

OR_AS_OF = dt.date(2011, 12, 10)


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory):
    out = tmp_path_factory.mktemp("online_retail_gate")
    return ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out).orders_path


@pytest.fixture(scope="module")
def or_model(online_retail):
    return predictive.predictive_ltv(online_retail, OR_AS_OF, LTVSettings())


@need(ONLINE_RETAIL)
def test_online_retail_fails_the_gate_with_its_reasons(online_retail, or_model):
    model = or_model
    # history 2010-12-01 .. as_of = 374 days; a quarter of it (93.5 -> 94 days) is the holdout
    assert model.calibration_end == OR_AS_OF - dt.timedelta(days=94)
    assert model.status.startswith("failed: ")  # was "ok"
    assert not model.ok and model.fitted
    reasons = set(model.status.removeprefix("failed: ").split(", "))
    assert {"identified", "holdout", "season"} <= reasons
    # the symptom of the issue: drop-out parameter a at the edge, everyone "alive"
    assert model.fits["bgnbd"].a < 0.01
    assert model.scores["p_alive"].mean() > 0.99

    # season: plain pandas over the customers' orders of the last 365 days before as_of
    orders = pd.read_parquet(online_retail, columns=["customer_id", "ordered_at"])
    orders = orders[orders["customer_id"].notna()]
    day = orders["ordered_at"].dt.normalize()
    as_of = pd.Timestamp(OR_AS_OF)
    year_start = max(day.min(), as_of - pd.Timedelta(days=365))
    cal_end = pd.Timestamp(model.calibration_end)
    holdout = int((day >= cal_end).sum())
    year = int((day >= year_start).sum())
    expected = (holdout / year) / (94 / (as_of - year_start).days)
    assert expected > 1.25  # the holdout (8 Sep - 9 Dec 2011) is the Christmas season
    assert model.season["ratio"] == pytest.approx(expected, rel=1e-12)
    assert model.season["order_share"] == pytest.approx(holdout / year, rel=1e-12)

    # holdout error beyond 20%: BG/NBD under-predicts the season
    err = model.errors["bgnbd"]
    assert err["error"] < -0.20


@need(ONLINE_RETAIL)
def test_failed_gate_keeps_predictions_out_of_metrics_summary_and_says_why(online_retail, or_model):
    settings = LTVSettings()
    annual = historical.annual_ltv(online_retail, OR_AS_OF)
    inputs = formula.formula_inputs(online_retail, OR_AS_OF)
    values = plain(headline_metrics(annual, inputs, formula.formula_ltv(inputs, settings), or_model, settings), "ltv")
    assert values["predictive_status"].startswith("failed: ")
    assert "clv" not in values  # no predicted figure anywhere
    assert {g["check"] for g in values["gate"]} >= {"identified", "holdout", "season"}
    rule = FINDING_RULES["predicted_ltv"]
    metrics = Metrics({"ltv": values})
    assert not metrics.has(*rule.needs)  # the summary engine skips the rule
    assert rule.assess(metrics, None) is None  # and the rule itself refuses a failed status
    en = " ".join(text.gate_text(or_model.gate_failures, "en"))
    ja = "".join(text.gate_text(or_model.gate_failures, "ja"))
    assert "no predicted" in en and "peak or quiet season" in en and "cannot be pinned down" in en
    assert "予測LTVを表示せず" in ja and "繁忙期" in ja and "パラメータが定まりません" in ja


@need(CDNOW_SAMPLE)
def test_cdnow_published_split_passes_the_gate(tmp_path):
    """CDNOW sample, 39 weeks calibration (to 1997-09-30) and 39 weeks holdout, as published."""
    orders = ingest_file(CDNOW_SAMPLE, preset="cdnow", out_dir=tmp_path / "cdnow").orders_path
    model = predictive.predictive_ltv(orders, "1998-07-01", LTVSettings(holdout_share=0.5))
    assert model.calibration_end == dt.date(1997, 10, 1)
    assert model.status == "ok", model.status
    assert model.gate_failures == []
    assert 0.8 < model.season["ratio"] < 1.25


def test_identifiability_by_hand():
    # CDNOW's published BG/NBD (FHL 2005): r .243 (se .013), alpha 4.414 (.378), a .793 (.185), b 2.426 (.705)
    published = validation.identifiability("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                                {"r": 0.013, "alpha": 0.378, "a": 0.185, "b": 0.705}, 1.0)
    assert published.ok
    # Online Retail's: a at the edge, b's standard error 3.6 times its estimate
    degenerate = validation.identifiability("bgnbd", {"r": 0.82, "alpha": 9.87, "a": 0.0031, "b": 7.25},
                                 {"r": 0.027, "alpha": 0.37, "a": 0.0104, "b": 25.9}, 1.0)
    assert not degenerate.ok
    assert degenerate.values["at_bound"] == ["a"]
    assert degenerate.values["relative_se"]["b"] == pytest.approx(25.9 / 7.25)
    singular = validation.identifiability("bgnbd", {"r": 1.0, "alpha": 2.0, "a": 0.5, "b": 2.0},
                               {"r": math.nan, "alpha": 0.1, "a": 0.1, "b": 0.1}, 1.0)
    assert not singular.ok and math.isnan(singular.values["relative_se"]["r"])


def test_gate_status_ignores_comparison_models_and_warnings():
    checks = [Check("holdout", False, {"model": "pareto_nbd", "error": -0.3, "limit": 0.2}),
              Check("spend_correlation", False, {"correlation": 0.4, "limit": 0.3}),
              Check("season", True, {"ratio": 1.0})]
    assert validation.gate_status(checks) == "ok"
    checks.append(Check("holdout", False, {"model": "bgnbd", "error": -0.3, "limit": 0.2}))
    assert validation.gate_status(checks) == "failed: holdout"


@need(ONLINE_RETAIL)
def test_the_gate_verdict_is_kept_for_other_chapters_and_read_back_without_a_refit(online_retail, or_model,
                                                                                    monkeypatch):
    # predictive_ltv kept its verdict beside the orders; the products chapter's key accounts read it
    # (crmlib.store.ltv.verdict) and must see the same failure, without fitting again
    from crmlib.store.ltv import verdict

    def refit(*args, **kwargs):
        raise AssertionError("the kept verdict should have been read")

    monkeypatch.setattr(predictive, "predictive_ltv", refit)
    kept = verdict.model_verdict(online_retail, OR_AS_OF, LTVSettings())
    assert kept == verdict.verdict_of(or_model, 7)
    assert not kept.ok and kept.status == or_model.status and kept.failed
    assert kept.params == pytest.approx(or_model.fits["bgnbd"].params)
    # other settings are another verdict: not the kept one
    with pytest.raises(AssertionError, match="kept verdict"):
        verdict.model_verdict(online_retail, OR_AS_OF, LTVSettings(holdout_share=0.3))
