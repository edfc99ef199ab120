"""Chapter 01's scenarios and panel: what an edit costs to rebuild and push, and what an image's
size costs a rollout.

Everything here goes through the public API: :func:`labkit.images.build` with a
:class:`labkit.images.BuildCache`, ``c.registry.push`` and a ``labkit.Cluster`` whose kubelets pull.
:func:`rebuild` builds an app twice (before and after an edit, in one of two instruction orders);
:func:`rollout` pushes an image to ACR and rolls a Deployment of one pod per node over a fresh
cluster, some of whose nodes already hold the image's base. Results are kept per setting, so the
panel answers at once when a setting comes back.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.images.build import METADATA
from labkit.widgets._panel import clamp, panel

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from labkit.images import Image

__all__ = [
    "ARTICLE_DOCKERFILE",
    "ARTICLE_CONTEXT",
    "APP_DOCKERFILES",
    "APP_CONTEXT",
    "APP_SIZES",
    "EDITS",
    "IMAGES",
    "ACR",
    "Rebuild",
    "rebuild",
    "RolloutRun",
    "rollout",
    "containerization_panel",
]

#: The source article's Dockerfile (section 4): nginx with one page of its own.
ARTICLE_DOCKERFILE = "FROM nginx:latest\nCOPY index.html /usr/share/nginx/html/\n"
ARTICLE_CONTEXT = {"index.html": "<!DOCTYPE html>\n<html><body><h1>Hello from my-nginx</h1></body></html>\n"}
#: The lab's ACR namespace (Container Registry, Hangzhou): where chapter 01 pushes.
ACR = "registry.cn-hangzhou.aliyuncs.com/labkit"

#: A small Python web app, its dependencies installed before (good) or after (bad) its code is copied.
APP_DOCKERFILES = {
    "dependencies first": (
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
        'CMD ["python", "app.py"]\n'
    ),
    "code first": (
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        'CMD ["python", "app.py"]\n'
    ),
}
APP_CONTEXT = {
    "requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\n",
    "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef hello():\n"
    "    return 'hello'\n",
    "static/logo.png": 18_000,
}
#: The lab runs no commands: the size of what ``pip install`` adds (illustrative, Flask and gunicorn
#: with their dependencies).
APP_SIZES = {"RUN pip install --no-cache-dir -r requirements.txt": 12_000_000}
#: The edits the panel offers: file -> new content (None: no edit).
EDITS: dict[str, tuple[str, Any] | None] = {
    "nothing": None,
    "app.py": ("app.py", APP_CONTEXT["app.py"].replace("'hello'", "'hello, ACK'")),
    "requirements.txt": ("requirements.txt", APP_CONTEXT["requirements.txt"] + "requests==2.32.3\n"),
}
#: Instructions that make no layer (the image config, or the build's state): shown as "config".
CONFIG_ONLY = (*sorted(METADATA), "ENV", "USER", "WORKDIR", "ARG", "SHELL")
#: Base images of very different sizes, for the rollout (all in ``data/images.csv``).
IMAGES = {"alpine": "alpine:3.20", "nginx": "nginx:1.27", "python": "python:3.12"}


@dataclass
class Rebuild:
    """Two builds of the app, before and after an edit, and the second push."""

    order: str
    edit: str
    before: Image
    after: Image
    pushed: dict[str, Any]

    @property
    def missed(self) -> list[str]:
        """The layers the second build made again: its RUN, COPY and ADD steps not taken from the cache."""
        return [
            s["instruction"]
            for s in self.after.steps
            if not s["cached"] and s["instruction"].split(None, 1)[0].upper() in ("RUN", "COPY", "ADD")
        ]

    @property
    def rebuilt_bytes(self) -> int:
        """Bytes of the layers the second build made anew."""
        old = {layer.digest for layer in self.before.layers}
        return sum(layer.size_bytes for layer in self.after.layers if layer.digest not in old)

    def steps(self) -> pd.DataFrame:
        """The second build, step by step: cached, built (or, for a config-only instruction such as
        ``CMD``, config), why, and the layer's size in MB."""
        return _own_steps(self.after)


