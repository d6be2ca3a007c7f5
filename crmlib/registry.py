"""The chapter registry: the one place that lists the report's chapters.

Each entry declares everything the rest of the code derives from a chapter: its notebook
(``notebooks/<name>.ipynb``), titles, the YAML section and the model that validates it, the
builder of the notebook's ``settings`` when it needs more than its section, the files it writes
beside the pages, its findings for the executive summary, its columns in the batch comparison,
and the other files it reads (which the fingerprint hashes and ``validate --config`` checks).

The client configuration, ``validate --config``, the fingerprint, the summary engine, the batch
overview and the pipeline all read this list; adding a chapter is one package, one notebook and
one entry here (docs/chapter-contract.md). Chapter code is named by "module:attribute" and
imported on first use, so this module imports no chapter: common code (the configuration) can
use it, and the import contracts (``.importlinter``) see no chapter imported by render or app.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class OverviewColumn:
    """A column of the batch comparison table: message key, dotted metrics path, format."""

    label: str
    path: str
    kind: str  # text, int, num, money, pct


@dataclass(frozen=True)
class Chapter:
    """One chapter of the report and everything derived from it."""

    name: str  # notebook stem and page name, e.g. "01_diagnosis"
    title_en: str
    title_ja: str
    section: str | None = None  # its YAML section (ClientConfig attribute); None = no settings
    settings_model: str | None = None  # "module:Model" validating the section
    # builds the notebook's `settings` from the whole config ("module:function", f(config) -> dict)
    # instead of passing the section as it is (strategy: files resolved, other sections added);
    # it raises ConfigError for a missing file, so `validate --config` calls it too
    settings: str | None = None
    # files for the client beside the pages (customer lists ...): "module:function" called as
    # f(processed_dir, as_of, settings, out_dir, lang=...) after the notebooks succeeded
    exports: str | None = None
    findings: str | None = None  # module registering @finding_rule functions (crmlib.findings)
    metrics: str | None = None  # its metrics.json section; default: section
    # the model of each metrics.json section it records: (section, "module:Model"); a recorded
    # key the model does not declare fails the chapter (crmlib.metrics.check_section)
    records: tuple[tuple[str, str], ...] = ()
    overview: tuple[OverviewColumn, ...] = ()
    # the other files it reads: "module:function", f(config) -> [(YAML key, Path)]
    input_files: str | None = None
    # chapters whose kept store results it reads (the segmentation, the LTV model's verdict): run
    # beside them, it waits for them instead of computing the same result a second time
    needs: tuple[str, ...] = ()
    # its usual seconds on a small client (bench/report.py), so the longest work starts first
    cost: float = 1.0
    # modules its code imports on first use, which a report's warm kernels import with the
    # notebooks' import cells, before the orders are read (crmlib.report.warm.report_preload)
    preload: tuple[str, ...] = ()

    def title(self, lang: str) -> str:
        """The chapter title in the report language."""
        return self.title_ja if lang == "ja" else self.title_en

    @property
    def number(self) -> int | None:
        """The chapter number shown in titles: the file prefix (00_data_check -> 0)."""
        prefix = self.name.split("_", 1)[0]
        return int(prefix) if prefix.isdigit() else None

    @property
    def metrics_section(self) -> str | None:
        """The section of metrics.json the chapter records its headline figures under."""
        return self.metrics or self.section


def _column(label: str, path: str, kind: str) -> OverviewColumn:
    return OverviewColumn(label, path, kind)


# Report order.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "00_data_check", "Data check", "データチェック", metrics="data_check", cost=0.4,
        records=(("data_check", "crmlib.datacheck:DataCheckMetrics"),
                 ("coverage", "crmlib.store.metrics:CoverageMetrics")),
        settings="crmlib.datacheck:report_settings",  # the coverage model's inputs (diagnosis section)
        findings="crmlib.datacheck",  # its rule: revenue without a customer
        overview=(
            _column("m_orders", "data_check.orders", "int"),
            _column("m_customers", "data_check.customers", "int"),
            _column("m_revenue", "data_check.revenue", "money"),
            _column("m_aov", "data_check.aov", "money"),
            _column("m_orders_per_customer", "data_check.orders_per_customer", "num"),
        ),
    ),
    Chapter(
        "01_diagnosis", "Diagnosis", "現状診断", "diagnosis",
        records=(("diagnosis", "crmlib.diagnosis.metrics:DiagnosisMetrics"),),
        settings_model="crmlib.diagnosis.settings:DiagnosisSettings",
        findings="crmlib.diagnosis.findings", cost=1.9,
        overview=(
            _column("m_period_revenue", "diagnosis.kpis.current.revenue", "money"),
            _column("m_repeat_rate", "diagnosis.kpis.current.repeat_rate", "pct"),
            _column("m_f2_90", "diagnosis.f2_conversion.90.rate", "pct"),
            _column("m_f2_365", "diagnosis.f2_conversion.365.rate", "pct"),
            _column("m_top20_share", "diagnosis.concentration.top20_share", "pct"),
        ),
    ),
    Chapter(
        "02_segments", "Customer segments", "顧客セグメント", "segments",
        records=(("segments", "crmlib.segments.metrics:SegmentsMetrics"),),
        settings_model="crmlib.store.segments.settings:SegmentSettings",
        settings="crmlib.store.segments.settings:report_settings",  # plus the shop's lapse (diagnosis.lapse_days)
        exports="crmlib.segments:write_segment_exports",
        findings="crmlib.segments.findings", cost=1.3,
    ),
    Chapter(
        "03_ltv", "Lifetime value (LTV)", "LTV（顧客生涯価値）", "ltv",
        records=(("ltv", "crmlib.ltv.metrics:LTVMetrics"),),
        settings_model="crmlib.store.ltv.settings:LTVSettings",
        findings="crmlib.ltv.findings", cost=1.5,
        preload=("scipy.optimize",),  # the models' fits: 0.3 CPU-s to import
        overview=(
            _column("m_annual_ltv", "ltv.annual_ltv", "money"),
            _column("m_clv_mean", "ltv.clv.mean", "money"),
        ),
    ),
    Chapter(
        "04_strategy", "CRM strategy", "CRM戦略", "strategy",
        records=(("strategy", "crmlib.strategy.metrics:StrategyMetrics"),),
        settings_model="crmlib.strategy.settings:StrategySettings",
        settings="crmlib.strategy.settings:report_settings",
        exports="crmlib.strategy:write_strategy_exports",
        findings="crmlib.strategy.findings",
        input_files="crmlib.strategy.settings:input_files",
        needs=("02_segments",), cost=1.0,
    ),
    Chapter(
        "05_products", "Products and key accounts", "商品分析と重点顧客", "products",
        records=(("products", "crmlib.products.metrics:ProductsMetrics"),),
        settings_model="crmlib.products.settings:ProductSettings",
        settings="crmlib.products.settings:report_settings",
        exports="crmlib.products:write_key_account_exports",
        findings="crmlib.products.findings",
        needs=("02_segments", "03_ltv"), cost=1.7,  # best customers' classes; key accounts' model verdict
    ),
)


def run_priority(chapters: Iterable[Chapter]) -> dict[str, float]:
    """Each chapter's longest path to the end of the run (its cost plus the longest path of the
    chapters that need it): chapters run in kernels side by side start in this order, highest
    first (list scheduling), so what others wait for and the longest work start early."""
    selected = {chapter.name: chapter for chapter in chapters}
    priority: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in priority:
            after = [path(other) for other, chapter in selected.items() if name in chapter.needs]
            priority[name] = selected[name].cost + max(after, default=0.0)
        return priority[name]

    for name in selected:
        path(name)
    return priority


def resolve(reference: str) -> Any:
    """The object a "module:attribute" reference names (imported on first use)."""
    module, _, name = reference.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, name) if name else loaded


def chapter_names() -> list[str]:
    """Every chapter's name, in report order."""
    return [chapter.name for chapter in CHAPTERS]


