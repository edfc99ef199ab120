"""Checks for the notebooks' exercises: a friendly verdict, a hint when wrong, never the answer.

Each ``check_<id>(answer, ...)`` prints one short paragraph and returns a :class:`Verdict`, which
is true when the answer is right, so a notebook cell can both teach and be tested. A verdict
shows nothing of its own in a notebook (the paragraph was already printed), so a check cell
prints one clean paragraph and no stray ``True``. The unanswered stub ``...`` (Python's
``Ellipsis``) gets a pointer on where to start rather than an error.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["Verdict", "check_apply_request", "check_deciding_plugin", "check_dns_queries",
           "check_first_miss", "check_flapping_fix", "check_hpa_proposal", "check_idle_node",
           "check_node_of_pod", "check_overhead", "check_pods_per_node", "check_pool_prediction",
           "check_prestop", "check_pull_policy", "check_push_target", "check_rbac_rule",
           "check_reason_count", "check_refused", "check_rollout_peak", "check_runtime_choice",
           "check_selected_count", "check_service_selects", "check_toleration"]


class Verdict:
    """The outcome of one check: true when the answer is right; ``message`` is what was printed."""

    def __init__(self, correct: bool, message: str) -> None:
        self.correct = correct
        self.message = message

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"<Verdict {'correct' if self.correct else 'not yet'}: {self.message[:60]}>"

    def _ipython_display_(self) -> None:
        """Nothing to add: the check already printed its paragraph (IPython calls this instead of
        showing ``Out[n]``)."""


def _type_name(value: Any) -> str:
    """``an int``, ``a str``: the value's type with its article, for hints."""
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def check_node_of_pod(answer: Any, cluster: Cluster, pod: str = "my-nginx",
                      namespace: str = "default") -> Verdict:
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
        return _start(f'read the Pod back with c.get("Pod", "{pod}") and look in its "spec": the scheduler '
                      "wrote exactly one field there when it bound the pod.")
    if isinstance(answer, dict):
        return _hint("that is a whole object. The answer is one string: the value of a single field of the "
                     "Pod's spec.")
    if not isinstance(answer, str):
        return _hint(f"expected a node name (a str), got {_type_name(answer)}.")
    given = answer.strip()
    if given == node:
        return _correct(f"{pod} runs on {given}. The scheduler's whole decision is this one field, "
                        "spec.nodeName; the kubelet on that node saw it through its watch and started the "
                        "container.")
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


def check_selected_count(prediction: Any, cluster: Cluster, service: str = "my-nginx",
                         namespace: str = "default") -> Verdict:
    """Exercise 00 (a prediction): how many pods does the Service select right now?

    Made before looking, then compared: the point is that a Service holds no list of pods, only
    a label selector, so the answer depends on the pods' labels, not on their names. Unlike the
    other checks this one tells the right count once the learner has committed to a number.
    """
    svc = cluster.get("Service", service, namespace=namespace)
    selector = svc["spec"].get("selector") or {}
    text = ",".join(f"{k}={v}" for k, v in selector.items())
    selected = cluster.list("Pod", namespace=namespace, label_selector=text) if selector else []
    if prediction is ...:
        return _start("write down a number of pods before you look. The Service's selector is "
                      f"{text or '(empty)'}; which pods carry those labels?")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"a prediction here is a whole number of pods (an int), got {_type_name(prediction)}.")
    why = (f"the selector {text} matches {len(selected)} pod(s): "
           + (", ".join(p["metadata"]["name"] for p in selected) or "none")
           + ". A Service finds pods by their labels only; a pod's name, image or node play no part.")
    if prediction == len(selected):
        return _correct(f"you predicted {prediction}, and {why}")
    return _say(False, f"Not what happens: you predicted {prediction}, but {why} Keep that surprise in "
                       "mind for the next cells.")


def check_service_selects(labels: Any, cluster: Cluster, service: str = "my-nginx",
                          must_have: dict[str, str] | None = None, namespace: str = "default") -> Verdict:
    """Exercise 00: the labels a new pod needs so that a Service selects it (plus ``must_have``).

    A label set is selected when it carries every key=value of the Service's selector; extra
    labels do not hurt, which is how one Service spans two tracks of an application. The labels
    are checked as the API server checks ``metadata.labels`` (keys and values).
    """
    from labkit.api.selectors import is_qualified_name, is_valid_label_value

    svc = cluster.get("Service", service, namespace=namespace)
    selector = svc["spec"].get("selector") or {}
    must_have = dict(must_have or {})
    if labels is ...:
        return _start(f'read the Service\'s selector, c.get("Service", "{service}")["spec"]["selector"], and '
                      "write a dict of labels for the pod.")
    if isinstance(labels, str):
        return _hint("that is a string. Labels are a dict of key: value strings, as under metadata.labels "
                     "in YAML, e.g. {\"tier\": \"frontend\"}.")
    if not isinstance(labels, dict):
        return _hint(f"expected a dict of labels (key: value strings), got {_type_name(labels)}.")
    for key, value in labels.items():
        err = is_qualified_name(key) if isinstance(key, str) else "must be a string"
        if err:
            return _hint(f"the API server would refuse the label key {key!r}: {err}")
        err = is_valid_label_value(value) if isinstance(value, str) else "must be a string (quote numbers)"
        if err:
            return _hint(f"the API server would refuse the value of label {key!r} ({value!r}): {err}")
    missing = {k: v for k, v in selector.items() if labels.get(k) != v}
    if missing:
        wrong = [k for k in missing if k in labels]
        if wrong:
            return _hint(f"the label {wrong[0]!r} is there, but its value differs from what the Service's "
                         "selector asks for; values must match exactly (case included).")
        return _hint("the Service would not select that pod: its selector asks for a label key this pod "
                     f'does not have. Compare with c.get("Service", "{service}")["spec"]["selector"].')
    absent = {k: v for k, v in must_have.items() if labels.get(k) != v}
    if absent:
        return _hint("the Service would select it, but the question also asks for "
                     + ", ".join(f"{k}={v}" for k, v in absent.items()) + ".")
    extra = sorted(set(labels) - set(selector))
    return _correct("the Service's selector is a subset of these labels, so it selects the pod"
                    + (f"; the extra label(s) {', '.join(extra)} do not get in the way" if extra else "")
                    + ". Selectors, not names, are how Services, Deployments and kubectl -l find pods.")


