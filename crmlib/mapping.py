"""Mapping presets: which column of a client's export feeds which canonical order field.

Presets are data files (crmlib/presets/*.yaml). A client YAML may override single fields
(`mapping:`) or give a full mapping of its own on top of the generic preset.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from .errors import ConfigError, MappingError

# Canonical line fields, in the order they are written.
FIELDS: tuple[str, ...] = (
    "order_id", "customer_id", "email", "phone", "ordered_at", "amount", "quantity",
    "unit_price", "line_discount", "sku", "product", "category", "channel", "status",
    "cancelled_at", "source", "region", "line_type", "refunded_amount",
)
IDENTITY_FIELDS = ("customer_id", "email", "phone")
AMOUNT_FIELDS = ("amount", "unit_price")


@dataclass
class Preset:
    """A mapping preset loaded from crmlib/presets/<name>.yaml."""

    name: str
    description: str
    columns: dict[str, list[str]]
    rules: dict[str, Any]
    read: dict[str, Any] = field(default_factory=dict)
    date_format: str | None = None
    line_types: dict[str, list[str]] = field(default_factory=dict)
    order_fields_first_line_only: bool = False
    # where the column names come from (document, version or date), and the published header of
    # each version still in use, in the cart's order and spelling (cart detection reads these)
    source: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    # fields the cart always writes and the figures cannot do without (beyond the date, a
    # customer and an amount, always required), and optional fields whose absence changes the
    # figures (each has a data_check.missing.* message)
    required: list[str] = field(default_factory=list)
    important: list[str] = field(default_factory=list)


def preset_names() -> list[str]:
    """Names of the bundled presets."""
    folder = resources.files("crmlib") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> Preset:
    """Load a bundled preset by name; an unknown name lists the available ones."""
    names = preset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown preset '{name}'.",
            hint=f"{hint}available presets: {', '.join(names)}; or give a `mapping:` in the client YAML",
        )
    text = (resources.files("crmlib") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    columns = {k: ([v] if isinstance(v, str) else list(v)) for k, v in data["columns"].items()}
    return Preset(
        name=data["name"],
        description=data.get("description", ""),
        columns=columns,
        rules=data.get("rules", {}),
        read=data.get("read", {}),
        date_format=data.get("date_format"),
        line_types=data.get("line_types", {}),
        order_fields_first_line_only=bool(data.get("order_fields_first_line_only", False)),
        source=str(data.get("source", "")).strip(),
        headers={str(k): [str(c) for c in v] for k, v in (data.get("headers") or {}).items()},
        required=list(data.get("required") or []),
        important=list(data.get("important") or []),
    )


def _norm(name: str) -> str:
    """Header comparison key: case, spaces, underscores and hyphens do not matter."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def closest_columns(name: str, columns_found: list[str], n: int = 3) -> list[str]:
    """The file's column names closest to name (spaces, case and underscores ignored)."""
    by_norm: dict[str, str] = {}
    for col in columns_found:
        by_norm.setdefault(_norm(col), col)
    close = difflib.get_close_matches(_norm(name), list(by_norm), n=n, cutoff=0.4)
    return [by_norm[c] for c in close]


def check_mapped_columns(columns_found: list[str], mapping: dict[str, str | None] | None, *,
                         source: str) -> None:
    """Raise MappingError when the client's `mapping:` names a column the file does not have.

    A preset's candidates may be missing (the next one is tried), but a column the user named
    must exist: silently falling back (amount from unit price x quantity, customers by e-mail)
    would give other figures than the user asked for.
    """
    found = {_norm(c) for c in columns_found}
    lines = []
    for fld, col in (mapping or {}).items():
        if col is None or col in columns_found or _norm(col) in found:
            continue
        close = closest_columns(col, columns_found)
        near = f"; closest columns: {', '.join(repr(c) for c in close)}" if close else ""
        lines.append(f"- {fld}: {col!r}{near}")
    if lines:
        raise MappingError(
            f"{source}: the mapping names column(s) the file does not have:\n" + "\n".join(lines),
            hint="correct the column name in the client YAML's `mapping:` (the header exactly as in "
            "the file), or remove the entry to use the preset's column",
        )


