"""One message catalog per report language, looked up by dotted key.

The catalog of a language is crmlib/messages/<lang>.yaml plus the chapter files
crmlib/messages/<lang>/<chapter>.yaml (keys nested under the chapter name).

Every sentence a client reads comes from here, so ja and en stay in step: a test checks that
both catalogs hold exactly the same keys.
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml

from .style import LANGS, check_lang

# libyaml's loader where PyYAML was built with it: the same mappings as yaml.safe_load, read about
# eight times faster (each chapter's kernel reads the catalogs: 0.07 CPU-s a language in pure Python)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str) -> Any:
    """One catalog file's YAML (safe types only)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader: CSafeLoader or SafeLoader


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested YAML mapping -> {'a.b.c': text}; leaves must be strings."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        elif isinstance(value, str):
            flat[path] = value
        else:
            raise ValueError(f"message {path!r} must be text, found {type(value).__name__}")
    return flat


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """The flattened catalog of one language, read once from the package data."""
    check_lang(lang)
    folder = files("crmlib").joinpath("messages")
    flat = _flatten(_load(folder.joinpath(f"{lang}.yaml").read_text(encoding="utf-8")) or {})
    # chapter catalogs: messages/<lang>/<chapter>.yaml, keys nested under the chapter name
    chapters = folder.joinpath(lang)
    if chapters.is_dir():
        for part in sorted(chapters.iterdir(), key=lambda p: p.name):
            if part.name.endswith(".yaml"):
                extra = _flatten(_load(part.read_text(encoding="utf-8")) or {})
                clash = set(extra) & set(flat)
                if clash:
                    raise ValueError(f"messages defined twice ({lang}/{part.name}): {sorted(clash)[:5]}")
                flat.update(extra)
    return flat


def placeholders(message: str) -> set[str]:
    """The {names} a message expects (used by tests to keep ja and en in step)."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def t(key: str, lang: str, **kwargs: Any) -> str:
    """The message `key` in `lang`, filled with kwargs via str.format; KeyError if missing."""
    messages = catalog(lang)
    if key not in messages:
        raise KeyError(f"no message {key!r} in the {lang!r} catalog (crmlib/messages/{lang}.yaml, {lang}/*.yaml)")
    try:
        return messages[key].format(**kwargs)
    except KeyError as exc:
        raise KeyError(f"message {key!r} ({lang}) needs the value {exc.args[0]!r}") from None


__all__ = ["LANGS", "catalog", "placeholders", "t"]
