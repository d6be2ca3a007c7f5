"""Reading the strategy chapter's small input files: the execution log, a trial's groups, a survey.

Each is a CSV (UTF-8, UTF-8 with BOM or CP932, as a shop's Excel saves it) with a header row.
A missing column, an unreadable date or number is a DataError naming the file, the column and
the first rows, never a silently dropped row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError

ENCODINGS = ("utf-8-sig", "cp932")
LOG_COLUMNS = ("date", "measure", "segment", "channel", "volume", "cost")
LOG_TEMPLATE = "execution_log_template.csv"


def read_table(path: Path | str, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """A small CSV as text columns, with the required columns checked (names compared trimmed
    and case-insensitively)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: the {what} file does not exist.",
                        hint="check the path in the client YAML (relative to the YAML file)")
    for encoding in ENCODINGS:
        try:
            frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise DataError(f"{path}: cannot read the {what} as CSV ({exc}).",
                            hint="save it as CSV with a header row") from None
    else:
        raise DataError(f"{path}: the {what} is neither UTF-8 nor Shift_JIS (CP932) text.",
                        hint="save it as CSV UTF-8 from Excel")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: the {what} has no column {', '.join(missing)} "
                        f"(found: {', '.join(frame.columns) or 'none'}).",
                        hint=f"the header must name {', '.join(required)}")
    return frame


def bad_rows_error(path: Path | str, column: str, bad: pd.Series, expected: str) -> DataError:
    """The error for a column with bad values: how many, the first five lines, what is expected."""
    rows = (bad[bad].index[:5] + 2).tolist()  # +2: the header is line 1
    return DataError(f"{path}: column '{column}' has {int(bad.sum())} value(s) that are not {expected} "
                     f"(lines {', '.join(map(str, rows))}{' ...' if bad.sum() > 5 else ''}).",
                     hint=f"write {expected} in every row of '{column}'")


def parse_dates(path: Path | str, frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column as dates (YYYY-MM-DD or YYYY/MM/DD); any other value is a DataError."""
    text = frame[column].str.strip().str.replace("/", "-", regex=False)
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = dates.isna()
    if bad.any():
        raise bad_rows_error(path, column, bad, "dates (YYYY-MM-DD)")
    return dates.dt.date


def parse_numbers(path: Path | str, frame: pd.DataFrame, column: str, minimum: float | None = 0) -> pd.Series:
    """A text column as numbers (thousands separators and a yen sign allowed); blank is an error."""
    text = frame[column].str.strip().str.replace(r"[,¥￥円\s]", "", regex=True)
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() | ((values < minimum) if minimum is not None else False)
    if bad.any():
        raise bad_rows_error(path, column, bad, "numbers" + (f" >= {minimum:g}" if minimum is not None else ""))
    return values.astype("float64")


def read_execution_log(path: Path | str) -> pd.DataFrame:
    """The shop's log of measures run: date, measure, segment, channel, volume, cost (and any
    extra columns, e.g. responses or revenue, kept as text)."""
    frame = read_table(path, LOG_COLUMNS, "execution log")
    out = frame.copy()
    out["date"] = parse_dates(path, frame, "date")
    for column in ("volume", "cost"):
        out[column] = parse_numbers(path, frame, column)
    for column in ("measure", "segment", "channel"):
        out[column] = frame[column].str.strip()
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def execution_summary(log: pd.DataFrame) -> pd.DataFrame:
    """Per measure: runs, first and last date, channel(s), volume, cost and cost per contact."""
    grouped = log.groupby("measure", sort=False)
    out = pd.DataFrame({
        "runs": grouped.size(),
        "first": grouped["date"].min(),
        "last": grouped["date"].max(),
        "channel": grouped["channel"].agg(lambda s: " / ".join(dict.fromkeys(s))),
        "segment": grouped["segment"].agg(lambda s: " / ".join(dict.fromkeys(s))),
        "volume": grouped["volume"].sum(),
        "cost": grouped["cost"].sum(),
    })
    out["cost_per_contact"] = out["cost"] / out["volume"].where(out["volume"] > 0)
    return out.sort_values("cost", ascending=False).reset_index()


def monthly_log(log: pd.DataFrame) -> pd.DataFrame:
    """Volume and cost per calendar month and measure (for the timeline figure)."""
    frame = log.assign(month=pd.to_datetime(log["date"]).dt.to_period("M").dt.to_timestamp())
    return frame.groupby(["month", "measure"], as_index=False)[["volume", "cost"]].sum()


def write_log_template(folder: Path | str) -> Path:
    """An empty execution log for the shop to fill (UTF-8 with BOM, so Excel opens it as text)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_TEMPLATE
    example = pd.DataFrame([["2025-04-07", "F2フォローメール", "初回購入者", "メール", "1200", "24000"]],
                           columns=list(LOG_COLUMNS))
    example.to_csv(path, index=False, encoding="utf-8-sig")
    return path


__all__ = ["LOG_COLUMNS", "LOG_TEMPLATE", "bad_rows_error", "execution_summary", "monthly_log", "parse_dates", "parse_numbers",
           "read_execution_log", "read_table", "write_log_template"]
