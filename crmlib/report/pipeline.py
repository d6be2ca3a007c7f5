"""Run the chapter notebooks with papermill and assemble reports/<client>/<as_of>/.

Everything is written to a hidden temporary sibling folder and moved into place at the end, so
an interrupted or crashed run leaves the previous report untouched. A chapter that fails does
not stop the others: its page says where it stopped and what to do (failures.py), the index marks
it, and render_report raises ChapterFailed (exit 4) after the report is in place. Rendering some
chapters (`--chapters`) into an existing report of the same data keeps the other chapters' pages.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from .. import __version__
from ..config import ClientConfig
from ..display import write_names as write_display_names
from ..errors import ChapterFailed, ReportError
from ..i18n import t
from ..ledger import Ledger
from ..memory import release_freed_memory
from ..metrics import plain, read_metrics, record_metrics, write_json_atomic
from ..registry import CHAPTERS, Chapter, chapter_settings, resolve, select_chapters  # noqa: F401 (re-exported)
from ..registry import run_priority
from .deck import DECK_NAME, write_deck
from .engine import engine_name
from .failures import Failure, failed_section, failure_notebook
from .fonts import embed_fonts
from .html import (
    CSS_PATH, PageFrame, chapter_html, data_fingerprint, external_urls, index_html, numbered_title, section_numbers,
    single_file_html,
)
from .notes import SUMMARY, Note, mark_draft, notes_html, split_notes, split_summary
from .pdf import PDF_NAME, pdf_wanted, write_pdf
from .settings import ReportSettings, load_report_settings, logo_data_uri
from .limits import data_limits
from .summary import executive_summary
from .tracking import tracking_block, tracking_section
from .warm import default_notebooks_dir, report_kernels, report_lanes  # noqa: F401 (re-exported)

NOTES_PAGE = "consultant/notes.html"  # the consultant's; never linked from the client's pages


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
            engine_name=engine_name(),  # one request per notebook (crmlib.report.engine)
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
        error = ReportError(
            f"chapter {job.chapter.name} failed in cell {index} (counting from 0 in {job.source.name}"
            f"{', starting ' + repr(line) if line else ''}): {exc.ename}: {exc.evalue}",
            hint=(
                f"open {job.source.name} in JupyterLab (make lab), set processed_dir = "
                f"{params['processed_dir']!r} and as_of = {params['as_of']!r} in its parameters cell "
                "and run it to see the full traceback"
            ),
        )
        error.ename = exc.ename  # the failure page names the error's type (never its text)
        raise error from None
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


def _outcome(run: Any) -> nbformat.NotebookNode | ReportError:
    """A chapter's executed notebook, or the ReportError it failed with (the others go on)."""
    try:
        return run()
    except ReportError as exc:
        return exc


def _cancelled(future: Future) -> None:
    """Mark a job's Future that will never run as cancelled (its waiters are told)."""
    future.cancel()
    future.set_running_or_notify_cancel()


def _when_ready(jobs: list[_Job], submit: Callable[[_Job, float], Future], close: Callable[[], None] = lambda: None,
                closed: Callable[[], bool] = lambda: False) -> list[Future]:
    """Each job's Future (report order). A job is submitted once the chapters it needs
    (Chapter.needs, when they run too) are done, whether they succeeded or not (a chapter whose
    need failed computes the result itself), ready jobs highest run_priority first; close()
    is called once every job is submitted. After a stop (closed(), or submit refusing), what was
    not started is cancelled."""
    by_name = {job.chapter.name: job for job in jobs}
    needs = {name: [n for n in job.chapter.needs if n in by_name] for name, job in by_name.items()}
    priority = run_priority(job.chapter for job in jobs)
    results: dict[str, Future] = {name: Future() for name in by_name}
    started: set[str] = set()
    lock = threading.Lock()

    def copy(name: str, done: Future) -> None:
        if done.cancelled():
            _cancelled(results[name])
        elif done.exception() is not None:
            results[name].set_exception(done.exception())
        else:
            results[name].set_result(done.result())
        submit_ready()

    def submit_ready() -> None:
        submitted: list[tuple[str, Future]] = []
        with lock:  # a batch is marked started before any callback can run (a job already done)
            batch = sorted((name for name in by_name
                            if name not in started and all(results[n].done() for n in needs[name])),
                           key=lambda n: -priority[n])
            started.update(batch)
            for name in batch:
                try:
                    if closed():
                        raise RuntimeError("stopped")
                    submitted.append((name, submit(by_name[name], priority[name])))
                except RuntimeError:  # stopped (Ctrl-C, an error): what was not started is dropped
                    _cancelled(results[name])
            if batch and len(started) == len(by_name):
                close()
        for name, future in submitted:
            future.add_done_callback(lambda done, name=name: copy(name, done))

    submit_ready()
    if not by_name:
        close()
    return [results[job.chapter.name] for job in jobs]


