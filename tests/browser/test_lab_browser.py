"""Each chapter notebook runs in a real JupyterLab and its widget responds in a real browser.

Plain pytest tests check the widget functions and nbval checks the outputs, but neither
proves that the front end renders the widget and that moving it changes what the learner
sees. This test does what a learner does: open the notebook in JupyterLab (headless Debian
Chromium driven by Playwright), Run -> Run All Cells, then move the first slider (or press
the first button) and watch the outputs change. A screenshot lands in ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Chapters with a widget; each chapter adds its notebook here when it lands.
NOTEBOOKS = ["notebooks/00_welcome_architecture.ipynb"]
#: Flags that keep Chromium off the (closed) network and quiet in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Lab settings: no "Jupyter news" pop-up; no autosave (the run must never overwrite a committed
#: notebook); every cell attached to the DOM so all of them can be found.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
SERVER_START_S = 60
KERNEL_IDLE_MS = 45_000
RUN_ALL_MS = 60_000
WIDGET_MS = 20_000

# Text and images of every output area, minus what the widget shows of its own value
# (a slider's readout changes by itself; the point is that the *output* reacts).
OUTPUT_SIGNATURE_JS = """() => {
  const parts = [];
  for (const area of document.querySelectorAll('.jp-Notebook .jp-OutputArea')) {
    const copy = area.cloneNode(true);
    copy.querySelectorAll('.widget-readout, input, textarea').forEach((e) => e.remove());
    parts.push(copy.textContent);
    copy.querySelectorAll('img').forEach((img) => parts.push(img.getAttribute('src') || ''));
  }
  return parts.join('\\u241e');
}"""

ALL_CELLS_RAN_JS = """(expected) => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
    .map((e) => e.textContent.trim());
  const done = prompts.filter((t) => /^\\[\\d+\\]:?$/.test(t)).length;
  return !prompts.some((t) => t.includes('*')) && done >= expected;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_user_settings(folder: Path) -> None:
    for plugin, values in USER_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and anything it started in its process group."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on a free loopback port, rooted at the repo: ``(base_url, token)``."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium when run as root)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    home = tmp_path_factory.mktemp("lab")
    _write_user_settings(home / "settings")
    token, port = secrets.token_hex(16), _free_port()
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
    )
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        f"--ServerApp.token={token}", f"--port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={REPO}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log_tail = log_path.read_text()[-3000:]
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S}s:\n{log_tail}")
                time.sleep(0.5)
        yield base, token
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_widget_renders_and_responds(notebook, lab, browser, artifacts):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    path = REPO / notebook
    if not path.exists():
        pytest.skip(f"{notebook} is not committed yet")
    cells = nbformat.read(path, as_version=4).cells
    code_cells = sum(1 for c in cells if c.cell_type == "code" and c.source.strip())
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WIDGET_MS)
    try:
        page.goto(f"{base}/lab/tree/{notebook}?token={token}", timeout=KERNEL_IDLE_MS)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=KERNEL_IDLE_MS)
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=KERNEL_IDLE_MS)

        page.click('.lm-MenuBar-itemLabel:text-is("Run")')
        page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
        page.wait_for_function(ALL_CELLS_RAN_JS, arg=code_cells, timeout=RUN_ALL_MS)
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=RUN_ALL_MS)

        assert page.locator(".jp-Notebook .jupyter-widgets").count() > 0, "no widget rendered"
        control = page.locator(".jp-Notebook .widget-slider, .jp-Notebook .widget-button").first
        control.wait_for(state="visible")
        control.scroll_into_view_if_needed()
        before = page.evaluate(OUTPUT_SIGNATURE_JS)
        if "widget-button" in (control.get_attribute("class") or ""):
            control.click()
        else:
            handle = control.locator(".noUi-handle, .ui-slider-handle").first
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            handle.press("Home" if at_max else "End")
        try:
            page.wait_for_function(f"(before) => ({OUTPUT_SIGNATURE_JS})() !== before", arg=before)
        except PlaywrightTimeoutError:
            pytest.fail(f"{notebook}: interacting with the first widget changed no output in {WIDGET_MS} ms")
    finally:
        page.screenshot(path=str(artifacts / f"{path.stem}.png"))
        page.close()
