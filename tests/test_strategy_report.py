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
    # no plan in the YAML: the suggested measures are sized, the guidance naming strategy.plan.measures
    # and the missing margin (ltv.gross_margin) go to the notes, and the editable plan is written
    assert "strategy.plan.measures" in notes and "strategy.plan.measures" not in page
    assert "ltv.gross_margin" in notes and "ltv.gross_margin" not in page
    assert html.escape(t("strategy.plan.suggested.f2_follow_up", "ja"), quote=False) in page
    assert (folder / "exports" / "action_plan.xlsx").is_file()


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
    for key in ("goals", "levers", "targets", "journey", "service", "plan", "log", "kpis", "effect", "before_after",
                "nps"):
        # the page numbers sections after the chapter: "1. Goals" -> "4.1 Goals", "1.1 ..." -> "4.1.1 ..."
        number, title = t(f"strategy.{key}.heading", "en").split(" ", 1)
        assert html.escape(f"4.{number.rstrip('.')} {title}", quote=False) in page, key
    assert t("strategy.guidance_prefix", "en") not in page  # the demo fills every journey row
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["strategy"]
    assert [g["metric"] for g in metrics["goals"]] == ["revenue", "f2_rate", "existing_customers"]
    assert metrics["experiments"][0]["name"] == "F2フォローメール"
    assert -100 <= metrics["nps"]["nps"] <= 100
    # the action plan: the demo's three measures, the F2 mail's uplift from the verified trial, and
    # the execution log read back against the plan (the log names the plan's F2 mail)
    plan = metrics["plan"]
    trial = metrics["experiments"][0]  # the F2 mail's uplift is the trial's when its interval is above zero
    first = "verified" if trial["low"] is not None and trial["low"] > 0 else "assumed"
    assert [m["uplift_source"] for m in plan["measure_list"]] == [first, "assumed", "assumed"]
    if first == "verified":
        assert (plan["measure_list"][0]["uplift_low"], plan["measure_list"][0]["uplift_high"]) == \
            pytest.approx((trial["low"], trial["high"]))
    assert plan["gross_profit"] is None and plan["margin"] is None  # the demo sets no ltv.gross_margin
    assert html.escape(t("strategy.plan.vs_heading", "en").split(" ", 1)[1], quote=False) in page
    assert (folder / "exports" / "action_plan.xlsx").is_file()
    assert (folder / "exports" / "plan_01_ladder_stage1.csv").is_file()
    shutil.rmtree(tmp_path / "data")
