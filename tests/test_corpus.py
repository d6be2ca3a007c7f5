"""The corpus of broken inputs (tests/corpus/): each gives its message and exit code, never a traceback.

Every case of tests/corpus/manifest.yaml runs through the command line (in-process with
crmlib.cli.main, a few as real `python -m crmlib.cli` processes) on a temporary copy of the corpus;
the output must hold every expected fragment, name the file or YAML it is about, carry a
"What to do:" line and no traceback. README.md's "Error messages" section must list the first
fragment of every case, so the documented messages and the real ones cannot drift apart.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crmlib.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"
README = Path(__file__).resolve().parents[1] / "README.md"
CASES = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory) -> Path:
    """A scratch copy of the corpus, so a command that writes (init, run) cannot change it."""
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(CORPUS / "files", root / "files")
    shutil.copytree(CORPUS / "configs", root / "configs")
    (root / "work").mkdir()
    return root


def fill(text: str, root: Path) -> str:
    return text.format(files=root / "files", configs=root / "configs", work=root / "work")


def run(args: list[str], in_subprocess: bool, cwd: Path) -> tuple[int, str]:
    if in_subprocess:
        proc = subprocess.run([sys.executable, "-m", "crmlib.cli", *args], capture_output=True, text=True,
                              cwd=cwd, timeout=300)
        return proc.returncode, proc.stdout + proc.stderr
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue() + err.getvalue()


def test_manifest_cases_are_well_formed():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        assert set(case) <= {"id", "args", "exit", "names", "message", "subprocess"}, case["id"]
        assert case["message"] and case["exit"] in (1, 2), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_broken_input_gives_its_message(case, corpus_copy, monkeypatch):
    monkeypatch.chdir(corpus_copy / "work")  # a stray relative write lands in the scratch copy
    args = [fill(a, corpus_copy) for a in case["args"]]
    code, text = run(args, case.get("subprocess", False), corpus_copy / "work")
    assert code == case["exit"], text
    assert "Traceback" not in text and "internal error" not in text, text
    assert "\nerror: " in "\n" + text and "What to do:" in text, text  # `run` prints progress first
    for fragment in case["message"]:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    named = fill(case["names"], corpus_copy)
    if named:
        assert named in text or str(Path(named).resolve()) in text, text
    assert not list(corpus_copy.rglob("corpus-yaml-was-executed")), "a YAML tag ran a command"


def test_corpus_inputs_still_break_only_where_meant(corpus_copy):
    """The clean file of the corpus (what the configs point at) passes: the cases fail for their defect."""
    code, text = run(["validate", str(corpus_copy / "files" / "good.csv")], False, corpus_copy)
    assert code == 0 and "Reconciles (rows and amounts, exactly): yes" in text, text


def readme_error_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Error messages")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_lists_every_corpus_message():
    section = readme_error_section()
    missing = sorted({case["message"][0] for case in CASES if case["message"][0] not in section})
    assert not missing, f"README 'Error messages' lacks: {missing}"
