"""Chart labels that never collide: every drawn text's box (renderer get_window_extent) is apart
from every other, and a measure's label covers no dot, on the demo's Japanese figures."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from crmlib.charts import drawn_texts, overlapping_texts
from crmlib.style import apply_style

# the demo's loyalty ladder on 2025-04-01 (active and lapsed customers per stage)
ACTIVE = pd.Series([1613, 1164, 671, 1181], index=[1, 2, 3, 4])
LAPSED = pd.Series([11015, 1982, 838, 926], index=[1, 2, 3, 4])
# the demo YAML's measures at the timings the demo report shows (days after the stage's purchase),
# and two more win-back measures on the same days as the DM: three dots in one place
PLAN = pd.DataFrame([
    ("first_purchase", "購入お礼メール", 0, "yaml"), ("arrival", "F2フォローメール", 7, "yaml"),
    ("arrival", "使い方ガイドメール", 25, "data"), ("second_purchase", "使い切り前リマインド", 38, "data"),
    ("habit", "定期便のご案内", 34, "data"), ("loyal", "優良会員の先行販売", 31, "data"),
    ("lapsed", "掘り起こしDM", 189, "data"), ("lapsed", "掘り起こしメール", 189, "yaml"),
    ("lapsed", "休眠クーポン", 190, "yaml"),
], columns=["stage", "measure", "timing_days", "timing_source"])
JOURNEY = pd.DataFrame({"stage": ["first_purchase", "arrival", "second_purchase", "habit", "loyal", "lapsed"],
                        "next_p25": [40, 40, 38, 34, 31, None], "next_median": [65, 65, 64, 63, 58, None]})


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_loyalty_ladder_stage_names_do_not_collide(lang):
    from crmlib.segments.charts import ladder_chart
    from crmlib.store.segments.ladder import stage_names

    apply_style(lang)
    names = stage_names(lang)
    fig = ladder_chart(ACTIVE, LAPSED, names, lang)
    shown = {text.get_text() for text, _ in drawn_texts(fig)}
    assert {names[f"stage{s}"] for s in range(1, 5)} <= shown  # every stage named (once, shared axis)
    assert overlapping_texts(fig, pad=1) == []


def _dot_boxes(fig) -> list[Bbox]:
    """The boxes of the scatter dots, in display pixels."""
    boxes = []
    for collection in fig.findobj(PathCollection):
        radius = collection.get_sizes()[0] ** 0.5 / 2 * fig.dpi / 72
        for x, y in collection.get_offset_transform().transform(collection.get_offsets()):
            boxes.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    return boxes


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_service_timing_labels_hit_no_label_and_no_dot(lang):
    from crmlib.strategy.charts import service_timeline

    apply_style(lang)
    fig = service_timeline(PLAN, JOURNEY, lang)
    assert overlapping_texts(fig, pad=1) == []
    labels = [(text.get_text(), box) for text, box in drawn_texts(fig) if isinstance(text, Annotation)]
    assert sorted(name for name, _ in labels) == sorted(PLAN["measure"])
    dots = _dot_boxes(fig)
    assert len(dots) == len(PLAN)
    assert [(name, i) for name, box in labels for i, dot in enumerate(dots) if box.overlaps(dot)] == []
    frame = fig.axes[0].get_window_extent()
    assert all(frame.x0 <= box.x0 and box.x1 <= frame.x1 for _, box in labels)  # inside the plot
