"""A client YAML cannot exhaust memory through aliases, and strategy.context has a schema
(issue #19 item 11).

The alias bomb of the issue is 9 levels of 9 aliases under strategy.context (9**9 = 387 million
strings from a file of about 500 bytes): before, the load was cheap but the fingerprint's JSON
dump expanded it (8 levels crashed the validation library under a 2.5 GB cap). A smaller bomb
(9**4 = 6,561 strings, harmless when expanded) shows the cap without risking the test machine.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crmlib.config import load_config
from crmlib.errors import ConfigError
from crmlib.strategy.settings import load_settings
from crmlib.yamlsafe import ALIAS_LIMIT

REPO = Path(__file__).resolve().parents[1]


def bomb(levels: int, under: str = "strategy:\n  context:\n") -> str:
    """A client YAML whose `under` section holds levels of 9 aliases, each to the level below."""
    lines = ['    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"    l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "name: bomb\ndata: orders.csv\n" + under + "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "client.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_alias_bomb_is_refused_at_load_naming_the_file(tmp_path):
    path = write(tmp_path, bomb(4))  # 1 + 9 + 81 + 729 + 6561 values written out: over 1,000
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text and "aliases" in text and f"{ALIAS_LIMIT:,} values" in text
    # l1's aliases add 9 * 10 = 90 values, l2's 9 * 91 = 819 (909 in all); l3's first alias (line 8)
    # adds l2's 820 values: 1,729 > 1,000
    assert "*l2 and others" in text and "line 8" in text


def test_an_alias_bomb_is_refused_in_any_section(tmp_path):
    with pytest.raises(ConfigError, match="aliases"):
        load_config(write(tmp_path, bomb(4, under="diagnosis:\n  x:\n")))


def test_the_issue_s_bomb_neither_crashes_nor_hangs(tmp_path):
    """The 9-level file under a 1 GB address-space cap and a 60 s timeout: refused with exit 2."""
    path = write(tmp_path, bomb(9))
    assert len(path.read_bytes()) < 600
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from crmlib.config import load_config
        from crmlib.errors import ConfigError
        from crmlib.fingerprint import config_sha256
        try:
            config_sha256(load_config({str(path)!r}))
        except ConfigError as exc:
            print(exc)
            sys.exit(2)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "aliases" in done.stdout and "Traceback" not in done.stderr


def test_a_few_aliases_still_load(tmp_path):
    """An anchor shared a few times (a list of statuses) is ordinary YAML and keeps working."""
    text = ("name: shop\ndata: orders.csv\nrules:\n  cancelled_statuses: &c [キャンセル, 取消]\n"
            "  returned_statuses: *c\n")
    config = load_config(write(tmp_path, text))
    assert config.rules.cancelled_statuses == ["キャンセル", "取消"] == config.rules.returned_statuses


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="inside its own anchor"):
        load_config(write(tmp_path, "name: shop\ndata: orders.csv\ndiagnosis: &d {x: *d}\n"))


def test_strategy_context_in_the_yaml_is_refused(tmp_path):
    """context is filled by the report from segments: and diagnosis:; in the YAML it is refused."""
    text = "name: shop\ndata: orders.csv\nstrategy:\n  context:\n    segments: {}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "strategy.context" in str(caught.value) and "remove it" in str(caught.value)


@pytest.mark.parametrize("context, fragment", [
    ({"notes": {"deep": [[["x"]]]}}, "holds only segments, diagnosis"),
    ({"segments": {"anything": [[["x"]]]}}, "anything"),
    ({"diagnosis": [1, 2]}, "must be the diagnosis: section"),
])
def test_context_has_a_schema(context, fragment):
    with pytest.raises(Exception) as caught:
        load_settings({"context": context})
    assert fragment in str(caught.value)


def test_context_as_the_report_fills_it_is_accepted():
    settings = load_settings({"context": {"segments": {"merge_same_day": False}, "diagnosis": {}}})
    assert settings.context["segments"] == {"merge_same_day": False}