def resolve_columns(
    columns_found: list[str],
    candidates: dict[str, list[str]],
    *,
    source: str,
    preset: str,
    required: list[str] | tuple[str, ...] = (),
) -> dict[str, str]:
    """Pick, for each canonical field, the first candidate header present in the file.

    Raises MappingError when a required field has no column, listing the columns found and
    the closest names so the user can write a `mapping:` entry. Always required: the order date,
    a customer (id, e-mail or phone) and an amount (or unit price); `required` adds the preset's
    own (a quantity only while the amount is unit price x quantity; a field the client's mapping
    removed is not required).
    """
    by_norm: dict[str, str] = {}
    for col in columns_found:
        by_norm.setdefault(_norm(col), col)
    chosen: dict[str, str] = {}
    for fld, names in candidates.items():
        if fld not in FIELDS:
            raise ConfigError(
                f"mapping names an unknown field '{fld}'.",
                hint=f"canonical fields are: {', '.join(FIELDS)}",
            )
        for name in names:
            if name is None:
                continue
            if name in columns_found:
                chosen[fld] = name
                break
            if _norm(name) in by_norm:
                chosen[fld] = by_norm[_norm(name)]
                break

    missing: list[tuple[str, list[str]]] = []
    if "ordered_at" not in chosen:
        missing.append(("ordered_at", candidates.get("ordered_at", ["ordered_at"])))
    if not any(f in chosen for f in IDENTITY_FIELDS):
        looked = [n for f in IDENTITY_FIELDS for n in candidates.get(f, [f])]
        missing.append(("customer_id (or email / phone)", looked))
    if not any(f in chosen for f in AMOUNT_FIELDS):
        looked = [n for f in AMOUNT_FIELDS for n in candidates.get(f, [f])]
        missing.append(("amount (or unit_price)", looked))
    for fld in required:
        if fld in chosen or fld not in candidates or (fld == "quantity" and "amount" in chosen):
            continue
        missing.append((fld, candidates[fld]))
    if missing:
        lines = []
        for fld, looked in missing:
            close = difflib.get_close_matches(looked[0], columns_found, n=3, cutoff=0.4)
            for name in looked[1:]:
                for c in difflib.get_close_matches(name, columns_found, n=2, cutoff=0.6):
                    if c not in close:
                        close.append(c)
            near = f"; closest columns: {', '.join(repr(c) for c in close[:3])}" if close else ""
            lines.append(f"- {fld}: looked for {', '.join(repr(n) for n in looked[:6])}{near}")
        shown = ", ".join(repr(c) for c in columns_found[:40])
        more = f" (+{len(columns_found) - 40} more)" if len(columns_found) > 40 else ""
        raise MappingError(
            f"{source}: required column(s) missing for preset '{preset}':\n"
            + "\n".join(lines)
            + f"\nColumns found: {shown}{more}",
            hint="pick the right preset (--preset) or map the columns in the client YAML, e.g.\n"
            "  mapping:\n    ordered_at: <your date column>",
        )
    return chosen


def merge_mapping(preset: Preset, override: dict[str, str | None] | None) -> dict[str, list[str]]:
    """Preset candidates with the client's `mapping:` entries taking precedence (None removes)."""
    merged = {k: list(v) for k, v in preset.columns.items()}
    for fld, col in (override or {}).items():
        if fld not in FIELDS:
            close = difflib.get_close_matches(fld, FIELDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"mapping: unknown canonical field '{fld}'.",
                hint=f"{hint}canonical fields are: {', '.join(FIELDS)}",
            )
        if col is None:
            merged.pop(fld, None)
        else:
            merged[fld] = [col]
    return merged


def missing_important(preset: Preset, chosen: dict[str, str]) -> list[str]:
    """The preset's important optional fields that the file does not provide.

    A status counts as present when the cancellation date is (Shopify writes both).
    """
    present = set(chosen)
    if "cancelled_at" in present:
        present.add("status")
    return [f for f in preset.important if f not in present]
