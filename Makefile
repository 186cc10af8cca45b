# xltools — every target sets up its own virtual environment (.venv) first.
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
FUZZ_EXAMPLES ?= 1000

.PHONY: venv lint test fuzz demo bench docs mutation clean

# the editable install in compat mode: a path entry, not setuptools' import finder (which
# costs every start-up of xltools about 20 ms)
$(STAMP): pyproject.toml requirements.lock
	$(PY) tools/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e . --config-settings editable_mode=compat
	touch $@

venv: $(STAMP)

# the layers contract (imports only go down), lint, and the types of the lower stages
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check xltools tests tools benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# a long random run of the hostile-file fuzz test (make test runs a short, fixed one)
fuzz: $(STAMP)
	XLTOOLS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz.py $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m xltools.testing.demo demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py README.md
	$(BIN)/python tools/gen_relmap.py docs/relmap.png
	$(BIN)/python tools/gen_summary.py docs/summary.png
	$(BIN)/python tools/gen_dashboard.py docs/dashboard.png

# mutation testing of the reading rules and the business rules (config: [tool.mutmut] in
# pyproject.toml); a fresh run every time, then the score of each mutated file
define MUTATION_SCORE
import glob, json
for meta in sorted(glob.glob("mutants/**/*.py.meta", recursive=True)):
    codes = list(json.load(open(meta, encoding="utf-8"))["exit_code_by_key"].values())
    killed = sum(c in (1, 3) for c in codes)        # a failing test (or a pytest internal error)
    timeout = sum(c in (24, -24, 36, 152, 255) for c in codes)
    survived = sum(c == 0 for c in codes)
    other = len(codes) - killed - timeout - survived  # no tests, skipped, suspicious, not checked
    path = meta[len("mutants/"):-len(".meta")]
    score = 100 * (killed + timeout) / len(codes) if codes else 0.0
    print(f"{path}: {score:.1f}% killed ({killed + timeout}/{len(codes)}; {survived} survived"
          + (f", {timeout} timed out" if timeout else "") + (f", {other} other" if other else "") + ")")
endef
export MUTATION_SCORE

mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run $(MUTMUT_ARGS)
	@$(BIN)/python -c "$$MUTATION_SCORE"
	@echo "survivors: $(BIN)/mutmut results; one diff: $(BIN)/mutmut show NAME"

clean:
	rm -rf $(VENV) demo build *.egg-info .pytest_cache .hypothesis
