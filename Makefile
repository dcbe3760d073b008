# Two commands for a new user: `make conformance` (the suite against the emulated HAN)
# and `make test` (the project's own tests). Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESULTS ?= out/allure-results

.PHONY: all test conformance bench mutation report lint pcaps clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q tests

conformance: $(STAMP)
	$(BIN)/pytest -q -rfE features/ -p steps.plugin --target emulator --out out \
		--alluredir $(RESULTS) --clean-alluredir

mutation: $(STAMP)
	$(BIN)/python -m verify.mutation

bench: $(STAMP)
	$(BIN)/python -m bench

report: $(STAMP)
	npx --yes allure-commandline generate --clean $(RESULTS) -o out/allure-report
	@echo "report: out/allure-report/index.html"

pcaps: $(STAMP)
	$(BIN)/python -m verify.refcaptures --out pcaps

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out