def _as_done(jobs: list[_Job], futures: list[Future]) -> Iterator[tuple[_Job, nbformat.NotebookNode | ReportError]]:
    """(job, outcome) of each future as it finishes: a chapter's pages and lists need not wait
    for a chapter before it in report order that is still running."""
    job_of = dict(zip(futures, jobs))
    for future in as_completed(futures):
        yield job_of[future], _outcome(future.result)


def _in_lanes(jobs: list[_Job], cwd: Path, lanes: Any) -> Iterator[tuple[_Job, nbformat.NotebookNode | ReportError]]:
    """Each chapter's outcome as it finishes, the chapters run by whichever warm kernel is free
    (in run_priority order, each after the chapters it needs; see _when_ready)."""
    futures = _when_ready(
        jobs, lambda job, priority: lanes.submit(lambda kernel: run_chapter(job, cwd, kernel.prepare()), priority),
        # one report's kernels: each shuts down as soon as no chapter is left for it
        close=lanes.close, closed=lambda: lanes.closed)
    yield from _as_done(jobs, futures)


def _outcomes(jobs: list[_Job], cwd: Path, workers: int, kernel: Any = None,
              share_kernel: bool = True) -> Iterator[tuple[_Job, nbformat.NotebookNode | ReportError]]:
    """(job, outcome) of each chapter as soon as it is known, in the order the chapters finish
    (see _run_all)."""
    from .warm import KernelLanes

    if isinstance(kernel, KernelLanes):
        yield from _in_lanes(jobs, cwd, kernel)
        return
    if kernel is not None:
        for job in jobs:
            yield job, _outcome(lambda job=job: run_chapter(job, cwd, kernel.prepare()))
        return
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, _outcome(lambda job=job: run_chapter(job, cwd))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chapter") as pool:
        yield from _as_done(jobs, _when_ready(jobs, lambda job, priority: pool.submit(run_chapter, job, cwd)))


def _run_all(jobs: list[_Job], cwd: Path, workers: int, kernel: Any = None, share_kernel: bool = True, *,
             finish: Callable[[_Job, Any], Any] | None = None, overlap: bool = True) -> list[Any]:
    """Run chapter jobs; one result per job in report order: finish(job, outcome), where the
    outcome is the executed notebook or the ReportError of a chapter that failed (the others
    still run). finish (the chapter's exports and page) runs in a thread of its own while the
    next chapters run in their kernels; with overlap=False (large data, chapters one after the
    other) it runs before the next chapter starts, so the customer lists of 50M customers and the
    next chapter's kernel never hold their gigabytes at the same time.

    kernel: a crmlib.report.warm.KernelLanes (chapters in whichever of its kernels is free), or a
    WarmKernel (a batch worker's: the chapters one after the other in it); without one, each
    chapter gets a new kernel, `workers` at a time (share_kernel is render_report's choice, kept
    in the signature for the tests that watch it)."""
    finish = finish or (lambda job, outcome: outcome)
    if not overlap:
        finished = {id(job): finish(job, outcome) for job, outcome in _outcomes(jobs, cwd, workers, kernel, share_kernel)}
        return [finished[id(job)] for job in jobs]
    post = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chapter-finish")
    try:
        done = {id(job): post.submit(finish, job, outcome)
                for job, outcome in _outcomes(jobs, cwd, workers, kernel, share_kernel)}
        return [done[id(job)].result() for job in jobs]
    except BaseException:  # Ctrl-C, SIGTERM, a bug: the chapters not yet finished are dropped
        post.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        post.shutdown(wait=True)


def _failure(job: _Job, error: ReportError) -> Failure:
    """What the failed chapter's page says: the section the failing cell was under (from the
    executed notebook papermill wrote up to the error) and the error's type, never its text."""
    return Failure(chapter=job.chapter.name, message=error.message, hint=error.hint,
                   error=getattr(error, "ename", None) or type(error.__cause__ or error).__name__,
                   section=failed_section(job.output, job.chapter.number))


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


