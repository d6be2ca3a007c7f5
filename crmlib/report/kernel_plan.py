"""How a report's kernels are planned, without importing Jupyter (0.25-0.3 s): where the chapter
notebooks are, how many warm kernels a report gets, and whether they are forked from a zygote,
which `run` then starts before anything else (crmlib.runs)."""

from __future__ import annotations

import os
from pathlib import Path

from ..cores import usable_cores


def default_notebooks_dir() -> Path:
    """The chapter notebooks: crmlib/notebooks/ in an installed package (setup.py copies them
    there), else notebooks/ of the source checkout (crmlib/report/ -> repository root)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "notebooks"
    return installed if installed.is_dir() else package.parent / "notebooks"


def report_lanes(jobs: int) -> int:
    """Warm kernels for a report's chapters: one per core, at most 4 and one per chapter. A
    small client's chapter spends most of its time in one Python thread, so two cores run two
    chapters at once; each kernel pays its start and imports once (during the ingest, for `run`)."""
    return max(1, min(jobs, 4, usable_cores()))


def zygote_forks() -> bool:
    """Whether report kernels are forked from a zygote: on Linux, unless CRM_KERNEL_ZYGOTE=0."""
    from .zygote import FORKS

    return FORKS and os.environ.get("CRM_KERNEL_ZYGOTE", "1") != "0"


def forks_kernels(count: int) -> bool:
    """Whether a report with `count` warm kernels forks them from a zygote (two or more)."""
    return count > 1 and zygote_forks()


def early_zygote(notebooks_dir: Path, jobs: int):
    """The zygote for a report of `jobs` chapters, started now when its kernels will be forked
    (crmlib.report.zygote.Zygote; its preload follows once the notebooks are read), else None:
    `run` starts it before its own imports of Jupyter, so the zygote's imports of pandas,
    matplotlib and ipykernel use the second core from the first tenth of a second."""
    if not forks_kernels(report_lanes(jobs)):
        return None
    from .zygote import Zygote

    try:
        return Zygote(None, str(Path(notebooks_dir).resolve()))
    except OSError:  # no process to spare: the kernels start as usual
        return None


__all__ = ["default_notebooks_dir", "early_zygote", "forks_kernels", "report_lanes", "zygote_forks"]