def check_pool_prediction(prediction: Any, cluster: Cluster, pod: dict[str, Any],
                          pools: tuple[str, ...] = ("general", "batch", "memory")) -> Verdict:
    """Exercise 02 (a prediction): which node pool will the scheduler pick for ``pod``?

    Evaluated as a what-if (nothing is applied). The pool of a node is read from its ACK label
    ``alibabacloud.com/nodepool-id``. Once the learner has committed, the answer is told.
    """
    from labkit.cloud.ecs import nodepool_id

    if prediction is ...:
        return _start(f"write one pool name ({', '.join(pools)}) before you run anything.")
    if not isinstance(prediction, str) or prediction.strip().lower() not in pools:
        return _hint(f"a prediction here is one of the pool names {', '.join(pools)} (a str), got "
                     f"{prediction!r}.")
    decision = cluster.explain(pod)
    if decision.chosen is None:
        return _say(False, f"No pool: the pod fits nowhere ({decision.message}).")
    node = cluster.get("Node", decision.chosen, namespace=None)
    ids = {nodepool_id(name): name for name in pools}
    actual = ids.get(node["metadata"]["labels"].get("alibabacloud.com/nodepool-id", ""), "another pool")
    frame = decision.frame()
    top = int(frame.loc[decision.chosen, "total"])
    if prediction.strip().lower() == actual:
        return _correct(f"you predicted {actual}, and the scheduler picks {decision.chosen} in the {actual} "
                        f"pool (total {top}).")
    return _say(False, f"Not what happens: you predicted {prediction.strip()}, but the scheduler picks "
                       f"{decision.chosen} in the {actual} pool (total {top}). The cells below show which "
                       "scores made the difference.")


def check_rollout_peak(prediction: Any, cluster: Cluster, deployment: str,
                       namespace: str = "default") -> Verdict:
    """Exercise 00 (a prediction): during a rolling update, at most how many pods does the
    Deployment ask for at once (the sizes of its ReplicaSets, ``spec.replicas``, added up)?

    The answer is ``replicas + maxSurge``, with maxSurge rounded up from its percentage
    (``ResolveFenceposts``). It is read from the recorded timeline, so the cluster must have been
    recorded with :func:`labkit.timeline.record` before the Deployment was applied.
    """
    from labkit.timeline import steps

    d = cluster.get("Deployment", deployment, namespace=namespace)
    totals = [sum(rs.desired for rs in step.replicasets
                  if rs.owner == deployment and rs.namespace == namespace)
              for step in steps(cluster, f"Deployment/{deployment}")]
    if not totals:
        return _hint("nothing was recorded for that Deployment: call labkit.timeline.record(...) before "
                     "applying it, then run the rollout.")
    if prediction is ...:
        return _start("write down a whole number before you run the rolling update. The Deployment asks "
                      f"for {d['spec']['replicas']} replicas; how many extra may it ask for during the "
                      "update?")
    owned = {rs.name for step in steps(cluster, f"Deployment/{deployment}") for rs in step.replicasets
             if rs.owner == deployment and rs.namespace == namespace}
    if len(owned) < 2:
        return _hint("there has been no rolling update yet (one ReplicaSet only): run the cell that changes "
                     "the image first, then this check.")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"a prediction here is a whole number of pods (an int), got {_type_name(prediction)}.")
    peak = max(totals)
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    replicas = d["spec"]["replicas"]
    surge = ru.get("maxSurge", "25%")
    extra = peak - replicas
    why = (f"the ReplicaSets' sizes added up to at most {peak}: {replicas} replicas + maxSurge "
           f"({surge} of {replicas}, rounded up to {extra}) = {peak}. (maxUnavailable "
           f"{ru.get('maxUnavailable', '25%')}, rounded down, is how many may be unavailable meanwhile.)")
    if prediction == peak:
        return _correct(f"you predicted {prediction}, and {why}")
    return _say(False, f"Not what happens: you predicted {prediction}, but {why}")


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


def check_deciding_plugin(node: Any, plugin: Any, cluster: Cluster, pod: Any) -> Verdict:
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
        return _start("ask the scheduler without applying anything: c.explain(api) shows every node's "
                      "filter verdict and scores; the highest total wins.")
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
        weight, lead = weights[chosen_plugin], leads[chosen_plugin]
        return _correct(f"{given} wins. Against the runner-up, {runner_up}, {chosen_plugin} gives it a lead "
                        f"of {weight} x {lead / weight:.0f} = {lead:.0f} points, more than any other plugin.")
    if chosen_plugin not in leads:
        return _hint(f"{chosen_plugin} skipped itself for this pod (its column is marked skipped), so it "
                     "cannot have decided.")
    return _hint(f"the node is right, but {chosen_plugin} is not what set it apart. For each score column, "
                 "take weight x (score on the winner - score on the best lower-scoring node) and find the "
                 "largest; decision.weights() gives the weights.")


