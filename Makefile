# Two commands for a new user: `make conformance` (the suite against the emulated HAN)
# and `make test` (the project's own tests). Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESULTS ?= out/allure-results

.PHONY: all test conformance bench mutation report lint pcaps steps-doc clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The tests spread over every core (pytest-xdist): 3 min on 2 cores, 6 min on one.
# TESTS="-m 'not slow'" keeps the fast ones (1.5 min on one core).
TESTS ?=
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n auto $(TESTS) tests

conformance: $(STAMP)
	$(BIN)/pytest -q -rfE features/ -p hanota.steps.plugin --target emulator --out out \
		--alluredir $(RESULTS) --clean-alluredir

# The profile and seed runs on the default DUT; the campaigns over the imperfect HAN
# (issue 9) on the small DUT of pcaps/ (same exchanges, smaller images: 6x faster). Every
# run goes to its end; the target fails if any did.
SMALL_DUT := pcaps/dut.toml
mutation: $(STAMP)
	@status=0; \
	$(BIN)/python -m hanota.selftest.mutation || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --seeds 20 || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --dut $(SMALL_DUT) --sniffer-miss 0.01 || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --dut $(SMALL_DUT) --campaign sniffer --seeds 20 || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --dut $(SMALL_DUT) --campaign variants || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --dut $(SMALL_DUT) --campaign imperfect || status=1; \
	$(BIN)/python -m hanota.selftest.mutation --dut $(SMALL_DUT) --campaign profiles || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python -m bench

# Allure 3 (npm package `allure`), pinned: Node.js only, no Java. npx fetches it from npm
# once, into npm's cache. allurerc.mjs puts the report, the single file and the history
# next to $(RESULTS), i.e. in out/ by default (the same rule as below).
ALLURE := npx --yes allure@3.18.0
REPORT_DIR := $(dir $(RESULTS))

report:
	@# the HTML report of the last run, to serve over HTTP; the run joins the trend in out/
	@test -d $(RESULTS) || { echo "no $(RESULTS): run make conformance first"; exit 1; }
	rm -rf $(REPORT_DIR)allure-report
	HANOTA_ALLURE_RESULTS=$(RESULTS) $(ALLURE) generate --config allurerc.mjs
	node allure-offline.mjs $(REPORT_DIR)allure-report/index.html
	@echo "report: $(REPORT_DIR)allure-report/index.html (serve it: $(ALLURE) open $(REPORT_DIR)allure-report)"

.PHONY: report-single
report-single:
	@# the same report as one self-contained HTML file that opens from disk (to hand over)
	@test -d $(RESULTS) || { echo "no $(RESULTS): run make conformance first"; exit 1; }
	rm -rf $(REPORT_DIR)allure-report-single
	HANOTA_ALLURE_RESULTS=$(RESULTS) HANOTA_ALLURE_SINGLE_FILE=1 $(ALLURE) generate --config allurerc.mjs
	node allure-offline.mjs $(REPORT_DIR)allure-report-single/index.html
	@echo "report: $(REPORT_DIR)allure-report-single/index.html (one file: open it from disk)"

pcaps: $(STAMP)
	$(BIN)/python -m hanota.selftest.refcaptures --out pcaps

steps-doc: $(STAMP)
	$(BIN)/hanota steps --out docs/steps.md

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out
