"""Display names of the data's codes: a channel recorded as web/app/store reads ウェブ/アプリ/店舗
in a Japanese report. The names come from the message catalogs (display.<dimension>.<code>),
overridden per client by the YAML's `report.display_names` (validated on load); codes with no
name are shown as they are.

The pipeline keeps the client's names beside the processed data (<processed>/store/, written
before the notebooks run); a chapter notebook loads them once with use_processed(processed_dir),
so a notebook re-run in the workshop shows the same names as the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .i18n import catalog

DIMENSIONS = ("channel", "source", "category", "region")  # the order attributes shown by value
NAMES_FILE = Path("store") / "display_names.json"

_client: dict[str, dict[str, str]] = {}  # the client's names for the report being made


def use_names(names: Mapping[str, Mapping[str, str]] | None) -> None:
    """Use the client's display names (dimension -> code -> name) from now on (None: catalog only)."""
    _client.clear()
    _client.update({dim: {str(k): str(v) for k, v in codes.items()} for dim, codes in (names or {}).items()})


def write_names(processed_dir: Path, names: Mapping[str, Mapping[str, str]] | None) -> None:
    """Keep the client's display names beside its processed data, for the chapter notebooks."""
    path = Path(processed_dir) / NAMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: dict(v) for k, v in (names or {}).items()}, ensure_ascii=False, sort_keys=True),
                    encoding="utf-8")


def use_processed(processed_dir: str | Path) -> None:
    """Use the display names the pipeline kept for this processed folder (none kept: catalog only)."""
    path = Path(processed_dir) / NAMES_FILE
    use_names(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None)


def display_value(dimension: str, value: Any, lang: str) -> str:
    """The name a reader sees for one code of a dimension: the client's name, else the catalog's
    (display.channel.web: ウェブ; matched as written, then in lower case), else the code itself."""
    code = str(value)
    own = _client.get(dimension, {})
    if code in own:
        return own[code]
    names = catalog(lang)
    return names.get(f"display.{dimension}.{code}") or names.get(f"display.{dimension}.{code.strip().lower()}") or code


__all__ = ["DIMENSIONS", "display_value", "use_names", "use_processed", "write_names"]
