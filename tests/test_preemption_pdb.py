"""DefaultPreemption respects PodDisruptionBudgets end to end: the disruption controller's status
feeds ``pickOneNodeForPreemption``, which prefers the node whose victims violate fewer PDBs, even
against the fewer-victims rule, and ``SelectVictimsOnNode`` reprieves PDB-protected pods first."""

from __future__ import annotations

import pytest

import labkit
from tests.test_failed_scheduling_message import HIGH, node_yaml

PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guard
spec:
  minAvailable: {minimum}
  selector:
    matchLabels:
      app: guarded
"""


def pod(name: str, cpu: str, node: str, labels: str = "app: plain", spec: str = "") -> dict:
    import yaml

    return yaml.safe_load(f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    {labels}
spec:
  nodeName: {node}{spec}
  containers:
  - name: app
    image: nginx:1.27
    resources:
      requests:
        cpu: "{cpu}"
""")


def scenario(minimum: int | None) -> tuple[labkit.Cluster, int | None]:
    """node-a holds one guarded pod (1 CPU), node-b two plain ones (500m each); a 1-CPU pod of
    priority 1000 must evict one node's pods."""
    c = labkit.Cluster(seed=0)
    c.apply(HIGH + node_yaml("node-a", cpu="1") + "---\n" + node_yaml("node-b", cpu="1"))
    c.apply(
        [pod("a", "1", "node-a", "app: guarded"), pod("b1", "500m", "node-b"), pod("b2", "500m", "node-b")]
    )
    if minimum is not None:
        c.apply(PDB.format(minimum=minimum))
    c.run(until=30)
    allowed = (
        c.get("PodDisruptionBudget", "guard")["status"]["disruptionsAllowed"] if minimum is not None else None
    )
    incoming = pod("web", "1", "x")
    del incoming["spec"]["nodeName"]
    incoming["spec"]["priorityClassName"] = "high"
    c.apply(incoming)
    c.run(until=c.now + 120)
    return c, allowed


def preempted(c: labkit.Cluster) -> list[str]:
    return sorted(e["involvedObject"]["name"] for e in c.events() if e["reason"] == "Preempted")


def test_without_a_pdb_the_node_with_fewer_victims_is_picked():
    c, _ = scenario(None)
    assert preempted(c) == ["a"] and c.get("Pod", "web")["spec"]["nodeName"] == "node-a"


def test_a_pdb_that_allows_no_disruption_sends_the_preemption_to_the_other_node():
    c, allowed = scenario(1)
    assert allowed == 0
    assert preempted(c) == ["b1", "b2"] and c.get("Pod", "web")["spec"]["nodeName"] == "node-b"
    assert c.get("Pod", "a")["spec"]["nodeName"] == "node-a"


def test_a_pdb_that_allows_the_disruption_changes_nothing():
    c, allowed = scenario(0)
    assert allowed == 1
    assert preempted(c) == ["a"]


@pytest.mark.parametrize(("guarded_first", "victims"), [(True, ["p2"]), (False, ["p1"])])
def test_on_one_node_the_guarded_pod_is_reprieved_first(guarded_first, victims):
    """Two equal pods of 500m on a 1-CPU node; the incoming 500m pod needs one to go. The one a PDB
    protects is reprieved first, whichever is older."""
    c = labkit.Cluster(seed=0)
    c.apply(HIGH + node_yaml("node-a", cpu="1"))
    first, second = ("p1", "p2")
    guarded = first if guarded_first else second
    c.apply(
        [pod(n, "500m", "node-a", "app: guarded" if n == guarded else "app: plain") for n in (first, second)]
    )
    c.apply(PDB.format(minimum=1))
    c.run(until=30)
    incoming = pod("web", "500m", "x")
    del incoming["spec"]["nodeName"]
    incoming["spec"]["priorityClassName"] = "high"
    c.apply(incoming)
    c.run(until=c.now + 120)
    assert preempted(c) == victims