def check_toleration(answer: Any, cluster: Cluster, pod: str, namespace: str = "default") -> Verdict:
    """Exercise 02-2: one toleration that makes a Pending pod schedulable, and no broader than needed.

    The check puts ``answer`` first in a copy of the pod's tolerations and asks the scheduler (a
    what-if: nothing changes in the cluster), so an error names ``spec.tolerations[0]``, the
    learner's own toleration. "No broader than needed" means it tolerates exactly the taint that
    kept the pod out (key, value and effect) and nothing else: ``operator: Exists`` without a
    value tolerates every value of the key, an empty effect every effect (``NoExecute``
    included), and an empty key with ``Exists`` every taint, including the ones Kubernetes uses
    to evict pods from failing nodes.

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
        return _start(f'c.explain("{pod}") shows why each node refused the pod; read the taint of the nodes '
                      'the pod asks for with c.get("Node", name)["spec"]["taints"].')
    if isinstance(answer, list):
        return _hint("that is a list; the question asks for one toleration, a single dict.")
    if not isinstance(answer, dict):
        return _hint(f"expected a dict shaped like a v1 Toleration (key, operator, value, effect), got "
                     f"{_type_name(answer)}.")
    if not answer.get("key") and answer.get("operator") == "Exists":
        return _hint("an empty key with operator Exists tolerates every taint on every node, including "
                     "node.kubernetes.io/unreachable and not-ready. Name the taint you mean.")
    meta = {"name": pod, "namespace": namespace, "labels": obj["metadata"].get("labels") or {}}
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {k: v for k, v in obj["spec"].items() if k != "nodeName"}}
    manifest["spec"]["tolerations"] = [answer, *(obj["spec"].get("tolerations") or [])]
    try:
        decision = cluster.explain(manifest)
    except ManifestError as e:
        return _hint(f"the API server would refuse that toleration: {e}")
    if decision.chosen is None:
        return _hint(f"with that toleration the pod still fits nowhere: {decision.message} Compare your key, "
                     "value and effect with the taint on the nodes the pod selects.")
    node = cluster.get("Node", decision.chosen, namespace=None)
    taints = [t for t in node["spec"].get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
    broader = _broader_than(answer, taints)
    if broader:
        return _hint(f"the pod would fit, but that toleration is broader than it needs to be: {broader}")
    return _correct(f"with that toleration the scheduler would place {pod} on {decision.chosen}. The taint "
                    "keeps every other pod off those nodes, and the nodeSelector keeps this pod on them: a "
                    "toleration only allows, it never attracts.")


def _broader_than(toleration: dict[str, Any], taints: list[dict[str, Any]]) -> str:
    """Why ``toleration`` tolerates more than the ``taints`` it needs to ("" when it does not)."""
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists" and any(t.get("value") for t in taints):
        return (f"operator Exists tolerates {toleration.get('key')}=<any value>, on other pools' taints too. "
                "Name the value with operator Equal.")
    if not toleration.get("effect"):
        return ("an empty effect tolerates every effect of that taint, NoExecute (which evicts running pods) "
                "included. Name the effect the nodes' taint has.")
    return ""


_ENTRY = re.compile(r"(\d+) ([^,]+?)(?=, \d+ |$)")


def _reason_counts(message: str) -> dict[str, int]:
    """``{reason: nodes}`` from the first half of a FailedScheduling message (before preemption's part)."""
    m = re.match(r"0/(\d+) nodes are available: (.*?)\.(?: |$)", message)
    if m is None:
        return {}
    return {reason: int(count) for count, reason in _ENTRY.findall(m.group(2))}


def check_reason_count(answer: Any, cluster: Cluster, pod: str, reason: str = "Insufficient memory",
                       namespace: str = "default") -> Verdict:
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
        return _start("print the event's message and read the part before the first period: each entry is a "
                      "count of nodes followed by a reason.")
    if isinstance(answer, bool) or not isinstance(answer, int):
        if isinstance(answer, str) and re.fullmatch(r"[0-9]+", answer.strip()):
            answer = int(answer.strip())
        else:
            return _hint(f"expected a whole number of nodes (an int), got {_type_name(answer)}.")
    right = counts.get(reason, 0)
    total = int(message.split("/", 1)[1].split(" ", 1)[0]) if "/" in message else 0
    if answer == right:
        return _correct(f"{right} nodes failed for {reason}. A node short of both cpu and memory counts once "
                        "under each reason, so the counts can add up to more than the number of nodes.")
    other = [r for r, c in counts.items() if c == answer and r != reason]
    if other:
        return _hint(f"that is the count for {other[0]!r}. Find the entry whose reason is {reason!r}; the "
                     "entries are sorted as text, so the order is not the order of size.")
    if answer == total:
        return _hint("that is the number of nodes in the cluster (the N of 0/N). Read the entry for the "
                     "reason.")
    return _hint("read the entry for that reason in the first half of the message, before "
                 "'no new claims to deallocate'; the second half counts preemption verdicts.")


def check_dns_queries(prediction: Any, cluster: Cluster, name: str, from_pod: str = "client",
                      namespace: str = "default") -> Verdict:
    """Exercise 03 (a prediction): how many DNS queries does ``from_pod``'s resolver send for ``name``?

    Counted as ``cluster.dns.queries(name, from_pod=...)`` counts them: one A query per name tried
    (glibc's search path), up to and including the first that answers. With ``ndots:5`` a name
    with fewer than five dots is tried with every search domain first. Once the learner has
    committed to a number, the answer is told.
    """
    from labkit.errors import DNSError

    if prediction is ...:
        return _start(f'read the pod\'s resolver configuration, print(c.dns.resolv_conf("{from_pod}")): its '
                      f"search line and its ndots option decide which names are tried for {name!r}, in which "
                      "order.")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"a prediction here is a whole number of queries (an int), got "
                     f"{_type_name(prediction)}.")
    if prediction < 1:
        return _hint("every lookup sends at least one query (a name is never answered from nothing here: the "
                     "lab's resolver keeps no cache).")
    log = cluster.dns.queries(name, from_pod=from_pod, namespace=namespace)
    conf = cluster.dns.resolver_config(from_pod, namespace)
    try:
        cluster.dns.resolve(name, from_pod=from_pod, namespace=namespace)
        found = "the last one answered"
    except DNSError:
        found = "none answered (NXDOMAIN)"
    dots = name.rstrip(".").count(".")
    tried = ", ".join(q["query"] for q in log)
    why = (f"{name!r} has {dots} dot{'s' * (dots != 1)}"
           + (" and a trailing dot, so it is tried only as is" if name.endswith(".") else
              f", fewer than ndots:{conf.ndots}, so every search domain comes first" if dots < conf.ndots else
              f", at least ndots:{conf.ndots}, so it is tried as is first")
           + f": {len(log)} quer{'ies' if len(log) != 1 else 'y'} ({tried}); {found}.")
    if prediction == len(log):
        return _correct(f"you predicted {prediction}. {why}")
    return _say(False, f"Not what happens: you predicted {prediction}, but {why}")


