# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates the local virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test fuzz lab bench clean-venv
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crm-workbook needs Python 3.11 or newer; found " + sys.version.split()[0] + ". Set PYTHON=python3.11 (or newer) and retry.")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/crm-workbook demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# the ingest fuzzer with random seeds and many more examples than `make test` (about ten minutes),
# then the run matrix over every generated stress shop (`make test` runs two of them), then the
# summary's property test over generated shops from a week to five years and 10 to 100,000 customers
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=dev CRM_FUZZ_EXAMPLES=$${CRM_FUZZ_EXAMPLES:-1000} $(BIN)/python -m pytest -q tests/test_ingest_fuzz.py
	CRM_RUN_MATRIX=full $(BIN)/python -m pytest -q tests/test_run_matrix.py
	HYPOTHESIS_PROFILE=dev CRM_SUMMARY_SHOPS=full $(BIN)/python -m pytest -q tests/test_summary_properties.py

LAB_STAMP := $(VENV)/.lab-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Jupyter refuses to start as root (containers, WSL) without --allow-root
LAB_ROOT  := $(if $(filter 0,$(shell id -u)),--allow-root,)

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	@rm -f $(VENV)/.lab-*
	@touch $@

lab: $(LAB_STAMP)
	@test -f data/processed/demo/orders.parquet || $(BIN)/crm-workbook demo  # the notebooks' default data
	$(BIN)/jupyter lab $(LAB_ROOT) notebooks/workshop_simulator.ipynb  # serves notebooks/, the simulator open

bench: $(STAMP)
	for b in sample ingest diagnosis segments ltv strategy batch report; do $(BIN)/python bench/$$b.py || exit 1; done

clean-venv:
	rm -rf $(VENV)
