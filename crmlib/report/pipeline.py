"""Run the chapter notebooks with papermill and assemble reports/<client>/<as_of>/.

Everything is written to a hidden temporary sibling folder and moved into place only when all
chapters succeeded, so a failed run leaves the previous report untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from .. import __version__
from ..config import ClientConfig
from ..errors import ReportError
from ..i18n import t
from ..ledger import Ledger
from ..metrics import merge_metrics, plain, read_metrics, record_metrics
from ..registry import CHAPTERS, Chapter, chapter_settings, resolve, select_chapters  # noqa: F401 (re-exported)
from .fonts import embed_fonts
from .html import PageFrame, chapter_html, data_fingerprint, external_urls, index_html, numbered_title, single_file_html
from .settings import ReportSettings, load_report_settings, logo_data_uri
from .summary import executive_summary


# The parameters every chapter notebook declares in its `parameters` cell.
PARAMETERS = ("processed_dir", "as_of", "lang", "currency", "client_title", "metrics_path", "settings")
REQUIRED_INPUTS = ("orders.parquet", "order_lines.parquet", "ledger.json")
KERNEL = "python3"


@dataclass
class _Job:
    """One chapter run: where its notebook is, where outputs go, what it is given."""

    chapter: Chapter
    source: Path
    output: Path
    parameters: dict[str, Any]


def default_notebooks_dir() -> Path:
    """The chapter notebooks: crmlib/notebooks/ in an installed package (setup.py copies them
    there), else notebooks/ of the source checkout (crmlib/report/ -> repository root)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "notebooks"
    return installed if installed.is_dir() else package.parent / "notebooks"