def check_prestop(lifecycle: Any, max_lag_s: float = 2.0) -> Verdict:
    """Exercise 03: a container ``lifecycle`` with which a rolling update of ``my-nginx`` loses no request.

    The check runs the chapter's scenario with it: a fresh cluster whose ``my-nginx`` pods carry
    ``lifecycle``, 200 requests per second through the Service, ``kubectl rollout restart`` 10 s in,
    kube-proxy's default delay (0.5-2 s per node). Right when no request fails. The lab's kubelet runs
    no commands, so only the ``sleep`` action takes time here (an ``exec`` or ``httpGet`` hook takes
    none); the hint says so.
    """
    from labkit.errors import ManifestError
    from labkit.widgets.service_discovery import TARGET, service_cluster

    if lifecycle is ...:
        return _start("the pods are removed from the EndpointSlice and sent SIGTERM at the same moment, "
                      "while "
                      "kube-proxy on each node needs up to 2 s to stop sending them requests. Write the "
                      "container's lifecycle: a dict with a hook that runs before SIGTERM.")
    if not isinstance(lifecycle, dict):
        return _hint(f"expected a dict, the value of the container's lifecycle field, got "
                     f"{_type_name(lifecycle)}.")
    if "lifecycle" in lifecycle:
        return _hint("that dict has a lifecycle key of its own: give the value of the container's lifecycle "
                     "field (what goes under lifecycle: in YAML), not the field itself.")
    if "preStop" not in lifecycle:
        keys = ", ".join(map(str, lifecycle)) or "nothing"
        return _hint(f"this lifecycle has {keys}. A container has two hooks, postStart and preStop: which "
                     f"one "
                     "runs before the kubelet sends SIGTERM?")
    hook = lifecycle.get("preStop")
    if not isinstance(hook, dict):
        return _hint(f"preStop holds one handler, a dict (sleep, exec or httpGet), got {_type_name(hook)}.")
    lab_note = ""
    if "sleep" not in hook:
        lab_note = (" Note: the lab's kubelet runs no commands and sends no HTTP requests, so an exec or "
                    "httpGet "
                    "hook takes no time here; use the sleep action (preStop: {sleep: {seconds: ...}}), which "
                    "the kubelet itself carries out, on a real cluster too.")
    try:
        c = service_cluster(lifecycle=lifecycle, endpoint_propagation=(min(0.5, max_lag_s), max_lag_s))
    except ManifestError as e:
        return _hint(f"the API server would refuse that lifecycle: {e}")
    t = c.traffic(TARGET, rate=200, duration=60)
    c.run(until=c.now + 10)
    c.rollout_restart("Deployment", "my-nginx")
    c.run(until=c.now + 61)
    s = t.summary()
    if s["failed"]:
        return _hint(f"with that lifecycle {s['failed']} of {s['sent']} requests still failed during the "
                     f"rolling "
                     f"update ({s['refused']} refused, {s['reset']} reset). Each old pod must keep serving "
                     f"until "
                     f"every node's kube-proxy has stopped sending it new connections, up to {max_lag_s:g} s "
                     f"after it left the EndpointSlice.{lab_note}")
    seconds = (hook.get("sleep") or {}).get("seconds", 0)
    long = (f" It works; still, each pod now takes {seconds} s longer to stop, and a few seconds over "
            f"kube-proxy's "
            "delay is enough." if isinstance(seconds, int) and seconds > 10 else "")
    return _correct(f"none of {s['sent']} requests failed during the rolling update. The kubelet ran the "
                    "preStop hook before SIGTERM, so each old pod kept its listener open while the nodes' "
                    f"kube-proxies (at most {max_lag_s:g} s late) stopped sending it new connections.{long}")


