"""The purchase models of the store: customer summaries, BG/NBD, Pareto/NBD and Gamma-Gamma, the
holdout validation and its validity gate, and the historical LTV curves.

The LTV chapter (crmlib.ltv) shows them; they live here so that another chapter can read the
gate's verdict and the fitted parameters (crmlib.store.ltv.verdict) without importing the LTV
chapter. Modules: settings (the `ltv:` YAML section), summary, fitting, bgnbd, pareto_nbd,
gamma_gamma, clv, validation, predictive, historical, verdict.
"""
