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

Then it works the chapter's panel (the output holding ``.labkit-panel``, found by that class,
not by cell index, since the notebooks change): every slider's track must be at least
``MIN_TRACK_PX`` wide and every control must fit in the notebook column; one slider is dragged
with the mouse; and the latency from a learner's interaction (key, Enter, mouse release) to the
panel's output changing is measured in the page over ``LATENCY_SAMPLES`` interactions. The figures
are printed (``-s``) and written to ``tests/artifacts/widget-latency.json``; latency is reported,
not asserted, since wall-clock time belongs to the machine. Screenshots of the page and of the
panel before and after the drag land in ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import statistics
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
#: A slider whose track is narrower than this cannot be worked with a mouse (issue 6).
MIN_TRACK_PX = 120
#: How many interactions the latency is measured over.
LATENCY_SAMPLES = 10
#: An update is over once the panel's output has not changed for this long.
SETTLE_MS = 400
PANEL = ".jp-Notebook .labkit-panel"
LATENCY_FILE = "widget-latency.json"
SERVER_START_S = 60
KERNEL_START_S = 45
RUN_ALL_MS = 120_000  # chapter 04 simulates a whole day (about 30 s)
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
class Act:
    """One learner action on a panel control, found by its description (``nth`` among equals).

    ``control`` is ``"slider"`` (``value`` is the key pressed on its handle; ``"next"`` means
    ArrowRight, or Home at the end), ``"text"`` (``value`` is typed, then Enter commits it) or
    ``"button"`` (the toggle button whose text is ``value`` is clicked; ``label`` is not used) or
    ``"click"`` (the same for a push button).
    """

    control: str
    label: str
    value: str
    nth: int = 0


@dataclass(frozen=True)
class Drive:
    """How the test works one chapter's panel: the slider it drags and the actions it times.

    ``drag_value`` is where the dragged slider's handle is dropped (None: the middle of its range).
    ``panel`` is which of the notebook's panels (0: the first) it works.
    """

    drag_label: str
    drag_value: int | None
    acts: tuple[Act, ...]
    panel: int = 0


