"""The FailedScheduling message, end to end through ``labkit.Cluster`` with real YAML.

kube-scheduler writes one message per failed attempt (``FitError.Error()`` in
``pkg/scheduler/framework/types.go`` plus the PostFilter plugins' messages) into a Warning
event with reason ``FailedScheduling`` and into the pod's ``PodScheduled=False`` condition
(reason ``Unschedulable``). Its shape is section 8 of the semantics spec; the strings below are
the ones a real v1.36 scheduler writes for the same cluster.
"""

from __future__ import annotations

from typing import Any

import pytest

import labkit

DRA = "no new claims to deallocate"


def node_yaml(name: str, cpu: str = "2", memory: str = "4Gi", pods: int = 110, *, labels: str = "",
              taints: str = "", unschedulable: bool = False, extra: str = "") -> str:
    """A v1 Node manifest as a kubelet registers it (allocatable = capacity here)."""
    resources = f"cpu: \"{cpu}\"\n    memory: {memory}\n    pods: \"{pods}\"{extra}"
    return f"""\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    kubernetes.io/hostname: {name}{labels}
spec:
  unschedulable: {str(unschedulable).lower()}{taints}
status:
  capacity:
    {resources}
  allocatable:
    {resources}
---
"""


TAINT = """
  taints:
  - key: dedicated
    value: gpu
    effect: NoSchedule"""


def pod_yaml(name: str, cpu: str | None = None, memory: str | None = None, *, node: str | None = None,
             spec: str = "", requests: str = "", limits: str = "", ports: str = "") -> str:
    req = "".join(f"\n        {k}: {v}" for k, v in (("cpu", cpu and f'"{cpu}"'), ("memory", memory)) if v)
    req += requests
    resources = f"\n    resources:\n      requests:{req}" if req else ""
    resources += f"\n      limits:{limits}" if limits else ""
    node_name = f"\n  nodeName: {node}" if node else ""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:{node_name}{spec}
  containers:
  - name: app
    image: nginx:1.27{resources}{ports}