def _chapter_page(config: ClientConfig, chapter: Chapter, nb: nbformat.NotebookNode, frame: PageFrame) -> str:
    """One chapter's page from its executed notebook (or its failure notebook), font marker kept."""
    return chapter_html(
        nb, lang=config.lang, chapter_title=chapter.title(config.lang), client_title=frame.client,
        as_of=frame.as_of, version=__version__, number=chapter.number, frame=frame, embed=False,
    )


def _write_pages(
    config: ClientConfig, chapters: list[tuple[Chapter, str]], failed: set[str], out: Path,
    frame: PageFrame, settings: ReportSettings,
) -> None:
    """Write one HTML page per chapter (chapters: each with its page), the index (with the
    executive summary of the chapters that did not fail, and the failed ones marked) and, when
    asked, report.html; refuse pages that would need the network."""
    lang = config.lang
    pages = {"index.html": ""}
    titles = []
    for chapter, page in chapters:
        titles.append((chapter.name, numbered_title(chapter.number, chapter.title(lang), lang)))
        pages[f"{chapter.name}.html"] = page
    notes: list[Note] = []
    for stem, _title in titles:  # consultant text out of the client's pages (notes.py)
        pages[f"{stem}.html"], found = split_notes(pages[f"{stem}.html"], stem, lang)
        notes.extend(found)
    draft = t("report.draft", lang) if any(note.unfilled for note in notes) else ""
    metrics = read_metrics(out / "metrics.json")
    findings = executive_summary(metrics, settings, lang=lang, currency=config.currency,
                                 chapters=[chapter.name for chapter, _ in chapters if chapter.name not in failed])
    limits = data_limits(metrics, lang, config.currency)
    tracking = tracking_block(metrics.get("tracking"), lang=lang, currency=config.currency)
    if tracking and not (metrics.get("tracking") or {}).get("previous"):
        # a first report does not open with what it cannot show yet: one line among the data limits
        limits, tracking = [*limits, tracking["empty"]], None
    findings, limits, summary_notes = split_summary(findings, limits, lang)  # the index's consultant text too
    notes = summary_notes + notes
    files = []
    make_pdf = settings.single_file and pdf_wanted(settings.pdf)
    if settings.single_file:
        files.append(("report.html", t("report.file_single", lang)))
    if make_pdf:
        files.append((PDF_NAME, t("report.file_pdf", lang)))
    if settings.deck:
        files.append((DECK_NAME, t("report.file_deck", lang)))
    sections = section_numbers({stem: pages[f"{stem}.html"] for stem, _title in titles})
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
        findings=findings, frame=frame, embed=False, failed={f"{name}.html" for name in failed}, limits=limits,
        sections=sections, tracking=tracking,
    )
    if settings.single_file:
        pages["report.html"] = single_file_html(
            frame=frame, findings=findings, limits=limits,
            chapters=[(stem, title, pages[f"{stem}.html"]) for stem, title in titles], embed=False,
            sections=sections, tracking=tracking,
        )
    deck = [(stem, title, pages[f"{stem}.html"]) for stem, title in titles]  # before the draft mark
    if draft:
        pages = {name: mark_draft(page, draft) for name, page in pages.items()}
    pages[NOTES_PAGE] = notes_html(notes, lang=lang, title=t("report.notes_title", lang, client=frame.client),
                                   chapter_titles={SUMMARY: t("summary.title", lang), **dict(titles)}, css=CSS_PATH.read_text(encoding="utf-8"))
    pages = embed_fonts(pages, frame.embed_font)  # one shared font subset for the new pages
    for name, page in pages.items():
        external = external_urls(page)
        if external:
            raise ReportError(f"{name} would load {external[0]} from the network; reports must work offline.")
        _write_text(out / name, page)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf") as printer:
        # Chromium prints report.html while the deck is made
        printed = printer.submit(write_pdf, out) if make_pdf else None
        if settings.deck:
            write_deck(out, frame=frame, title=t("report.index_title", lang, client=frame.client), findings=findings,
                       chapters=deck, draft=draft)
        if printed is not None:
            printed.result()


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
                   out_dir: Path) -> list[str]:
    """Run a chapter's export function (customer lists ...) into the report's exports/ folder;
    returns the files it wrote (relative to exports/), so a later --chapters run knows whose
    files are whose. The function writes into a folder of its own, moved in file by file; it gets
    the settings the chapter's notebook got (chapter_settings)."""
    if not chapter.exports:
        return []
    # the settings the chapter's notebook got (its builder's: files resolved, other sections in context)
    settings = chapter_settings(config, chapter)
    staging = out_dir.parent / f".exports-{chapter.name}"
    try:
        resolve(chapter.exports)(processed_dir, as_of, settings, staging, lang=config.lang)
    finally:
        release_freed_memory()  # the lists' frames, before the next chapter's kernel peaks beside us
    written = []
    for path in sorted(staging.rglob("*")) if staging.is_dir() else []:
        if path.is_file():
            relative = path.relative_to(staging)
            (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, out_dir / relative)
            written.append(relative.as_posix())
    shutil.rmtree(staging, ignore_errors=True)
    return written


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


