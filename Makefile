# Two commands matter: `make lab` (open the lab) and `make test` (what CI runs).
# Everything lives in .venv; the editable install re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# One stamp for the lab's own dependencies, one for the test extra (make lab needs only the first).
STAMP := $(VENV)/.labkit-installed
TEST_STAMP := $(VENV)/.labkit-test-installed
# JupyterLab reads <sys.prefix>/share/jupyter/lab/settings/overrides.json as default settings.
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
FIRST_NOTEBOOK := notebooks/00_welcome_architecture.ipynb
CHROMIUM := /usr/bin/chromium
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# `notebooks/` is absent until the first chapter lands; pytest would refuse a missing path.
NOTEBOOK_DIRS := $(wildcard notebooks)

.PHONY: lab test notebooks setup setup-test chromium

# Rooted at the repo so the file browser shows data/ too; kernels still start in the notebook's folder.
# The printed URL (and the browser it opens, where there is one) lands on notebook 00.
lab: setup
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK)

test: setup-test chromium
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest tests $(NOTEBOOK_DIRS) --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

# `make notebooks NB=notebooks/solutions/02_scheduling.ipynb` rebuilds one chapter.
notebooks: setup-test
	$(VPY) tools/build_notebooks.py $(NB)

# The notebooks name the venv's own "python3" kernel (ipykernel's, run with the venv's Python),
# so JupyterLab offers exactly one kernel; an older setup also installed a "labkit" one.
setup: $(STAMP) $(OVERRIDES)
	@rm -rf $(VENV)/share/jupyter/kernels/labkit

setup-test: setup $(TEST_STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --disable-pip-version-check -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(VPY) -m pip install --disable-pip-version-check -e '.[test]'
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
