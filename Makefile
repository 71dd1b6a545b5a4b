# Doctrine — deux commandes : `make run` (installe, indexe, lance l'application) et `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test install install-test index bench eval lint clean browser-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[st,test]"
	touch $(STAMP) $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

index: $(STAMP)
	$(VENV)/bin/doctrine index

run: $(STAMP)
	$(VENV)/bin/doctrine index
	$(VENV)/bin/doctrine serve --host $(HOST) --port $(PORT)

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installation de Chromium (Debian) pour le test navigateur…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "Chromium indisponible : le test navigateur sera ignoré."; }

test: $(TEST_STAMP) browser-deps
	$(PY) -m pytest -q

bench: $(TEST_STAMP)
	$(PY) bench/retrieval.py --server
	$(PY) bench/answers.py
	$(VENV)/bin/doctrine index
	$(PY) bench/load.py

eval: $(STAMP)
	$(VENV)/bin/doctrine eval --compare

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check assistant tests bench

clean:
	rm -rf $(VENV) data evals/reports test-output
