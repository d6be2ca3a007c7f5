"""E-mail and phone shapes in text values that can reach a page (channel, category, product, ...).

A shop's export puts free text in columns the report prints as they are: a channel typed as
``sato.jiro@example.jp``, a category ``０８０－２２２２－３３３３``, a source ``ref:佐藤 +81-80-2222-3333``.
Values are read after NFKC normalisation (full-width digits, ＠, ＋, －, （ ） and the ideographic
space become their ASCII forms), and these shapes are masked as ``<e-mail>`` and ``<phone>``:

- an e-mail: ``local@domain.tld`` (a dot in the domain); ``@shop`` handles are not e-mails;
- a Japanese phone number: 10 or 11 digits starting with 0 (``(0`` too), in groups separated by
  hyphens, dashes (‐ – — − ー), dots, spaces or parentheses: ``03-1234-5678``, ``(03)1234-5678``,
  ``0120 123 456``, ``090.1234.5678``; without separators only a mobile number
  ``0[5789]0`` + 8 digits (``09012345678``) that is not glued to letters or digits;
- an international number: ``+`` and 8 to 15 digits, in groups as above: ``+81-80-2222-3333``,
  ``+819012345678``.

So a numeric SKU or member id is never a phone (``12345678``, ``0123456789``, a JAN code
``4901234567890``), nor are dates (``2024-05-01``), times or amounts; a SKU written exactly like a
phone number (``012-345-6789``) is masked, which is the safe side. Names cannot be told from
product words by shape; they are not masked here.
"""

from __future__ import annotations

import re
import unicodedata

EMAIL_MARK, PHONE_MARK = "<e-mail>", "<phone>"

_SEP = r"[\-\u2010-\u2015\u2212\u30fc. ]"  # hyphen, dashes, minus, long vowel mark, dot, space
EMAIL = re.compile(r"[\w.!#$%&'*+=?^`{|}~\-]+@[\w\-]+(?:\.[\w\-]+)+")  # no '/': paths stay readable
_DOMESTIC = re.compile(
    rf"(?<![\d+])(?:\(0\d{{1,4}}\){_SEP}?|0\d{{1,4}}(?:{_SEP}{{1,2}}|\(|(?={_SEP})))"  # area code
    rf"\d{{1,4}}(?:\)|{_SEP}{{1,2}})\d{{3,4}}(?!\d)")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])0[5789]0\d{8}(?![0-9A-Za-z])")
_INTERNATIONAL = re.compile(rf"(?<![\w+])\+\d{{1,3}}(?:{_SEP}{{0,2}}\(?\d{{1,4}}\)?){{2,6}}(?!\d)")
# a cheap first look (RE2, for DuckDB over every distinct value): '@' or 8 digits close together
CANDIDATE_SQL_PATTERN = "[@\uff20]|[0-9\uff10-\uff19](?:[^0-9\uff10-\uff19]{0,3}[0-9\uff10-\uff19]){7}"


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _phone(match: re.Match[str]) -> str:
    """The mark when the match has a phone's digit count, else the match unchanged."""
    text, digits = match.group(0), _digit_count(match.group(0))
    ok = 8 <= digits <= 15 if text.startswith("+") else 10 <= digits <= 11
    return PHONE_MARK if ok else text


def mask_contacts(value: str) -> str:
    """The value with e-mail and phone shapes masked (read after NFKC); unchanged, not even
    normalised, when it holds none."""
    text = unicodedata.normalize("NFKC", value)
    masked = EMAIL.sub(EMAIL_MARK, text)
    masked = _INTERNATIONAL.sub(_phone, masked)
    masked = _DOMESTIC.sub(_phone, masked)
    masked = _MOBILE.sub(PHONE_MARK, masked)
    return value if masked == text else masked


def has_contact(value: str) -> bool:
    """Whether mask_contacts would change the value."""
    return mask_contacts(value) != value


__all__ = ["CANDIDATE_SQL_PATTERN", "EMAIL_MARK", "PHONE_MARK", "has_contact", "mask_contacts"]
