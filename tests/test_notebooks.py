"""Committed chapter notebooks: no outputs, kernelspec python3, the parameters contract."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from crmlib.report.pipeline import CHAPTERS, PARAMETERS

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_every_chapter_has_a_notebook():
    names = {path.stem for path in NOTEBOOKS}
    assert [c.name for c in CHAPTERS if c.name not in names] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_declares_exactly_the_contract_parameters(path):
    # papermill's own parser: a comment containing '=' or a typo would drop a name here
    assert list(papermill.inspect_notebook(str(path))) == list(PARAMETERS)
