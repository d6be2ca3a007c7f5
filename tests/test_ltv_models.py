"""BG/NBD, Pareto/NBD and Gamma-Gamma against the published CDNOW estimates, plus the numerics.

Published values (Fader, Hardie & Lee 2005; Fader & Hardie's notes), CDNOW sample, 2,357
customers, calibration to 1997-09-30, weeks, same-day purchases merged. Four-decimal values
must agree within 0.1%, two-decimal values within 0.5%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime, check_grad

from crmlib.ingest import ingest_file
from crmlib.ltv import bgnbd, expected_clv, fit_bgnbd, fit_gamma_gamma, fit_pareto_nbd, gamma_gamma, pareto_nbd, rfm_summary
from crmlib.store.ltv.fitting import compact_rows
from crmlib.ltv.simulate import simulate_bgnbd, simulate_spend

from datasets import CDNOW_MASTER, CDNOW_SAMPLE, need


def close(value: float, published: float, rel: float) -> bool:
    return abs(value - published) <= rel * abs(published)


@pytest.fixture(scope="module")
def cdnow_orders(tmp_path_factory):
    out = tmp_path_factory.mktemp("cdnow") / "processed"
    return ingest_file(CDNOW_SAMPLE, preset="cdnow", out_dir=out).orders_path


@pytest.fixture(scope="module")
def calibration(cdnow_orders):
    return rfm_summary(cdnow_orders, "1997-10-01", time_unit_days=7)


@need(CDNOW_SAMPLE)
def test_summary_reproduces_the_published_counts(cdnow_orders, calibration):
    assert len(calibration) == 2357
    assert (calibration["x"] > 0).sum() == 946
    assert calibration["x"].sum() == 2457  # repeat transactions in weeks 1-39
    assert calibration["T"].max() == pytest.approx(272 / 7)  # 1997-01-01 .. 1997-09-30
    holdout = rfm_summary(cdnow_orders, "1998-07-01", calibration_end="1997-10-01")
    assert holdout["x_holdout"].sum() == 1882  # repeat transactions in weeks 40-78
    assert holdout["holdout_length"].iloc[0] == pytest.approx(39.0)
    assert holdout["x"].tolist() == calibration["x"].tolist()


@need(CDNOW_SAMPLE)
def test_bgnbd_matches_published_estimates(calibration):
    fit = fit_bgnbd(calibration)
    for name, published in {"r": 0.2426, "alpha": 4.4136, "a": 0.7930, "b": 2.4259}.items():
        assert close(fit.params[name], published, 0.001), (name, fit.params[name])
    assert close(fit.log_likelihood, -9582.43, 0.005)
    assert fit.log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert fit.n == 2357 and fit.converged
    assert fit.distinct_rows < 1100  # identical (x, t_x, T) rows are fitted once
    assert all(0 < fit.se[name] < fit.params[name] for name in fit.params)
    expected = fit.expected_purchases(39, 2, 30.43, 38.86)
    assert close(float(expected), 1.226, 0.001)


@need(CDNOW_SAMPLE)
def test_pareto_nbd_matches_published_estimates(calibration):
    fit = fit_pareto_nbd(calibration)
    for name, published in {"r": 0.5533, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715}.items():
        assert close(fit.params[name], published, 0.001), (name, fit.params[name])
    assert fit.log_likelihood == pytest.approx(-9594.98, abs=0.01)
    assert fit.extra["at_cap"] == 0.0


@need(CDNOW_SAMPLE)
def test_gamma_gamma_matches_published_estimates(calibration):
    fit = fit_gamma_gamma(calibration)
    assert fit.n == 946
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert close(fit.params[name], published, 0.005), (name, fit.params[name])
    assert fit.log_likelihood == pytest.approx(-4055.92, abs=0.01)
    buyers = calibration[calibration["x"] > 0]
    assert np.corrcoef(buyers["x"], buyers["monetary_value"])[0, 1] == pytest.approx(0.11, abs=0.01)
    # E[M | x, m] is a weighted mean of the population mean p v / (q-1) and the customer's mean
    spend = fit.expected_spend(np.array([0.0, 1.0, 10.0]), np.array([np.nan, 100.0, 100.0]))
    assert spend[0] == pytest.approx(fit.population_mean_spend)
    assert spend[0] < spend[1] < spend[2] < 100.0


def test_bgnbd_gradient_and_compact_likelihood_match_the_reference():
    s = simulate_bgnbd(3000, r=0.3, alpha=5.0, a=0.8, b=2.5, observation_days=400, acquisition_days=200, seed=3)
    rows = compact_rows(x=s["x"], t_x=s["t_x"], T=s["T"])
    data = bgnbd._Data.from_rows(rows)
    params = np.array([0.35, 4.0, 0.7, 3.0])
    value, grad = bgnbd._nll_and_gradient(params, data)
    assert value == pytest.approx(-bgnbd.log_likelihood(params, s["x"], s["t_x"], s["T"]).sum(), rel=1e-12)
    numeric = approx_fprime(params, lambda p: bgnbd._nll_and_gradient(p, data)[0], 1e-7)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)


def test_gamma_gamma_gradient_matches_finite_differences():
    x = np.array([1, 1, 2, 3, 5, 8], dtype=float)
    m = np.array([10.0, 12.5, 30.0, 8.0, 20.0, 15.0])
    rows = compact_rows(x=x, m=m)
    data = gamma_gamma._Data.from_rows(rows)
    params = np.array([4.0, 3.0, 20.0])
    value, grad = gamma_gamma._nll_and_gradient(params, data)
    assert value == pytest.approx(-gamma_gamma.log_likelihood(params, x, m).sum(), rel=1e-12)
    numeric = approx_fprime(params, lambda p: gamma_gamma._nll_and_gradient(p, data)[0], 1e-7)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("params", [
    (0.55, 10.5, 0.6, 11.7),  # alpha < beta: Euler's form of 2F1
    (0.55, 11.7, 0.6, 10.5),  # alpha > beta: the direct series
    (0.5, 10.0, 0.6, 10.0),  # alpha = beta: z = 0
    (0.3, 5.0, 1.0, 40.0),  # s = 1
    (2.0, 30.0, 3.0, 5.0),
])
def test_pareto_nbd_gradient_matches_numerical_differentiation(params):
    """The analytic gradient the fit uses (scipy's check_grad: forward differences of the likelihood),
    and the compact likelihood equals the per-customer reference."""
    s = simulate_bgnbd(3000, r=0.3, alpha=5.0, a=0.8, b=2.5, observation_days=400, acquisition_days=200, seed=3)
    s.loc[s.index[:3], ["x", "t_x"]] = [[60, 50.0], [120, 54.0], [250, 20.0]]  # frequent buyers (large 2F1 a, c)
    data = pareto_nbd._Data.from_rows(compact_rows(x=s["x"], t_x=s["t_x"], T=s["T"]))
    p = np.array(params)
    value, grad = pareto_nbd._nll_and_gradient(p, data)
    assert value == pytest.approx(-pareto_nbd.log_likelihood(p, s["x"], s["t_x"], s["T"]).sum(), rel=1e-12)
    error = check_grad(lambda q: pareto_nbd._nll_and_gradient(q, data)[0],
                       lambda q: pareto_nbd._nll_and_gradient(q, data)[1], p, epsilon=1e-7 * p)
    assert error <= 1e-5 * np.linalg.norm(grad)
    central = np.array([(pareto_nbd._nll(p + e, data) - pareto_nbd._nll(p - e, data)) / (2 * e[i])
                        for i, e in enumerate(np.diag(1e-5 * p))])
    assert grad == pytest.approx(central, rel=1e-7)


def test_pareto_nbd_fit_reaches_the_maximum():
    """Searched with the gradient, the estimate is the maximum: the gradient vanishes there
    (first-order condition, to 2e-8 per customer) and a Newton step barely moves it."""
    s = simulate_bgnbd(5000, r=0.4, alpha=6.0, a=0.8, b=2.5, observation_days=500, acquisition_days=250, seed=11)
    fit = fit_pareto_nbd(s, with_se=False, gradient=True)  # by default small data keeps finite differences
    assert fit.extra["gradient"] == 1.0 and fit_pareto_nbd(s, with_se=False).extra["gradient"] == 0.0
    data = pareto_nbd._Data.from_rows(compact_rows(x=s["x"], t_x=s["t_x"], T=s["T"]))
    p = np.array([fit.params[name] for name in pareto_nbd.PARAMS])
    value, grad = pareto_nbd._nll_and_gradient(p, data)
    assert np.max(np.abs(grad * p)) / len(s) < 2e-8  # d/d ln(param), per customer (4.6e-7 with the old stop)
    hess = np.array([approx_fprime(p, lambda q, i=i: pareto_nbd._nll_and_gradient(q, data)[1][i], 1e-5 * p)
                     for i in range(4)])
    newton = p - np.linalg.solve((hess + hess.T) / 2, grad)
    assert pareto_nbd._nll(newton, data) >= value - 1e-6
    assert newton == pytest.approx(p, rel=2e-6)


def test_weights_equal_repeated_rows():
    s = simulate_bgnbd(500, r=0.3, alpha=5.0, a=0.8, b=2.5, observation_days=300, acquisition_days=100, seed=5)
    doubled = pd.concat([s, s], ignore_index=True)
    a = fit_bgnbd(doubled, with_se=False)
    b = fit_bgnbd(s, weights=np.full(len(s), 2.0), with_se=False)
    assert a.params == pytest.approx(b.params, rel=1e-6)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-10)


def test_bgnbd_recovers_simulated_parameters():
    true = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    s = simulate_bgnbd(60_000, **true, observation_days=730, acquisition_days=365, merge_same_day=False, seed=11)
    fit = fit_bgnbd(s)
    for name, value in true.items():
        assert abs(fit.params[name] - value) < 4 * fit.se[name], (name, fit.params[name], fit.se[name])


def test_gamma_gamma_recovers_simulated_parameters():
    x = np.random.default_rng(2).integers(1, 12, size=30_000)
    m = simulate_spend(x, p=6.0, q=4.0, v=15.0, seed=4)
    fit = fit_gamma_gamma(pd.DataFrame({"x": x, "monetary_value": m}))
    for name, value in {"p": 6.0, "q": 4.0, "v": 15.0}.items():
        assert abs(fit.params[name] - value) < 4 * fit.se[name], (name, fit.params[name], fit.se[name])


def test_model_expectations_are_consistent():
    bg = bgnbd.BGNBDFit(params={"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}, se={}, log_likelihood=0.0, n=0)
    pn = pareto_nbd.ParetoNBDFit(params={"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}, se={},
                                 log_likelihood=0.0, n=0)
    for model in (bg, pn):
        t = np.array([1.0, 10.0, 52.0])
        # a new customer: the conditional expectation with no history equals E[X(t)]
        assert model.expected_purchases(t, 0, 0, 0) == pytest.approx(model.expected_purchases_new(t))
        assert np.all(np.diff(model.expected_purchases_new(t)) > 0)
        # recent frequent buyers are more likely alive than lapsed ones
        assert model.p_alive(5, 38, 39) > model.p_alive(5, 5, 39)
        assert 0 < model.p_alive(5, 5, 39) < 1
        assert float(model.expected_purchases(0.0, 3, 20, 39)) == 0.0
    assert bg.p_alive(0, 0, 39) == 1.0
    # Pareto/NBD: frequent buyers and s = 1 stay finite (Euler transform, the s -> 1 limit)
    assert np.isfinite(pareto_nbd.log_likelihood((0.5, 10.0, 0.6, 40.0), 300, 20.0, 39.0))
    one = pareto_nbd.ParetoNBDFit(params={"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0}, se={}, log_likelihood=0, n=0)
    near = pareto_nbd.ParetoNBDFit(params={"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-7, "beta": 12.0}, se={},
                                   log_likelihood=0, n=0)
    assert float(one.expected_purchases_new(20.0)) == pytest.approx(float(near.expected_purchases_new(20.0)), rel=1e-5)


def test_pareto_log_a0_branches_agree():
    # alpha < beta uses the Euler-transformed series: compare with the direct one where it converges
    from scipy.special import hyp2f1

    r, alpha, s, beta = 0.55, 10.5, 0.6, 11.7
    x, t_x, T = np.array([0.0, 2, 5]), np.array([0.0, 10, 20]), np.array([30.0, 35, 38])
    rsx = r + s + x
    direct = (hyp2f1(rsx, r + x, rsx + 1, (beta - alpha) / (beta + t_x)) / (beta + t_x) ** rsx
              - hyp2f1(rsx, r + x, rsx + 1, (beta - alpha) / (beta + T)) / (beta + T) ** rsx)
    assert pareto_nbd.log_a0((r, alpha, s, beta), x, t_x, T) == pytest.approx(np.log(direct), rel=1e-10)


def test_expected_clv_by_hand():
    bg = bgnbd.BGNBDFit(params={"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}, se={}, log_likelihood=0.0, n=0)
    gg = gamma_gamma.GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44}, se={}, log_likelihood=0.0, n=0)
    summary = pd.DataFrame({"x": [0, 2, 7], "t_x": [0.0, 30.43, 38.0], "T": [38.86, 38.86, 38.86],
                            "monetary_value": [np.nan, 40.0, 25.0]})
    weeks_12m = 12 * 365.25 / 12 / 7
    plain = expected_clv(bg, gg, summary, horizon_months=12, discount_rate=0.0, gross_margin=1.0)
    purchases = bg.expected_purchases(weeks_12m, summary["x"], summary["t_x"], summary["T"])
    spend = gg.expected_spend(summary["x"], summary["monetary_value"])
    assert plain["expected_purchases"].to_numpy() == pytest.approx(purchases)
    assert plain["clv"].to_numpy() == pytest.approx(purchases * spend)
    discounted = expected_clv(bg, gg, summary, horizon_months=12, discount_rate=0.2, gross_margin=0.5)
    assert np.all(discounted["clv"] < 0.5 * plain["clv"])
    assert np.all(discounted["clv"] > 0.5 * plain["clv"] / 1.2)



def _blas_threads() -> set[int]:
    """The thread counts of the BLAS libraries loaded in this process."""
    from threadpoolctl import threadpool_info

    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_pareto_nbd_fits_run_on_single_threaded_blas_beside_the_other_fits(simulated_orders, monkeypatch) -> None:
    """The chapter fits Pareto/NBD on pool threads while the calling thread fits BG/NBD, and
    threadpoolctl's limit is process-wide. Before: each fit set and lifted its own limit, so the
    first to finish lifted it under the others, and a limit set from a pool thread was ignored by
    OpenBLAS once one had been lifted; the Pareto/NBD fits ran on multi-threaded BLAS, whose sums
    changed from run to run (CDNOW's alpha 13.6142 or 13.6143 in the consultant notes)."""
    from crmlib.ltv import LTVSettings
    from crmlib.store.ltv import fitting, predictive

    before = _blas_threads()
    if not before or before == {1}:
        pytest.skip("BLAS runs on one thread here anyway (one core or a thread limit set)")
    with fitting.single_threaded_blas():  # a limit set and lifted earlier in the process
        pass
    seen: list[set[int]] = []

    def watched(*args, **kwargs):
        result = fit_pareto_nbd(*args, **kwargs)
        seen.append(_blas_threads())
        return result

    monkeypatch.setattr(predictive, "fit_pareto_nbd", watched)
    result = predictive.predictive_ltv(*simulated_orders, LTVSettings())
    assert result.fits, "the models were fitted"
    assert seen == [{1}, {1}]  # the calibration and the full-history fit
    assert _blas_threads() == before  # lifted once every fit has finished


@need(CDNOW_MASTER)
def test_pareto_nbd_parameters_are_the_same_run_after_run(tmp_path) -> None:
    """The whole CDNOW file (23,570 customers) gives the same Pareto/NBD parameters to the last
    digit, run after run, as the chapter fits them; before the fix its alpha moved in the fourth digit."""
    from crmlib.ltv import LTVSettings
    from crmlib.store.ltv import predictive

    orders = ingest_file(CDNOW_MASTER, preset="cdnow", out_dir=tmp_path / "processed").orders_path
    params = [predictive.predictive_ltv(orders, "1998-07-01", LTVSettings()).fits["pareto_nbd"].params
              for _ in range(3)]
    assert params[0] == params[1] == params[2]
