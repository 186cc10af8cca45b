# xltools — every target sets up its own virtual environment (.venv) first.
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
FUZZ_EXAMPLES ?= 1000

.PHONY: venv test fuzz demo bench docs clean

$(STAMP): pyproject.toml requirements.lock
	$(PY) tools/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# a long random run of the hostile-file fuzz test (make test runs a short, fixed one)
fuzz: $(STAMP)
	XLTOOLS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz.py $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m xltools.demo demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py README.md

clean:
	rm -rf $(VENV) demo build *.egg-info .pytest_cache .hypothesis
