"""Half-width punctuation in Japanese catalog text: what tests/test_ja_punctuation.py checks and
the one-off conversion used (shared so the check and the fix agree)."""

from __future__ import annotations

import re

# left as they are: {placeholders}, `code`, {{YAML snippets}} and a ratio such as 5:25
_KEEP = re.compile(r"\{\{.*?\}\}|\{[^{}]*\}|`[^`]*`|\d:\d")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")


def _outside(text: str):
    """(start, end) of the stretches of text that are prose (not kept as they are)."""
    last = 0
    for match in _KEEP.finditer(text):
        yield last, match.start()
        last = match.end()
    yield last, len(text)


def half_width_marks(text: str) -> list[str]:
    """The half-width ( ) : in the prose of a Japanese text (none in text without Japanese)."""
    if not _JAPANESE.search(text):
        return []
    return [c for start, end in _outside(text) for c in text[start:end] if c in "():"]


def to_full_width(text: str) -> str:
    """( ) : of a Japanese text's prose as （ ） ：(a space after a colon dropped)."""
    if not _JAPANESE.search(text):
        return text
    out, last = [], 0
    for start, end in _outside(text):
        out.append(text[last:start])
        part = text[start:end]
        part = re.sub(r":\s?", "：", part.replace("(", "（").replace(")", "）"))
        out.append(part)
        last = end
    out.append(text[last:])
    return "".join(out)
