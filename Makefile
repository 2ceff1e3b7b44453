# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: run test bench sync clean-results report

$(BIN)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -qq -r requirements.txt -c constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pipeline driverlock --install  # dvc repro refuses while Snakemake works (docs/reliability.md)
	touch $@

# The default study, offline, on the CPU (or one GPU per job where CUDA is present).
run: $(BIN)/.installed
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pipeline launch --cores $(CORES) --resources gpu=$$($(BIN)/python -m pipeline gpus)

# Lint and format first (ruff), then the layer order (import-linter; both configured in
# pyproject.toml and docs/architecture.md), then the suite on two workers
# (pytest-xdist), one test file each at a time: most tests are single-threaded.
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -n $(CORES) --dist loadfile

# The browsable report: one self-contained HTML page of a results folder (findings, tables,
# figures), written beside them: results/report.html, or `make report RESULTS=results/NAME`.
RESULTS ?= results
report: $(BIN)/.installed
	$(BIN)/python -m pipeline report $(RESULTS)

bench: $(BIN)/.installed
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pipeline bench --out docs/bench.md $(ARGS)

# After any `git checkout` of params.yaml, dvc.lock or results/: restore the checkpoints that
# the lock names from DVC's cache, then bring Snakemake's records in line with them, so that
# both `dvc status` and `snakemake -n` are clean.
sync:
	PATH=$(abspath $(BIN)):$$PATH dvc checkout --quiet
	PATH=$(abspath $(BIN)):$$PATH TASKHEAD_SKIP_DVC_COMMIT=1 snakemake --touch --cores 1 --quiet all
