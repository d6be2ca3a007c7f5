"""The LTV chapter's purchase model as the key-account list uses it: its verdict, read through the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..store.coverage import measure_coverage
from ..store.ltv.settings import LTVSettings
from ..store.ltv.verdict import ModelVerdict, model_verdict
from .settings import ProductSettings


def key_model(processed_dir: Path | str, as_of: dt.date, settings: ProductSettings) -> ModelVerdict | None:
    """The verdict of the LTV chapter's BG/NBD model on this report's data and `ltv:` settings (kept
    once per report; computed when missing). None when the report did not hand the chapter the
    `ltv:` section (a notebook run on its own): the list then follows the cycle rule only."""
    if "ltv" not in settings.context:
        return None
    return model_verdict(Path(processed_dir) / "orders.parquet", as_of, LTVSettings.model_validate(settings.context["ltv"]))


def lapse_window(processed_dir: Path | str, as_of: dt.date, settings: ProductSettings) -> int:
    """Days since the last purchase beyond which a key account has lapsed: key_accounts.lapse_days
    when the YAML sets it, else the shop's one lapse window (diagnosis.lapse_days, handed over with
    the segments context, else the data check's measurement), so the early-warning list never holds
    a customer the other chapters already count as lapsed."""
    if settings.key_accounts.lapse_days is not None:
        return int(settings.key_accounts.lapse_days)
    shop = settings.context.get("segments", {}).get("lapse_days")
    return int(shop) if shop else measure_coverage(Path(processed_dir) / "orders.parquet", as_of).lapse_days
