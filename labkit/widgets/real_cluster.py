"""Chapter 06 (a real cluster): what the adapter would send, what it refuses, and a planning panel.

Everything here works without a cluster. :func:`practice_cluster` is a ``RealCluster`` whose
kubeconfig points at a local port where nothing listens: every refusal happens before a request is
sent, so it shows them exactly as on a real cluster, and a call that does need the server fails the
way an unreachable cluster fails (:class:`labkit.UnreachableError`, within seconds).
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "CHAPTER_NAMESPACE",
    "MY_NGINX",
    "PLANNER_MANIFEST",
    "ERROR_GUIDE",
    "practice_cluster",
    "requests_table",
    "refusal",
    "simulated_placement",
    "planner_view",
    "panel",
]

#: The namespace the chapter uses (fixed, so its outputs are the same on every machine).
CHAPTER_NAMESPACE = "labkit-ch06"
#: The article's Pod and Service, made runnable on a real cluster: a public image (the article's
#: ``my-nginx`` exists on no registry) and the ``app: my-nginx`` label its Service selects.
MY_NGINX = """\
apiVersion: v1
kind: Pod
metadata:
  name: my-nginx
  labels:
    app: my-nginx
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    resources:
      requests:
        cpu: 100m
        memory: 64Mi
---
apiVersion: v1
kind: Service
metadata:
  name: my-nginx
spec:
  selector:
    app: my-nginx
  ports:
  - protocol: TCP
    port: 80
    targetPort: 80
"""
#: Each error the adapter raises, what it means, and the first thing to try.
ERROR_GUIDE = [
    (
        "KubeconfigError",
        "no kubeconfig, or no such context in it",
        "kind create cluster; or copy ACK's kubeconfig",
    ),
    ("UnreachableError", "no answer within the timeout", "is the cluster up? is the server address right?"),
    ("TLSError", "the server's certificate is not the trusted one", "a fresh kubeconfig (its CA data)"),
    ("UnauthorizedError", "401: credentials expired or revoked", "a fresh kubeconfig or token"),
    (
        "ForbiddenError",
        "403: RBAC lacks a verb, or an admission check refused",
        "read the hint: a Role rule, or wait",
    ),
    ("QuotaExceededError", "403: the namespace's ResourceQuota is full", "delete something, or ask for more"),
    ("NotFoundError", "404: no such object (a KeyError too)", "check the name and the namespace"),
    (
        "ConflictError",
        "409: exists, or another field manager owns a field",
        "apply(..., force=True) if yours",
    ),
    ("ManifestError", "422 (or caught locally): a field is invalid", "fix the field the path names"),
    ("RefusedError", "labkit refused: not yours, nothing was sent", "your namespace, your objects only"),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def practice_cluster(namespace: str = CHAPTER_NAMESPACE, **options: Any):
    """A :class:`labkit.RealCluster` for a cluster that is not there (a closed local port)."""
    from labkit.real import RealCluster

    folder = Path(tempfile.mkdtemp(prefix="labkit-practice-"))
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "practice",
                "clusters": [
                    {"name": "practice", "cluster": {"server": f"http://127.0.0.1:{_closed_port()}"}}
                ],
                "users": [{"name": "learner", "user": {"token": "practice-only"}}],
                "contexts": [{"name": "practice", "context": {"cluster": "practice", "user": "learner"}}],
            }
        )
    )
    return RealCluster.from_kubeconfig(
        str(path), namespace=namespace, connect_timeout=0.5, sleep=lambda s: None, **options
    )


def requests_table(source: Any, namespace: str = CHAPTER_NAMESPACE):
    """The requests ``apply`` would send for ``source``, one row each (method, path, query, labels)."""
    import pandas as pd

    from labkit.real import planned_requests

    rows = []
    for r in planned_requests(source, namespace):
        query = "&".join(f"{k}={v}" for k, v in r["query"].items())
        rows.append(
            {
                "method": r["method"],
                "path": r["path"],
                "query": query,
                "content type": r["content_type"],
                "labels sent": ", ".join(f"{k}={v}" for k, v in r["body"]["metadata"]["labels"].items()),
            }
        )
    return pd.DataFrame(rows, columns=["method", "path", "query", "content type", "labels sent"])


def refusal(call: Any) -> str:
    """Run ``call()`` and say how it ended: the refusal or error it raised, or "sent"."""
    from labkit.errors import ManifestError, RealClusterError

    try:
        call()
    except (RealClusterError, ManifestError) as e:
        return f"{type(e).__name__}: {e}"
    return "sent"


#: The planner's starting manifest: the article's nginx as a Deployment, so the replicas slider
#: has something to set.
PLANNER_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: my-nginx
  template:
    metadata:
      labels:
        app: my-nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources:
          requests:
            cpu: 500m
            memory: 256Mi
"""
_REPLICAS = re.compile(r"^(\s*replicas:\s*)\d+\s*$", re.MULTILINE)