def check_idle_node(node: Any, cluster: Cluster, service: str, namespace: str = "default") -> Verdict:
    """Exercise 03: with ``externalTrafficPolicy: Local``, which node does the SLB send no traffic to?

    A node passes the SLB's health check (the Service's ``healthCheckNodePort``) only while its
    kube-proxy has a ready endpoint of the Service *on that node*; the others get no external
    traffic at all. The answer is read from the cluster: the nodes with no endpoint of ``service``.
    """
    svc = cluster.get("Service", service, namespace=namespace)
    if (svc.get("spec") or {}).get("externalTrafficPolicy") != "Local":
        return _hint(f"Service {service} has externalTrafficPolicy "
                     f"{svc['spec'].get('externalTrafficPolicy')!r}; "
                     "run the cell that sets it to Local first.")
    eps = cluster.endpoints(service, namespace)
    with_pod = set(eps[eps["ready"].astype(bool)]["node"])
    nodes = [n["metadata"]["name"] for n in cluster.list("Node")]
    idle = [n for n in nodes if n not in with_pod]
    if node is ...:
        return _start(f'c.endpoints("{service}") lists the Service\'s endpoints with the node each one '
                      "runs on.")
    if isinstance(node, (list, tuple, set)):
        return _hint("that is a collection; the question asks for one node name (a str).")
    if not isinstance(node, str):
        return _hint(f"expected a node name (a str), got {_type_name(node)}.")
    given = node.strip()
    if given not in nodes:
        return _hint(f"there is no node named {given!r} in this cluster; copy a name from c.list('Node') or "
                     f"a table.")
    if given in with_pod:
        pods = ", ".join(eps[eps["node"] == given]["pod"])
        return _hint(f"{given} runs {pods}, an endpoint of {service}, so it passes the SLB's health check "
                     f"and "
                     "gets traffic. Look for a node with no endpoint of the Service.")
    if len(idle) == 1:
        return _correct(f"{given} runs no pod of {service}. With externalTrafficPolicy Local its kube-proxy "
                        f"would "
                        "have nowhere local to send a request, so the health check fails and the SLB leaves "
                        "the "
                        "node out: the client IP is kept and there is no extra hop, at the price of uneven "
                        "load.")
    return _correct(f"{given} runs no pod of {service}, so the SLB's health check leaves it out (so do "
                    f"{', '.join(n for n in idle if n != given)}).")


def check_hpa_proposal(prediction: Any, inputs: dict[str, Any]) -> Verdict:
    """Exercise 04 (a prediction): the replica count the HPA proposes for these samples.

    ``inputs`` are the arguments of :func:`labkit.hpa.reconcile` (as
    :func:`labkit.widgets.autoscaling.hpa_inputs` builds them); the answer is the sync's proposal,
    the replica calculator's result before stabilization and limits. Once the learner has
    committed to a number, the arithmetic is told.
    """
    import math as _math

    from labkit.hpa import reconcile

    if prediction is ...:
        return _start("add up the samples and the requests, take usage as a percentage of the requests, "
                      "compare it with the target, and scale the current number of pods by that ratio "
                      "(rounded up).")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"a prediction here is a whole number of replicas (an int), got "
                     f"{_type_name(prediction)}.")
    result = reconcile(**inputs)
    calc = next((c for c in result.calculations if not isinstance(c, str)), None)
    if calc is None or result.proposal is None:
        return _hint("the HPA could not compute a proposal from these inputs; rebuild them with hpa_inputs.")
    spec = inputs["hpa"]["spec"]
    target = spec["metrics"][0]["resource"]["target"]["averageUtilization"]
    used = [p for p in calc.ready if p in calc.samples]
    usage = sum(calc.samples[p] for p in used)
    request = sum(calc.requests[p] for p in used)
    util = usage * 100 // request if request else 0
    ratio = util / target
    current = inputs["scale"]["spec_replicas"]
    within = abs(ratio - 1) <= 0.1
    arithmetic = (f"usage {usage / 1000:g} of {request / 1000:g} CPU requested is {util}% (rounded down), "
                  f"against a {target}% target: ratio {util}/{target} = {ratio:.3f}, ")
    arithmetic += ("within the 10% tolerance, so no change: " if within else
                   f"outside the 10% tolerance, so ceil({ratio:.3f} x {len(used)} pods) = "
                   f"{_math.ceil(ratio * len(used) - 1e-9)}: ")
    arithmetic += f"the HPA proposes {result.proposal} (from {current})."
    if prediction == result.proposal:
        return _correct(f"you predicted {prediction}: {arithmetic} This is step 3 of the article, done by "
                        "the replica calculator every 15 s.")
    return _say(False, f"Not what happens: you predicted {prediction}, but {arithmetic}")


def check_first_miss(prediction: Any, order: str = "dependencies first", edit: str = "app.py") -> Verdict:
    """Exercise 01 (a prediction): the line of the first instruction the second build runs again.

    The app of :data:`labkit.widgets.containerization.APP_DOCKERFILES` is built, one file is edited
    (:data:`~labkit.widgets.containerization.EDITS`), and it is built again with the same cache: the
    first instruction that misses is the first ``COPY`` that copies the edited file (its checksum
    changed), and every later layer is built again. Once a line is predicted, the answer is told.
    """
    from labkit.widgets.containerization import APP_DOCKERFILES, rebuild

    if prediction is ...:
        return _start("go down the Dockerfile: which is the first instruction whose input includes the "
                      "edited file? Answer with its line number (an int).")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"the answer is a line number of the Dockerfile (an int), got {_type_name(prediction)}.")
    lines = APP_DOCKERFILES[order].splitlines()
    if not 1 <= prediction <= len(lines):
        return _hint(f"the Dockerfile has lines 1 to {len(lines)}; {prediction} is not one of them.")
    r = rebuild(order, edit)
    first = next(s for s in r.after.steps if not s["cached"])
    told = (f"line {first['line']}, `{first['instruction']}`: {first['reason']}. Everything after it in the "
            f"stage missed too ({len(r.missed)} layer(s) rebuilt, {r.rebuilt_bytes / 1e6:.2f} MB).")
    if prediction == first["line"]:
        return _correct(f"the first miss is {told}")
    return _say(False, f"Not what happens: you predicted line {prediction} "
                       f"(`{lines[prediction - 1]}`), but the first miss is {told}")


