"""Client configuration: one YAML file per client, validated on load.

A wrong key or a wrong type is reported with the file, the key path and the expected form,
so a consultant can fix the YAML without reading Python.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import json
import re
import typing
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from . import registry
from .errors import ConfigError
from .yamlsafe import AliasLimitError, load_yaml

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# analysis dates: the years the ingest reads order dates in (crmlib.ingest: 1990-2100)
AS_OF_RANGE = (dt.date(1990, 1, 1), dt.date(2100, 12, 31))


class Rules(BaseModel):
    """Row rules of the ingest; each can be switched per client (defaults come from the preset)."""

    model_config = ConfigDict(extra="forbid")

    drop_duplicate_lines: bool | None = Field(None, description="drop exact duplicate lines")
    exclude_cancelled: bool | None = None
    exclude_not_completed: bool | None = None
    exclude_returns: bool | None = None
    exclude_negative: bool | None = None
    exclude_non_product: bool | None = None
    exclude_zero_amount: bool | None = None
    identity_from_contact: bool | None = Field(
        None, description="make a customer id from e-mail/phone when the id is empty"
    )
    cancelled_statuses: list[str] | None = None
    not_completed_statuses: list[str] | None = None
    returned_statuses: list[str] | None = None
    cancelled_order_prefix: str | None = None
    non_product_skus: list[str] | None = None
    non_product_names: list[str] | None = None
    max_invalid_share: float | None = Field(None, ge=0, le=1)
    net_returns: bool | None = Field(
        None, description="net credit notes (negative product lines) and refunded amounts against earlier purchases"
    )
    gift_card_pattern: str | None = Field(None, description="regular expression of gift-card product names")
    max_members_per_contact: int | None = Field(
        None, ge=1, description="an e-mail or phone shared by more members is a placeholder, never used to merge"
    )


class _ClientBase(BaseModel):
    """Everything that describes one client's report but the chapter sections (ClientConfig adds
    one per chapter of crmlib.registry)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="client short name; also the reports/<name>/ folder")
    title: str | None = Field(None, description="client name as printed in the report")
    data: Path = Field(description="the order file, relative to this YAML file")
    preset: str | None = Field(None, description="mapping preset (crmlib/presets); detected from the header when omitted")
    mapping: dict[str, str | None] | None = Field(None, description="canonical field -> column in the file")
    encoding: str | None = Field(None, description="file encoding; detected when omitted")
    date_format: str | None = None
    rules: Rules = Field(default_factory=Rules)
    as_of: dt.date | None = Field(None, description="analysis date; default: day after the last order")
    currency: str = "JPY"
    lang: Literal["ja", "en"] = "ja"
    report: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # fullmatch: match() with $ let a final line break through ("acme\n" became a folder)
        if not SAFE_NAME.fullmatch(value) or ".." in value:
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(it becomes a folder under reports/, so '/', '..' and spaces are refused)"
            )
        return value

    @field_validator("title")
    @classmethod
    def _printable_title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # line breaks and tabs are harmless (a YAML block scalar ends in one); lone surrogates
        # cannot be written as UTF-8 and other control characters cannot be shown
        bad = next((c for c in value if 0xD800 <= ord(c) <= 0xDFFF
                    or (unicodedata.category(c) == "Cc" and c not in "\t\n\r")), None)
        if bad is not None:
            kind = "a lone surrogate (half of an escaped character pair)" if ord(bad) >= 0xD800 else "a control character"
            raise ValueError(f"contains {kind}, U+{ord(bad):04X}, which cannot be printed; "
                             "write the title as plain text (in YAML, a quoted string without \\u escapes)")
        return value

    @field_validator("as_of")
    @classmethod
    def _as_of_in_range(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not AS_OF_RANGE[0] <= value <= AS_OF_RANGE[1]:
            raise ValueError(f"{value} is outside {AS_OF_RANGE[0]} .. {AS_OF_RANGE[1]}, the dates orders are read in")
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        from .mapping import preset_names

        names = preset_names()
        if value is not None and value not in names:
            close = difflib.get_close_matches(value, names, n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            raise ValueError(f"unknown preset '{value}'. {hint}Available presets: {', '.join(names)}")
        return value

    @field_validator("mapping")
    @classmethod
    def _known_fields(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        from .mapping import FIELDS

        for name in value or {}:
            if name not in FIELDS:
                close = difflib.get_close_matches(name, FIELDS, n=1)
                hint = f"Did you mean '{close[0]}'? " if close else ""
                raise ValueError(f"unknown canonical field '{name}'. {hint}Canonical fields are: {', '.join(FIELDS)}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be an ISO 4217 code such as JPY, USD, GBP")
        return value

    # set by load_config: the YAML file this config came from
    source_path: Path | None = Field(None, exclude=True)

    def data_path(self) -> Path:
        """The order file, resolved against the YAML file's folder."""
        base = self.source_path.parent if self.source_path else Path.cwd()
        return (base / self.data).resolve() if not self.data.is_absolute() else self.data


# Sections of the client YAML and the models that validate them (module:class): one per chapter
# of the registry that has settings, and the report's look.
SECTION_MODELS = {**registry.config_sections(), "report": "crmlib.report.settings:ReportSettings"}

# The client configuration: the fields above plus one dict per chapter section, validated by the
# section's model in parse_config (the model is imported lazily: chapters import this module).
ClientConfig = create_model(
    "ClientConfig", __base__=_ClientBase, __doc__="Everything that describes one client's report.",
    **{section: (dict[str, Any], Field(default_factory=dict)) for section in registry.config_sections()},
)


def section_model(section: str) -> type[BaseModel]:
    """The pydantic model of a chapter section (imported lazily: chapters import config)."""
    module, name = SECTION_MODELS[section].split(":")
    return getattr(importlib.import_module(module), name)


def _describe(error: dict[str, Any], model: type[BaseModel], prefix: str = "") -> str:
    """One readable line for one pydantic error: key path, problem, expected form."""
    loc = prefix + ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent_model: type[BaseModel] = model
        for part in error["loc"][:-1]:
            if isinstance(part, int):  # an item of a list: the list's model stays the parent
                continue
            field = parent_model.model_fields.get(str(part))
            ann = getattr(field, "annotation", None) if field else None
            # list[Model], Model | None, dict[str, Model]: the model inside
            inner = [a for a in (ann, *typing.get_args(ann)) if isinstance(a, type) and issubclass(a, BaseModel)]
            if inner:
                parent_model = inner[0]
        known = [k for k in parent_model.model_fields if k != "source_path"]
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"unknown key '{loc}'.{hint} Allowed keys here: {', '.join(known)}."
    if kind == "value_error":
        return f"key '{loc}': {error['msg'].removeprefix('Value error, ')}."
    if kind == "missing":
        return f"required key '{loc}' is missing."
    return f"key '{loc}': {error['msg']} (got {error.get('input')!r})."


def parse_config(data: Any, source: Path | str = "<config>") -> ClientConfig:
    """Validate a YAML-loaded mapping into a ClientConfig, raising ConfigError with all problems."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the file must be a YAML mapping of keys (name:, data:, ...), "
            f"found {type(data).__name__}.",
            hint="run `crm-workbook init NAME` for a commented template",
        )
    try:
        config = ClientConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"- {_describe(e, ClientConfig)}" for e in exc.errors()]
        raise ConfigError(
            f"{source}: invalid client configuration:\n" + "\n".join(lines),
            hint="fix the keys above; `crm-workbook init NAME` writes a commented template",
        ) from None
    problems = []
    if isinstance(config.strategy, dict) and "context" in config.strategy:
        problems.append("- key 'strategy.context': filled by the report from the segments: and diagnosis: "
                        "sections; remove it from the YAML.")
    for section in SECTION_MODELS:
        model = section_model(section)
        data = getattr(config, section)
        if section == "strategy" and isinstance(data, dict):
            data = {key: value for key, value in data.items() if key != "context"}  # refused above
        try:
            model.model_validate(data)
        except ValidationError as exc:
            problems += [f"- {_describe(e, model, section + '.')}" for e in exc.errors()]
    if problems:
        raise ConfigError(
            f"{source}: invalid client configuration:\n" + "\n".join(problems),
            hint="fix the keys above; every chapter key and its default is listed in the README",
        )
    config.source_path = Path(source) if str(source) != "<config>" else None
    return config


def yaml_lapse_days(config: Any) -> int | None:
    """The client's lapse window from the YAML (diagnosis.lapse_days), None when unset: the one place
    that reads it, so the data check, the diagnosis, CPM, the ladder and the strategy chapter agree."""
    section = getattr(config, "diagnosis", None) or {}
    value = section.get("lapse_days") if isinstance(section, Mapping) else getattr(section, "lapse_days", None)
    return None if value is None else int(value)


def load_config(path: Path | str) -> ClientConfig:
    """Read and validate a client YAML file (safe_load's types only, aliases capped)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file.", hint="check the path")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the YAML file is not UTF-8 text.", hint="save it as UTF-8") from None
    except AliasLimitError as exc:
        raise ConfigError(f"{path}: {exc}; the file is refused so that it cannot exhaust memory.",
                          hint="write the values out, or use fewer anchors (&name) and aliases (*name)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="check indentation and quoting") from None
    return parse_config(data, path.resolve())


TEMPLATE = """\
# crm-workbook client configuration for {name}
# Every key is validated on load; an unknown key is an error.

name: {name}                # folder name under reports/ (letters, digits, . _ -)
title: "{name}"             # client name as printed in the report
data: {data}   # order export, relative to this file

# How to read the file: a preset ({presets}) ...
{preset_line}
# ... or your own mapping (canonical field: column header in the file)
# mapping:
#   order_id: 注文番号
#   customer_id: 会員ID
#   email: メールアドレス
#   ordered_at: 受注日
#   unit_price: 価格        # with quantity; or amount: the line's own amount (never an
#   quantity: 個数          # order total repeated on each line, such as 小計)
#   status: 対応状況
# encoding: cp932           # detected when omitted (utf-8, utf-8-sig, cp932)

# as_of: 2025-03-31         # analysis date; default: the day after the last order
currency: JPY
lang: ja                    # ja or en

# Row rules (defaults come from the preset):
# rules:
#   exclude_cancelled: true
#   exclude_returns: true
#   exclude_non_product: true
#   exclude_zero_amount: true
#   drop_duplicate_lines: true
#   identity_from_contact: true   # guest orders: make an id from e-mail or phone
#   cancelled_statuses: [キャンセル, 注文取消し]

# Sections the chapters read (see README):
diagnosis: {{}}
segments: {{}}
ltv: {{}}
strategy: {{}}
products: {{}}

# How the report looks (see README):
# report:
#   logo: logo.png            # local image file, relative to this file (never a URL)
#   primary_color: "#1f4e79"  # headings and links
#   accent_color: "#e07b39"   # executive-summary figures
#   f2_benchmark: 0.30        # F2 conversion (365 days) the summary compares against
#   single_file: true         # also write report.html (all chapters, for e-mail)
#   pdf: true                 # report.pdf on A4 (needs headless Chromium; unset: when installed)
#   deck: true                # report.pptx, an editable PowerPoint deck
#   display_names:            # names shown for the data's codes (default: web ウェブ, app アプリ, store 店舗 ...)
#     channel: {{web: 公式サイト, app: 公式アプリ}}
"""


def config_template(name: str, preset: str | None = None, data: str | None = None) -> str:
    """A commented client YAML for `crm-workbook init NAME` (preset and data: from `--data`)."""
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"'{name}' is not a valid client name.",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    from .mapping import preset_names

    line = (f"preset: {preset}   # detected from the file's header" if data else
            "# preset: generic   # when omitted, detected from the data file's header (validate shows which)")
    return TEMPLATE.format(name=name, preset_line=line, presets=", ".join(preset_names()),
                           data=json.dumps(data, ensure_ascii=False) if data else f"../data/raw/{name}/orders.csv")
