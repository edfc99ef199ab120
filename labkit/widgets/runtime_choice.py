"""Chapter 05's scenarios and panel: runc, Kata Containers and gVisor side by side, measured.

Everything runs through the public API: a cluster with a runc pool and a sandboxed pool whose
containerd offers ``kata-qemu`` and ``runsc`` (``add_node_pool(runtime_handlers=...)``), the
RuntimeClasses that pick them (``kata`` with kata-deploy's ``overhead.podFixed``, ``gvisor``),
pods placed by the real scheduler, started by the kubelets (sandbox boot times from
``data/runtimes.csv``) and served request by request (each runtime's published slowdown for the
pod's ``labkit.io/workload``). :func:`recommend` turns a workload profile into the article's three
criteria (security, performance, compatibility) per runtime, with the reasons.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.widgets._panel import clamp, panel

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

__all__ = [
    "RUNTIMES",
    "RUNTIME_CLASSES",
    "runtime_cluster",
    "runtime_table",
    "start_times",
    "pods_per_node",
    "throughput",
    "recommend",
    "Recommendation",
    "runtime_choice_panel",
]

#: The three runtimes of the chapter: RuntimeClass name -> (handler, what it is, isolation).
RUNTIMES = {
    "runc": ("runc", "runc via containerd: namespaces and cgroups", "shared kernel"),
    "kata": ("kata-qemu", "Kata Containers: a lightweight VM per pod (QEMU/KVM)", "hardware VM"),
    "gvisor": ("runsc", "gVisor: a user-space kernel (Sentry) per pod", "user-space kernel"),
}
#: The sandboxed pool's label, which the RuntimeClasses select (their ``scheduling.nodeSelector``).
SANDBOX_LABEL = {"labkit.io/sandboxed": "true"}
RUNTIME_CLASSES = [
    {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "kata"},
        "handler": "kata-qemu",
        # kata-deploy's RuntimeClass for kata-qemu (data/runtimes.csv)
        "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
        "scheduling": {"nodeSelector": SANDBOX_LABEL},
    },
    {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "gvisor"},
        "handler": "runsc",
        "scheduling": {"nodeSelector": SANDBOX_LABEL},
    },
]


def runtime_cluster(seed: int = 0, general: int = 2, sandboxed: int = 2):
    """A runc pool and a sandboxed pool (``kata-qemu`` and ``runsc`` offered), with the RuntimeClasses."""
    import labkit

    c = labkit.Cluster(seed=seed)
    if general:
        c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=general)
    if sandboxed:
        c.add_node_pool(
            "sandboxed",
            instance_type="ecs.g7.xlarge",
            count=sandboxed,
            labels=dict(SANDBOX_LABEL),
            runtime_handlers=["kata-qemu", "runsc"],
        )
    c.apply(RUNTIME_CLASSES)
    return c


def _pod(
    name: str,
    runtime: str,
    cpu: str = "200m",
    memory: str = "256Mi",
    workload: str = "cpu",
    service_time: str = "exponential 20ms",
    concurrency: int = 4,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ]
    }
    if runtime != "runc":
        spec["runtimeClassName"] = runtime
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": name.rsplit("-", 1)[0]},
            "annotations": {
                "labkit.io/workload": workload,
                "labkit.io/service-time": service_time,
                "labkit.io/concurrency": str(concurrency),
            },
        },
        "spec": spec,
    }


def runtime_table() -> pd.DataFrame:
    """One row per runtime: isolation, the published figures the lab uses (medians; ratios against
    runc, higher is faster; blank where none is published), the RuntimeClass overhead, and how many
    sources the figures come from."""
    import pandas as pd

    from labkit.node.runtimes import relative, rows, sandbox_seconds

    out = []
    for name, (handler, _what, isolation) in RUNTIMES.items():
        mine = [f for f in rows() if f.handler == handler]
        rc = next((r for r in RUNTIME_CLASSES if r["metadata"]["name"] == name), None)
        overhead = (rc or {}).get("overhead", {}).get("podFixed", {})
        sources = {f.source for f in mine}
        out.append(
            {
                "runtime": name,
                "handler": handler,
                "isolation": isolation,
                "sandbox start (s)": sandbox_seconds(handler),
                "sandbox figure": "published"
                if any(f.metric == "sandbox_start_ms" for f in mine)
                else "illustrative (none published)",
                "cpu": relative(handler, "cpu"),
                "syscalls": relative(handler, "syscall"),
                "file IO": relative(handler, "io"),
                "network": relative(handler, "network"),
                "overhead": " ".join(f"{k} {v}" for k, v in overhead.items()) or "none",
                "sources": len(sources),
            }
        )
    # a figure nobody published is a blank, not NaN: the lab runs that kind of work at runc's speed
    return pd.DataFrame(out).astype(object).where(lambda df: df.notna(), "")


@functools.lru_cache(maxsize=8)
def start_times(pods: int = 12, seed: int = 0) -> pd.DataFrame:
    """``pods`` pods per runtime, created at once on a warm cluster (image already pulled): per pod
    its runtime and seconds from Scheduled to Started (sandbox, create, start)."""
    import pandas as pd

    c = runtime_cluster(seed, general=2, sandboxed=2)
    for k, node in enumerate(n["metadata"]["name"] for n in c.list("Node")):  # pull the image everywhere
        c.apply(
            dict(
                _pod(f"warm-{k}", "runc", cpu="10m", memory="16Mi"),
                spec={"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}]},
            )
        )
    c.run()
    c.apply([_pod(f"{rt}-{k}", rt, cpu="50m", memory="64Mi") for rt in RUNTIMES for k in range(pods)])
    c.run()
    rows = []
    for rt in RUNTIMES:
        for k in range(pods):
            ev = {e["reason"]: e["time"] for e in c.events(involved=f"{rt}-{k}")}
            if "Started" in ev:
                rows.append(
                    {"runtime": rt, "pod": f"{rt}-{k}", "start_s": round(ev["Started"] - ev["Scheduled"], 3)}
                )
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=16)
def pods_per_node(runtime: str, cpu: str = "200m", memory: str = "256Mi") -> int:
    """How many pods of ``cpu``/``memory`` the scheduler puts on one ``ecs.g7.xlarge`` of the sandboxed
    pool with ``runtime`` (its RuntimeClass overhead counted), offered 40 of them."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
    c = runtime_cluster(general=0, sandboxed=1)
    pods = [_pod(f"fill-{k}", runtime, cpu, memory) for k in range(40)]
    for p in pods:
        p["spec"]["nodeSelector"] = dict(SANDBOX_LABEL)
    c.apply(pods)
    c.run()
    return sum(1 for p in c.list("Pod") if p["spec"].get("nodeName"))


