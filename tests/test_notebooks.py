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


DEMO = Path(__file__).resolve().parents[1] / "data" / "processed" / "demo"


@pytest.mark.slow
@pytest.mark.skipif(not (DEMO / "orders.parquet").is_file(), reason="no demo data: run `make demo` (or `make lab`)")
def test_every_notebook_runs_top_to_bottom_with_its_defaults(tmp_path):
    """What a workshop participant does in JupyterLab: open a notebook, Run All, no parameters
    injected (papermill with parameters=None runs the committed defaults), from notebooks/."""
    from concurrent.futures import ThreadPoolExecutor

    def run(path: Path) -> list:
        out = tmp_path / path.name
        papermill.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False,
                                   log_output=False, cwd=str(path.parent))
        executed = nbformat.read(out, as_version=4)
        shown = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in shown if o.output_type == "error"], path.name
        return [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]

    # 01_diagnosis already runs on the demo data with exactly its defaults (test_diagnosis_notebook)
    notebooks = [p for p in NOTEBOOKS if p.stem != "01_diagnosis"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        injected = dict(zip([p.name for p in notebooks], pool.map(run, notebooks)))
    assert injected == {p.name: [] for p in notebooks}
