"""``Cluster.explain``: why a pod landed where it did, plugin by plugin.

Built from a :class:`~labkit.scheduler.schedule_one.CycleResult`, so what it shows is what
the scheduling cycle computed, not a re-derivation.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.scheduler.schedule_one import CycleResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Explanation", "ExplanationView", "NOT_EVALUATED"]

#: Filter cell of nodes the cycle never examined (its search stopped once it had enough
#: feasible nodes, see ``percentageOfNodesToScore``).
NOT_EVALUATED = "not evaluated (percentageOfNodesToScore)"


#: Rows the HTML view shows before it summarizes the rest (``.frame()`` always has every node).
HTML_MAX_ROWS = 40
_CHOSEN_BG = "#d9f0d3"
_FILTERED_FG = "#8c8c8c"


class Explanation:
    """The decision of one scheduling cycle for one pod.

    Attributes
    ----------
    chosen:
        Name of the selected node, or None when the pod did not fit anywhere.
    ties:
        Names of all nodes that shared the top total score. The scheduler takes the first of
        them it found feasible (the root of its heap, see
        :func:`~labkit.scheduler.schedule_one.heap_root`), so any of them is a correct answer
        to "where could it go", but the pick is not a coin toss.
    plugins:
        Score plugins of the profile, in order, with their weights.
    message:
        The FailedScheduling message when no node fitted.
    node_labels:
        Short names for the HTML view (``general · h · 10.0.0.1``); full names where absent.
    """

    def __init__(self, pod: str, result: CycleResult, plugins: list[tuple[str, int]], message: str = "",
                 what_if: bool = False, node_labels: Mapping[str, str] | None = None) -> None:
        self.pod = pod
        self.result = result
        self.plugins = plugins
        self.message = message
        self.what_if = what_if
        self.node_labels = dict(node_labels or {})
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

    def view(self, plugins: Sequence[str] | None = None, max_rows: int = HTML_MAX_ROWS) -> ExplanationView:
        """The HTML table with only some score plugins (``filter`` and ``total`` always show).

        For a notebook cell that should answer one question without a wall of columns, e.g.
        ``decision.view(["NodeResourcesFit", "NodeResourcesBalancedAllocation"])``.
        """
        names = [n for n, _ in self.plugins]
        chosen = list(names if plugins is None else plugins)
        unknown = [p for p in chosen if p not in names]
        if unknown:
            raise ValueError(f"not a score plugin of this profile: {', '.join(unknown)}; "
                             f"the profile scores with {', '.join(names)}")
        return ExplanationView(self, chosen, max_rows, explicit=plugins is not None)

    def _repr_html_(self) -> str:
        return self.view()._repr_html_()


class ExplanationView:
    """An HTML rendering of an :class:`Explanation`, for reading rather than for pandas.

    The winner's row is highlighted and comes with the weights line; ``total`` stands next to
    the node so it is never off-screen; a node is shown by its short label (pool, zone, IP);
    and the two reasons a score cell can be empty are told apart: a filtered-out node's row is
    grey with its reason (it was never scored), a plugin that skipped itself for this pod is a
    column marked *skipped*.
    """

    def __init__(self, explanation: Explanation, plugins: Sequence[str], max_rows: int,
                 explicit: bool = True) -> None:
        self.explanation = explanation
        skipped = set(explanation.result.skipped)
        # Unless asked for by name, a plugin that skipped itself is folded into the legend: its
        # column would be empty, and the table has to fit a notebook column.
        self.plugins = [p for p in plugins if explicit or p not in skipped]
        self.folded = [p for p in plugins if p not in self.plugins]
        self.max_rows = max(1, int(max_rows))

    def __repr__(self) -> str:
        return repr(self.explanation)

    def _label(self, node: str) -> str:
        return self.explanation.node_labels.get(node, node)

    def _headline(self) -> str:
        e = self.explanation
        head = f"<b>{html.escape(e.pod)}</b>"
        if e.what_if:
            head += " <i>(what-if, not applied)</i>"
        if not e.chosen:
            return (f"{head}: <b>unschedulable</b><br>"
                    f"<code style='white-space:pre-wrap'>{html.escape(e.message)}</code>")
        head += f" &rarr; <b>{html.escape(self._label(e.chosen))}</b>"
        if self._label(e.chosen) != e.chosen:
            head += f" <small>({html.escape(e.chosen)})</small>"
        if len(e.ties) > 1:
            head += (f"<br>{len(e.ties)} nodes tied for the top total (&#9733; and =). The scheduler's heap "
                     "took &#9733;, an early-found one, not a coin toss; any of them is a correct answer.")
        elif len(e.result.feasible) == 1 and e.result.totals is None:
            head += "<br>Only one node passed the filters, so the scheduler did not score any."
        return head

    def _rows(self, df: pd.DataFrame) -> tuple[list[Any], int]:
        """Node rows to show: all of them up to ``max_rows``, else the best-scored ones first."""
        nodes = list(df.index)
        if len(nodes) <= self.max_rows:
            return nodes, 0
        chosen = self.explanation.chosen
        ranked = sorted(nodes, key=lambda nm: (nm != chosen, -np.nan_to_num(df.at[nm, "total"], nan=-1e18)))
        return ranked[: self.max_rows], len(nodes) - self.max_rows

    def _repr_html_(self) -> str:
        e = self.explanation
        df = e.frame()
        weights = e.weights()
        skipped = set(e.result.skipped)
        ties = set(e.ties)
        scored_any = e.result.totals is not None
        nobr = "white-space:nowrap"
        cell = "padding:1px 4px;text-align:right"
        th = "padding:2px 4px;line-height:1.15;vertical-align:bottom"
        header = [f"<th style='text-align:left;{nobr};{th}'>node</th>",
                  f"<th style='{th}'>total</th>",
                  f"<th style='text-align:left;{th}'>filter</th>"]
        for name in self.plugins:
            title = _break_camel(name)
            note = "skipped" if name in skipped else f"&times;{weights[name]}"
            header.append(f"<th style='{th};font-weight:normal' title='{html.escape(name)}'>"
                          f"<b>{title}</b><br><small>{note}</small></th>")
        rows, hidden = self._rows(df)
        body = []
        for node in rows:
            row = df.loc[node]
            reason = row["filter"]
            filtered = bool(reason)
            style = ""
            if node == e.chosen:
                style = f" style='background:{_CHOSEN_BG};font-weight:bold'"
            elif filtered:
                style = f" style='color:{_FILTERED_FG}'"
            mark = "&#9733; " if node == e.chosen else ("= " if node in ties else "")
            total = "" if np.isnan(row["total"]) else f"{int(row['total'])}"
            label = html.escape(self._label(node))
            cells = [f"<td style='{nobr}' title='{html.escape(str(node))}'>{mark}{label}</td>",
                     f"<td style='{cell}'>{total}</td>",
                     f"<td style='padding:2px 6px;min-width:12em;max-width:20em'>{html.escape(reason)}</td>"]
            for name in self.plugins:
                v = row[name]
                cells.append(f"<td style='{cell}'>{'' if np.isnan(v) else int(v)}</td>")
            body.append(f"<tr{style}>{''.join(cells)}</tr>")
        if hidden:
            body.append(f"<tr><td colspan='{3 + len(self.plugins)}'><i>&hellip; {hidden} more nodes "
                        "(lower totals or filtered out): see <code>.frame()</code></i></td></tr>")
        formula = " + ".join(f"{weights[n]}&times;{html.escape(n)}" for n, _ in e.plugins if n not in skipped)
        legend = ["&#9733; the pick"]
        if len(ties) > 1:
            legend.append("= also tied")
        if any(df["filter"] != ""):
            scored_all = e.result.scored_rows is not None and len(e.result.scored_rows) == len(df)
            legend.append(f"<span style='color:{_FILTERED_FG}'>grey row</span>: filtered out, its reason "
                          "in <i>filter</i>" + (" (scored anyway: teaching view)" if scored_all
                                                else ", so never scored"))
        if any(n in skipped for n in self.plugins):
            legend.append("<i>skipped</i> column: the plugin had nothing to score for this pod (PreScore "
                          "skip), so it adds nothing")
        if self.folded:
            legend.append(f"not shown: {', '.join(self.folded)} skipped themselves for this pod (PreScore: "
                          "nothing to score), so they add nothing")
        if not scored_any and e.chosen:
            legend.append("no scores: one feasible node needs no ranking")
        weights_line = (f"<p style='margin:0 0 4px 0'><small>total = {formula} (each score 0&ndash;100)"
                        "</small></p>") if scored_any else ""
        return ("<div style='font-size:12px'>"
                f"<p style='margin:0 0 4px 0'>{self._headline()}</p>" + weights_line
                + "<table style='border-collapse:collapse'>"
                f"<thead><tr>{''.join(header)}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                f"<p style='margin:4px 0 0 0'><small>{' &middot; '.join(legend)}</small></p></div>")


def _break_camel(name: str) -> str:
    """``NodeResourcesBalancedAllocation`` with soft breaks before capitals, so headers wrap."""
    return "".join(("<wbr>" if ch.isupper() and i else "") + ch for i, ch in enumerate(html.escape(name)))
