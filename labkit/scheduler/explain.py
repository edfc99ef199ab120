"""``Cluster.explain``: why a pod landed where it did, plugin by plugin.

Built from a :class:`~labkit.scheduler.schedule_one.CycleResult`, so what it shows is what
the scheduling cycle computed, not a re-derivation.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.scheduler.schedule_one import CycleResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Explanation", "NOT_EVALUATED"]

#: Filter cell of nodes the cycle never examined (its search stopped once it had enough
#: feasible nodes, see ``percentageOfNodesToScore``).
NOT_EVALUATED = "not evaluated (percentageOfNodesToScore)"


class Explanation:
    """The decision of one scheduling cycle for one pod.

    Attributes
    ----------
    chosen:
        Name of the selected node, or None when the pod did not fit anywhere.
    ties:
        Names of all nodes that shared the top total score (the scheduler picks one of them).
    plugins:
        Score plugins of the profile, in order, with their weights.
    message:
        The FailedScheduling message when no node fitted.
    """

    def __init__(self, pod: str, result: CycleResult, plugins: list[tuple[str, int]], message: str = "",
                 what_if: bool = False) -> None:
        self.pod = pod
        self.result = result
        self.plugins = plugins
        self.message = message
        self.what_if = what_if
        self.chosen = result.chosen_name
        self.ties = [result.node_names[int(i)] for i in result.ties]

    def frame(self) -> pd.DataFrame:
        """One row per node: ``filter``, one column per score plugin (normalized 0..100, NaN when the
        plugin skipped itself or the node was not scored) and ``total`` (weighted sum)."""
        import pandas as pd

        r = self.result
        n = r.num_nodes
        rows: dict[str, Any] = {"filter": []}
        for i in range(n):
            if r.first[i] == -2:
                rows["filter"].append(NOT_EVALUATED)
            else:
                rows["filter"].append(", ".join(r.reasons(i)))
        scored = r.scored_rows if r.scored_rows is not None else np.zeros(0, dtype=np.int64)
        for name, _ in self.plugins:
            col = np.full(n, np.nan)
            ps = next((p for p in r.scores if p.name == name), None)
            if ps is not None:
                col[scored] = ps.normalized
            rows[name] = col
        total = np.full(n, np.nan)
        if r.totals is not None:
            total[scored] = r.totals
        rows["total"] = total
        df = pd.DataFrame(rows, index=pd.Index(r.node_names, name="node"))
        return df

    def raw(self) -> pd.DataFrame:
        """Raw (pre-normalization) scores per plugin for the scored nodes."""
        import pandas as pd

        r = self.result
        scored = r.scored_rows if r.scored_rows is not None else np.zeros(0, dtype=np.int64)
        data = {p.name: p.raw for p in r.scores}
        return pd.DataFrame(data, index=pd.Index([r.node_names[i] for i in scored], name="node"))

    def weights(self) -> dict[str, int]:
        return dict(self.plugins)

    def __repr__(self) -> str:
        verdict = f"-> {self.chosen}" if self.chosen else f"unschedulable: {self.message}"
        return f"<Explanation {self.pod} {verdict}>"

    def _repr_html_(self) -> str:
        df = self.frame()
        head = f"<b>{html.escape(self.pod)}</b>"
        if self.what_if:
            head += " (what-if, not applied)"
        if self.chosen:
            head += f" &rarr; <b>{html.escape(self.chosen)}</b>"
            if len(self.ties) > 1:
                head += f" (tied with {', '.join(html.escape(t) for t in self.ties if t != self.chosen)})"
        else:
            head += f"<br><span style='color:#b2182b'>{html.escape(self.message)}</span>"
        weights = ", ".join(f"{n}&times;{w}" for n, w in self.plugins)
        body = ["<table><tr><th>node</th><th>filter</th>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in df.columns[1:]) + "</tr>"]
        for node, row in df.iterrows():
            style = " style='background:#d9f0d3;font-weight:bold'" if node == self.chosen else ""
            cells = "".join("<td>" + ("" if np.isnan(v) else f"{int(v)}") + "</td>" for v in row.iloc[1:])
            body.append(f"<tr{style}><td>{html.escape(str(node))}</td><td>{html.escape(row['filter'])}</td>"
                        f"{cells}</tr>")
        body.append("</table>")
        return f"<div>{head}<br><small>weights: {weights}</small>{''.join(body)}</div>"
