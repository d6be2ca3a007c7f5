"""report.pdf: report.html printed by headless Chromium (A4, page numbers and the data fingerprint
on every page from the page's own print CSS, the embedded Japanese font kept in the PDF).

Chromium is optional (Debian: apt-get install chromium): without it the report has no PDF and
everything else is written as before. Why Chromium rather than WeasyPrint: it prints exactly the
page a client sees on screen (same layout engine as most browsers), embeds the page's fonts,
and needs no Python build of cairo/pango; it is one OS package, already what CI tests pages with.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import ReportError
from .chromium import find_chromium, print_to_pdf

PDF_NAME = "report.pdf"


DEFAULT_ENV = "CRM_REPORT_PDF"  # "0": no PDF unless `report.pdf: true` (quick batches, the tests)


def pdf_wanted(setting: bool | None) -> bool:
    """Whether to write report.pdf: the `report.pdf` setting, or (unset) when Chromium is there
    and $CRM_REPORT_PDF is not "0" (printing costs a few seconds a report)."""
    if setting is None:
        return os.environ.get(DEFAULT_ENV) != "0" and find_chromium() is not None
    return setting


def write_pdf(folder: Path, html_name: str = "report.html") -> Path:
    """Print folder/report.html to folder/report.pdf; a clear ReportError when Chromium is missing
    or fails (report.pdf: true asks for it)."""
    exe = find_chromium()
    if exe is None:
        raise ReportError(
            "report.pdf: true, but headless Chromium is not installed. Install it (Debian/Ubuntu: "
            "apt-get install chromium) or set report.pdf: false in the client YAML."
        )
    target = folder / PDF_NAME
    try:
        print_to_pdf(exe, folder / html_name, target)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ReportError(
            f"report.pdf: Chromium could not print {html_name} ({str(detail).strip()[-300:]}). "
            "Set report.pdf: false in the client YAML to render without the PDF."
        ) from None
    return target
