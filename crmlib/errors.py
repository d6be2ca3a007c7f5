"""User-facing errors: each carries a message that says what is wrong and what to do.

The CLI prints these without a traceback and exits with ``exit_code`` (2 = bad input or
configuration). Anything else that escapes is a bug in crmlib.
"""

from __future__ import annotations


class CrmError(Exception):
    """An error the user can fix; the message names the file, column or key and the fix."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  What to do: {hint}")


class InputFileError(CrmError):
    """The order file cannot be read (missing, empty, binary, undecodable, malformed)."""


class MappingError(CrmError):
    """Required columns are missing or a mapping refers to unknown columns."""


class DataError(CrmError):
    """The file was read, but its values make it unusable (e.g. no valid orders left)."""


class ConfigError(CrmError):
    """A client YAML file is invalid (unknown key, wrong type, unsafe name)."""


class ReportError(CrmError):
    """A chapter notebook failed or the report could not be written."""

    exit_code = 1


class ChapterFailed(ReportError):
    """The report was written, but some chapters failed: their pages say where and what to do,
    the other chapters are complete. `report` is the report folder, `chapters` the failed names."""

    exit_code = 4

    def __init__(self, message: str, *, hint: str | None = None, report: object = None,
                 chapters: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.report = report
        self.chapters = chapters
