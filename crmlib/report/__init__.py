"""The report: chapter notebooks run with papermill, rendered to offline HTML under reports/.

Names are imported lazily, so notebooks importing crmlib.report.nbtools do not load papermill.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHAPTERS", "PARAMETERS", "Chapter", "render_report"]


def __getattr__(name: str) -> Any:
    """Load crmlib.report.pipeline on first use of one of its public names."""
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'crmlib.report' has no attribute {name!r}")
