"""The `crm-workbook` command: demo, init, validate, run and batch (the one CLI module: every
subcommand's options are here; crmlib.batch and crmlib.runs do the work).

Errors the user can fix are printed as one clear message with what to do, exit code 2
(data or configuration) or 1 (a report step failed); never a traceback unless --debug.
"""

from __future__ import annotations

import argparse
import datetime as dt
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .errors import ConfigError, CrmError

if TYPE_CHECKING:
    from .ledger import Ledger

PACKAGE_DIR = Path(__file__).resolve().parent


def demo_config_source() -> Path:
    """The demo client's YAML: crmlib/examples/ in an installed package, else examples/ of the checkout."""
    installed = PACKAGE_DIR / "examples" / "demo.yaml"
    return installed if installed.is_file() else PACKAGE_DIR.parent / "examples" / "demo.yaml"


def write_demo_config(sample_dir: Path) -> Path:
    """The demo YAML beside the sample it reads (its ../data/sample/ paths made local), so the demo
    runs the same from a checkout and from an installed package in any folder."""
    text = demo_config_source().read_text(encoding="utf-8").replace("../data/sample/", "")
    target = sample_dir / "demo.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def _print_ledger(ledger: "Ledger", out: TextIO | None = None) -> None:
    """Print the ledger as an aligned table with shares of input rows."""
    from .ledger import NETTED, REASONS

    out = out or sys.stdout

    total = ledger.input_rows or 1
    print(f"Source: {ledger.source['file']} ({ledger.source['format']}, "
          f"encoding {ledger.source['encoding'] or 'n/a'}, preset {ledger.source['preset']})", file=out)
    print(f"{'':44}{'rows':>12}{'share':>8}{'amount':>20}", file=out)
    print(f"{'Input':44}{ledger.input_rows:>12,}{1:>8.1%}{ledger.input_amount:>20,.2f}", file=out)
    print(f"{'Kept':44}{ledger.kept_rows:>12,}{ledger.kept_rows / total:>8.1%}{ledger.kept_amount:>20,.2f}",
          file=out)
    for line in ledger.netted:  # inside the kept rows: credit notes netted against purchases
        label = "  " + NETTED[line.reason]["en"]
        print(f"{label[:44]:44}{line.rows:>12,}{line.rows / total:>8.1%}{line.amount:>20,.2f}", file=out)
    for line in ledger.excluded:
        label = "Excluded: " + REASONS[line.reason]["en"]
        print(f"{label[:44]:44}{line.rows:>12,}{line.rows / total:>8.1%}{line.amount:>20,.2f}", file=out)
    status = "yes" if ledger.reconciles() else "NO"
    print(f"Reconciles (rows and amounts, exactly): {status}", file=out)
    print(f"Orders: {ledger.orders:,}   Customers: {ledger.customers:,}   "
          f"Period: {ledger.first_order} .. {ledger.last_order}", file=out)
    merged = {k: v for k, v in ledger.identity.items() if v and k != "rows_with_customer_id"}
    if merged:
        print("Identity: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in merged.items()), file=out)
    if ledger.problems:
        print("Notes and first problems found:", file=out)
        for p in ledger.problems[:10]:
            print(f"  - {p}", file=out)


def _check_config_files(cfg) -> None:
    """Raise ConfigError when a file the YAML names besides the data (the logo, the files a chapter
    reads, such as the strategy's execution log) is missing, as `run` would before any chapter."""
    from . import registry
    from .report.settings import load_report_settings, logo_data_uri

    base = cfg.source_path.parent if cfg.source_path else None
    logo_data_uri(load_report_settings(cfg.report), base)
    registry.check_side_inputs(cfg)


def cmd_validate(args: argparse.Namespace) -> int:
    from .ingest import ingest_file

    options: dict = {"preset": args.preset}
    if args.config:
        from .config import load_config

        cfg = load_config(args.config)
        _check_config_files(cfg)
        options = dict(preset=args.preset or cfg.preset, mapping=cfg.mapping, rules=cfg.rules,
                       encoding=cfg.encoding, date_format=cfg.date_format)
        path = Path(args.file) if args.file else cfg.data_path()
    else:
        if not args.file:
            raise ConfigError("validate needs a FILE or --config client.yaml.",
                              hint="crm-workbook validate orders.csv --preset generic")
        path = Path(args.file)
    if args.encoding:
        options["encoding"] = args.encoding
    detected = ""
    if not options["preset"]:
        from .detect import detect_preset, read_header

        found = detect_preset(read_header(path, options.get("encoding")), str(path))
        detected = f"Preset: {found.preset} (detected: {found.reason})"
        options["preset"] = found.preset
    result = ingest_file(path, **options)
    if detected:
        print(detected)
    _print_ledger(result.ledger)
    _print_missing_fields(result.ledger)
    print("The data is usable." if not result.ledger.missing_fields
          else "The data is usable, with the warnings above.")
    return 0


def _print_missing_fields(ledger: "Ledger", out: TextIO | None = None) -> None:
    """Say what each missing important field means (no status: cancellations are kept ...)."""
    from .datacheck import missing_field_notes

    for text in missing_field_notes(ledger, "en"):
        print(f"WARNING: {text}", file=out or sys.stdout)


def cmd_init(args: argparse.Namespace) -> int:
    from .config import config_template

    target = Path(args.output or f"{args.name}.yaml")
    if target.exists() and not args.force:
        raise ConfigError(f"{target} already exists.", hint="choose another --output or pass --force")
    preset, data = None, None
    if args.data:  # the cart detected from the file's header; the path relative to the YAML
        from .detect import detect_preset, read_header

        found = detect_preset(read_header(args.data), args.data)
        print(f"Preset: {found.preset} (detected: {found.reason})")
        preset = found.preset
        data = Path(os.path.relpath(Path(args.data).resolve(), target.resolve().parent)).as_posix()
    text = config_template(args.name, preset=preset, data=data)
    target.write_text(text, encoding="utf-8")
    todo = "check the mapping" if data else "edit `data:` and the mapping"
    print(f"Wrote {target}: {todo}, then `crm-workbook validate --config {target}`.")
    return 0


def run_client(config_path: Path, *, data_dir: Path, reports_dir: Path, as_of: str | None = None,
               force: bool = True, chapters: list[str] | None = None, kernel: Any = None) -> Path:
    """Ingest a client's file and render its report; returns the report folder (crmlib.runs).
    kernel: a crmlib.report.warm.WarmKernel the chapters run in (the demo's two reports share one).
    The CLI's process does nothing else meanwhile (runs.run_client's own_process)."""
    from .runs import run_client as guarded_run

    return guarded_run(config_path, data_dir=data_dir, reports_dir=reports_dir, as_of=as_of, force=force,
                       chapters=chapters, kernel=kernel, own_process=True).report


def cmd_run(args: argparse.Namespace) -> int:
    from .runs import terminate_on_sigterm

    terminate_on_sigterm()
    folder = run_client(Path(args.config), data_dir=Path(args.data_dir),
                        reports_dir=Path(args.reports_dir), as_of=args.as_of, force=args.force,
                        chapters=[c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None)
    print(f"Report: {folder / 'index.html'}")
    return 0


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `crm-workbook batch`."""
    p.add_argument("paths", nargs="+", help="a folder of client YAMLs and/or YAML files")
    p.add_argument("--workers", type=int, help="parallel clients (default: one per CPU core)")
    p.add_argument("--scheduler", help="run on a Dask distributed cluster at this address (tcp://HOST:8786)")
    p.add_argument("--force", action="store_true", help="re-run clients whose report is up to date")
    p.add_argument("--as-of", help="analysis date YYYY-MM-DD for every client")
    p.add_argument("--out", help="the index page (default REPORTS_DIR/index.html); the comparison CSV, "
                   "summary JSON and batch-logs/ go beside it")
    p.add_argument("--lang", choices=["ja", "en"], default="ja", help="language of the index page (default ja)")
    p.add_argument("--chapters", help="comma-separated chapters to render (default: all), e.g. 00_data_check")
    p.add_argument("--data-dir", default="data", help="where processed data goes (default data/)")
    p.add_argument("--reports-dir", default="reports", help="where reports go (default reports/)")


def cmd_batch(args: argparse.Namespace) -> int:
    """`crm-workbook batch`: exit 0 when every client is ok or up to date, 1 when any failed."""
    import os

    from .batch import discover_configs, run_batch
    from .registry import select_chapters
    from .runs import parse_as_of, terminate_on_sigterm

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}.")

    parse_as_of(args.as_of)  # wrong options fail once, before any client runs
    chapters = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None
    select_chapters(chapters)
    terminate_on_sigterm()
    configs = discover_configs(args.paths)
    outcomes = run_batch(configs, data_dir=Path(args.data_dir), reports_dir=Path(args.reports_dir),
                         out=Path(args.out) if args.out else None, workers=args.workers,
                         scheduler=args.scheduler, force=args.force, as_of=args.as_of, lang=args.lang,
                         chapters=chapters,
                         warm=os.environ.get("CRM_BATCH_COLD") != "1")  # benchmark switch: a kernel per notebook
    return 1 if any(o["status"] == "failed" for o in outcomes) else 0


# The demo's report date (the day after the sample's last order) and how many months before it
# its earlier report is made, for the tracking section.
DEMO_AS_OF = dt.date(2025, 4, 1)
DEMO_TRACKING_MONTHS = 3


def cmd_demo(args: argparse.Namespace) -> int:
    from .periods import months_before
    from .report.pipeline import default_notebooks_dir
    from .report.warm import WarmKernel
    from .sample import STRATEGY_FILES, write_sample

    data_dir = Path(args.data_dir)
    sample = data_dir / "sample" / "orders.csv"
    companions = [sample.parent / name for name in STRATEGY_FILES.values()]
    if args.regenerate or not sample.exists() or not all(path.exists() for path in companions):
        print(f"Generating the sample shop's orders into {sample} ...", flush=True)
        write_sample(sample, strategy_inputs=True, product_effects=True)
    config = write_demo_config(sample.parent)
    # two reports three months apart, so the later one opens with "since the last report": the
    # earlier one first, in the same warm kernel (one kernel start and import for both)
    earlier = months_before(DEMO_AS_OF, DEMO_TRACKING_MONTHS)
    with WarmKernel(default_notebooks_dir(), stderr=None) as kernel:
        printing = os.environ.get("CRM_REPORT_PDF")
        os.environ["CRM_REPORT_PDF"] = "0"  # the earlier report is there to compare with: no print
        try:
            run_client(config, data_dir=data_dir, reports_dir=Path(args.reports_dir), as_of=earlier.isoformat(),
                       force=args.regenerate, kernel=kernel)
        finally:
            if printing is None:
                os.environ.pop("CRM_REPORT_PDF", None)
            else:
                os.environ["CRM_REPORT_PDF"] = printing
        folder = run_client(config, data_dir=data_dir, reports_dir=Path(args.reports_dir),
                            force=args.regenerate, kernel=kernel)
    print(f"Demo report: {folder / 'index.html'} (compared with the one as of {earlier})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm-workbook",
        description="Turn an e-commerce order export into a CRM strategy report.",
    )
    parser.add_argument("--version", action="version", version=f"crm-workbook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="read an order file and print its ledger and problems")
    p.add_argument("file", nargs="?", help="order export (CSV/TSV/xlsx/Parquet, optionally .gz)")
    p.add_argument("--preset", help="mapping preset (generic, shopify, eccube, online-retail, cdnow ...); "
                   "detected from the header when omitted")
    p.add_argument("--config", help="client YAML (its mapping, rules and data file)")
    p.add_argument("--encoding", help="force the text encoding (utf-8, cp932 ...)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("init", help="write a commented client YAML template")
    p.add_argument("name", help="client short name (letters, digits, . _ -)")
    p.add_argument("--output", "-o", help="where to write (default NAME.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--data", help="the client's order export: its cart is detected and written as `preset:`")
    p.set_defaults(func=cmd_init)

    for name, func, text in (("run", cmd_run, "ingest a client's data and render its report"),
                             ("demo", cmd_demo, "generate the sample shop and render its report")):
        p = sub.add_parser(name, help=text)
        if name == "run":
            p.add_argument("config", help="client YAML file")
            p.add_argument("--as-of", help="analysis date YYYY-MM-DD (default: YAML as_of, else the day "
                           "after the last order)")
            p.add_argument("--force", action="store_true",
                           help="render even when the report is up to date (same data, configuration, code)")
            p.add_argument("--chapters", help="comma-separated chapters to render (default: all)")
        else:
            p.add_argument("--regenerate", action="store_true", help="rewrite the sample data")
        p.add_argument("--data-dir", default="data", help="where processed data goes (default data/)")
        p.add_argument("--reports-dir", default="reports", help="where reports go (default reports/)")
        p.set_defaults(func=func)

    p = sub.add_parser("batch", help="run many clients in parallel; summary, index page and comparison table")
    _batch_arguments(p)
    p.set_defaults(func=cmd_batch)
    return parser


class _NoSignalLoop(asyncio.SelectorEventLoop):
    """An event loop that leaves SIGINT and SIGTERM to crm-workbook: nbclient asks the loop to
    handle them (it shuts the kernel down mid-cell and lets the run go on to fail on the dead
    kernel) and accepts a refusal, as it gets outside the main thread."""

    def add_signal_handler(self, sig: int, callback: Any, *args: Any) -> None:
        raise RuntimeError("signals are handled by crm-workbook")


class _NoSignalPolicy(asyncio.DefaultEventLoopPolicy):
    """Event loops (made by jupyter_core for the kernels' clients) that leave signals alone."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _NoSignalLoop()


_CTRL_C = threading.Event()  # set by the Ctrl-C handler: whatever error the command ends with


def stop_quietly_on_ctrl_c() -> Callable[[], None]:
    """Ctrl-C: the first one stops the command (its clean-up still runs) and main prints one line;
    what the clean-up would say on the way out (a kernel stopped mid-cell, a second Ctrl-C) stays
    off the terminal (logging stays off after a Ctrl-C: the process is ending, and asyncio reports
    a dead kernel's task as late as the interpreter's exit). Returns the function that puts the
    previous signal handling back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous, policy = signal.getsignal(signal.SIGINT), asyncio.get_event_loop_policy()
    if previous is not signal.default_int_handler:
        return lambda: None  # ignored (a background job) or handled by the caller: leave it so

    def handler(signum: int, frame: object) -> None:
        _CTRL_C.set()  # DuckDB turns the KeyboardInterrupt into "Query interrupted" (RuntimeError)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C would cut the clean-up short
        logging.disable(logging.CRITICAL)  # nbclient's "kernel died", asyncio's unretrieved tasks
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    if type(policy) is asyncio.DefaultEventLoopPolicy:
        asyncio.set_event_loop_policy(_NoSignalPolicy())

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)
        asyncio.set_event_loop_policy(policy)

    return restore


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _CTRL_C.clear()
    restore = stop_quietly_on_ctrl_c()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _interrupted()
    except CrmError as exc:
        if _CTRL_C.is_set():  # a chapter or read that Ctrl-C stopped fails as its own error
            return _interrupted()
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"What to do: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug in crmlib: say so plainly, keep the traceback for --debug
        if _CTRL_C.is_set():
            return _interrupted()
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in crm-workbook; rerun with --debug and report the traceback.",
              file=sys.stderr)
        return 3
    finally:
        restore()


def _interrupted() -> int:
    print("interrupted (Ctrl-C): stopped; the previous report, if any, is unchanged.", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