def chapter_parameters(
    config: ClientConfig, chapter: Chapter, processed_dir: Path, as_of: dt.date, metrics_path: Path | str
) -> dict[str, Any]:
    """The papermill parameters of one chapter (plain JSON values: dates become ISO text)."""
    settings = chapter_settings(config, chapter)
    return {
        "processed_dir": str(Path(processed_dir).resolve()),
        "as_of": as_of.isoformat(),
        "lang": config.lang,
        "currency": config.currency,
        "client_title": config.title or config.name,
        "metrics_path": str(metrics_path),
        "settings": plain(settings or {}, f"{chapter.section}"),
    }


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Raise ReportError when a notebook lacks a parameters cell or does not declare a parameter."""
    try:
        declared = papermill.inspect_notebook(str(notebook))
    except Exception as exc:  # unreadable JSON, missing file
        raise ReportError(f"{notebook}: cannot read the notebook ({type(exc).__name__}: {exc}).") from exc
    if not declared:
        raise ReportError(
            f"{notebook.name}: no cell tagged 'parameters'.",
            hint="tag the cell that sets processed_dir, as_of, lang, ... with 'parameters'",
        )
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise ReportError(
            f"{notebook.name}: unknown parameter(s) {', '.join(unknown)}; "
            f"the notebook declares {', '.join(declared)}.",
            hint="add the parameter to the notebook's 'parameters' cell or stop passing it",
        )


def check_inputs(processed_dir: Path) -> None:
    """Raise ReportError when the ingest output the notebooks read is missing."""
    missing = [name for name in REQUIRED_INPUTS if not (processed_dir / name).is_file()]
    if missing:
        raise ReportError(
            f"{processed_dir}: missing {', '.join(missing)}.",
            hint="run the ingest first: `crm-workbook run CLIENT.yaml` ingests, then renders",
        )


def _source_cell_index(source: Path, executed_index: int) -> int:
    """Map a cell index of the executed notebook back to the committed notebook (papermill
    inserts one 'injected-parameters' cell right after the parameters cell)."""
    nb = nbformat.read(source, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    return executed_index - 1 if tagged and executed_index > tagged[0] else executed_index


def _first_line(source: str) -> str:
    """The first non-empty line of a cell's source, shortened for an error message."""
    lines = [line.strip() for line in (source or "").splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def run_chapter(job: _Job, cwd: Path, kernel: Any = None) -> nbformat.NotebookNode:
    """Execute one chapter notebook; a failing cell becomes a ReportError naming chapter and cell.

    kernel: a jupyter_client KernelManager to reuse (crmlib.report.warm.WarmKernel.prepare()),
    else a new kernel is started and shut down for this notebook.
    """
    extra = {"km": kernel} if kernel is not None else {}
    try:
        return papermill.execute_notebook(
            str(job.source),
            str(job.output),
            parameters=job.parameters,
            kernel_name=KERNEL,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            # the kernel's working directory, set without papermill's process-wide chdir
            # (which is not thread-safe); nbclient passes it to the kernel manager
            resources={"metadata": {"path": str(cwd)}},
            # a new kernel's start-up warnings (plain TCP on localhost) are noise in a consultant's
            # terminal; its errors still show
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            **extra,
        )
    except PapermillExecutionError as exc:
        index = _source_cell_index(job.source, exc.cell_index)
        line = _first_line(exc.source)
        params = job.parameters
        raise ReportError(
            f"chapter {job.chapter.name} failed in cell {index} (counting from 0 in {job.source.name}"
            f"{', starting ' + repr(line) if line else ''}): {exc.ename}: {exc.evalue}",
            hint=(
                f"open {job.source.name} in JupyterLab (make lab), set processed_dir = "
                f"{params['processed_dir']!r} and as_of = {params['as_of']!r} in its parameters cell "
                "and run it to see the full traceback"
            ),
        ) from None
    except ReportError:
        raise
    except Exception as exc:  # kernel died, timeout (KeyboardInterrupt in the kernel), I/O error
        raise ReportError(
            f"chapter {job.chapter.name} could not be run: {type(exc).__name__}: {exc}",
            hint="check that the virtual environment has ipykernel and the 'python3' kernel",
        ) from exc


def default_workers(jobs: int) -> int:
    """Parallel chapters: one per two CPU cores, at most 4 (kernels are CPU-bound while importing)."""
    return max(1, min(jobs, 4, (os.cpu_count() or 1) // 2))


# Up to this many orders, chapters run one after the other share a warm kernel. Above it a
# chapter takes far longer than a kernel start, and a new kernel per chapter starts with none of
# the memory the chapter before it held (a 100M-order chapter peaks at several GB).
WARM_KERNEL_MAX_ORDERS = 1_000_000


def _order_count(processed_dir: Path) -> int:
    """The processed data's order count, from its ledger (check_inputs made sure it is there)."""
    return int(json.loads((processed_dir / "ledger.json").read_text(encoding="utf-8"))["orders"])


def _run_all(jobs: list[_Job], cwd: Path, workers: int, kernel: Any = None,
             share_kernel: bool = True) -> list[nbformat.NotebookNode]:
    """Run chapter jobs (in a thread pool when workers > 1); the first failure in report order wins.
    With a warm kernel, the chapters run one after the other in it; run one after the other
    anyway (workers = 1) and share_kernel, they share a warm kernel made for this report: one
    kernel start and one import of pandas, matplotlib and crmlib instead of one per chapter."""
    if kernel is None and share_kernel and workers <= 1 and len(jobs) > 1:
        from .warm import WarmKernel

        with WarmKernel(cwd, stderr=None) as own:  # kernel errors reach the terminal, as before
            return _run_all(jobs, cwd, workers, own)
    if kernel is not None:
        return [run_chapter(job, cwd, kernel.prepare()) for job in jobs]
    if workers <= 1 or len(jobs) <= 1:
        return [run_chapter(job, cwd) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chapter") as pool:
        futures = [pool.submit(run_chapter, job, cwd) for job in jobs]
        return [future.result() for future in futures]


def _save_executed(nb: nbformat.NotebookNode, path: Path) -> None:
    """Save an executed notebook with metrics_path blanked: the run's path was in the temporary
    folder, and re-running the kept notebook must not write there (or anywhere) by surprise."""
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = "\n".join(
                'metrics_path = ""  # recorded into ../metrics.json during the report run'
                if line.startswith("metrics_path = ") else line
                for line in cell.source.splitlines()
            )
    nbformat.write(nb, path)


def _write_text(path: Path, text: str) -> None:
    """Write UTF-8 text, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _copy_ledger(processed_dir: Path, out: Path, lang: str) -> None:
    """Copy ledger.json (and ledger.csv, written from the JSON when the ingest made none)."""
    shutil.copy2(processed_dir / "ledger.json", out / "ledger.json")
    if (processed_dir / "ledger.csv").is_file():
        shutil.copy2(processed_dir / "ledger.csv", out / "ledger.csv")
    else:
        Ledger.load(processed_dir / "ledger.json").to_frame(lang).to_csv(out / "ledger.csv", index=False)


def page_frame(config: ClientConfig, settings: ReportSettings, processed_dir: Path, as_of: str) -> PageFrame:
    """The frame of every page: client, date, logo and colours from `report:`, data fingerprint.
    Reads the logo first, so a missing logo file fails before any notebook runs."""
    base = config.source_path.parent if config.source_path else None
    ledger = json.loads((processed_dir / "ledger.json").read_text(encoding="utf-8"))
    return PageFrame(
        lang=config.lang, client=config.title or config.name, as_of=as_of, version=__version__,
        fingerprint=data_fingerprint(ledger, config.lang), logo=logo_data_uri(settings, base),
        primary=settings.primary_color, accent=settings.accent_color, embed_font=settings.embed_font,
    )


def _write_pages(
    config: ClientConfig, jobs: list[_Job], executed: list[nbformat.NotebookNode], out: Path,
    frame: PageFrame, settings: ReportSettings,
) -> None:
    """Write one HTML page per chapter, the index (with the executive summary) and, when asked,
    report.html; refuse pages that would need the network."""
    lang = config.lang
    pages = {"index.html": ""}
    titles = []
    for job, nb in zip(jobs, executed):
        name = f"{job.chapter.name}.html"
        titles.append((job.chapter.name, numbered_title(job.chapter.number, job.chapter.title(lang), lang)))
        pages[name] = chapter_html(
            nb, lang=lang, chapter_title=job.chapter.title(lang), client_title=frame.client,
            as_of=frame.as_of, version=__version__, number=job.chapter.number, frame=frame, embed=False,
        )
    findings = executive_summary(
        read_metrics(out / "metrics.json"), settings, lang=lang, currency=config.currency,
        chapters=[job.chapter.name for job in jobs],
    )
    files = []
    if settings.single_file:
        files.append(("report.html", t("report.file_single", lang)))
    files += [
        ("ledger.csv", t("report.file_ledger_csv", lang)),
        ("ledger.json", t("report.file_ledger_json", lang)),
        ("metrics.json", t("report.file_metrics", lang)),
        ("notebooks/", t("report.file_notebooks", lang)),
    ]
    if (out / "exports").is_dir():
        files.append(("exports/", exports_label(out / "exports", lang)))
    pages["index.html"] = index_html(
        lang=lang, client_title=frame.client, as_of=frame.as_of, version=__version__,
        chapters=[(f"{stem}.html", title) for stem, title in titles], files=files,
        findings=findings, frame=frame, embed=False,
    )
    if settings.single_file:
        pages["report.html"] = single_file_html(
            frame=frame, findings=findings,
            chapters=[(stem, title, pages[f"{stem}.html"]) for stem, title in titles], embed=False,
        )
    pages = embed_fonts(pages, frame.embed_font)  # one shared font subset for all the pages
    for name, page in pages.items():
        external = external_urls(page)
        if external:
            raise ReportError(f"{name} would load {external[0]} from the network; reports must work offline.")
        _write_text(out / name, page)


def exports_label(exports: Path, lang: str) -> str:
    """The index's line for the customer lists: CSV and Excel, or CSV only when the workbook was
    left out (above segments.exports.xlsx_max_customers)."""
    with_xlsx = any(exports.glob("*.xlsx"))
    return t("report.file_exports" if with_xlsx else "report.file_exports_csv", lang)


def _hidden_sibling(final: Path, kind: str) -> Path:
    """A new, hidden, uniquely named folder beside final (created with the usual permissions,
    unlike tempfile.mkdtemp's 0700, since it becomes the report folder)."""
    path = final.parent / f".{final.name}.{kind}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


def _write_exports(chapter: Chapter, config: ClientConfig, processed_dir: Path, as_of: dt.date,
                   out_dir: Path) -> None:
    """Run a chapter's export function (customer lists ...) into the report's exports/ folder."""
    if not chapter.exports:
        return
    settings = getattr(config, chapter.section) if chapter.section else {}
    resolve(chapter.exports)(processed_dir, as_of, settings, out_dir, lang=config.lang)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Replace final with tmp: old report renamed aside, new one renamed in, old one removed."""
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def render_report(
    config: ClientConfig,
    processed_dir: Path,
    as_of: dt.date,
    reports_root: Path,
    notebooks_dir: Path | None = None,
    chapters: list[str] | None = None,
    *,
    workers: int | None = None,
    fingerprint: dict[str, Any] | None = None,
    kernel: Any = None,
    share_kernel: bool = True,
) -> Path:
    """Run the chapter notebooks and write reports_root/<client>/<as_of>/; returns that folder.

    fingerprint is recorded in metrics.json (report.fingerprint) for up-to-date checks;
    kernel is a crmlib.report.warm.WarmKernel to run the chapters in, one after the other
    (for data of up to WARM_KERNEL_MAX_ORDERS orders; larger data gets a new kernel per chapter).
    share_kernel=False: a new kernel for every chapter, whatever the size (benchmarks compare).
    """
    processed_dir = Path(processed_dir).resolve()
    notebooks_dir = Path(notebooks_dir or default_notebooks_dir()).resolve()
    as_of = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    selected = select_chapters(chapters)
    check_inputs(processed_dir)

    sources = [notebooks_dir / f"{chapter.name}.ipynb" for chapter in selected]
    for chapter, source in zip(selected, sources):  # fail before any kernel starts
        if not source.is_file():
            raise ReportError(f"chapter {chapter.name}: no notebook {source}.")
        check_parameters(source, dict.fromkeys(PARAMETERS))

    report_settings = load_report_settings(config.report)
    frame = page_frame(config, report_settings, processed_dir, as_of.isoformat())

    client_dir = Path(reports_root).resolve() / config.name
    final = client_dir / as_of.isoformat()
    client_dir.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(final, "tmp")
    try:
        (tmp / "notebooks").mkdir()
        jobs = [
            _Job(chapter, source, tmp / "notebooks" / source.name, chapter_parameters(
                config, chapter, processed_dir, as_of, tmp / ".metrics" / f"{chapter.name}.json"))
            for chapter, source in zip(selected, sources)
        ]
        small = _order_count(processed_dir) <= WARM_KERNEL_MAX_ORDERS
        if kernel is not None and not small:
            # a large client's chapters get new kernels even in a batch worker (the warm kernel
            # would carry their memory on to the worker's next clients), one at a time (parallel
            # chapters in every worker would multiply the peak memory)
            kernel, workers = None, 1
        executed = _run_all(jobs, notebooks_dir, workers or default_workers(len(jobs)), kernel,
                            share_kernel=small and share_kernel)
        for job in jobs:
            _write_exports(job.chapter, config, processed_dir, as_of, tmp / "exports")

        merge_metrics(
            [tmp / ".metrics" / f"{job.chapter.name}.json" for job in jobs], into=tmp / "metrics.json"
        )
        record_metrics(tmp / "metrics.json", "report", {
            "client": config.name, "as_of": as_of, "lang": config.lang, "currency": config.currency,
            "chapters": [job.chapter.name for job in jobs], "crmlib_version": __version__,
            **({"fingerprint": fingerprint} if fingerprint is not None else {}),
        })
        shutil.rmtree(tmp / ".metrics", ignore_errors=True)
        for job, nb in zip(jobs, executed):
            _save_executed(nb, job.output)
        _copy_ledger(processed_dir, tmp, config.lang)
        _write_pages(config, jobs, executed, tmp, frame, report_settings)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