@functools.lru_cache(maxsize=32)
def rebuild(order: str = "dependencies first", edit: str = "app.py") -> Rebuild:
    """Build the app, edit one file (:data:`EDITS`), build again with the same cache, push both."""
    from labkit.images import BuildCache, build
    from labkit.images.registry import Registry

    if order not in APP_DOCKERFILES:
        raise ValueError(f"order {order!r}: choose one of {', '.join(APP_DOCKERFILES)}")
    if edit not in EDITS:
        raise ValueError(f"edit {edit!r}: choose one of {', '.join(EDITS)}")
    text = APP_DOCKERFILES[order]
    cache = BuildCache()
    before = build(text, APP_CONTEXT, cache=cache, sizes=APP_SIZES)
    change = EDITS[edit]
    context = dict(APP_CONTEXT, **({change[0]: change[1]} if change else {}))
    after = build(text, context, cache=cache, sizes=APP_SIZES)
    registry = Registry()
    registry.push(before, f"{ACR}/app:1.0")
    return Rebuild(order, edit, before, after, registry.push(after, f"{ACR}/app:1.1"))


@dataclass
class RolloutRun:
    """One rollout: the image, how many nodes already held its base, and when each pod started."""

    image: str
    size_bytes: int
    nodes: int
    warm: int
    starts: pd.DataFrame  # pod, node, warm (bool), pull_s, started_s (after the apply)

    @property
    def seconds(self) -> float:
        """From the apply until the last pod's container started."""
        return round(float(self.starts["started_s"].max()), 2)


@functools.lru_cache(maxsize=64)
def rollout(base: str = "nginx", warm: int = 0, nodes: int = 20, seed: int = 0) -> RolloutRun:
    """Push ``base`` (:data:`IMAGES`) plus the article's page to ACR, pre-pull its base onto ``warm``
    nodes, then roll out one pod per node (``topologySpreadConstraints`` on the hostname)."""
    import re

    import pandas as pd

    import labkit
    from labkit.images import build

    if base not in IMAGES:
        raise ValueError(f"base {base!r}: choose one of {', '.join(IMAGES)}")
    nodes = clamp(nodes, 1, 50)
    warm = clamp(warm, 0, nodes)
    image = build(ARTICLE_DOCKERFILE.replace("nginx:latest", IMAGES[base]), ARTICLE_CONTEXT)
    ref = f"{ACR}/site-{base}:1.0"
    c = labkit.Cluster(seed=seed)
    c.registry.push(image, ref)
    c.add_node_pool(
        "pool",
        instance_type="ecs.g7.xlarge",
        count=nodes,
        zones=["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"],
    )
    names = [n["metadata"]["name"] for n in c.list("Node")]
    for k, node in enumerate(names[:warm]):  # an earlier workload on the same base
        c.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"earlier-{k}"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": IMAGES[base]}]},
            }
        )
    c.run()
    start = c.now
    c.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "site"},
            "spec": {
                "replicas": nodes,
                "selector": {"matchLabels": {"app": "site"}},
                "template": {
                    "metadata": {"labels": {"app": "site"}},
                    "spec": {
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {"matchLabels": {"app": "site"}},
                            }
                        ],
                        "containers": [
                            {"name": "web", "image": ref, "resources": {"requests": {"cpu": "100m"}}}
                        ],
                    },
                },
            },
        }
    )
    c.run()
    rows = []
    warm_nodes = set(names[:warm])
    for p in c.list("Pod", label_selector="app=site"):
        name = p["metadata"]["name"]
        evs = c.events(involved=name)
        started = next((e["time"] for e in evs if e["reason"] == "Started"), None)
        pulled = next((e["message"] for e in evs if e["reason"] == "Pulled"), "")
        m = re.search(r" in ([\d.]+)(ms|s) ", pulled)
        pull_s = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1) if m else 0.0
        rows.append(
            {
                "pod": name,
                "node": p["spec"].get("nodeName", ""),
                "warm": p["spec"].get("nodeName") in warm_nodes,
                "pull_s": pull_s,
                "started_s": round(started - start, 3) if started else None,
            }
        )
    return RolloutRun(
        ref, image.size_bytes, nodes, warm, pd.DataFrame(rows).sort_values("started_s", ignore_index=True)
    )