@functools.lru_cache(maxsize=16)
def throughput(
    workload: str = "cpu", rate: float = 150.0, seconds: float = 60.0, seed: int = 0
) -> pd.DataFrame:
    """One pod per runtime (4 workers, 20 ms of ``workload`` work per request under runc) and
    ``rate`` requests per second for ``seconds`` to each: the service time each runtime gives and
    the latency it costs."""
    import pandas as pd

    c = runtime_cluster(seed, general=1, sandboxed=1)
    c.apply([_pod(f"{rt}-app", rt, workload=workload) for rt in RUNTIMES])
    c.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{rt}-app"},
                "spec": {"selector": {"app": rt}, "ports": [{"port": 80}]},
            }
            for rt in RUNTIMES
        ]
    )
    c.run()
    traffic = {rt: c.traffic(f"{rt}-app:80", rate=rate, duration=seconds, timeout=5.0) for rt in RUNTIMES}
    c.run()
    means = {s.name: s.service_time.mean_s for s in c.dataplane.sockets}
    out = []
    for rt, t in traffic.items():
        s = t.summary()
        mean = means[f"{rt}-app"]
        out.append(
            {
                "runtime": rt,
                "workload": workload,
                "service_ms": round(1000 * mean, 1),
                "capacity_rps": round(4 / mean),
                "sent": s["sent"],
                "ok_pct": round(100 * s["ok"] / s["sent"], 1),
                "p50_ms": round(1000 * (s["p50_s"] or 0), 1),
                "p99_ms": round(1000 * (s["p99_s"] or 0), 1),
            }
        )
    return pd.DataFrame(out)


@dataclass
class Recommendation:
    """Each runtime judged on the article's three criteria for one workload, with the reasons."""

    trusted: bool
    workload: str
    share: float
    dense: bool
    fast_start: bool
    table: pd.DataFrame  # runtime, security, performance, compatibility, verdict, why

    @property
    def choice(self) -> str:
        return str(self.table.loc[self.table["verdict"] == "choose", "runtime"].iloc[0])