def check_push_target(answer: Any) -> Verdict:
    """Exercise 01: where ``docker push my-nginx`` would send the image, as a full reference.

    A name without a registry is Docker Hub's (``docker.io``), and a one-part name there goes into
    the ``library/`` namespace: the answer is ``docker.io/library/my-nginx`` (``:latest``, the tag a
    bare name means, may be written).
    """
    from labkit.images import ImageReferenceError, parse_reference

    if answer is ...:
        return _start("a name with no registry in front goes to the default registry; write the full name, "
                      "registry/namespace/repository (an str).")
    if not isinstance(answer, str):
        return _hint(f"the answer is an image reference (an str), got {_type_name(answer)}.")
    text = answer.strip()
    try:
        ref = parse_reference(text)
    except ImageReferenceError as e:
        return _hint(f"{answer!r} is not an image reference the runtime would accept: {e}.")
    if ref.repository.split("/")[-1] != "my-nginx":
        return _hint(f"the image is my-nginx; {answer!r} names {ref.repository.split('/')[-1]}.")
    first = text.split("/", 1)[0]
    if "/" not in text or not ("." in first or ":" in first or first == "localhost"):
        return _hint("write the registry too: the point is which registry a bare name goes to.")
    if ref.registry != "docker.io":
        return _hint(f"{answer!r} is not where the bare name goes: which registry does a name without one "
                     "go to?")
    if ref.repository != "library/my-nginx" or text.split("/")[1:2] != ["library"]:
        return _hint(f"{answer!r} is close: which namespace does Docker Hub put a one-part name like "
                     "my-nginx in?")
    if ref.implied_tag != "latest" or ref.digest:
        return _hint(f"the registry and repository are right, but `docker push my-nginx` names no tag and "
                     f"{answer!r} does: which tag does a bare name mean?")
    return _correct("docker.io/library/my-nginx:latest: Docker Hub, and its library/ namespace (where a "
                    "one-part name goes, and where only Docker's official images live, so the push is "
                    "refused). Tag the image with your ACR address instead, and push that.")


def check_pull_policy(answer: Any, cluster: Cluster, pod: str, namespace: str = "default") -> Verdict:
    """Exercise 01: the ``imagePullPolicy`` the API server gave a pod's first container (read an object).

    The default depends on the tag: ``Always`` for ``:latest`` or no tag, else ``IfNotPresent``
    (``SetDefaults_Container``).
    """
    obj = next((p for p in cluster.list("Pod", namespace=namespace) if p["metadata"]["name"] == pod), None)
    if obj is None:
        return _hint(f"there is no Pod {namespace}/{pod} in this cluster; apply it first.")
    actual = obj["spec"]["containers"][0].get("imagePullPolicy")
    image = obj["spec"]["containers"][0]["image"]
    if answer is ...:
        return _start(f'read the Pod back with c.get("Pod", "{pod}") and look at its first container in '
                      '"spec".')
    if not isinstance(answer, str):
        return _hint(f"the answer is a policy name (an str), got {_type_name(answer)}.")
    if answer.strip() not in ("Always", "IfNotPresent", "Never"):
        return _hint(f"{answer!r} is not a pull policy: Kubernetes knows Always, IfNotPresent and Never.")
    if answer.strip() != actual:
        return _hint(f"{answer!r} is not what the API server wrote for {image!r}: read the field, and think "
                     "about what the tag is.")
    why = "its tag is latest (given or implied)" if actual == "Always" else "its tag is fixed"
    return _correct(f"{actual}: {why}, so the API server chose {actual} when the pod was created.")


def check_pods_per_node(prediction: Any, runtime: str = "kata", cpu: str = "200m", memory: str = "256Mi"
                        ) -> Verdict:
    """Exercise 05 (a prediction): how many pods of ``cpu``/``memory`` fit on one ``ecs.g7.xlarge``
    with ``runtime``, its RuntimeClass overhead counted as the scheduler counts it. Told once made."""
    from labkit.api.quantity import resource_amount
    from labkit.widgets.runtime_choice import RUNTIME_CLASSES, pods_per_node, runtime_cluster

    if prediction is ...:
        return _start("the scheduler adds the RuntimeClass's overhead.podFixed to every pod's requests; "
                      "divide the node's allocatable CPU and memory by that sum (an int).")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return _hint(f"the answer is a number of pods (an int), got {_type_name(prediction)}.")
    fits = pods_per_node(runtime, cpu, memory)
    node = runtime_cluster(general=0, sandboxed=1).list("Node")[0]
    alloc_cpu = resource_amount("cpu", node["status"]["allocatable"]["cpu"])
    rc = next((r for r in RUNTIME_CLASSES if r["metadata"]["name"] == runtime), {})
    over = (rc.get("overhead") or {}).get("podFixed", {})
    per = resource_amount("cpu", cpu) + resource_amount("cpu", over.get("cpu", "0"))
    told = (f"{fits} pods: each asks for {cpu} plus {over.get('cpu', '0m')} of overhead = {per}m of CPU, and "
            f"{alloc_cpu}m are allocatable, so {alloc_cpu} // {per} = {alloc_cpu // per} fit by CPU")
    if prediction == fits:
        return _correct(f"{told}. The overhead is the VM's share of the node, reserved for every pod.")
    return _say(False, f"Not what happens: you predicted {prediction}, but {told}.")


def check_overhead(answer: Any, cluster: Cluster, pod: str, namespace: str = "default") -> Verdict:
    """Exercise 05: a pod's ``spec.overhead`` as the API server wrote it (read an object): the
    RuntimeClass admission plugin copies ``overhead.podFixed`` into the pod at creation."""
    obj = next((p for p in cluster.list("Pod", namespace=namespace) if p["metadata"]["name"] == pod), None)
    if obj is None:
        return _hint(f"there is no Pod {namespace}/{pod} in this cluster; apply it first.")
    actual = obj["spec"].get("overhead")
    if answer is ...:
        return _start(f'read the Pod back with c.get("Pod", "{pod}") and look in its "spec" for resources '
                      "(cpu, memory) that the manifest did not set.")
    if not isinstance(answer, dict):
        return _hint(f"the answer is the field's value, a dict of resources (cpu, memory), got "
                     f"{_type_name(answer)}.")
    if answer != actual:
        return _hint(f"{answer!r} is not the resources the RuntimeClass added to {pod}: look in its spec "
                     "for a field holding cpu and memory that your manifest did not set.")
    return _correct(f"{actual}: copied from the RuntimeClass at admission; the scheduler adds it to the "
                    "pod's requests, and the kubelet sizes the pod's cgroup with it.")


