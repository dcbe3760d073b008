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

# The profile and seed runs on the default DUT; the campaigns over the imperfect HAN
# (issue 9) on the small DUT of pcaps/ (same exchanges, smaller images: 6x faster). Every
# run goes to its end; the target fails if any did.
SMALL_DUT := pcaps/dut.toml
mutation: $(STAMP)
	@status=0; \
	$(BIN)/python -m verify.mutation || status=1; \
	$(BIN)/python -m verify.mutation --seeds 20 || status=1; \
	$(BIN)/python -m verify.mutation --dut $(SMALL_DUT) --sniffer-miss 0.01 || status=1; \
	$(BIN)/python -m verify.mutation --dut $(SMALL_DUT) --campaign sniffer --seeds 20 || status=1; \
	$(BIN)/python -m verify.mutation --dut $(SMALL_DUT) --campaign variants || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python -m bench

report:
	@# Allure's HTML report of the last run (needs Node.js npx and Java 8+; the pinned
	@# allure-commandline is fetched from npm once, into npm's cache)
	@test -d $(RESULTS) || { echo "no $(RESULTS): run make conformance first"; exit 1; }
	npx --yes allure-commandline@2.46.1 generate --clean $(RESULTS) -o out/allure-report
	@echo "report: out/allure-report/index.html (serve it: npx --yes allure-commandline@2.46.1 open out/allure-report)"

pcaps: $(STAMP)
	$(BIN)/python -m verify.refcaptures --out pcaps

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out
