# The two commands a new user needs (README.md): `make test` and `make book`.
# Both create .venv and install the project with its extras on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BOOK_FLAGS ?= -W -n --keep-going

.PHONY: install test book reproduce browser-check gpu-check bench-cpu clean-book clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[book,test]'
	@touch $(STAMP)

## make test: create .venv if needed, install, run the test suite (CPU only, a few minutes)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make book: execute every chapter with the best fully recorded profile (gpu, else cpu, else
## smoke; one recorded under the book's own recipe first), then build _build/html with warnings as errors
book: $(STAMP)
	$(BIN)/python -m alexnet_core reproduce --profile best

## make reproduce PROFILE=cpu [RETRAIN=1]: recompute the chapters under one profile
PROFILE ?= smoke
reproduce: $(STAMP)
	$(BIN)/python -m alexnet_core reproduce --profile $(PROFILE) $(if $(RETRAIN),--retrain)

## make browser-check: every built page in headless Chromium at desktop and phone width, and the search from file:// (Debian's chromium + chromium-driver); screenshots in _build/browser-screenshots
browser-check: $(STAMP)
	$(BIN)/python .ci/browser_check.py _build/html

## make gpu-check: CUDA tests, GPU throughput benchmark, trainer epochs (about 5 minutes, one GPU)
gpu-check:
	PYTHON=$(if $(wildcard $(BIN)/python),$(BIN)/python,python3) bash benchmarks/gpu_check.sh

## make bench-cpu: training throughput per precision and memory format, the data pipeline against a
## naive loop, and epoch cost against images and batch size, on this CPU (35 minutes on the 2-core AVX2 CPU);
## results go to benchmarks/results/cpu-<instruction set>/, one folder per class of CPU measured
bench-cpu: $(STAMP)
	@isa=$$($(BIN)/python -c "from alexnet_core.hardware import cpu_isa; print(cpu_isa().lower())") && \
	dir=benchmarks/results/cpu-$$isa && mkdir -p $$dir && echo "== writing to $$dir" && \
	$(BIN)/python benchmarks/train_throughput.py --device cpu --compile --no-lrn --out $$dir/train-throughput.json && \
	$(BIN)/python benchmarks/data_pipeline.py --out $$dir/data-pipeline.json && \
	$(BIN)/python benchmarks/scaling.py --device cpu --out $$dir/scaling.json

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) *.egg-info