def recommend(
    trusted: bool, workload: str = "cpu", dense: bool = False, fast_start: bool = False, share: float = 1.0
) -> Recommendation:
    """Security first when the code is not trusted (a VM or a user-space kernel between tenants and
    the host kernel), then performance for the workload (the published slowdown of ``workload``
    work for ``share`` of each request, CPU work for the rest), density (the RuntimeClass overhead)
    and start time (the sandbox boot), then compatibility."""
    import pandas as pd

    from labkit.node.runtimes import relative, sandbox_seconds, slowdown

    rows = []
    for name, (handler, _what, isolation) in RUNTIMES.items():
        share = min(max(float(share), 0.0), 1.0)
        slow = (1 - share) * slowdown(handler, "cpu") + share * slowdown(handler, workload)
        rc = next((r for r in RUNTIME_CLASSES if r["metadata"]["name"] == name), None)
        overhead = bool((rc or {}).get("overhead"))
        boot = sandbox_seconds(handler)
        security = "strong" if isolation != "shared kernel" else "weak"
        known = relative(handler, workload) is not None and (
            share >= 1 or relative(handler, "cpu") is not None
        )
        perf = (
            f"{slow:.2f}x service time" if known else "n/a (no published figure: runc's speed assumed)"
        ) + (f", {boot:.2f} s sandbox" if fast_start else "")
        if dense and overhead:
            perf += ", 250m + 160Mi per pod"
        compat = {
            "runc": "everything",
            "kata": "needs virtualization: ECS Bare Metal or nested",
            "gvisor": "most apps; not every syscall (274 of 350 on amd64)",
        }[name]
        score = slow + (0.5 if dense and overhead else 0) + (boot if fast_start else 0)
        if not trusted and security == "weak":
            score += 100  # untrusted code next to other tenants: the kernel is the attack surface
        why = []
        if not trusted:
            why.append(
                "isolates untrusted code from the host kernel"
                if security == "strong"
                else "untrusted code would share the host kernel with other tenants"
            )
        if slow > 1.2:
            why.append(f"{workload} work runs {slow:.1f}x slower")
        if dense and overhead:
            why.append("its overhead takes room on every node")
        if fast_start and boot > 0.5:
            why.append("boots a VM per pod")
        rows.append(
            {
                "runtime": name,
                "security": security,
                "performance": perf,
                "compatibility": compat,
                "score": round(score, 2),
                "why": "; ".join(why) or "no cost for this workload",
            }
        )
    table = pd.DataFrame(rows).sort_values("score", ignore_index=True)
    table["verdict"] = ["choose"] + [""] * (len(table) - 1)
    return Recommendation(
        bool(trusted),
        workload,
        min(max(float(share), 0.0), 1.0),
        bool(dense),
        bool(fast_start),
        table[["runtime", "verdict", "security", "performance", "compatibility", "why"]],
    )


# -- the panel ------------------------------------------------------------------------------------------
def _table_html(df: pd.DataFrame) -> str:
    cell = "padding:2px 8px;text-align:left;vertical-align:top"
    head = "".join(f"<th style='{cell}'>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        style = "background:#d7f0dd;font-weight:bold" if r.get("verdict") == "choose" else ""
        body.append(
            f"<tr style='{style}'>"
            + "".join(f"<td style='{cell}'>{html.escape(str(v))}</td>" for v in r)
            + "</tr>"
        )
    return (
        f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def runtime_choice_panel(
    trusted: bool = False,
    workload: str = "cpu",
    dense: bool = False,
    fast_start: bool = False,
    share: float = 1.0,
) -> ipywidgets.VBox:
    """A workload profile in, the three runtimes judged on it out (:func:`recommend`).

    Returns
    -------
    ipywidgets.VBox
        ``children``: the trust buttons, the workload buttons, the slider of that work's share of a
        request, two checkboxes (density, start time) and the verdict (HTML). Its plain text is
        ``Interactive panel (runtime choice): run this cell to display it.``
    """
    import ipywidgets as widgets

    from labkit.api.annotations import WORKLOADS

    trust = widgets.ToggleButtons(
        options=["untrusted code", "trusted code"],
        value="trusted code" if trusted else "untrusted code",
        description="the code",
        style={"button_width": "auto"},
    )
    kind = widgets.ToggleButtons(
        options=list(WORKLOADS),
        value=workload if workload in WORKLOADS else "cpu",
        description="the work",
        style={"button_width": "auto"},
    )
    part = widgets.IntSlider(
        value=clamp(round(100 * share), 0, 100),
        min=0,
        max=100,
        step=10,
        description="share of a request's time (%)",
        continuous_update=False,
        style={"description_width": "210px"},
        layout=widgets.Layout(width="466px"),
    )
    density = widgets.Checkbox(
        value=bool(dense),
        description="many pods per node matter",
        indent=False,
        layout=widgets.Layout(width="240px"),
    )
    starts = widgets.Checkbox(
        value=bool(fast_start),
        description="fast pod start matters",
        indent=False,
        layout=widgets.Layout(width="240px"),
    )
    out = widgets.HTML()

    def update(_: Any = None) -> None:
        r = recommend(
            trust.value == "trusted code", kind.value, density.value, starts.value, part.value / 100
        )
        if kind.value == "cpu":
            doing = "that does <b>cpu</b> work (the share does not matter: all of it is CPU work)"
        else:
            rest = ", CPU work for the rest" if part.value < 100 else ""
            work = html.escape(kind.value)
            doing = f"that spends {part.value}% of each request on <b>{work}</b> work{rest}"
        out.value = (
            f"<p>Choose <b>{html.escape(r.choice)}</b> for {html.escape(trust.value)} {doing}.</p>"
            + _table_html(r.table)
        )

    for control in (trust, kind, part, density, starts):
        control.observe(update, names="value")
    update()
    return panel(
        [trust, kind, part, widgets.HBox([density, starts]), out],
        "runtime choice",
        "labkit-runtime-choice",
        layout=widgets.Layout(align_items="flex-start"),
    )