#: Chapters with a widget panel, and how to work each; each chapter adds its notebook when it lands.
NOTEBOOKS = {
    # The build-and-rollout panel: build buttons (order, edit: a cached pair of builds) alternate with
    # base images and the warm-nodes slider (a fresh 20-node rollout per new setting); then the
    # slider is dragged to 10.
    "notebooks/01_containerization.ipynb": Drive("nodes already holding it", 10, (
        Act("button", "", "code first"), Act("slider", "nodes already holding it", "ArrowRight"),
        Act("button", "", "requirements.txt"), Act("button", "", "python"),
        Act("button", "", "dependencies first"), Act("slider", "nodes already holding it", "ArrowRight"),
        Act("button", "", "alpine"), Act("click", "", "build"),
        Act("slider", "nodes already holding it", "End"), Act("button", "", "nginx"),
    )),
    # The runtime-choice panel: profile buttons alternate with the work's share (every change a fresh
    # recommendation); then the share is dragged to 30%.
    "notebooks/05_runtime_choice.ipynb": Drive("share of a request's time", 30, (
        Act("button", "", "io"), Act("slider", "share of a request's time", "ArrowLeft"),
        Act("button", "", "trusted code"), Act("button", "", "syscall"),
        Act("slider", "share of a request's time", "ArrowLeft"), Act("button", "", "untrusted code"),
        Act("button", "", "network"), Act("slider", "share of a request's time", "Home"),
        Act("button", "", "cpu"), Act("button", "", "io"),  # (with cpu work the share changes nothing)
    )),
    # The apply planner: the replicas slider (a fresh plan and simulated placement per count)
    # alternates with namespaces (a protected one is refused); then the replicas are dragged to 8.
    "notebooks/06_real_cluster.ipynb": Drive("replicas", 8, (
        Act("slider", "replicas", "ArrowRight"), Act("text", "namespace", "default"),
        Act("text", "namespace", "labkit-ch06"), Act("slider", "replicas", "ArrowRight"),
        Act("slider", "replicas", "ArrowRight"), Act("text", "namespace", "team-a"),
        Act("slider", "replicas", "ArrowLeft"), Act("text", "namespace", "labkit-ch06"),
        Act("slider", "replicas", "ArrowLeft"), Act("slider", "replicas", "ArrowLeft"),
    )),
    # The timeline stepper: step through the timeline from the keyboard, then drag to the middle.
    "notebooks/00_welcome_architecture.ipynb": Drive(
        "step", None, tuple(Act("slider", "step", "next") for _ in range(LATENCY_SAMPLES))),
    # The scheduling playground: pod controls (a what-if cycle) alternate with a pool's node
    # count (a rebuilt cluster); then the zone spread's maxSkew is dragged from 0 (off) to 1.
    "notebooks/02_scheduling.ipynb": Drive("maxSkew", 1, (
        Act("text", "cpu request", "600m"), Act("slider", "nodes", "ArrowRight"),
        Act("text", "cpu request", "700m"), Act("slider", "nodes", "ArrowRight"),
        Act("text", "cpu request", "800m"), Act("slider", "nodes", "ArrowLeft"),
        Act("text", "cpu request", "900m"), Act("slider", "nodes", "ArrowLeft"),
        Act("text", "cpu request", "1"), Act("text", "cpu request", "500m"),
    )),
    # Two panels. Failure injection: scenario buttons (each a fresh run) alternate with kube-proxy's
    # delay (a fresh run per new value), then the delay is dragged to 6 s. Load balancing: the
    # replicas slider (a fresh run per new count), then dragged to 2.
    "notebooks/03_service_discovery.ipynb": (
        Drive("kube-proxy delay", 6, (
            Act("button", "", "delete a pod"), Act("slider", "kube-proxy delay", "ArrowRight"),
            Act("button", "", "fail a node"), Act("slider", "kube-proxy delay", "ArrowRight"),
            Act("button", "", "rolling update with preStop"), Act("slider", "kube-proxy delay", "ArrowLeft"),
            Act("button", "", "none"), Act("slider", "kube-proxy delay", "ArrowLeft"),
            Act("button", "", "rolling update"), Act("button", "", "rolling update with preStop"),
        )),
        Drive("replicas", 2, (
            Act("slider", "replicas", "ArrowRight"), Act("slider", "replicas", "ArrowRight"),
            Act("slider", "replicas", "ArrowLeft"), Act("slider", "replicas", "ArrowLeft"),
            Act("slider", "replicas", "ArrowLeft"), Act("slider", "replicas", "Home"),
            Act("slider", "replicas", "ArrowRight"), Act("slider", "replicas", "ArrowRight"),
            Act("slider", "replicas", "End"), Act("slider", "replicas", "ArrowLeft"),
        ), panel=1),
    ),
    # The autoscaling panel: the scale-down window (a fresh run per new window, unless the
    # background prefetch got there first) alternates with the load-pattern buttons; then the
    # target utilization is dragged to 50%.
    "notebooks/04_autoscaling.ipynb": Drive("target utilization", 50, (
        Act("slider", "scale-down window", "ArrowLeft"), Act("button", "", "step"),
        Act("slider", "scale-down window", "ArrowLeft"), Act("button", "", "oscillating"),
        Act("slider", "maxReplicas", "ArrowLeft"), Act("button", "", "spike"),
        Act("slider", "minReplicas", "ArrowRight"), Act("button", "", "daily wave"),
        Act("slider", "scale-down window", "ArrowLeft"), Act("button", "", "oscillating"),
    )),
}


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server: where it listens and the token that opens it."""

    base: str
    token: str

    def get(self, path: str) -> object:
        """GET a REST endpoint of the server and decode its JSON."""
        with urllib.request.urlopen(f"{self.base}{path}?token={self.token}", timeout=5) as reply:
            return json.load(reply)


#: Output areas (outside widget panels) whose HTML table is wider than the area itself.
WIDE_TABLES_JS = """() => {
  const out = [];
  document.querySelectorAll('.jp-Cell').forEach((cell, i) => {
    cell.querySelectorAll('.jp-OutputArea-output.jp-RenderedHTMLCommon').forEach(area => {
      if (area.closest('.labkit-panel')) return;
      const table = area.querySelector('table');
      if (table && table.getBoundingClientRect().width > area.clientWidth + 1)
        out.push(`${i}: ${Math.round(table.getBoundingClientRect().width)}/${area.clientWidth}`);
    });
  });
  return out;
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


# Every slider of the panel: its description, the width of its track (the noUiSlider target the
# handle runs along), and its value range as the handle announces it.
SLIDER_JS = """(s) => {
  const track = s.querySelector('.noUi-target');
  const handle = s.querySelector('.noUi-handle');
  return {
    label: ((s.querySelector('.widget-label') || {}).textContent || '').trim(),
    track: track ? track.getBoundingClientRect().width : 0,
    min: handle ? Number(handle.getAttribute('aria-valuemin')) : null,
    max: handle ? Number(handle.getAttribute('aria-valuemax')) : null,
  };
}"""
SLIDERS_JS = f"(panel) => [...panel.querySelectorAll('.widget-slider')].map({SLIDER_JS})"
# Controls that stick out of the output area (cut off, or only reachable by scrolling sideways),
# and how wide the panel's widest row is.
FIT_JS = """(panel, area) => {
  const box = area.getBoundingClientRect();
  const controls = [...panel.querySelectorAll('.widget-inline-hbox, .widget-html, .widget-image')];
  const out = controls.filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
  }).map((e) => (e.querySelector('.widget-label') || e).textContent.trim().slice(0, 40) || e.className);
  const rights = controls.map((e) => e.getBoundingClientRect().right);
  return {outside: out, column: box.width, panel: Math.max(0, ...rights) - panel.getBoundingClientRect().left,
          scrolls: area.scrollWidth > area.clientWidth + 1};
}"""
# Arms a latency measurement: the clock starts at the next key press or mouse release anywhere
# in the page (capture phase, before any widget handles it) and a MutationObserver notes when the
# panel's output first and last differs from what it showed when armed.
ARM_JS = f"""(area) => {{
  const sig = () => ({WIDGET_SIGNATURE_JS})(area);
  const st = {{start: null, first: null, last: null, before: sig()}};
  const start = () => {{
    if (st.start === null) st.start = performance.now();
    document.removeEventListener('keydown', start, true);
    document.removeEventListener('pointerup', start, true);
  }};
  document.addEventListener('keydown', start, true);
  document.addEventListener('pointerup', start, true);
  const observer = new MutationObserver(() => {{
    const now = performance.now();
    if (st.start !== null && sig() !== st.before) {{
      if (st.first === null) st.first = now;
      st.last = now;
    }}
  }});
  observer.observe(area, {{subtree: true, childList: true, characterData: true, attributes: true}});
  st.stop = () => observer.disconnect();
  window.__labkitLatency = st;
}}"""
SETTLED_JS = """(quietMs) => {
  const st = window.__labkitLatency;
  return st.first !== null && performance.now() - st.last >= quietMs;
}"""
LATENCY_JS = """() => {
  const st = window.__labkitLatency;
  st.stop();
  return {first_ms: st.first - st.start, settled_ms: st.last - st.start};
}"""


def _slider(panel, label: str, nth: int = 0):
    return panel.locator(".widget-slider").filter(
        has=panel.page.locator(".widget-label", has_text=label)).nth(nth)


def _act(panel, act: Act) -> None:
    """Do one learner action (the latency clock starts at its key press)."""
    if act.control in ("button", "click"):
        exact = re.compile(f"^\\s*{re.escape(act.value)}\\s*$")
        kind = ".widget-toggle-button" if act.control == "button" else ".widget-button"
        panel.locator(kind).filter(has_text=exact).first.click()
        return
    if act.control == "text":
        box = panel.locator(".widget-text").filter(
            has=panel.page.locator(".widget-label", has_text=act.label)).nth(act.nth).locator("input")
        box.fill(act.value)  # no key events: the clock starts at Enter, which commits the text
        box.press("Enter")
        return
    handle = _slider(panel, act.label, act.nth).locator(".noUi-handle")
    key = act.value
    if key == "next":
        key = "Home" if handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax") \
            else "ArrowRight"
    handle.focus()
    handle.press(key)


def _timed(page, area, action, what: str) -> dict:
    """Run ``action`` and return how long until the panel's output changed, and until it settled."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    area.evaluate(ARM_JS)
    action()
    try:
        page.wait_for_function(SETTLED_JS, arg=SETTLE_MS, polling=50)
    except PlaywrightTimeoutError:
        pytest.fail(f"{what} changed nothing in the panel's output in {UI_MS} ms")
    return {"what": what, **page.evaluate(LATENCY_JS)}


def _drag(page, slider, value: int | None) -> int:
    """Drag the slider's handle with the mouse to ``value`` (None: the middle); return the value."""
    info = slider.evaluate(SLIDER_JS)
    low, high = int(info["min"]), int(info["max"])
    target = (low + high) // 2 if value is None else value
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first.bounding_box()
    start = handle.bounding_box()
    x0, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    x1 = track["x"] + track["width"] * (target - low) / max(high - low, 1)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x1, y, steps=8)
    page.mouse.up()
    return target


