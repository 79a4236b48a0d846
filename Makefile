# Two entry points: `make demo` (set up + main job) and `make test` (set up + tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
RUNTIME_STAMP := $(VENV)/.installed-runtime
# ruff settings live here: the top level holds no pyproject.toml.
RUFF := $(BIN)/ruff
RUFF_FLAGS := --line-length 100

.PHONY: setup setup-runtime apt demo test lint figures clean

# The demo needs only the runtime packages; the tests add torch, transformers and ruff.
$(RUNTIME_STAMP): setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(RUNTIME_STAMP)

$(STAMP): setup.py $(RUNTIME_STAMP)
	$(BIN)/pip install -q -e '.[test]'
	# pyctcdecode pins numpy<2 in metadata only; its beam search works on numpy 2.
	$(BIN)/pip install -q --no-deps pyctcdecode
	touch $(STAMP)

# flite + espeak-ng synthesize the corpus; tcmalloc makes XLA's CPU steps ~20% faster
# (w2v2jax/allocator.py).
APT_PACKAGES := flite espeak-ng libtcmalloc-minimal4
apt:
	@if command -v flite >/dev/null && command -v espeak-ng >/dev/null && \
	  ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else echo "apt-get not found: install $(APT_PACKAGES) yourself; corpus tests will be skipped"; fi

setup: $(STAMP) apt
setup-runtime: $(RUNTIME_STAMP) apt

lint: setup
	$(RUFF) check $(RUFF_FLAGS) --extend-select I,B,UP .
	$(RUFF) format --check $(RUFF_FLAGS) .

test: setup lint
	LD_PRELOAD="$$(ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 2>/dev/null | head -1)" \
	XLA_FLAGS=--xla_force_host_platform_device_count=8 $(BIN)/pytest -q -n 2 tests

demo: setup-runtime
	$(BIN)/python -m w2v2jax.demo --workdir=runs/demo

figures: setup-runtime
	$(BIN)/python -m experiments.figures --workdir=runs/demo --out=runs/demo/figures

clean:
	rm -rf $(VENV) runs