---
"""


HIGH = """\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high
value: 1000
---
"""


def failure(c: labkit.Cluster, pod: str) -> str:
    """The pod's FailedScheduling message, after checking event and condition agree on it."""
    events = [e for e in c.events(involved=pod) if e["reason"] == "FailedScheduling"]
    assert events, f"{pod} has no FailedScheduling event"
    event = events[-1]
    assert event["type"] == "Warning"
    assert event["involvedObject"]["kind"] == "Pod"
    obj = c.get("Pod", pod)
    cond = next(x for x in obj["status"]["conditions"] if x["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"] == event["message"]
    assert not obj["spec"].get("nodeName")
    return event["message"]


def run(*docs: str) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    for doc in docs:
        c.apply(doc)
        c.run()
    return c


def three_full_nodes(**node_kw: Any) -> str:
    """Three 2-CPU nodes, each already running a 1500m pod of priority 0."""
    return "".join(node_yaml(f"node-{k}", **node_kw) for k in range(3)) + "".join(
        pod_yaml(f"filler-{k}", "1500m", node=f"node-{k}") for k in range(3))


def test_insufficient_cpu_on_every_node_and_no_victims() -> None:
    """Too little free cpu is Unschedulable (preemption could help), but equal priority is no victim."""
    c = run(three_full_nodes(), pod_yaml("web", "1"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")


def test_untolerated_taints_make_preemption_unhelpful() -> None:
    """TaintToleration rejects as UnschedulableAndUnresolvable: no node is tried for preemption."""
    c = run("".join(node_yaml(f"node-{k}", taints=TAINT) for k in range(3)), pod_yaml("web", "100m"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 node(s) had untolerated taint(s). no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_reason_counts_sort_as_text_so_10_comes_before_2_and_8() -> None:
    """12 nodes: 2 tainted; 10 short of cpu, 8 of those also short of memory. A node that fails two
    resources counts once for each; the ``"<count> <reason>"`` strings are sorted byte-wise."""
    nodes = "".join(node_yaml(f"node-{k:02d}", taints=TAINT if k >= 10 else "") for k in range(12))
    fillers = "".join(pod_yaml(f"filler-{k:02d}", "1500m", "3Gi" if k < 8 else None, node=f"node-{k:02d}")
                      for k in range(10))
    c = run(nodes + fillers, pod_yaml("web", "1", "2Gi"))
    assert failure(c, "web") == (
        "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint(s), "
        "8 Insufficient memory. no new claims to deallocate, preemption: 0/12 nodes are available: "
        "10 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")


def test_a_tainted_node_that_is_also_too_small_reports_only_the_taint() -> None:
    """Filters stop at the first plugin that rejects a node (TaintToleration runs before NodeResourcesFit)."""
    c = run(node_yaml("small-tainted", cpu="1", taints=TAINT) + node_yaml("small", cpu="1"),
            pod_yaml("web", "1500m"))
    assert failure(c, "web") == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). "
        "no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful "
        "for scheduling.")


def test_too_many_pods_is_never_unresolvable() -> None:
    """``Too many pods`` holds even for a pod without requests, and leaves preemption a chance."""
    nodes = "".join(node_yaml(f"node-{k}", pods=1) for k in range(3))
    c = run(nodes + "".join(pod_yaml(f"filler-{k}", node=f"node-{k}") for k in range(3)), pod_yaml("web"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 Too many pods. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")


def test_node_selector_mismatch() -> None:
    c = run("".join(node_yaml(f"node-{k}") for k in range(3)),
            pod_yaml("web", spec="\n  nodeSelector:\n    disktype: ssd"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful "
        "for scheduling.")


def test_required_node_affinity_mismatch_next_to_a_cordoned_node() -> None:
    """NodeUnschedulable runs before NodeAffinity, so the cordoned node reports only the cordon."""
    nodes = node_yaml("node-0", labels="\n    zone: a", unschedulable=True) + "".join(
        node_yaml(f"node-{k}", labels="\n    zone: b") for k in (1, 2))
    affinity = """
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: zone
            operator: In
            values: [a]"""
    c = run(nodes, pod_yaml("web", spec=affinity))
    assert failure(c, "web") == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node "
        "affinity/selector. no new claims to deallocate, preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")


def test_cordoned_nodes() -> None:
    c = run("".join(node_yaml(f"node-{k}", unschedulable=True) for k in range(3)), pod_yaml("web"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 node(s) were unschedulable. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_conflicting_node_name_fields_fail_in_prefilter() -> None:
    """NodeAffinity's PreFilter rejects terms whose metadata.name sets do not intersect; its message
    replaces the per-node list, and every node then carries that (unresolvable) status."""
    affinity = """
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields:
          - {key: metadata.name, operator: In, values: [node-0]}
          - {key: metadata.name, operator: In, values: [node-1]}"""
    c = run("".join(node_yaml(f"node-{k}") for k in range(3)), pod_yaml("web", spec=affinity))
    assert failure(c, "web") == (
        "0/3 nodes are available: pod affinity terms conflict. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_host_port_conflict() -> None:
    ports = "\n    ports:\n    - containerPort: 80\n      hostPort: 8080"
    nodes = "".join(node_yaml(f"node-{k}") for k in range(3))
    c = run(nodes + "".join(pod_yaml(f"proxy-{k}", node=f"node-{k}", ports=ports) for k in range(3)),
            pod_yaml("web", ports=ports))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports. "
        "no new claims to deallocate, preemption: 0/3 nodes are available: 3 No preemption victims found "
        "for incoming pod.")


def test_memory_request_above_allocatable_is_unresolvable() -> None:
    c = run("".join(node_yaml(f"node-{k}") for k in range(3)), pod_yaml("web", memory="8Gi"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 Insufficient memory. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_extended_resource_the_nodes_lack() -> None:
    c = run("".join(node_yaml(f"node-{k}") for k in range(3)),
            pod_yaml("trainer", requests="\n        example.com/gpu: 1",
                     limits="\n        example.com/gpu: 1"))
    assert failure(c, "trainer") == (
        "0/3 nodes are available: 3 Insufficient example.com/gpu. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_evicting_every_lower_priority_pod_is_not_enough() -> None:
    """The dry run removes the priority-0 pod; the pod still does not fit, so the node reports the
    filter's reasons without it. Equal priority (the other pod on the node) is not lower."""
    spec = "\n  priorityClassName: high"
    nodes = node_yaml("node-0") + "".join(node_yaml(f"node-{k}", taints=TAINT) for k in (1, 2))
    c = run(HIGH + nodes + pod_yaml("low", "500m", node="node-0")
            + pod_yaml("peer", "1400m", node="node-0", spec=spec),
            pod_yaml("web", "1", spec=spec))
    assert failure(c, "web") == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). "
        "no new claims to deallocate, preemption: 0/3 nodes are available: 1 Insufficient cpu, "
        "2 Preemption is not helpful for scheduling.")
    assert {p["metadata"]["name"] for p in c.list("Pod")} == {"low", "peer", "web"}


def test_preemption_policy_never() -> None:
    never = HIGH.replace("name: high", "name: high-never").replace("value: 1000", "value: 1000\n"
                                                                   "preemptionPolicy: Never")
    c = run(never + three_full_nodes(), pod_yaml("web", "1", spec="\n  priorityClassName: high-never"))
    assert failure(c, "web") == (
        "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, "
        "preemption: not eligible due to preemptionPolicy=Never.")
    assert len(c.list("Pod")) == 4


def test_successful_preemption_nominates_evicts_and_then_binds() -> None:
    """DefaultPreemption succeeds: the FitError carries no PostFilter part, the victim gets a Preempted
    event and is deleted, the preemptor is nominated to the node and then scheduled there."""
    c = labkit.Cluster(seed=0)
    c.apply(HIGH + node_yaml("node-0") + pod_yaml("low", "1500m"))
    c.run()
    c.apply(pod_yaml("web", "1", spec="\n  priorityClassName: high"))
    nominated: list[str] = []

    def watch(ev: Any) -> None:
        if ev.object["metadata"]["name"] == "web" and ev.object["status"].get("nominatedNodeName"):
            nominated.append(ev.object["status"]["nominatedNodeName"])

    c.store.watch("Pod", watch)
    c.run()
    web = c.get("Pod", "web")
    first = next(e for e in c.events(involved="web") if e["reason"] == "FailedScheduling")
    assert first["message"] == "0/1 nodes are available: 1 Insufficient cpu."
    preempted = [e for e in c.events(involved="low") if e["reason"] == "Preempted"]
    assert [(e["type"], e["message"]) for e in preempted] == [
        ("Normal", f"Preempted by pod {web['metadata']['uid']} on node node-0")]
    with pytest.raises(KeyError):
        c.get("Pod", "low")
    assert nominated and set(nominated) == {"node-0"}
    assert web["spec"]["nodeName"] == "node-0"
    assert "nominatedNodeName" not in web["status"]
    scheduled = next(e for e in c.events(involved="web") if e["reason"] == "Scheduled")
    assert scheduled["message"] == "Successfully assigned default/web to node-0"


def test_no_nodes_at_all() -> None:
    """An empty snapshot is ``ErrNoNodesAvailable``, not a FitError: no PostFilter part."""
    c = run(pod_yaml("web"))
    assert failure(c, "web") == "no nodes available to schedule pods"