# -- the panel ------------------------------------------------------------------------------------------
def _own_steps(image: Image) -> pd.DataFrame:
    """A build of the learner's Dockerfile as the panel's table (as :meth:`Rebuild.steps`)."""
    df = image.frame()
    df["layer_MB"] = (df["size_bytes"] / 1e6).round(3)
    config = df["instruction"].str.split().str[0].str.upper().isin(CONFIG_ONLY)
    df["cached"] = df["cached"].map({True: "cached", False: "built"}).where(~config, "config")
    df.loc[config, "reason"] = ""
    return df[["line", "instruction", "cached", "reason", "layer_MB"]]


def _labelled(cls: Any, label_px: int, box_px: int, **kwargs: Any) -> Any:
    import ipywidgets as widgets

    return cls(
        style={"description_width": f"{label_px}px"},
        layout=widgets.Layout(width=f"{label_px + box_px}px"),
        **kwargs,
    )


#: A slider's readout takes about 96 px of its width; the track keeps at least 120 px.
SLIDER_READOUT_PX, TRACK_PX, LABEL_PX = 96, 160, 190


def _steps_html(df: pd.DataFrame) -> str:
    cell = "padding:1px 8px;text-align:left"
    head = "".join(f"<th style='{cell}'>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        colour = {"cached": "#d7f0dd", "built": "#fde2cf"}.get(r["cached"], "#eeeeee")
        cells = "".join(f"<td style='{cell}'>{html.escape(str(v))}</td>" for v in r)
        rows.append(f"<tr style='background:{colour}'>{cells}</tr>")
    return (
        f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def containerization_panel(
    order: str = "dependencies first", edit: str = "app.py", base: str = "nginx", warm: int = 0
) -> ipywidgets.VBox:
    """Two questions side by side: what does an edit cost to rebuild and push (instruction order,
    the file edited), and how long does a 20-node rollout take (base image, nodes that already
    hold it)?

    Returns
    -------
    ipywidgets.VBox
        ``children``: the build controls (order and edit buttons), the build's summary and its
        steps (HTML), the rollout controls (base buttons, warm-nodes slider) and the rollout's
        summary (HTML). Its plain text is ``Interactive panel (build and rollout): run this cell to
        display it.``
    """
    import ipywidgets as widgets

    from labkit.errors import DockerfileError
    from labkit.images import BuildCache, build

    orders = widgets.ToggleButtons(
        options=list(APP_DOCKERFILES),
        value=order if order in APP_DOCKERFILES else "dependencies first",
        description="Dockerfile",
        style={"button_width": "auto"},
    )
    edits = widgets.ToggleButtons(
        options=list(EDITS),
        value=edit if edit in EDITS else "app.py",
        description="then edit",
        style={"button_width": "auto"},
    )
    build_out = widgets.HTML()
    bases = widgets.ToggleButtons(
        options=list(IMAGES),
        value=base if base in IMAGES else "nginx",
        description="base image",
        style={"button_width": "auto"},
    )
    warm_nodes = _labelled(
        widgets.IntSlider,
        LABEL_PX,
        TRACK_PX + SLIDER_READOUT_PX,
        description="nodes already holding it",
        value=clamp(warm, 0, 20),
        min=0,
        max=20,
        continuous_update=False,
    )
    roll_out = widgets.HTML()
    own_text = widgets.Textarea(
        value=APP_DOCKERFILES["dependencies first"], rows=7, layout=widgets.Layout(width="560px")
    )
    own_build = widgets.Button(description="build", layout=widgets.Layout(width="90px"))
    own_out = widgets.HTML(
        "<p>Edit the Dockerfile (reorder, add a line, break one) and press <b>build</b>: "
        "the cache holds the panel's earlier builds.</p>"
    )
    own_cache = BuildCache()
    build(APP_DOCKERFILES["dependencies first"], APP_CONTEXT, cache=own_cache, sizes=APP_SIZES)

    def on_own(_: Any = None) -> None:
        try:
            image = build(own_text.value, APP_CONTEXT, cache=own_cache, sizes=APP_SIZES)
        except (DockerfileError, ValueError) as e:  # a learner's Dockerfile: say why, never die
            own_out.value = (
                f"<p style='color:#D55E00'><b>docker build would stop:</b> {html.escape(str(e))}</p>"
            )
            return
        layers = sum(1 for st in image.steps if st["digest"] and not st["cached"])
        own_out.value = (
            f"<p>{sum(1 for st in image.steps if st['cached'])} of {len(image.steps)} steps from "
            f"the cache, <b>{layers}</b> layer(s) built; image {image.size_bytes / 1e6:.1f} MB.</p>"
            + _steps_html(_own_steps(image))
        )

    own_build.on_click(on_own)

    def on_build(_: Any = None) -> None:
        r = rebuild(orders.value, edits.value)
        runs = [i for i in r.missed if i.startswith("RUN")]
        build_out.value = (
            f"<p><b>{html.escape(r.order)}</b>, "
            + ("nothing edited" if r.edit == "nothing" else f"<b>{html.escape(r.edit)}</b> edited")
            + f": the second build made <b>{len(r.missed)}</b> layer(s) again"
            f"{' (' + ', '.join(html.escape(i) for i in runs) + ')' if runs else ''}: "
            f"<b>{r.rebuilt_bytes / 1e6:.2f} MB</b> of new layers; the push uploaded "
            f"<b>{r.pushed['layers_pushed']}</b> layer(s), {r.pushed['bytes_pushed'] / 1e6:.2f} MB "
            f"(image {r.after.size_bytes / 1e6:.1f} MB).</p>" + _steps_html(r.steps())
        )

    def on_rollout(_: Any = None) -> None:
        run = rollout(bases.value, warm_nodes.value)
        cold = run.starts[~run.starts["warm"]]["pull_s"]
        warm = run.starts[run.starts["warm"]]["pull_s"]
        pulls = [f"a cold node's pull took {cold.median():.1f} s"] if len(cold) else []
        pulls += [f"a warm node's {warm.median():.2f} s"] if len(warm) else []
        roll_out.value = (
            f"<p><b>{IMAGES[bases.value]}</b> plus one page: image {run.size_bytes / 1e6:.1f} MB. One pod on "
            f"each of {run.nodes} nodes, {run.warm} of which already held the base: the last pod started "
            f"<b>{run.seconds:.1f} s</b> after the apply"
            + ("; " + ", ".join(pulls) if pulls else "")
            + ".</p>"
        )

    for control in (orders, edits):
        control.observe(on_build, names="value")
    for control in (bases, warm_nodes):
        control.observe(on_rollout, names="value")
    on_build()
    on_rollout()
    return panel(
        [
            widgets.HTML("<b>Build, edit one file, build again:</b>"),
            orders,
            edits,
            build_out,
            widgets.HTML(
                "<b>Or write the Dockerfile yourself</b> (the same files: requirements.txt, app.py, "
                "static/logo.png):"
            ),
            widgets.HBox([own_text, own_build], layout=widgets.Layout(align_items="flex-start")),
            own_out,
            widgets.HTML("<b>Roll the image out to 20 nodes:</b>"),
            bases,
            warm_nodes,
            roll_out,
        ],
        "build and rollout",
        "labkit-containerization",
        layout=widgets.Layout(align_items="flex-start"),
    )
