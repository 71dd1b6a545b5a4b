# Doctrine — deux commandes : `make run` (installe, indexe, lance l'application) et `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# Every package version is pinned here (pip constraints): a fresh machine installs exactly what the
# tests ran with. Refresh with `make lock` after changing the dependencies in pyproject.toml.
LOCK := requirements.lock
PIP_VERSION := 26.3
TORCH := torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test install install-test index bench eval lint clean browser-deps lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "pip==$(PIP_VERSION)"

$(STAMP): pyproject.toml $(LOCK) | $(PY)
	$(PIP) install --quiet -c $(LOCK) -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml $(LOCK) | $(PY)
	$(PIP) install --quiet -c $(LOCK) "$(TORCH)"
	$(PIP) install --quiet -c $(LOCK) -e ".[st,test]"
	touch $(STAMP) $(TEST_STAMP)

# Resolve pyproject.toml afresh in a throwaway venv and pin what it installed.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet "pip==$(PIP_VERSION)"
	.venv-lock/bin/python -m pip install --quiet "$(TORCH)"
	.venv-lock/bin/python -m pip install --quiet ".[st,test]"
	.venv-lock/bin/python -m pip freeze --all --exclude-editable \
	  | grep -v -i -E '^(doctrine-assistant|pip|setuptools|wheel)( |==|@)' \
	  | sed -E 's/^(torch==[^+]*)\+cpu$$/\1/' > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock

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
	rm -rf $(VENV) .venv-lock data evals/reports test-output
