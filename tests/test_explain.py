"""Cluster.explain: the recorded decision, the what-if, and the all-nodes teaching view."""

from __future__ import annotations

import labkit


def test_all_nodes_view_of_a_bound_pod_evaluates_it_unbound() -> None:
    """explain(name, all_nodes=True) scores where the pod could go, not only where it went."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 3)
    c.apply("data/manifests/my-nginx-pod.yaml")
    c.run()
    frame = c.explain("my-nginx", all_nodes=True).frame()
    assert (frame["filter"] == "").all()
    assert frame["total"].notna().all()
    assert c.get("Pod", "my-nginx")["spec"]["nodeName"] in frame.index
