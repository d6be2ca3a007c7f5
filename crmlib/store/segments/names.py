"""Display names and display order of the classes of each scheme (RFM segment, CPM cell, ladder)."""

from __future__ import annotations

from . import cpm, ladder
from .classify import Segmentation
from .rfm import segment_names


def display_order(seg: Segmentation, scheme: str) -> list[str]:
    """Class keys in the order tables show them: RFM best first, CPM and ladder in growth order."""
    if scheme == "rfm":
        return [rule.key for rule in seg.rules]
    if scheme == "cpm":
        return [*cpm.STAGES, *(f"{stage}_lapsed" for stage in cpm.STAGES)]
    if scheme == "ladder":
        return [f"stage{s}" for s in ladder.STAGES] + ["lapsed"]
    raise ValueError(f"unknown scheme {scheme!r}; use rfm, cpm or ladder")


def class_names(seg: Segmentation, scheme: str, lang: str) -> dict[str, str]:
    """Class key -> display name for 'rfm', 'cpm' or 'ladder'."""
    if scheme == "rfm":
        return segment_names(seg.rules, lang)
    if scheme == "cpm":
        return cpm.cell_names(lang)
    if scheme == "ladder":
        return ladder.stage_names(lang)
    raise ValueError(f"unknown scheme {scheme!r}; use rfm, cpm or ladder")
