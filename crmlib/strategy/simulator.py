"""The workshop simulator (notebooks/workshop_simulator.ipynb): ipywidgets sliders on the KPI
tree's drivers over the scenario model (crmlib.strategy.scenarios), starting at the expected
scenario, showing next period's revenue and gross profit against the baseline and the goals.

The sliders hold the changes themselves (0.05 = +5%, or +5 points for a rate), so their starting
values are the expected scenario's exactly and the simulator's figures equal the report's
expected column (tests/test_workshop_simulator.py runs the notebook headless and checks that).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..i18n import t
from ..style import HIGHLIGHT, PALETTE, fmt_money_short
from .scenario_report import scenario_notes, scenario_table
from .scenarios import Baseline, against_goals, scenario_frame
from .settings import DRIVERS, POINT_DRIVERS

NAME = "workshop"
# each driver's slider: lowest and highest change, step (a start outside widens the range)
RANGES: dict[str, tuple[float, float, float]] = {
    "new_customers": (-0.5, 1.0, 0.01), "f2_rate": (-0.2, 0.2, 0.005), "retention": (-0.2, 0.2, 0.005),
    "aov": (-0.3, 0.3, 0.01), "frequency": (-0.3, 0.5, 0.01), "gross_margin": (-0.2, 0.2, 0.005),
    "cpa": (-0.5, 0.5, 0.01),
}


class Simulator:
    """Sliders on the drivers and the figures they give (the scenario model, one scenario)."""

    def __init__(self, base: Baseline, plan: pd.DataFrame, start: dict[str, float], lang: str, currency: str,
                 f2_window: int = 90) -> None:
        self.base, self.plan, self.start = base, plan, dict(start)
        self.lang, self.currency, self.f2_window = lang, currency, f2_window
        self.sliders = {driver: self._slider(driver, float(start.get(driver, 0.0))) for driver in DRIVERS}
        self.output = widgets.Output()
        self.nb: Any = None  # the notebook helpers, given to show()
        self.reset_button = widgets.Button(description=t("strategy.simulator.reset", lang),
                                           layout=widgets.Layout(width="auto"))
        self.reset_button.on_click(lambda _: self.reset())
        for slider in self.sliders.values():
            slider.observe(lambda _: self.refresh(), names="value")

    def _slider(self, driver: str, value: float) -> widgets.FloatSlider:
        low, high, step = RANGES[driver]
        unit = "pt" if driver in POINT_DRIVERS else "%"
        missing = {"gross_margin": self.base.gross_margin, "cpa": self.base.cpa, "retention": self.base.retention}
        return widgets.FloatSlider(
            value=value, min=min(low, value), max=max(high, value), step=step, readout_format="+.1%",
            description=f"{t(f'strategy.scenarios.drivers.{driver}', self.lang, window=self.f2_window)} ({unit})",
            disabled=driver in missing and missing[driver] is None, continuous_update=False,
            style={"description_width": "22em"}, layout=widgets.Layout(width="48em"))

    def changes(self) -> dict[str, float]:
        """The changes the sliders show now."""
        return {driver: float(slider.value) for driver, slider in self.sliders.items()}

    def figures(self) -> pd.DataFrame:
        """The baseline and the simulated period (rows 'baseline', 'workshop'), as scenario_frame."""
        return scenario_frame(self.base, {NAME: self.changes()})

    def table(self) -> pd.DataFrame:
        """The scenario table with one column for the sliders' scenario."""
        frame = self.figures()
        return scenario_table(frame, self.base, {NAME: self.changes()}, {}, against_goals(frame, self.plan),
                              self.lang, self.currency, self.f2_window)

    def chart(self) -> Figure:
        """Revenue and gross profit, baseline against simulated, with the first revenue goal."""
        frame = self.figures()
        figures = ["revenue"] + (["gross_profit"] if self.base.gross_margin is not None else [])
        fig = Figure(figsize=(7, 3.2))
        ax = fig.subplots()
        width = 0.38
        for offset, (name, color) in enumerate((("baseline", PALETTE[0]), (NAME, HIGHLIGHT))):
            xs = [i + (offset - 0.5) * width for i in range(len(figures))]
            ax.bar(xs, [frame.loc[name, f] for f in figures], width, color=color,
                   label=t(f"strategy.scenarios.names.{name}", self.lang))
        goals = self.plan[(self.plan["metric"] == "revenue") & self.plan["target"].notna()] if len(self.plan) else self.plan
        if len(goals):
            ax.hlines(float(goals.iloc[0]["target"]), -0.45, 0.45, colors="#333333", linestyles="--",
                      label=t("strategy.simulator.chart_goal", self.lang))
        ax.set_xticks(range(len(figures)), [t(f"strategy.scenarios.figures.{f}", self.lang) for f in figures])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_money_short(v, self.currency, self.lang)))
        ax.set_title(t("strategy.simulator.chart_title", self.lang, months=self.base.months))
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        return fig

    def refresh(self) -> None:
        """Show the table, the notes on missing inputs and the chart for the sliders' values."""
        nb = self.nb
        if nb is None:  # not shown yet
            return
        self.output.clear_output(wait=True)
        with self.output:
            nb.show_table(self.table())
            for text in scenario_notes(self.base, {}, self.lang)[1:]:  # the model note is in the lead
                nb.note(text)
            nb.show_figure(self.chart())

    def reset(self) -> None:
        """Back to the starting (expected) values."""
        for driver, slider in self.sliders.items():
            slider.value = float(self.start.get(driver, 0.0))

    def show(self, nb: Any) -> None:
        """Display the sliders, the reset button and the figures, with the notebook helpers nb
        (crmlib.report.nbtools: show_table, note, show_figure; the render layer, which a chapter
        module does not import)."""
        self.nb = nb
        heading = widgets.HTML(f"<b>{t('strategy.simulator.changes', self.lang)}</b>")
        display(widgets.VBox([heading, *self.sliders.values(), self.reset_button, self.output]))
        self.refresh()


def simulator(base: Baseline, plan: pd.DataFrame, start: dict[str, Any], lang: str, currency: str,
              f2_window: int = 90) -> Simulator:
    """A Simulator whose sliders start at `start` (the expected scenario's changes)."""
    return Simulator(base, plan, {k: float(v) for k, v in start.items()}, lang, currency, f2_window)


__all__ = ["NAME", "RANGES", "Simulator", "simulator"]
