"""Checks for the notebooks' exercises: a friendly verdict, a hint when wrong, never the answer.

Each ``check_<id>(answer, ...)`` prints one short paragraph and returns whether the answer is
right, so a notebook cell can both teach and be tested. The unanswered stub ``...`` (Python's
``Ellipsis``) gets a hint on where to start rather than an error.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["check_node_of_pod", "check_deciding_plugin", "check_toleration", "check_reason_count"]


def check_node_of_pod(answer: Any, cluster: Cluster, pod: str = "my-nginx",
                      namespace: str = "default") -> bool:
    """Exercise 00: the name of the node a pod runs on, read from the Pod object itself.

    The point is to read an object: the scheduler's only output is one field it writes into the
    Pod (through the ``binding`` subresource), and the kubelet of that node acts on it.

    Parameters
    ----------
    answer:
        The learner's answer: a node name (``str``).
    cluster:
        The cluster the pod was applied to and run in.
    pod, namespace:
        Which pod the question is about.

    Returns
    -------
    bool
        True when ``answer`` is the pod's node.
    """
    obj = next((p for p in cluster.list("Pod", namespace=namespace) if p["metadata"]["name"] == pod), None)
    if obj is None:
        return _hint(f"there is no Pod {namespace}/{pod} in this cluster yet. Apply its manifest "
                     "(c.apply(...)) and run the cluster (c.run()) first.")
    node = obj["spec"].get("nodeName")
    if not node:
        return _hint(f"{pod} has not been scheduled yet, so no node is known. Run the cluster (c.run()) "
                     "first.")
    if answer is ... or answer is None:
        return _hint(f'no answer yet. Read the Pod back with c.get("Pod", "{pod}") and look in its "spec": '
                     "the scheduler wrote exactly one field there when it bound the pod.")
    if isinstance(answer, dict):
        return _hint("that is a whole object. The answer is one string: the value of a single field of the "
                     "Pod's spec.")
    if not isinstance(answer, str):
        return _hint(f"expected a node name (a str), got a {type(answer).__name__}.")
    given = answer.strip()
    if given == node:
        print(f"Correct: {pod} runs on {given}. The scheduler's whole decision is this one field, "
              "spec.nodeName; the kubelet on that node saw it through its watch and started the container.")
        return True
    host_ip = (obj.get("status") or {}).get("hostIP")
    if given in {host_ip, (obj.get("status") or {}).get("podIP")}:
        return _hint("that is an IP address from the Pod's status. Kubernetes names the node by its "
                     "metadata.name, and the Pod refers to it by that name in its spec.")
    nodes = {n["metadata"]["name"] for n in cluster.list("Node")}
    if given in nodes:
        return _hint("that node exists, but the pod is not on it. Several nodes can tie for the best score, "
                     "so do not guess from the node list: read the field in the Pod's spec.")
    return _hint(f"there is no node named {given!r} in this cluster. Copy the value from the Pod object "
                 "rather than typing it.")


def _deciding_plugin(frame: Any, weights: dict[str, int], winner: str
                     ) -> tuple[str, str, dict[str, float]] | None:
    """The score plugin with the largest weighted lead of ``winner`` over the best node not tied with it.

    Returns ``(plugin, runner_up, {plugin: weighted lead})``, or None when no feasible node
    scored lower (one feasible node, or all tied).
    """
    feasible = frame[(frame["filter"] == "") & frame["total"].notna()]
    top = frame.loc[winner, "total"]
    others = feasible[feasible["total"] < top]
    if others.empty:
        return None
    runner_up = others["total"].idxmax()
    leads = {}
    for name, weight in weights.items():
        a, b = frame.loc[winner, name], frame.loc[runner_up, name]
        if not (math.isnan(a) or math.isnan(b)):
            leads[name] = weight * (a - b)
    return max(leads, key=lambda k: leads[k]), runner_up, leads


def check_deciding_plugin(node: Any, plugin: Any, cluster: Cluster, pod: Any) -> bool:
    """Exercise 02-1: where a what-if pod lands, and which score plugin made the difference.

    The point is to read ``c.explain(pod).frame()`` as kube-scheduler does: filters remove
    nodes, then the weighted sum of normalized scores ranks the rest. The deciding plugin is
    the one with the largest weighted lead (weight × score difference) of the chosen node over
    the best node that scored lower.

    Parameters
    ----------
    node:
        The learner's node name (any node tied for the top score counts as right).
    plugin:
        The learner's plugin name, as a column of the explain table (e.g. ``"ImageLocality"``).
    cluster, pod:
        The cluster and the Pod manifest (not applied) the question is about.

    Returns
    -------
    bool
        True when both answers are right.
    """
    decision = cluster.explain(pod)
    if node is ... or plugin is ...:
        return _hint("no answer yet. Ask the scheduler without applying anything: c.explain(pod).frame() "
                     "shows every node's filter verdict and scores; the highest total wins.")
    if not isinstance(node, str) or not isinstance(plugin, str):
        return _hint("expected two strings: a node name and a plugin name (a column of the explain table).")
    frame = decision.frame()
    given = node.strip()
    if given not in frame.index:
        return _hint(f"there is no node named {given!r} in this cluster; copy a name from the explain table.")
    if decision.chosen is None:
        return _hint("this pod fits on no node, so no plugin decided anything; check the pod you passed.")
    if given not in decision.ties:
        if frame.loc[given, "filter"]:
            return _hint(f"{given} was filtered out ({frame.loc[given, 'filter']}), so it was never a "
                         "candidate. Look for the highest total among the nodes whose filter column is "
                         "empty.")
        return _hint(f"{given} passed the filters, but another node has a higher total: compare the total "
                     "column.")
    weights = decision.weights()
    names = {name.lower(): name for name in weights}
    chosen_plugin = names.get(plugin.strip().lower())
    if chosen_plugin is None:
        return _hint(f"{plugin!r} is not a score plugin of this profile; the score columns of the explain "
                     "table are the candidates.")
    found = _deciding_plugin(frame, weights, decision.chosen)
    if found is None:
        return _hint("no feasible node scored lower than the winner here, so scores decided nothing: "
                     "the filters did. Check the pod you passed.")
    best, runner_up, leads = found
    if leads[best] == leads.get(chosen_plugin):
        print(f"Correct: {given} wins. Against the runner-up, {runner_up}, {chosen_plugin} gives it a lead "
              f"of {weights[chosen_plugin]} x {leads[chosen_plugin] / weights[chosen_plugin]:.0f} = "
              f"{leads[chosen_plugin]:.0f} points, more than any other plugin.")
        return True
    if chosen_plugin not in leads:
        return _hint(f"{chosen_plugin} skipped itself for this pod (NaN in its column), so it cannot have "
                     "decided.")
    return _hint(f"the node is right, but {chosen_plugin} is not what set it apart. For each score column, "
                 "take weight x (score on the winner - score on the best lower-scoring node) and find the "
                 "largest; decision.weights() gives the weights.")


def check_toleration(answer: Any, cluster: Cluster, pod: str, namespace: str = "default") -> bool:
    """Exercise 02-2: one toleration that makes a Pending pod schedulable, and no broader than needed.

    The check adds ``answer`` to a copy of the pod's manifest and asks the scheduler (a what-if:
    nothing changes in the cluster). A toleration with an empty key and ``operator: Exists``
    tolerates *every* taint, including the ones Kubernetes uses to evict pods from failing
    nodes, so it is refused even though the pod would then fit.

    Parameters
    ----------
    answer:
        The learner's toleration: a dict shaped as ``v1 Toleration``.
    cluster, pod, namespace:
        The cluster and the applied, Pending pod the question is about.
    """
    from labkit.errors import ManifestError

    obj = next((p for p in cluster.list("Pod", namespace=namespace) if p["metadata"]["name"] == pod), None)
    if obj is None:
        return _hint(f"there is no Pod {namespace}/{pod} in this cluster yet: apply it and run the cluster.")
    if answer is ...:
        return _hint(f'no answer yet. c.explain("{pod}").frame() shows why each node refused the pod; '
                     "read the taint of the nodes the pod asks for with c.get(\"Node\", name)[\"spec\"].")
    if isinstance(answer, list):
        return _hint("that is a list; the question asks for one toleration, a single dict.")
    if not isinstance(answer, dict):
        return _hint(f"expected a dict shaped like a v1 Toleration (key, operator, value, effect), got a "
                     f"{type(answer).__name__}.")
    if not answer.get("key") and answer.get("operator") == "Exists":
        return _hint("an empty key with operator Exists tolerates every taint on every node, including "
                     "node.kubernetes.io/unreachable and not-ready. Name the taint you mean.")
    meta = {"name": pod, "namespace": namespace, "labels": obj["metadata"].get("labels") or {}}
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {k: v for k, v in obj["spec"].items() if k != "nodeName"}}
    manifest["spec"]["tolerations"] = [*(obj["spec"].get("tolerations") or []), answer]
    try:
        decision = cluster.explain(manifest)
    except ManifestError as e:
        return _hint(f"the API server would refuse that toleration: {e}")
    if decision.chosen is None:
        return _hint(f"with that toleration the pod still fits nowhere: {decision.message} Compare your key, "
                     "value and effect with the taint on the nodes the pod selects.")
    print(f"Correct: with that toleration the scheduler would place {pod} on {decision.chosen}. The taint "
          "keeps every other pod off those nodes, and the nodeSelector keeps this pod on them: a toleration "
          "only allows, it never attracts.")
    return True


_ENTRY = re.compile(r"(\d+) ([^,]+?)(?=, \d+ |$)")


def _reason_counts(message: str) -> dict[str, int]:
    """``{reason: nodes}`` from the first half of a FailedScheduling message (before preemption's part)."""
    m = re.match(r"0/(\d+) nodes are available: (.*?)\.(?: |$)", message)
    if m is None:
        return {}
    return {reason: int(count) for count, reason in _ENTRY.findall(m.group(2))}


def check_reason_count(answer: Any, cluster: Cluster, pod: str, reason: str = "Insufficient memory",
                       namespace: str = "default") -> bool:
    """Exercise 02-3: read a FailedScheduling message: how many nodes failed for ``reason``?

    Parameters
    ----------
    answer:
        The learner's count (an ``int``).
    cluster, pod, namespace:
        The cluster and the Pending pod whose message is read (from its ``FailedScheduling`` Event).
    reason:
        The reason asked about, as the message writes it.
    """
    events = [e for e in cluster.events(namespace=namespace, involved=f"Pod/{pod}")
              if e["reason"] == "FailedScheduling"]
    if not events:
        return _hint(f"there is no FailedScheduling event for {pod} yet: apply it and run the cluster.")
    message = events[-1]["message"]
    counts = _reason_counts(message)
    if answer is ...:
        return _hint("no answer yet. Print the event's message and read the part before the first period: "
                     "each entry is a count of nodes followed by a reason.")
    if isinstance(answer, bool) or not isinstance(answer, int):
        if isinstance(answer, str) and answer.strip().isdigit():
            answer = int(answer.strip())
        else:
            return _hint(f"expected a whole number of nodes (an int), got a {type(answer).__name__}.")
    right = counts.get(reason, 0)
    total = int(message.split("/", 1)[1].split(" ", 1)[0]) if "/" in message else 0
    if answer == right:
        print(f"Correct: {right} nodes failed for {reason}. A node short of both cpu and memory counts once "
              "under each reason, so the counts can add up to more than the number of nodes.")
        return True
    other = [r for r, c in counts.items() if c == answer and r != reason]
    if other:
        return _hint(f"that is the count for {other[0]!r}. Find the entry whose reason is {reason!r}; the "
                     "entries are sorted as text, so the order is not the order of size.")
    if answer == total:
        return _hint("that is the number of nodes in the cluster (the N of 0/N). Read the entry for the "
                     "reason.")
    return _hint("read the entry for that reason in the first half of the message, before "
                 "'no new claims to deallocate'; the second half counts preemption verdicts.")


def _hint(text: str) -> bool:
    print(f"Not yet: {text}")
    return False
