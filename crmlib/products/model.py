"""The LTV chapter's purchase model as the key-account list uses it: its verdict, read through the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
