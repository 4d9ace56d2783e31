# lumin developer commands. `make demo` runs the main job, `make test` the whole test-suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install demo test check-clean check-export pytest bench clean

install: $(STAMP)

$(STAMP): setup.py settings.ini
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps pdpbox==0.3.0
	touch $(STAMP)

demo: install
	$(PY) examples/demo.py

check-clean: install
	@before=$$(cat nbs/*.ipynb | md5sum); $(VENV)/bin/nbdev_clean; after=$$(cat nbs/*.ipynb | md5sum); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_clean changed notebooks: run nbdev_clean and commit"; exit 1; fi

check-export: install
	@before=$$(find lumin -name '*.py' | sort | xargs md5sum); $(VENV)/bin/nbdev_export; \
	after=$$(find lumin -name '*.py' | sort | xargs md5sum); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_export changed lumin/: notebooks and library are out of sync"; \
	diff <(echo "$$before") <(echo "$$after"); exit 1; fi

pytest: install
	$(VENV)/bin/pytest -q tests

test: check-clean check-export pytest

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf demo_out .pytest_cache
