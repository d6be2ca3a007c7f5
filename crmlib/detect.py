"""Cart detection: which preset a file's header belongs to, and why.

Each cart preset carries the header its cart publishes (per version still in use). A file is
scored against every one of them: the share of the file's columns that the cart writes (a shop
may switch columns off, so a subset still scores high) and, to tell versions apart, the Jaccard
similarity of the two headers. The best cart is chosen when at least MIN_SHARE of the file's
columns are its own and no other cart comes within MARGIN; when carts tie, the candidates are
listed and the user picks one. A file no cart explains is read with the generic preset (whose
error, when its names do not resolve either, lists the closest columns).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import mapping
from .errors import MappingError
from .mapping import FIELDS, _norm, load_preset, preset_names
from .readers import (
    _check_text,
    _read_sample,
    _sniff_delimiter,
    check_file,
    dedupe_headers,
    detect_encoding,
    open_raw,
    sniff_format,
)

MIN_SHARE = 0.6  # of the file's columns the cart writes
MARGIN = 0.15    # between the best cart and the next other cart


@dataclass
class Candidate:
    """How well one published header (a preset's version) explains the file's header."""

    preset: str
    version: str
    matched: int      # file columns that are in the published header
    file_columns: int
    published: int    # columns of the published header

    @property
    def share(self) -> float:
        return self.matched / self.file_columns if self.file_columns else 0.0

    @property
    def jaccard(self) -> float:
        union = self.file_columns + self.published - self.matched
        return self.matched / union if union else 0.0


@dataclass
class Detection:
    """The preset chosen for a file and the reason, in words for the CLI."""

    preset: str
    reason: str
    candidates: list[Candidate] = field(default_factory=list)


def read_header(path: Path | str, encoding: str | None = None) -> list[str]:
    """The column names of an order file (CSV/TSV in any supported encoding, Excel, Parquet)."""
    path = Path(path)
    check_file(path)
    if sniff_format(path) != "csv":  # Excel, Parquet: opened as the ingest opens them (same errors)
        import duckdb

        con = duckdb.connect()
        try:
            src = open_raw(con, path, encoding=encoding)
            src.cleanup()
            return src.columns
        except duckdb.Error as exc:
            from .ingest import file_error

            raise file_error(path, exc) from None
        finally:
            con.close()
    sample = _read_sample(path)
    _check_text(path, sample)
    enc = detect_encoding(path, sample, encoding)
    text = sample.decode(enc, errors="ignore").lstrip("\ufeff")
    lines = text.splitlines()
    if not lines:
        return []
    delim = _sniff_delimiter("\n".join(lines[:50]), path)
    names = next(csv.reader([lines[0]], delimiter=delim))
    if len(names) == 1 and len(lines[0].split()) > 1:  # whitespace separated (CDNOW)
        names = lines[0].split()
    return dedupe_headers(names)[0]


def _base(name: str) -> str:
    """A header as published: dedupe suffixes (送料_2) removed, then normalised."""
    return _norm(re.sub(r"_\d+$", "", name))


def score(columns: list[str]) -> list[Candidate]:
    """Every published header scored against the file's columns, best first."""
    found = [_base(c) for c in columns]  # a name given twice (送料 in EC-CUBE) counts twice
    out = []
    for name in preset_names():
        preset = load_preset(name)
        for version, header in preset.headers.items():
            published = {_norm(c) for c in header}
            matched = sum(1 for c in found if c in published)
            out.append(Candidate(name, version, matched, len(found), len(header)))
    return sorted(out, key=lambda c: (c.share, c.jaccard), reverse=True)


def generic_matches(columns: list[str]) -> int:
    """File columns the generic preset reads by name: a canonical field name (order_id ...) or one
    of its aliases (注文番号, 受注日 ...)."""
    generic = mapping.load_preset("generic")
    names = {_norm(f) for f in FIELDS} | {_norm(a) for aliases in generic.columns.values() for a in aliases}
    return sum(1 for c in columns if _base(c) in names)


def detect_preset(columns: list[str], source: str = "the file") -> Detection:
    """The preset for a header, with the reason; MappingError when two carts fit equally well.
    A header the generic preset reads as well as any cart's (the canonical names, which English
    cart headers share: Order ID, Email) is generic: a cart is chosen for columns only it has."""
    ranked = [c for c in score(columns) if c.matched]
    best = ranked[0] if ranked else None
    if best is not None and generic_matches(columns) >= best.matched:
        return Detection("generic", f"the file's columns are the canonical names or their aliases "
                         f"({generic_matches(columns)} of {len(columns)}), read with the generic preset; "
                         f"the closest cart, {best.preset} {best.version}, has only {best.matched}", ranked)
    if best is not None and best.share >= MIN_SHARE:
        rivals = [c for c in ranked if c.preset != best.preset and c.share > best.share - MARGIN]
        if rivals:
            shown = "; ".join(f"{c.preset} ({c.version}): {c.matched} of {c.file_columns} columns"
                              for c in [best, *rivals])
            raise MappingError(
                f"{source}: the header fits more than one cart: {shown}.",
                hint="name the cart with --preset (or `preset:` in the client YAML)",
            )
        # chosen even when a required column is switched off: the ingest then says which one
        extra = ""
        if best.matched < best.published:
            extra = f" ({best.published - best.matched} of its columns are not in the file)"
        others = [c for c in ranked if c.preset != best.preset]
        runner = (f"; next best: {others[0].preset}, {others[0].matched} of {others[0].file_columns}"
                  if others else "")
        return Detection(
            best.preset,
            f"{best.matched} of the file's {best.file_columns} columns are in the published header "
            f"of {best.preset} {best.version}{extra}{runner}",
            ranked,
        )
    # no cart fits: the generic preset, whose missing-column message names the closest columns
    near = (f"; the closest cart, {best.preset} {best.version}, has {best.matched} of "
            f"{best.file_columns} columns" if best and best.share >= 0.3 else "")
    return Detection("generic", f"no cart's published header matches the file{near}; read with the "
                     "canonical column names (order_id, ordered_at, amount ...)", ranked)
