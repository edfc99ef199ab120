"""Each chapter notebook runs in a real JupyterLab and its widget responds in a real browser.

Plain pytest tests check the widget functions and nbval checks the outputs, but neither
proves that the front end renders the widget and that moving it changes what the learner
sees. This test does what a learner does: open the notebook in JupyterLab (headless Debian
Chromium driven by Playwright), wait for its kernel, clear the committed outputs, Run All
Cells, then move the chapter's widget control and watch the widget's output change. A
screenshot lands in ``tests/artifacts/``.

Two traps shape the waits below. JupyterLab's execution indicator reads "idle" before any
kernel exists (clicking Run All then only opens a "Select Kernel" dialog), so the test asks
the server's REST API until the notebook's session has an idle kernel. And the committed
notebook already shows ``[1]..[n]``, so outputs are cleared first: only a real run can bring
the execution counts back.
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
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Chapters with a widget, each with the CSS class of the control the test moves
#: (``widget-slider`` or ``widget-button``); each chapter adds its notebook when it lands.
NOTEBOOKS = {
    "notebooks/00_welcome_architecture.ipynb": "widget-slider",
    "notebooks/02_scheduling.ipynb": "widget-slider",
}
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
KERNEL_START_S = 45
RUN_ALL_MS = 60_000
UI_MS = 20_000

# Execution counts of the code cells in document order, how many are queued or running ([*]),
# and the text of every output that is a Python error (JupyterLab renders tracebacks as stderr).
RUN_STATE_JS = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
    .map((e) => e.textContent.trim());
  const errors = [...document.querySelectorAll(
      '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map((e) => e.textContent)
    .filter((t) => /Traceback|Error/.test(t));
  return {
    counts: prompts.map((t) => /^\\[(\\d+)\\]:?$/.exec(t)).filter(Boolean).map((m) => Number(m[1])),
    running: prompts.filter((t) => t.includes('*')).length,
    outputs: document.querySelectorAll('.jp-Notebook .jp-OutputArea-child').length,
    errors,
  };
}"""
#: True once "Clear Outputs of All Cells" took effect: no execution count, no output left.
CLEARED_JS = f"() => {{ const s = ({RUN_STATE_JS})(); return !s.counts.length && !s.outputs; }}"
#: True once Run All is over: nothing queued, and every code cell has a count or something failed.
RUN_DONE_JS = f"""(expected) => {{
  const s = ({RUN_STATE_JS})();
  return !s.running && (s.counts.length >= expected || s.errors.length > 0);
}}"""

# What a widget shows, minus its own controls: text and images of the output area holding it
# (a slider's readout changes by itself; the point is that the *output* reacts).
WIDGET_SIGNATURE_JS = """(area) => {
  const copy = area.cloneNode(true);
  copy.querySelectorAll('.widget-readout, input, textarea, button').forEach((e) => e.remove());
  const images = [...copy.querySelectorAll('img')].map((img) => img.getAttribute('src') || '');
  return [copy.textContent, ...images].join('\\u241e');
}"""


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server: where it listens and the token that opens it."""

    base: str
    token: str

    def get(self, path: str) -> object:
        """GET a REST endpoint of the server and decode its JSON."""
        with urllib.request.urlopen(f"{self.base}{path}?token={self.token}", timeout=5) as reply:
            return json.load(reply)


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
    """Stop the server and anything it started in its process group (it shuts its kernels down)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """A JupyterLab server on a free loopback port, rooted at the repo, isolated from ~/.jupyter.

    It runs under this very interpreter (``sys.executable -m jupyter lab``): the notebooks'
    kernelspec ``python3`` says ``python``, which jupyter_client replaces by the server's own
    ``sys.executable``, so the kernel is the one where labkit is installed.
    """
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
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
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
    server = Lab(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                server.get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log_tail = log_path.read_text()[-3000:]
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S}s:\n{log_tail}")
                time.sleep(0.5)
        yield server
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


