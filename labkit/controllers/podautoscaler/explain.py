"""``Cluster.explain_hpa``: the last sync of an HPA, step by step, in words and tables.

Built from the :class:`~labkit.controllers.podautoscaler.reconcile.Reconciliation` the controller
kept: every pod's sample and what the calculator did with it (counted, set aside as unready or
missing, ignored, and why; the value assumed for it in the conservative re-computation), the usage
ratio against the tolerance, each metric's proposal, the stabilized recommendation and the
window it came from, the limit that applied, the final count, the conditions and the events.
"""

from __future__ import annotations

import html
from typing import Any

from labkit.controllers.podautoscaler.reconcile import Reconciliation
from labkit.controllers.podautoscaler.replica_calculator import Calculation

__all__ = ["HPAExplanation"]

POD_COLUMNS = ["metric", "pod", "sample", "request", "group", "why", "assumed"]


class HPAExplanation:
    """One HPA sync explained; ``.frame()`` (per pod), ``.steps()`` (per step), HTML in a notebook."""

    def __init__(self, name: str, result: Reconciliation, at: float) -> None:
        self.name = name
        self.result = result
        self.at = at

    # -- tables -------------------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        out = []
        metric_steps = [s for s in self.result.trace if s["step"] == "metric"]
        for step in metric_steps:
            calc = step.get("calculation")
            if not isinstance(calc, Calculation):
                continue
            groups = (
                [(p, "counted", "") for p in calc.ready]
                + [(p, "unready", why) for p, why in calc.unready.items()]
                + [(p, "missing", "no sample yet") for p in calc.missing]
                + [(p, "ignored", why) for p, why in calc.ignored.items()]
            )
            known = {p for p, _, _ in groups}
            groups += [
                (p, "extraneous", "sample for a pod the selector did not return")
                for p in calc.samples
                if p not in known
            ]
            for pod, group, why in sorted(groups, key=lambda g: g[0]):
                sample = calc.samples.get(pod)
                out.append(
                    {
                        "metric": step["metric"],
                        "pod": pod,
                        "sample": "" if sample is None else _milli(sample),
                        "request": "" if pod not in calc.requests else _milli(calc.requests[pod]),
                        "group": group,
                        "why": why,
                        "assumed": "" if pod not in calc.assumed else _milli(calc.assumed[pod]),
                    }
                )
        return out

    def frame(self):
        """One row per pod and metric: its sample, request, group and why, and the assumed value."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=POD_COLUMNS)

    def sentences(self) -> list[tuple[str, str]]:
        """(step, what happened) in the order of the sync."""
        return [(s["step"], _sentence(s)) for s in self.result.trace]

    def steps(self):
        import pandas as pd

        return pd.DataFrame(self.sentences(), columns=["step", "what happened"])

    # -- display ------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        r = self.result
        done = " (rescaled)" if r.rescale else ""
        return f"<HPA {self.name} at {self.at:.3f}s: {r.current} -> {r.replicas}{done}>"

    def _repr_html_(self) -> str:
        r = self.result
        head = (
            f"<p><b>HPA {html.escape(self.name)}</b>, sync at {self.at:.1f} s: "
            f"{r.current} &rarr; <b>{r.replicas}</b> replicas"
            + (f" ({html.escape(r.events[-1]['message'])})" if r.rescale and r.events else " (no change)")
            + "</p>"
        )
        steps = "".join(
            f"<tr><td>{html.escape(s)}</td><td style='text-align:left'>{html.escape(t)}</td></tr>"
            for s, t in self.sentences()
        )
        table = f"<table><tr><th>step</th><th style='text-align:left'>what happened</th></tr>{steps}</table>"
        rows = self.rows()
        pods = ""
        if rows:
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in POD_COLUMNS) + "</tr>"
                for row in rows
            )
            pods = (
                "<p>Pods and samples:</p><table><tr>"
                + "".join(f"<th>{c}</th>" for c in POD_COLUMNS)
                + f"</tr>{body}</table>"
            )
        conds = "".join(
            f"<li>{html.escape(c['type'])} {html.escape(c['status'])} "
            f"<code>{html.escape(c['reason'])}</code>: {html.escape(c['message'])}</li>"
            for c in r.status.get("conditions") or []
        )
        events = "".join(
            f"<li>{html.escape(e['type'])} <code>{html.escape(e['reason'])}</code>: "
            f"{html.escape(e['message'])}</li>"
            for e in r.events
        )
        return (
            head
            + table
            + pods
            + f"<p>Conditions:</p><ul>{conds}</ul>"
            + (f"<p>Events:</p><ul>{events}</ul>" if events else "")
        )


def _milli(v: int) -> str:
    from labkit.api.quantity import format_cpu

    return format_cpu(v)


def _sentence(s: dict[str, Any]) -> str:
    step = s["step"]
    if step == "scale":
        if "error" in s:
            return f"could not read the target's scale: {s['error']} (AbleToScale False, FailedGetScale)"
        return (
            f"read the scale of {s['target']}: spec.replicas {s['spec_replicas']}, "
            f"status.replicas {s['status_replicas']}"
        )
    if step == "first sight":
        return (
            f"first sync of this HPA by this controller: the current size {s['recorded']} is recorded as a "
            "recommendation (so it takes part in the scale-down window)"
        )
    if step == "guard":
        return s["rule"] + (f": desired {s['desired']}, without reading metrics" if "desired" in s else "")
    if step == "metric":
        if "error" in s:
            return f"{s['metric']}: failed: {s['error']}"
        return f"{s['metric']}: " + _calc_sentence(s["calculation"]) + f"; proposes {s['proposal']}"
    if step == "proposal":
        return f"the largest proposal is {s['replicas']}, from {s['metric']}"
    if step == "stabilize":
        ordered = sorted(s["recommendations"])
        recs = ", ".join(f"{n} ({age:.0f} s ago)" for age, n in ordered[:8]) or "none"
        if len(ordered) > 8:
            recs += f", ... ({len(ordered) - 8} more)"
        if s["path"] == "legacy":
            window = f"the {s['window_s']:g} s scale-down window (no spec.behavior)"
        else:
            window = f"behavior windows: scale-up {s['up_window_s']:g} s, scale-down {s['down_window_s']:g} s"
        return (
            f"stabilization over {window}: proposal {s['proposal']}, recorded recommendations {recs} "
            f"-> {s['stabilized']} ({s['rule']})"
        )
    if step == "limit":
        extra = ""
        if s["path"] == "legacy":
            extra = f"; scale-up limit max(2 x current, 4) = {s['scale_up_limit']}"
        elif s.get("policies"):
            extra = "; policies: " + ", ".join(
                f"{p['type']} {p['value']} per {p['periodSeconds']} s from {p['period_start']} "
                f"allows {p['allows']}"
                for p in s["policies"]
            )
        return (
            f"limits (min {s['min_replicas']}, max {s['max_replicas']}{extra}): {s['stabilized']} -> "
            f"{s['desired']} ({s['reason']})"
        )
    if step == "result":
        if s.get("why"):
            return s["why"]
        return (
            f"rescale to {s['replicas']} ({s['reason']})"
            if s["rescale"]
            else f"no change: stays at {s['replicas']}"
        )
    return str(s)


def _calc_sentence(c: Calculation) -> str:
    parts = [f"{len(c.ready)} pods counted"]
    if c.unready:
        parts.append(f"{len(c.unready)} set aside as unready")
    if c.missing:
        parts.append(f"{len(c.missing)} without a sample")
    if c.ignored:
        parts.append(f"{len(c.ignored)} ignored")
    text = ", ".join(parts)
    if c.path == "utilization" and c.utilization is not None:
        text += f"; usage is {c.utilization}% of requests against a {c.target}% target: ratio {c.ratio:.3f}"
    elif c.ratio is not None:
        text += f"; average {_milli(c.raw_average or 0)} against {_milli(c.target)}: ratio {c.ratio:.3f}"
    if c.new_ratio is not None:
        assumed = ", ".join(f"{p}={_milli(v)}" for p, v in sorted(c.assumed.items()))
        text += f"; recomputed with {assumed or 'no assumed values'}: ratio {c.new_ratio:.3f}"
    if c.within_tolerance is not None:
        text += "; within the tolerance" if c.within_tolerance else "; outside the tolerance"
    if c.outcome:
        text += f" ({c.outcome})"
    return text
