"""Quoting for the SQL that crmlib builds for DuckDB (values and identifiers from files or YAML)."""

from __future__ import annotations


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A double-quoted SQL identifier (column names from a client's header)."""
    return '"' + name.replace('"', '""') + '"'