def _screenshot(page, panel, path: Path) -> None:
    """The window with the panel's top at the top (an element screenshot of a panel taller than
    the window, inside JupyterLab's scrolling notebook, comes out cut)."""
    panel.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # images decode, the scroll settles
    page.screenshot(path=str(path))


def _record(artifacts: Path, notebook: str, figures: dict) -> None:
    """Merge this chapter's figures into the latency file (one key per notebook)."""
    path = artifacts / LATENCY_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    data[notebook] = figures
    path.write_text(json.dumps(data, indent=2) + "\n")


def _summary(samples: list[dict], key: str) -> dict:
    values = [s[key] / 1000 for s in samples]
    return {"median_s": round(statistics.median(values), 3), "max_s": round(max(values), 3)}


def _work_panel(page, notebook: str, path: Path, drive: Drive, artifacts: Path) -> list[str]:
    """Work one panel as ``drive`` says: measure its sliders and fit, time the actions and the drag,
    take the screenshots and record the figures; return what is wrong with it."""
    panel = page.locator(PANEL).nth(drive.panel)
    panel.wait_for(state="visible")
    panel.locator(".widget-slider .noUi-handle").first.wait_for()
    panel.scroll_into_view_if_needed()
    area = panel.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
    suffix = "" if drive.panel == 0 else str(drive.panel + 1)
    _screenshot(page, panel, artifacts / f"{path.stem}-panel{suffix}.png")

    sliders = panel.evaluate(SLIDERS_JS)
    fit = panel.evaluate(FIT_JS, area.element_handle())
    problems = [f"slider {s['label']!r} has a {s['track']:.0f} px track (< {MIN_TRACK_PX} px)"
                for s in sliders if s["track"] < MIN_TRACK_PX]
    problems += [f"{name!r} sticks out of the {fit['column']:.0f} px column" for name in fit["outside"]]
    if fit["scrolls"]:
        problems.append("the panel scrolls sideways in its output area")
    assert sliders, f"{notebook}: the panel has no slider"

    samples = []
    for act in drive.acts:
        samples.append(_timed(page, area, lambda act=act: _act(panel, act),
                              f"{act.control} {act.label!r}: {act.value}"))

    slider = _slider(panel, drive.drag_label)
    slider.scroll_into_view_if_needed()
    target = {}
    drag = _timed(page, area, lambda: target.setdefault("value", _drag(page, slider, drive.drag_value)),
                  f"drag {drive.drag_label!r}")
    now = slider.locator(".noUi-handle").first.get_attribute("aria-valuenow")
    assert now is not None and int(float(now)) == target["value"], \
        f"dragging {drive.drag_label!r} to {target['value']} left it at {now}"
    _screenshot(page, panel, artifacts / f"{path.stem}-panel{suffix}-dragged.png")

    figures = {
        "interactions": len(samples), **_summary(samples, "first_ms"),
        "settled": _summary(samples, "settled_ms"),
        "drag_s": round(drag["first_ms"] / 1000, 3),
        "samples_ms": [(s["what"], round(s["first_ms"]), round(s["settled_ms"])) for s in samples],
        "slider_tracks_px": {s["label"] or "(no label)": round(s["track"]) for s in sliders},
        "panel_width_px": round(fit["panel"]), "column_width_px": round(fit["column"]),
    }
    _record(artifacts, notebook if drive.panel == 0 else f"{notebook}#panel{drive.panel + 1}", figures)
    print(f"\n{notebook} panel {drive.panel + 1}: output changed after median {figures['median_s']} s, "
          f"max {figures['max_s']} s "
          f"over {len(samples)} interactions (settled: median {figures['settled']['median_s']} s, max "
          f"{figures['settled']['max_s']} s); drag {figures['drag_s']} s; slider tracks "
          f"{figures['slider_tracks_px']} px; panel {figures['panel_width_px']} px in a "
          f"{figures['column_width_px']} px column")
    return problems


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_notebook_runs_and_widget_responds_in_jupyterlab(notebook, lab, browser, artifacts):
    """From cleared outputs, Run All gives every code cell a fresh count and no error; then the
    chapter's panel has usable sliders that fit the column and reacts to the mouse and keyboard."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    path = REPO / notebook
    if not path.exists():
        pytest.skip(f"{notebook} is not committed yet")
    drive = NOTEBOOKS[notebook]
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
        # Opening a notebook must not mark it modified (its metadata is what the kernel writes back),
        # and a panel cell that has not run in this session says so instead of showing a raw repr.
        page.wait_for_timeout(1000)
        assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, "opening marked it modified"
        shown = page.locator(".jp-Notebook").inner_text()
        assert "run this cell to display it" in shown and "VBox(children" not in shown

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
        # Tables (explain's view, DataFrames) fit the output column at 1,400 px with the file browser open.
        wide = page.evaluate(WIDE_TABLES_JS)
        assert not wide, f"{notebook}: tables wider than their output area (cell: table px / area px): {wide}"

        problems = []
        for one in drive if isinstance(drive, tuple) else (drive,):
            problems += _work_panel(page, notebook, path, one, artifacts)
        assert not problems, f"{notebook}: " + "; ".join(problems)
        assert path.read_bytes() == committed, f"{notebook} was saved during the run (autosave must be off)"
    finally:
        page.screenshot(path=str(artifacts / f"{path.stem}.png"))
        page.close()
