"""The predictive model's verdict for other chapters: did BG/NBD pass the LTV chapter's validity
gate, and its fitted parameters, kept once per (orders file, as-of date, `ltv:` settings).

predictive_ltv keeps it whenever it runs (the LTV chapter), in
<processed>/store/ltv-verdict-<key>.json; model_verdict reads that copy, or runs predictive_ltv
when there is none (a report without the LTV chapter, or chapters run in parallel), so another
chapter (the products chapter's key accounts) never trusts a model the LTV chapter's page rejects.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..kept import keep, kept_path
from .settings import LTVSettings

KIND = "ltv-verdict"


@dataclass(frozen=True)
class ModelVerdict:
    """status: "ok", "too_little_data" or "failed: <keys>" (predictive_ltv's); failed: the gate's
    failed check keys; params: BG/NBD r, alpha, a, b (empty when nothing was fitted), in time
    units of time_unit_days."""

    status: str
    time_unit_days: int
    failed: tuple[str, ...] = ()
    params: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The model passed the gate: its P(alive) may be shown and used."""
        return self.status == "ok" and bool(self.params)

    def p_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """BG/NBD P(still active | x, t_x, T), times in time units (see crmlib.store.ltv.summary)."""
        from .bgnbd import BGNBDFit

        return BGNBDFit(dict(self.params), {}, float("nan"), 0).p_alive(x, t_x, T)


def _path(orders_path: Path | str, as_of: dt.date, settings: LTVSettings) -> Path | None:
    return kept_path(orders_path, KIND, ".json", as_of.isoformat(), settings.model_dump(mode="json"))


def verdict_of(result: Any, time_unit_days: int) -> ModelVerdict:
    """The verdict of a PredictiveResult (status, the gate's failed keys, BG/NBD's parameters)."""
    bg = result.fits.get("bgnbd") if result.fits else None
    failed = tuple(dict.fromkeys(check.key for check in result.gate_failures))
    return ModelVerdict(result.status, int(time_unit_days), failed,
                        {k: float(v) for k, v in bg.params.items()} if bg is not None else {})


def keep_verdict(orders_path: Path | str, as_of: dt.date, settings: LTVSettings, verdict: ModelVerdict) -> None:
    """Keep the verdict beside the orders (nothing when the folder cannot be written)."""
    text = json.dumps({**asdict(verdict), "failed": list(verdict.failed)}, sort_keys=True)
    keep(_path(orders_path, as_of, settings), lambda partial: partial.write_text(text, encoding="utf-8"))


def model_verdict(orders_path: Path | str, as_of: dt.date, settings: LTVSettings | None = None) -> ModelVerdict:
    """The kept verdict for this orders file, date and settings; computed (and kept) when missing."""
    settings = settings or LTVSettings()
    path = _path(orders_path, as_of, settings)
    if path is not None and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return ModelVerdict(str(data["status"]), int(data["time_unit_days"]), tuple(data["failed"]),
                                {k: float(v) for k, v in data["params"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged copy: computed again below
    from .predictive import predictive_ltv

    return verdict_of(predictive_ltv(orders_path, as_of, settings), settings.time_unit_days)  # and keeps it


__all__ = ["ModelVerdict", "keep_verdict", "model_verdict", "verdict_of"]