def check_runtime_choice(answer: Any, scenario: str) -> Verdict:
    """Exercise 05: a runtime for a scenario of the chapter, judged on the article's criteria.

    ``"saas"``: a SaaS that runs its customers' code (untrusted, CPU-bound): a sandbox is needed,
    ``kata`` or ``gvisor``. ``"batch"``: the company's own nightly batch jobs (trusted, CPU-bound,
    as many pods per node as possible): ``runc``.
    """
    from labkit.widgets.runtime_choice import RUNTIMES, recommend

    scenarios = {"saas": (False, "cpu", False, False, {"kata", "gvisor"}),
                 "batch": (True, "cpu", True, False, {"runc"})}
    if scenario not in scenarios:
        raise ValueError(f"scenario {scenario!r}: one of {', '.join(scenarios)}")
    trusted, kind, dense, fast, right = scenarios[scenario]
    if answer is ...:
        return _start("weigh the three criteria: does the code need to be kept away from the host kernel? "
                      "What does each runtime cost this workload? Answer with a RuntimeClass name (an str).")
    if not isinstance(answer, str) or answer.strip().lower() not in RUNTIMES:
        return _hint(f"the answer is one of the chapter's runtimes, {', '.join(RUNTIMES)}; got {answer!r}.")
    choice = answer.strip().lower()
    why = recommend(trusted, kind, dense, fast).table.set_index("runtime").loc[choice, "why"]
    if choice in right:
        return _correct(f"{choice}: {why}.")
    if trusted and choice != "runc":
        cost = ("its 250m + 160Mi of overhead on every pod halves the density" if choice == "kata" else
                "its Sentry makes CPU work about 9% slower and system calls far slower, and uses memory of "
                "its own in every pod")
        return _hint(f"{choice} here: the code is your own and trusted, so a sandbox protects nothing that "
                     f"needs it, and {cost}. Which criterion did you weigh last?")
    return _hint(f"{choice} here: {why}. Which criterion did you weigh last?")


def check_refused(prediction: Any) -> Verdict:
    """Exercise 06 (a prediction): which of the chapter's four calls labkit refuses before sending
    anything, as a set of letters. Told once made, from running the four calls on a practice cluster."""
    from labkit.widgets.real_cluster import practice_cluster, refusal

    calls = refused_calls()
    if prediction is ...:
        return _start("read each call and ask: is it in my namespace? is it a kind that belongs to the whole "
                      "cluster? is the object mine? Answer with a set of letters, e.g. {\"a\", \"c\"}.")
    given = prediction
    if isinstance(prediction, str):
        prediction = set(prediction.replace(",", " ").split())
    if not isinstance(prediction, (set, frozenset, list, tuple)) or not all(
            isinstance(x, str) and x.strip().lower() in calls for x in prediction):
        return _hint(f"the answer is a set of letters among {', '.join(sorted(calls))}; got {given!r}.")
    guess = {x.strip().lower() for x in prediction}
    rc = practice_cluster()
    outcome = {letter: refusal(lambda f=f: f(rc)) for letter, (_, f) in calls.items()}
    refused = {letter for letter, said in outcome.items() if said.startswith("RefusedError")}
    told = "; ".join(f"({letter}) {calls[letter][0]}: {'refused' if letter in refused else 'sent'}"
                     for letter in sorted(calls))
    if guess == refused:
        return _correct(f"{told}. A refusal sends no request at all: the cluster never sees it.")
    return _say(False, f"Not what happens: you predicted {sorted(guess)}, but {told}.")