def _answer_kernel_dialog(page, display_name: str) -> None:
    """If JupyterLab asks which kernel to use, pick the notebook's own (a learner's first click)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.locator("select").select_option(label=display_name)
        dialog.locator(".jp-mod-accept").click()


def _wait_for_kernel(page, lab: Lab, notebook: str, display_name: str) -> dict:
    """The notebook's session once the server reports its kernel started and idle.

    The front end's indicator is no proof: it reads "idle" while no kernel exists yet.
    """
    deadline = time.monotonic() + KERNEL_START_S
    while time.monotonic() < deadline:
        _answer_kernel_dialog(page, display_name)
        for session in lab.get("/api/sessions"):
            kernel = session.get("kernel") or {}
            if session["path"] == notebook and kernel.get("execution_state") == "idle":
                return session
        page.wait_for_timeout(250)
    pytest.fail(f"{notebook}: no idle kernel after {KERNEL_START_S}s; sessions: {lab.get('/api/sessions')}")


def _menu(page, menu: str, item: str) -> None:
    page.click(f'.lm-MenuBar-itemLabel:text-is("{menu}")')
    page.click(f'.lm-Menu-itemLabel:text-is("{item}")')


def _move(control) -> None:
    """Press a button, or send a slider to its other end from the keyboard."""
    if "widget-button" in (control.get_attribute("class") or ""):
        control.click()
        return
    handle = control.locator(".noUi-handle").first
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    handle.press("Home" if at_max else "End")


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_notebook_runs_and_widget_responds_in_jupyterlab(notebook, lab, browser, artifacts):
    """From cleared outputs, Run All gives every code cell a fresh count and no error; the widget reacts."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    path = REPO / notebook
    if not path.exists():
        pytest.skip(f"{notebook} is not committed yet")
    committed = path.read_bytes()
    nb = nbformat.reads(committed.decode(), as_version=4)
    kernelspec = nb.metadata["kernelspec"]
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(UI_MS)
    try:
        # A workspace of its own, so the notebooks opened before it are not restored next to it.
        url = f"{lab.base}/lab/workspaces/{path.stem}/tree/{notebook}?token={lab.token}"
        page.goto(url, timeout=KERNEL_START_S * 1000)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell")
        session = _wait_for_kernel(page, lab, notebook, kernelspec["display_name"])
        assert session["kernel"]["name"] == kernelspec["name"]
        page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName").filter(
            has_text=kernelspec["display_name"]).wait_for()
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')

        _menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_function(CLEARED_JS)
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(RUN_DONE_JS, arg=code_cells, timeout=RUN_ALL_MS)
        except PlaywrightTimeoutError:
            state = page.evaluate(RUN_STATE_JS)
            pytest.fail(f"{notebook}: Run All did not finish in {RUN_ALL_MS} ms: {state}")
        state = page.evaluate(RUN_STATE_JS)
        assert not state["errors"], f"{notebook} raised in JupyterLab:\n" + "\n".join(state["errors"])
        assert state["counts"] == list(range(1, code_cells + 1)), f"not run top to bottom: {state['counts']}"

        page.locator(".jp-Notebook .jupyter-widgets").first.wait_for()
        control = page.locator(f".jp-Notebook .{NOTEBOOKS[notebook]}").first
        control.wait_for(state="visible")
        control.scroll_into_view_if_needed()
        area = control.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
        before = area.evaluate(WIDGET_SIGNATURE_JS)
        _move(control)
        try:
            page.wait_for_function(
                f"([area, before]) => ({WIDGET_SIGNATURE_JS})(area) !== before",
                arg=[area.element_handle(), before])
        except PlaywrightTimeoutError:
            pytest.fail(f"{notebook}: moving the {NOTEBOOKS[notebook]} changed no output in {UI_MS} ms")
        assert path.read_bytes() == committed, f"{notebook} was saved during the run (autosave must be off)"
    finally:
        page.screenshot(path=str(artifacts / f"{path.stem}.png"))
        page.close()
