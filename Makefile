# Quick start: `make demo` (install, ingest the bundled law corpus, answer a question), `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export ZHIKU_HOME ?= data
QUESTION ?= 劳动合同的试用期最长可以约定多久？

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/zhiku ingest samples/laws --kb demo --create
	$(BIN)/zhiku ask "$(QUESTION)" --kb demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(VENV) data .pytest_cache