def simulated_placement(source: Any, seed: int = 0):
    """Where the simulator puts the pods of ``source`` on two ``ecs.g7.xlarge`` nodes after 60 s: one
    row per node (pods Running, pods Pending counted apart)."""
    import pandas as pd

    from labkit.cluster import Cluster

    sim = Cluster(seed=seed)
    sim.add_node_pool("general", "ecs.g7.xlarge", 2)
    sim.apply(source)
    sim.run(until=60)
    pods = sim.pods_frame()
    rows = [
        {"node": n["metadata"]["name"], "pods": int((pods["node"] == n["metadata"]["name"]).sum())}
        for n in sim.list("Node")
    ]
    rows.append({"node": "(not scheduled: Pending)", "pods": int(pods["node"].isna().sum())})
    return pd.DataFrame(rows, columns=["node", "pods"])


def planner_view(text: str, namespace: str, replicas: int | None = None) -> tuple[str, str]:
    """The planner's two answers for a manifest, as HTML: the requests ``apply`` would send (or why it
    would send none) and where the simulator puts the pods. ``replicas`` rewrites ``replicas:`` first.
    Never raises: an error becomes its message."""
    import html

    from labkit.errors import ManifestError, RealClusterError

    if replicas is not None:
        text = _REPLICAS.sub(lambda m: f"{m.group(1)}{int(replicas)}", text, count=1)
    try:
        table = requests_table(text, namespace or CHAPTER_NAMESPACE)
        plan = table.drop(columns=["content type"]).to_html(index=False)  # always apply-patch+yaml
    except (ManifestError, RealClusterError) as e:
        return (f"<p><b>{type(e).__name__}</b>: {html.escape(str(e))}</p><p>Nothing would be sent.</p>", "")
    except Exception as e:  # a widget never dies on odd input
        return f"<p><b>{type(e).__name__}</b>: {html.escape(str(e))}</p>", ""
    try:
        placed = simulated_placement(text).to_html(index=False)
    except Exception as e:  # the simulator refuses what the real server might accept (e.g. RBAC kinds)
        placed = f"<p>The simulator cannot run this: {html.escape(str(e))}</p>"
    return plan, placed


def panel(namespace: str = CHAPTER_NAMESPACE):
    """Edit a manifest (or slide its replicas) and see the requests ``apply`` would send, or why it
    would send none, next to where the simulator places the pods."""
    import ipywidgets as w

    from labkit.widgets._panel import panel as outer

    text = w.Textarea(value=PLANNER_MANIFEST, layout=w.Layout(width="90%", height="240px"))
    ns = w.Text(
        value=namespace, description="namespace", continuous_update=False, layout=w.Layout(width="320px")
    )
    replicas = w.IntSlider(
        value=3,
        min=0,
        max=20,
        description="replicas",
        continuous_update=False,
        style={"description_width": "70px"},
        layout=w.Layout(width="360px"),
    )
    button = w.Button(description="plan", button_style="primary")
    plan_out, sim_out = w.HTML(), w.HTML()

    def show() -> None:
        plan_out.value, sim_out.value = planner_view(text.value, ns.value.strip())

    def slid(change: Any) -> None:  # the slider writes its count into the manifest
        text.value = _REPLICAS.sub(lambda m: f"{m.group(1)}{change['new']}", text.value, count=1)
        show()

    def planned(*_: Any) -> None:  # the manifest as typed wins: the slider follows it
        m = _REPLICAS.search(text.value)
        typed = int(m.group(0).split(":")[1]) if m else None
        if typed is not None and replicas.min <= typed <= replicas.max and typed != replicas.value:
            replicas.unobserve(slid, names="value")
            replicas.value = typed
            replicas.observe(slid, names="value")
        show()

    button.on_click(planned)
    ns.observe(planned, names="value")  # continuous_update=False: on Enter or when the box loses focus
    replicas.observe(slid, names="value")
    show()
    return outer(
        [
            w.HTML("<b>Manifest</b>: edit it and press <i>plan</i>, or slide its replicas"),
            text,
            w.HBox([replicas, ns, button]),
            w.HTML("<b>What apply would send</b>"),
            plan_out,
            w.HTML("<b>The simulator's answer</b>: pods per node after 60 s"),
            sim_out,
        ],
        name="apply planner",
        css_class="labkit-apply-planner",
    )