def select_chapters(names: Iterable[str] | None) -> list[Chapter]:
    """The chapters to render in report order (all when names is None); an unknown name is a ConfigError (exit 2)."""
    if names is None:
        return list(CHAPTERS)
    names = list(names)
    known = chapter_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown chapter(s): {', '.join(unknown)}.", hint=f"choose from {', '.join(known)}")
    return [chapter for chapter in CHAPTERS if chapter.name in names]


def config_sections() -> dict[str, str]:
    """YAML section -> "module:Model" of every chapter that has settings."""
    return {c.section: c.settings_model for c in CHAPTERS if c.section and c.settings_model}


def load_findings(names: Iterable[str] | None = None) -> None:
    """Import the findings modules of the named chapters (all when None): their rules register."""
    for chapter in select_chapters(None if names is None else [n for n in names if n in chapter_names()]):
        if chapter.findings:
            resolve(chapter.findings)


def chapter_settings(config: Any, chapter: Chapter) -> dict[str, Any]:
    """The notebook's `settings`: the builder's dict, else the chapter's YAML section as it is."""
    if chapter.settings:
        return resolve(chapter.settings)(config)
    return dict(getattr(config, chapter.section)) if chapter.section else {}


def check_side_inputs(config: Any, names: Iterable[str] | None = None) -> None:
    """Raise ConfigError when a file a chapter reads besides the data is missing (builders check)."""
    for chapter in select_chapters(names):
        if chapter.settings:
            resolve(chapter.settings)(config)


def input_files(config: Any, names: Iterable[str] | None = None) -> list[tuple[str, Path]]:
    """(YAML key, path) of every file the chapters read besides the order data."""
    out: list[tuple[str, Path]] = []
    for chapter in select_chapters(names):
        if chapter.input_files:
            out += resolve(chapter.input_files)(config)
    return out


def metrics_models() -> dict[str, Any]:
    """metrics.json section -> the pydantic model every chapter declares for it (imported here)."""
    return {section: resolve(ref) for chapter in CHAPTERS for section, ref in chapter.records}


def metrics_path_declared(path: str) -> bool:
    """True when a dotted metrics.json path ("diagnosis.f2_conversion.90.rate") names a figure a
    chapter's model declares: summary rules and comparison columns may read only such paths."""
    from .metrics import path_declared

    section, _, rest = path.partition(".")
    model = metrics_models().get(section)
    return model is not None and path_declared(model, rest)


def overview_columns() -> list[OverviewColumn]:
    """The batch comparison's chapter columns, in report order."""
    return [column for chapter in CHAPTERS for column in chapter.overview]


__all__ = ["CHAPTERS", "Chapter", "OverviewColumn", "chapter_names", "chapter_settings", "check_side_inputs",
           "config_sections", "input_files", "load_findings", "overview_columns", "resolve", "select_chapters"]
