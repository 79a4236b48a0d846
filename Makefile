# Two entry points: `make demo` (set up + main job) and `make test` (set up + tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
RUNTIME_STAMP := $(VENV)/.installed-runtime
# ruff settings live here: the top level holds no pyproject.toml.
RUFF := $(BIN)/ruff
RUFF_FLAGS := --line-length 100
# The exact versions the suite passes with; setup.py holds the compatible ranges.
CONSTRAINTS := .ci/constraints.txt
PIP_INSTALL = $(1)/pip install -q -c $(CONSTRAINTS)

.PHONY: setup setup-runtime apt demo demo-phonemes test test-fast lint upgrade figures clean

# The demo needs only the runtime packages; the tests add torch, transformers and ruff.
# setuptools stays in the venv: tests/packaging_test.py builds the wheel offline with it.
$(RUNTIME_STAMP): setup.py $(CONSTRAINTS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(call PIP_INSTALL,$(BIN)) --upgrade pip setuptools
	$(call PIP_INSTALL,$(BIN)) -e .
	touch $(RUNTIME_STAMP)

$(STAMP): setup.py $(CONSTRAINTS) $(RUNTIME_STAMP)
	$(call PIP_INSTALL,$(BIN)) -e '.[test]'
	# pyctcdecode pins numpy<2 in metadata only; its beam search works on numpy 2.
	$(call PIP_INSTALL,$(BIN)) --no-deps pyctcdecode
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

# $(call PYTEST,BIN_DIR,EXTRA_ARGS): the suite on 2 workers, 8 host devices, under tcmalloc;
# it lists its 20 slowest tests (where a slower machine spends its time).
PYTEST = LD_PRELOAD="$$(ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 2>/dev/null | head -1)" \
	XLA_FLAGS=--xla_force_host_platform_device_count=8 $(1)/pytest -q -n 2 --durations=20 $(2) tests

test: setup lint
	$(call PYTEST,$(BIN),)

# Everything but the tests marked slow (tests/conftest.py registers the marker).
test-fast: setup lint
	$(call PYTEST,$(BIN),-m "not slow")

# Refreshes $(CONSTRAINTS): the newest versions setup.py's ranges allow, installed into a
# fresh venv without constraints, kept only if the whole suite passes with them.
UPGRADE_VENV := /tmp/w2v2jax-upgrade-venv
upgrade: apt
	rm -rf $(UPGRADE_VENV)
	$(PY) -m venv $(UPGRADE_VENV)
	$(UPGRADE_VENV)/bin/pip install -q --upgrade pip setuptools
	$(UPGRADE_VENV)/bin/pip install -q -e '.[test]'
	$(UPGRADE_VENV)/bin/pip install -q --no-deps pyctcdecode
	$(UPGRADE_VENV)/bin/ruff check $(RUFF_FLAGS) --extend-select I,B,UP .
	$(UPGRADE_VENV)/bin/ruff format --check $(RUFF_FLAGS) .
	$(call PYTEST,$(UPGRADE_VENV)/bin,)
	{ sed -n '/^#/p' $(CONSTRAINTS); $(UPGRADE_VENV)/bin/pip freeze --all --exclude-editable | \
	  grep -v '^#' | sed -E 's/\+[A-Za-z0-9.]+$$//'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(UPGRADE_VENV)
	git diff --stat -- $(CONSTRAINTS)

demo: setup-runtime
	$(BIN)/python -m w2v2jax.demo --workdir=runs/demo

# The same budget with IPA labels on the words corpus (w2v2jax/demo_phonemes.py).
demo-phonemes: setup-runtime
	$(BIN)/python -m w2v2jax.demo --task=phonemes --workdir=runs/demo-phonemes

figures: setup-runtime
	$(BIN)/python -m experiments.figures --workdir=runs/demo --out=runs/demo/figures

clean:
	rm -rf $(VENV) runs
