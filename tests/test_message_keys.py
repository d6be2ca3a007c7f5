"""Every message key the code can ask for exists in both catalogs (issue 19, item 6).

A static scan of crmlib/ and the chapter notebooks' code cells (Python's ast, no import):
- the key of every t(...) call: a literal must be a key of both catalogs; an f-string or a name
  is resolved through the strings assigned to its names in the same function or module (K =
  "strategy", k = f"{K}.targets"), and what stays unknown (a value computed at run time, e.g.
  basis_{basis}) must match at least one key of each catalog;
- the values the code computes for the run-time parts that lost a report before (the strategy
  chapter's value basis, the effect outcomes, the journey stages) are enumerated and checked.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmlib.i18n import catalog

ROOT = Path(__file__).resolve().parents[1]
WILD = "\x00"  # a run-time part of a key
KEY_CHARS = re.compile(r"^[A-Za-z0-9_.\x00]+$")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / "crmlib").rglob("*.py")):
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield str(path.relative_to(ROOT)), ast.parse(code)


class _Scope:
    """The strings assigned to each name in a function or module (every assignment counts)."""

    def __init__(self, node: ast.AST, parent: _Scope | None) -> None:
        self.parent = parent
        self.names: dict[str, list[ast.expr]] = {}
        for child in ast.walk(node):
            if child is not node and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        self.names.setdefault(target.id, []).append(child.value)

    def values(self, name: str, depth: int = 0) -> list[str]:
        """The texts a name can hold (WILD where it is computed); [WILD] when unknown."""
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                out = [v for e in scope.names[name] for v in texts(e, scope, depth + 1)]
                return out or [WILD]
            scope = scope.parent
        return [WILD]


def texts(node: ast.expr, scope: _Scope, depth: int = 0) -> list[str]:
    """The texts an expression can be, with WILD for the parts computed at run time."""
    if depth > 5:
        return [WILD]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                options = [str(part.value)]
            elif isinstance(part.value, ast.Name):
                options = scope.values(part.value.id, depth)
            else:
                options = [WILD]
            out = [a + b for a in out for b in options][:64]
        return out
    if isinstance(node, ast.IfExp):
        return texts(node.body, scope, depth) + texts(node.orelse, scope, depth)
    if isinstance(node, ast.Name):
        return scope.values(node.id, depth)
    return [WILD]


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("".join("[A-Za-z0-9_]+" if c == WILD else re.escape(c) for c in text))


def _scan(sources: Iterator[tuple[str, ast.Module]]) -> list[tuple[str, int, str]]:
    """The keys asked of t() as (file, line, text)."""
    calls = []
    for name, tree in sources:
        scopes: dict[ast.AST, _Scope] = {tree: _Scope(tree, None)}
        for node in ast.walk(tree):  # parents come before their children in ast.walk
            for child in ast.iter_child_nodes(node):
                scopes[child] = (_Scope(child, scopes[node])
                                 if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else scopes[node])
        for node in ast.walk(tree):
            scope = scopes[node]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" and node.args:
                calls += [(name, node.lineno, text) for text in texts(node.args[0], scope)]
    return calls


CATALOGS = {lang: set(catalog(lang)) for lang in ("ja", "en")}
NAMESPACES = {key.split(".", 1)[0] for key in CATALOGS["en"]}
CALLS = _scan(_sources())


def _missing(text: str) -> list[str]:
    """The languages whose catalog has no key the text can be."""
    pattern = _pattern(text)
    return [lang for lang, keys in CATALOGS.items() if not any(pattern.fullmatch(key) for key in keys)]


def test_the_scan_finds_the_calls() -> None:
    # a check that finds nothing passes for nothing: the notebooks and modules ask for hundreds
    assert len(CALLS) > 300
    assert any(text == f"strategy.targets.basis_{WILD}" for _, _, text in CALLS)  # K and k resolved


def _problems(calls: list[tuple[str, int, str]]) -> list[str]:
    bad = []
    for name, line, text in calls:
        if text == WILD or not KEY_CHARS.match(text):  # wholly computed: checked where it is built
            continue
        if text.split(".", 1)[0] not in NAMESPACES and not text.startswith(WILD):
            bad.append(f"{name}:{line}: {text!r} (no such top-level name)")
            continue
        missing = _missing(text)
        if missing:
            bad.append(f"{name}:{line}: {text.replace(WILD, '{…}')!r} missing in {', '.join(missing)}")
    return bad


def test_every_key_asked_of_t_exists_in_both_catalogs() -> None:
    bad = _problems(CALLS)
    assert not bad, "\n".join(bad)


def test_the_scan_reports_a_missing_key() -> None:
    # the check can fail: a literal, a resolved f-string and a computed part that fits no key
    code = ast.parse('''
K = "strategy"
def f(lang, basis, x):
    k = f"{K}.targets"
    t("strategy.targets.basis_nan", lang)
    t(f"{k}.basis_{basis}", lang)
    t(f"{k}.nothing_{x}", lang)
''')
    bad = _problems(_scan(iter([("example.py", code)])))
    assert len(bad) == 2
    assert "'strategy.targets.basis_nan' missing in ja, en" in bad[0]
    assert "'strategy.targets.nothing_{…}' missing in ja, en" in bad[1]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_run_time_parts_that_lost_a_report_are_all_in_the_catalogs(lang: str) -> None:
    from crmlib.strategy.settings import STAGES

    keys = CATALOGS[lang]
    assert {f"strategy.targets.basis_{b}" for b in ("backtest", "trailing")} <= keys
    assert {f"strategy.effect.outcomes.{o}" for o in ("bought", "revenue", "bought_did", "revenue_did")} <= keys
    assert {f"strategy.effect.col_{g}" for g in ("treated", "control")} <= keys  # effect_pending's group
    assert {f"strategy.journey.stages.{s}" for s in STAGES} <= keys


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_numbered_headings_are_unique_within_each_catalog_file(lang: str) -> None:
    """A page numbers its sections from the catalog's headings ("4. 基本指標"); two headings of one
    file with the same number gave the data check two sections 0.4."""
    import yaml

    for path in sorted((ROOT / "crmlib" / "messages" / lang).glob("*.yaml")):
        numbers: dict[str, list[str]] = {}

        def walk(node: dict, trail: tuple[str, ...]) -> None:
            for key, value in node.items():
                if isinstance(value, dict):
                    walk(value, (*trail, str(key)))
                elif str(key).startswith("heading") and isinstance(value, str):
                    if (match := re.match(r"^(\d+(?:\.\d+)*)\.?\s", value)):
                        numbers.setdefault(match.group(1), []).append(".".join((*trail, str(key))))

        walk(yaml.safe_load(path.read_text(encoding="utf-8")), ())
        assert {n: keys for n, keys in numbers.items() if len(keys) > 1} == {}, path.name


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_chapter_numbers_its_sections_in_page_order(lang: str) -> None:
    """The headings a chapter notebook shows (nb.heading(t("..."))) are numbered 1, 2, ... in the
    order of the page, a sub-section n.1, n.2 ... under its section: the products chapter's ten
    sections had no numbers ("入口商品" where every other chapter reads "4.1 目標設定")."""
    import nbformat

    from crmlib.i18n import catalog

    messages = catalog(lang)
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        keys = re.findall(r'nb\.heading\(\s*t\(\s*"([^"]+)"', source)
        assert keys, path.name
        expected_top, sub = 0, 0
        for key in keys:
            match = re.match(r"^(\d+)(?:\.(\d+))?\.?\s", messages[key])
            assert match, f"{path.name}: {key} is not numbered: {messages[key]!r}"
            top, part = int(match.group(1)), match.group(2)
            if part is None:
                expected_top, sub = expected_top + 1, 0
                assert top == expected_top, f"{path.name}: {key} is section {top}, expected {expected_top}"
            else:
                sub += 1
                assert (top, int(part)) == (expected_top, sub), f"{path.name}: {key} reads {top}.{part}"
