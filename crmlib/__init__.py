"""crmlib: the logic behind crm-workbook (ingest, diagnosis, segments, LTV, strategy, reports)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crmlib")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
