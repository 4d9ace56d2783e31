# lumin developer commands. `make demo` runs the main job, `make test` the whole test-suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Where pip looks for torch. Empty: pip's configured index (a local CPU wheel on lumin's build machines; plain PyPI
# serves the CUDA build on Linux x86_64). For the CPU build elsewhere: make TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_SPEC := torch==2.13.0

.PHONY: install demo test check-clean check-export pytest test-browser bench clean

install: $(STAMP)

$(STAMP): setup.py settings.ini
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

demo: install
	$(PY) examples/demo.py

check-clean: install
	@before=$$(find nbs -name '*.ipynb' | sort | xargs cat | md5sum); $(VENV)/bin/nbdev_clean; \
	after=$$(find nbs -name '*.ipynb' | sort | xargs cat | md5sum); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_clean changed notebooks: run nbdev_clean and commit"; exit 1; fi

check-export: install
	@before=$$(find lumin -name '*.py' | sort | xargs md5sum); $(VENV)/bin/nbdev_export; \
	after=$$(find lumin -name '*.py' | sort | xargs md5sum); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_export changed lumin/: notebooks and library are out of sync"; \
	diff <(echo "$$before") <(echo "$$after"); exit 1; fi

pytest: install
	$(VENV)/bin/pytest -q tests

test: check-clean check-export pytest

# The notebook experience in a real browser: JupyterLab + headless Chromium (Debian: apt-get install -y chromium chromium-driver).
test-browser: install
	$(VENV)/bin/pytest -s -q tests/browser

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf demo_out .pytest_cache
