"""The strategy chapter rendered end to end: guidance with no inputs (ja), every step with the
demo's inputs (en), through render_report as `crm-workbook run` does (starts Jupyter kernels)."""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from pathlib import Path

import pytest

from crmlib.config import load_config, parse_config
from crmlib.i18n import t
from crmlib.report.notes import names_setting
from crmlib.report import render_report

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.yaml"


def test_no_strategy_section_renders_guidance(tiny_processed_dir: Path, tmp_path: Path) -> None:
    config = parse_config({"name": "tiny", "data": "orders.csv", "lang": "ja"})
    folder = render_report(config, tiny_processed_dir, dt.date(2024, 5, 1), tmp_path, chapters=["04_strategy"])
    page = (folder / "04_strategy.html").read_text(encoding="utf-8")
    notes = (folder / "consultant" / "notes.html").read_text(encoding="utf-8")
    # the guidance reaches the consultant: a sentence naming the client YAML or a setting is on the
    # notes page and not on the client's page; the others stay on the page
    messages = [t(key, "ja") for key in ("strategy.goals.guidance", "strategy.nps.guidance",
                                         "strategy.effect.guidance")]
    messages.append(t("strategy.log.guidance", "ja", template="execution_log_template.csv"))
    for message in messages:
        for sentence in [s + "。" for s in message.split("。") if s.strip()]:
            shown = html.escape(sentence, quote=False)
            if names_setting(sentence):
                assert shown not in page and shown in notes, sentence
    assert (folder / "exports" / "execution_log_template.csv").is_file()
    assert t("strategy.guidance_prefix", "ja") in notes  # the journey rows still to write, for the consultant


def test_demo_inputs_render_every_step_in_english(tmp_path: Path) -> None:
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample

    data = tmp_path / "data" / "sample"
    write_sample(data / "orders.csv", n_customers=4000, strategy_inputs=True)
    examples = tmp_path / "examples"
    examples.mkdir()
    yaml_text = DEMO.read_text(encoding="utf-8").replace("lang: ja", "lang: en")
    (examples / "demo.yaml").write_text(yaml_text, encoding="utf-8")
    config = load_config(examples / "demo.yaml")
    result = ingest_file(data / "orders.csv", preset="generic", out_dir=tmp_path / "processed")
    folder = render_report(config, result.out_dir, result.as_of, tmp_path / "reports", chapters=["04_strategy"])
    page = (folder / "04_strategy.html").read_text(encoding="utf-8")
    for key in ("goals", "levers", "targets", "journey", "service", "log", "kpis", "effect", "before_after", "nps"):
        # the page numbers sections after the chapter: "1. Goals" -> "4.1 Goals", "1.1 ..." -> "4.1.1 ..."
        number, title = t(f"strategy.{key}.heading", "en").split(" ", 1)
        assert html.escape(f"4.{number.rstrip('.')} {title}", quote=False) in page, key
    assert t("strategy.guidance_prefix", "en") not in page  # the demo fills every journey row
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["strategy"]
    assert [g["metric"] for g in metrics["goals"]] == ["revenue", "f2_rate", "existing_customers"]
    assert metrics["experiments"][0]["name"] == "F2フォローメール"
    assert -100 <= metrics["nps"]["nps"] <= 100
    shutil.rmtree(tmp_path / "data")
