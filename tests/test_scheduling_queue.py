"""The scheduling queue moves a parked pod back only on events its rejecting plugins register for.

Upstream: each plugin's ``EventsToRegister`` (``pkg/scheduler/framework/plugins/*``) and
``MoveAllToActiveOrBackoffQueue`` in ``pkg/scheduler/backend/queue/scheduling_queue.go``.
"""

from __future__ import annotations

from typing import Any

import labkit


def node(name: str, cpu: str = "2", labels: dict[str, str] | None = None) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": "4Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "status": {"capacity": alloc, "allocatable": dict(alloc)}}


def pod(name: str, cpu: str = "100m", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": cpu}}}], **spec}}


def attempts(c: labkit.Cluster, name: str) -> int:
    return sum(1 for e in c.event_log() if e["reason"] == "FailedScheduling" and e["object"] == f"Pod/{name}")


def test_deleting_a_pod_retries_a_pod_that_did_not_fit_but_not_one_with_a_node_selector_mismatch() -> None:
    c = labkit.Cluster(seed=0)
    c.apply([node("n1", cpu="1"), pod("filler", cpu="900m")])
    c.run()
    c.apply([pod("big", cpu="500m"), pod("picky", nodeSelector={"disk": "ssd"})])
    c.run()
    assert attempts(c, "big") == 1 and attempts(c, "picky") == 1
    c.delete("Pod", "filler")
    c.run()
    # NodeResourcesFit registers for assigned-pod deletions; NodeAffinity only for node events.
    assert c.get("Pod", "big")["spec"]["nodeName"] == "n1"
    assert attempts(c, "picky") == 1


def test_a_node_event_retries_every_parked_pod() -> None:
    c = labkit.Cluster(seed=0)
    c.apply([node("n1", cpu="1"), pod("picky", nodeSelector={"disk": "ssd"})])
    c.run()
    c.apply(node("n2", labels={"disk": "ssd"}))
    c.run()
    assert c.get("Pod", "picky")["spec"]["nodeName"] == "n2"


def test_a_pod_waiting_for_its_affinity_partner_is_retried_when_the_partner_is_bound() -> None:
    """InterPodAffinity registers for assigned-pod additions: the web pod follows the db pod."""
    c = labkit.Cluster(seed=0)
    c.apply([node("n1"), node("n2")])
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    c.apply(pod("web", affinity=affinity))
    c.run()
    assert attempts(c, "web") == 1 and not c.get("Pod", "web")["spec"].get("nodeName")
    c.apply(pod("db", labels={"app": "db"}))
    c.run()
    assert c.get("Pod", "web")["spec"]["nodeName"] == c.get("Pod", "db")["spec"]["nodeName"]


def test_disabling_default_preemption_drops_the_preemption_part_of_the_message() -> None:
    cfg = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
           "profiles": [{"schedulerName": "default-scheduler",
                         "plugins": {"multiPoint": {"disabled": [{"name": "DefaultPreemption"}]}}}]}
    c = labkit.Cluster(seed=0, scheduler_config=cfg)
    c.apply([node("n1", cpu="1"), pod("big", cpu="2")])
    c.run()
    assert c.explain("big").message == ("0/1 nodes are available: 1 Insufficient cpu. "
                                        "no new claims to deallocate")

