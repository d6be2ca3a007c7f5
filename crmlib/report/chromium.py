"""Headless Chromium from the OS packages: the optional renderer for report.pdf (and the browser
the layout tests read pages with). Absent Chromium means no PDF, never a failed report."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV_VAR = "CRM_CHROMIUM"  # an explicit path wins over the PATH search
TIMEOUT = 180  # seconds for one page (a 40-page report prints in a few seconds)


def find_chromium() -> str | None:
    """The Chromium executable ($CRM_CHROMIUM, else the first of CANDIDATES on PATH), or None."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def headless_args(exe: str, profile: Path) -> list[str]:
    """The command start: headless, no GPU, no network fetches, a throwaway profile; no sandbox
    when running as root (Chromium refuses to start sandboxed as root: containers, CI)."""
    args = [exe, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--mute-audio",
            f"--user-data-dir={profile}", "--hide-scrollbars"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


def run_chromium(exe: str, extra: list[str], url: str, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    """Run headless Chromium once on url with extra flags; raises CalledProcessError on failure."""
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile:
        return subprocess.run([*headless_args(exe, Path(profile)), *extra, url], capture_output=True,
                              text=True, timeout=timeout, check=True)


def print_to_pdf(exe: str, page: Path, pdf: Path) -> None:
    """Print an HTML file to PDF with the page's own @page size and margins (A4), no browser
    header or footer (the page prints its own)."""
    run_chromium(exe, [f"--print-to-pdf={pdf}", "--no-pdf-header-footer", "--virtual-time-budget=10000",
                       "--run-all-compositor-stages-before-draw"], page.resolve().as_uri())
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no PDF for {page.name}")


def dump_dom(exe: str, page: Path, width: int, height: int = 900) -> str:
    """The page's DOM after its scripts ran at a given window width (the layout tests' reader)."""
    done = run_chromium(exe, ["--dump-dom", f"--window-size={width},{height}", "--virtual-time-budget=10000",
                              "--run-all-compositor-stages-before-draw"], page.resolve().as_uri())
    return done.stdout


def screenshot(exe: str, page: Path, png: Path, width: int, height: int) -> None:
    """A PNG of the page's first height pixels at a given window width."""
    run_chromium(exe, [f"--screenshot={png}", f"--window-size={width},{height}", "--virtual-time-budget=10000"],
                 page.resolve().as_uri())
