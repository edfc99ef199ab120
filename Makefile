# Two commands matter: `make lab` (open the lab) and `make test` (what CI runs).
# Everything lives in .venv; the editable install re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.labkit-installed
KERNEL := $(VENV)/share/jupyter/kernels/labkit/kernel.json
# JupyterLab reads <sys.prefix>/share/jupyter/lab/settings/overrides.json as default settings.
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
FIRST_NOTEBOOK := notebooks/00_welcome_architecture.ipynb
CHROMIUM := /usr/bin/chromium
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# `notebooks/` is absent until the first chapter lands; pytest would refuse a missing path.
NOTEBOOK_DIRS := $(wildcard notebooks)

.PHONY: lab test notebooks setup chromium

# Rooted at the repo so the file browser shows data/ too; kernels still start in the notebook's folder.
lab: setup
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" $(FIRST_NOTEBOOK)

test: setup chromium
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest tests $(NOTEBOOK_DIRS) --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

# `make notebooks NB=notebooks/solutions/02_scheduling.ipynb` rebuilds one chapter.
notebooks: setup
	$(VPY) tools/build_notebooks.py $(NB)

setup: $(STAMP) $(KERNEL) $(OVERRIDES)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --disable-pip-version-check -e '.[test]'
	touch $@

$(KERNEL): $(STAMP)
	$(VPY) -m ipykernel install --sys-prefix --name labkit --display-name "labkit (Python)"
	touch $@

# Turn off the "Jupyter news" pop-up (and the update check behind it).
$(OVERRIDES): Makefile | $(VPY)
	mkdir -p $(dir $@)
	printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

# Debian's Chromium for the browser test, installed only when we are root and it is missing.
# Never `playwright install` (it downloads a browser build); if apt fails the test skips.
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "note: $(CHROMIUM) is missing and we are not root: the browser test will be skipped"; \
	else \
		echo "installing Debian's chromium for the browser test"; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends chromium fonts-liberation; } \
		|| echo "warning: apt-get could not install chromium: the browser test will be skipped"; \
	fi
