"""Checks for the notebooks' exercises: a friendly verdict, a hint when wrong, never the answer.

Each ``check_<id>(answer, ...)`` prints one short paragraph and returns whether the answer is
right, so a notebook cell can both teach and be tested. The unanswered stub ``...`` (Python's
``Ellipsis``) gets a hint on where to start rather than an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["check_node_of_pod"]


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


def _hint(text: str) -> bool:
    print(f"Not yet: {text}")
    return False