def refused_calls() -> dict[str, tuple[str, Any]]:
    """The four calls of the chapter's prediction, by letter: (what it does, the call)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    return {
        "a": ("apply a Pod to your namespace", lambda rc: rc.apply(pod)),
        "b": ("apply a PriorityClass", lambda rc: rc.apply({"apiVersion": "scheduling.k8s.io/v1",
                                                            "kind": "PriorityClass",
                                                            "metadata": {"name": "urgent"}, "value": 1000})),
        "c": ("delete the Pod coredns in kube-system",
              lambda rc: rc.delete("Pod", "coredns", namespace="kube-system")),
        "d": ("apply a Pod whose metadata.namespace is default",
              lambda rc: rc.apply({**pod, "metadata": {"name": "web", "namespace": "default"}})),
    }


def check_rbac_rule(rule: Any, message: str) -> Verdict:
    """Exercise 06 (read a message): the RBAC rule a ``ForbiddenError`` message asks for, as a dict
    with ``apiGroups``, ``resources`` and ``verbs`` (lists of strings). Exactly what is missing."""
    import re as _re

    m = _re.search(r'cannot (\S+) resource "([^"]+)" in API group "([^"]*)"', message)
    if m is None:
        raise ValueError("message is not an API server's 403 message")
    verb, resource, group = m.groups()
    if rule is ...:
        return _start("the message names a verb, a resource and an API group. Write them as a dict: "
                      "{\"apiGroups\": [...], \"resources\": [...], \"verbs\": [...]}.")
    if not isinstance(rule, dict):
        return _hint(f"the answer is a dict with apiGroups, resources and verbs; got {_type_name(rule)}.")
    missing = [k for k in ("apiGroups", "resources", "verbs") if k not in rule]
    if missing:
        return _hint(f"the rule needs {', '.join(missing)} too (each a list of strings).")
    extra = sorted(set(rule) - {"apiGroups", "resources", "verbs"})
    if extra:
        return _hint(f"a rule that lets this request through has exactly apiGroups, resources and verbs; "
                     f"{', '.join(map(repr, extra))} would narrow it or does not belong in a rule.")
    examples = {"apiGroups": '["batch"]', "resources": '["jobs"]', "verbs": '["list"]'}
    for key in ("apiGroups", "resources", "verbs"):
        if not isinstance(rule[key], list) or not all(isinstance(x, str) for x in rule[key]):
            return _hint(f"rule[{key!r}] is a list of strings, e.g. {examples[key]}; got {rule[key]!r}.")
    if "*" in rule["verbs"] or "*" in rule["resources"] or "*" in rule["apiGroups"]:
        return _hint("a wildcard grants far more than the message asks for: least privilege names exactly "
                     "the verb, the resource and the group.")
    if rule["apiGroups"] != [group]:
        core = ' (the core group is written "")' if group == "" else ""
        return _hint(f"apiGroups: the message says which API group the resource is in{core}.")
    if rule["resources"] != [resource]:
        return _hint("resources: the message quotes the resource in its plural, lower-case form.")
    if rule["verbs"] != [verb]:
        return _hint("verbs: the word after \"cannot\" is the verb that was refused.")
    return _correct(f"a Role with this rule lets the request through: {verb} on {resource} in group "
                    f"\"{group}\", nothing more.")


def check_apply_request(answer: Any, source: Any, kind: str, namespace: str) -> Verdict:
    """Exercise 06 (read an object): the method and path ``apply`` sends for the ``kind`` in ``source``,
    as ``(method, path)`` strings, read from the planned requests."""
    from labkit.real import planned_requests

    plan = [r for r in planned_requests(source, namespace) if f"/{kind.lower()}s/" in r["path"]]
    method, path = plan[0]["method"], plan[0]["path"]
    if answer is ...:
        return _start("look at the planned requests above: each row has a method and a path. Answer with a "
                      "tuple of two strings, (method, path).")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(isinstance(x, str)
                                                                           for x in answer):
        return _hint(f"the answer is two strings, (method, path); got {answer!r}.")
    got_method, got_path = answer[0].strip().upper(), answer[1].strip()
    if got_method != method:
        return _hint(f"{answer[0]!r} is not the method: server-side apply updates or creates an object in a "
                     "single request; read the method in the Service's row of the table.")
    if got_path.split("?")[0] != path:
        return _hint("the path names the API group and version, the namespace, the plural kind and the name, "
                     "in that order; compare yours with the table.")
    return _correct(f"{method} {path}: server-side apply patches the object by its name, and the API server "
                    "creates it when it does not exist yet.")


def check_flapping_fix(behavior: Any, max_scale_downs: int = 1) -> Verdict:
    """Exercise 04: a ``spec.behavior`` with which the oscillating load scales ``web`` down at most once.

    The check runs the chapter's scenario with it (:func:`labkit.widgets.autoscaling.flapping_run`:
    a fresh cluster, the HPA with this ``behavior``, 15 minutes of load alternating between 120 and
    60 requests per second every 90 s) and counts the HPA's scale-downs. Right when there are at most
    ``max_scale_downs``. A behavior the API server refuses gets its message.
    """
    from labkit.errors import ManifestError
    from labkit.widgets.autoscaling import RUN_S, flapping_run

    if behavior is ...:
        return _start("the HPA scales down as soon as a low phase starts because its scale-down "
                      "stabilization window is 0 s. Write a dict for spec.behavior with a scaleDown part "
                      "that makes it wait longer than a low phase lasts.")
    if not isinstance(behavior, dict):
        return _hint(f"expected a dict, the value of the HPA's spec.behavior, got {_type_name(behavior)}.")
    if "behavior" in behavior or "spec" in behavior:
        return _hint("give the value of spec.behavior (what goes under behavior: in YAML), not a larger "
                     "part of the manifest.")
    try:
        timeline = flapping_run(behavior)
    except ManifestError as e:
        return _hint(f"the API server would refuse that behavior: {e}")
    downs = timeline.summary["scale_downs"]
    ups = timeline.summary["scale_ups"]
    if downs > max_scale_downs:
        return _hint(f"with that behavior the HPA still scaled down {downs} times (and up {ups} times) in "
                     f"{RUN_S // 60} minutes. The low phases last 90 s: a scale-down recommendation must "
                     "be the highest of everything recommended over a longer stretch than that.")
    window = ((behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds")
              if isinstance(behavior.get("scaleDown"), dict) else None)
    note = (" Note: without a stabilizationWindowSeconds in scaleDown the controller's own 300 s applies."
            if window is None else "")
    return _correct(f"{downs} scale-down{'s' * (downs != 1)} and {ups} scale-up{'s' * (ups != 1)} in "
                    f"{RUN_S // 60} minutes. The HPA now takes the highest recommendation of the window, so "
                    "a short low phase no longer takes pods away that the next high phase needs "
                    f"again.{note}")


def _say(correct: bool, text: str) -> Verdict:
    print(text)
    return Verdict(correct, text)


def _correct(text: str) -> Verdict:
    return _say(True, f"Correct: {text}")


def _hint(text: str) -> Verdict:
    return _say(False, f"Not yet: {text}")


def _start(text: str) -> Verdict:
    """For the unanswered stub: where to start, without the redundant "no answer yet"."""
    return _say(False, f"Replace the ... above with your answer. Where to start: {text}")