def kept_chapters(final: Path, selected: list[Chapter], config: ClientConfig, processed_dir: Path) -> list[Chapter]:
    """The chapters of an existing report at final that a run of only `selected` keeps (their
    pages, notebooks and metrics); a ReportError (exit 2) when that report was made from other
    data or in another language or currency, since keeping its pages would mix two reports."""
    names = {chapter.name for chapter in selected}
    if not final.is_dir():
        return []
    others = [c for c in CHAPTERS if c.name not in names and (final / f"{c.name}.html").is_file()]
    if not others:
        return []
    try:
        old = read_metrics(final / "metrics.json").get("report", {})
        same_data = (json.loads((final / "ledger.json").read_text(encoding="utf-8"))
                     == json.loads((processed_dir / "ledger.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):  # no or unreadable ledger or metrics: cannot tell, do not mix
        old, same_data = {}, False
    if not same_data or old.get("lang") != config.lang or old.get("currency") != config.currency:
        error = ReportError(
            f"{final} holds chapters {', '.join(c.name for c in others)} made from other data or "
            f"settings (ledger, language or currency differ); rendering only {', '.join(sorted(names))} "
            "into it would mix two reports.",
            hint="render every chapter (leave out --chapters), or another --as-of",
        )
        error.exit_code = 2
        raise error
    return others


def _keep_previous(final: Path, tmp: Path, kept: list[Chapter]) -> dict[str, Any]:
    """Copy the kept chapters' executed notebooks and export files into tmp (a report made before
    export files were recorded per chapter: all of exports/, the re-run chapters write theirs
    over it); returns the previous metrics ({} when nothing is kept)."""
    if not kept:
        return {}
    for chapter in kept:
        notebook = final / "notebooks" / f"{chapter.name}.ipynb"
        if notebook.is_file():
            shutil.copy2(notebook, tmp / "notebooks" / notebook.name)
    previous = read_metrics(final / "metrics.json")
    recorded = previous.get("report", {}).get("exports")
    if (final / "exports").is_dir():
        if recorded is None:
            shutil.copytree(final / "exports", tmp / "exports")
        for relative in [f for c in kept for f in recorded.get(c.name, [])] if recorded is not None else []:
            source = final / "exports" / relative
            if source.is_file():
                (tmp / "exports" / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, tmp / "exports" / relative)
    return previous


def _write_metrics(tmp: Path, ran: list[_Job], previous: dict[str, Any], kept: list[Chapter]) -> dict[str, list[str]]:
    """metrics.json of the report: the sections each chapter that ran recorded, and the kept
    chapters' sections from the previous report; returns which sections belong to which chapter."""
    merged: dict[str, Any] = {}
    owners: dict[str, list[str]] = {}
    for job in ran:  # in report order: a later chapter's value wins, as before
        data = read_metrics(tmp / ".metrics" / f"{job.chapter.name}.json")
        owners[job.chapter.name] = sorted(data)
        for section, values in data.items():
            merged.setdefault(section, {}).update(values)
    recorded = previous.get("report", {}).get("sections", {})
    for chapter in kept:  # reports made before the map was recorded: the chapter's own section
        owned = recorded.get(chapter.name, [chapter.metrics_section or chapter.name.split("_", 1)[-1]])
        owners[chapter.name] = list(owned)
        merged.update({section: previous[section] for section in owned if section in previous and section not in merged})
    write_json_atomic(tmp / "metrics.json", merged)
    return owners


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
    kernel is a crmlib.report.warm.WarmKernel to run the chapters in, one after the other (a
    batch worker's), or the KernelLanes of report_kernels() (`run` starts them before its
    ingest), for data of up to WARM_KERNEL_MAX_ORDERS orders; larger data gets a new kernel per
    chapter, one at a time. Without a kernel, small data gets warm kernels made here
    (report_lanes(): one per core, at most 4; `workers` sets how many), unless workers > 1 asks
    for a new kernel per chapter, that many at a time. share_kernel=False: a new kernel for
    every chapter, whatever the size (benchmarks compare).
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
    write_display_names(processed_dir, report_settings.display_names)  # the notebooks read them
    frame = page_frame(config, report_settings, processed_dir, as_of.isoformat())

    client_dir = Path(reports_root).resolve() / config.name
    final = client_dir / as_of.isoformat()
    kept = kept_chapters(final, selected, config, processed_dir)  # refuses mixing other data
    client_dir.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(final, "tmp")
    own = None
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
        if kernel is None and small and share_kernel and (workers or 0) <= 1 and len(jobs) > 1:
            # warm kernels made for this report (`run` makes them before its ingest)
            from .warm import KernelLanes

            kernel = own = KernelLanes(notebooks_dir, workers or report_lanes(len(jobs)), stderr=None)
        # the kept chapters' notebooks and exports first: the chapters run now write theirs over them
        previous = _keep_previous(final, tmp, kept)
        recorded = previous.get("report", {}).get("exports", {})
        exported = {c.name: recorded[c.name] for c in kept if c.name in recorded}

        def finish(job: _Job, result: nbformat.NotebookNode | ReportError) -> tuple[Failure | None, list[str], str]:
            """A chapter's failure (notebook or exports), export files and page, while the next chapters run."""
            failure, files = None, []
            if isinstance(result, ReportError):
                failure = _failure(job, result)
            else:
                try:
                    files = _write_exports(job.chapter, config, processed_dir, as_of, tmp / "exports")
                except ReportError as exc:
                    failure = Failure(job.chapter.name, exc.message, exc.hint, type(exc).__name__, None, exports=True)
            if isinstance(result, nbformat.NotebookNode):
                _save_executed(result, job.output)
            elif job.output.is_file():  # the notebook up to the failing cell, with its error
                _save_executed(nbformat.read(job.output, as_version=4), job.output)
            notebook = failure_notebook(failure, config.lang) if failure is not None else result
            return failure, files, _chapter_page(config, job.chapter, notebook, frame)

        try:
            finished = _run_all(jobs, notebooks_dir, workers or default_workers(len(jobs)), kernel,
                                share_kernel=small and share_kernel, finish=finish, overlap=small)
        except BaseException:
            if own is not None:
                own.kill()
            raise
        finally:
            if own is not None:
                own.close()  # its kernels shut down while the pages are written
        failures = {job.chapter.name: failure for job, (failure, _, _) in zip(jobs, finished) if failure is not None}
        exported.update({job.chapter.name: files for job, (failure, files, _) in zip(jobs, finished)
                         if failure is None and files})

        ran = [job for job in jobs if job.chapter.name not in failures]
        sections = _write_metrics(tmp, ran, previous, kept)
        names = {c.name for c in kept} | {job.chapter.name for job in jobs}
        order = [c for c in CHAPTERS if c.name in names]
        failed = set(failures) | (set(previous.get("report", {}).get("failed", [])) & {c.name for c in kept})
        record_metrics(tmp / "metrics.json", "report", {
            "client": config.name, "as_of": as_of, "lang": config.lang, "currency": config.currency,
            "chapters": [c.name for c in order], "crmlib_version": __version__,
            "failed": sorted(failed), "sections": sections, "exports": exported,
            # a report with a failed chapter is never 'up to date': the next run renders it again
            **({"fingerprint": fingerprint} if fingerprint is not None and not failed else {}),
        })
        shutil.rmtree(tmp / ".metrics", ignore_errors=True)
        # since the last report: the client's latest complete report before this as-of (tracking.py),
        # classified with the segments settings the chapters used (the report's one lapse window)
        record_metrics(tmp / "metrics.json", "tracking", tracking_section(
            client_dir, read_metrics(tmp / "metrics.json"), orders_path=processed_dir / "orders.parquet",
            segments=next((chapter_settings(config, c) for c in CHAPTERS if c.section == "segments"), None)))
        pages = {c.name: (final / f"{c.name}.html").read_text(encoding="utf-8") for c in kept}
        pages.update({job.chapter.name: page for job, (_, _, page) in zip(jobs, finished)})
        _copy_ledger(processed_dir, tmp, config.lang)
        _write_pages(config, [(c, pages[c.name]) for c in order], failed, tmp, frame, report_settings)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if own is not None:
            own.join()
    if failures:
        first = failures[next(c.name for c in order if c.name in failures)]
        raise ChapterFailed(
            f"the report was written to {final}, but {len(failures)} chapter(s) failed "
            f"({', '.join(c.name for c in order if c.name in failures)}); their pages say where and what "
            f"to do. First: {first.message}",
            hint=first.hint, report=final, chapters=tuple(sorted(failures)),
        )
    return final
