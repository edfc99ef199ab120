"""kubectl's calls over Deployments: scale, rollout status/history/undo/restart, patch, in
kubectl's own words (``staging/src/k8s.io/kubectl/pkg/polymorphichelpers``)."""

from __future__ import annotations

import pytest
from rollout_support import (
    ScriptedKubelet,
    deployment,
    hollow,
    is_ready,
    make_ready,
    pods,
    ready_all,
    rolling,
)

import labkit
from labkit.api.store import timestamp

NEW_IMAGE = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}


def image(tag: str, cause: str | None = None) -> dict:
    containers = [{"name": "main", "image": f"nginx:{tag}"}]
    patch: dict = {"spec": {"template": {"spec": {"containers": containers}}}}
    if cause:
        patch["metadata"] = {"annotations": {"kubernetes.io/change-cause": cause}}
    return patch


def ready_new(c: labkit.Cluster, count: int = 1) -> None:
    """Make ``count`` not-ready live pods Ready, then let the controllers react."""
    waiting = [p for p in pods(c) if not p["metadata"].get("deletionTimestamp") and not is_ready(p)]
    for p in waiting[:count]:
        make_ready(c, p["metadata"]["name"])
    c.run()


def test_rollout_status_wording_for_each_state_of_a_rolling_update():
    c = hollow()
    c.apply(deployment(replicas=3, strategy=rolling(1, 0)))
    def status() -> str:
        return c.rollout_status("Deployment", "web")

    waiting = 'Waiting for deployment "web" rollout to finish: '
    assert status() == "Waiting for deployment spec update to be observed..."
    c.run()
    assert status() == f"{waiting}0 of 3 updated replicas are available..."
    ready_all(c)
    c.run()
    assert status() == 'deployment "web" successfully rolled out'
    c.patch("Deployment", "web", NEW_IMAGE)
    assert status() == "Waiting for deployment spec update to be observed..."
    c.run()
    assert status() == f"{waiting}1 out of 3 new replicas have been updated..."
    ready_new(c)
    assert status() == f"{waiting}2 out of 3 new replicas have been updated..."
    ready_new(c)
    assert status() == f"{waiting}1 old replicas are pending termination..."
    ready_new(c)
    assert status() == 'deployment "web" successfully rolled out'


def test_rollout_status_reports_an_exceeded_progress_deadline_as_kubectl_errors():
    c = hollow()
    c.apply(deployment(replicas=1, progressDeadlineSeconds=20))
    c.run(until=60)
    assert c.rollout_status("Deployment", "web") == 'deployment "web" exceeded its progress deadline'


def test_rollout_status_only_knows_deployments():
    c = hollow()
    with pytest.raises(ValueError, match="no status viewer has been implemented for ReplicaSet"):
        c.rollout_status("ReplicaSet", "web")


def test_rollout_history_lists_revisions_with_change_causes_oldest_first():
    c = hollow()
    ScriptedKubelet(c)
    dep = deployment(replicas=1)
    dep["metadata"]["annotations"] = {"kubernetes.io/change-cause": "kubectl create deployment web"}
    c.apply(dep)
    c.run()
    c.patch("Deployment", "web", image("1.28", "kubectl set image deployment/web main=nginx:1.28"))
    c.run()
    c.patch("Deployment", "web", {"metadata": {"annotations": {"kubernetes.io/change-cause": None}},
                                  **image("1.29")})
    c.run()
    names = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["name"]
             for rs in c.list("ReplicaSet")}
    assert c.rollout_history("Deployment", "web") == [
        {"revision": 1, "change_cause": "kubectl create deployment web", "replicaset": names["nginx:1.27"]},
        {"revision": 2, "change_cause": "kubectl set image deployment/web main=nginx:1.28",
         "replicaset": names["nginx:1.28"]},
        {"revision": 3, "change_cause": None, "replicaset": names["nginx:1.29"]},
    ]


def test_rollout_undo_reuses_the_old_replica_set_and_moves_its_revision():
    c = hollow()
    ScriptedKubelet(c)
    c.apply(deployment(replicas=2))
    c.run()
    (first,) = c.list("ReplicaSet")
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    assert c.rollout_undo("Deployment", "web") == "deployment.apps/web rolled back"
    c.run()
    assert len(c.list("ReplicaSet")) == 2
    back = c.get("ReplicaSet", first["metadata"]["name"])
    assert back["spec"]["replicas"] == 2
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    d = c.get("Deployment", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert [h["revision"] for h in c.rollout_history("Deployment", "web")] == [2, 3]
    assert c.rollout_status("Deployment", "web") == 'deployment "web" successfully rolled out'


def test_rollout_undo_to_a_revision_and_its_errors_in_kubectls_words():
    c = hollow()
    ScriptedKubelet(c)
    c.apply(deployment(replicas=1))
    c.run()
    with pytest.raises(ValueError, match='^no rollout history found for deployment "web"$'):
        c.rollout_undo("Deployment", "web")
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    with pytest.raises(ValueError, match="^unable to find specified revision 7 in history$"):
        c.rollout_undo("Deployment", "web", to_revision=7)
    assert c.rollout_undo("Deployment", "web", to_revision=2) == \
        "deployment.apps/web skipped rollback (current template already matches revision 2)"
    assert c.rollout_undo("Deployment", "web", to_revision=1) == "deployment.apps/web rolled back"
    c.run()
    assert pods(c)[0]["spec"]["containers"][0]["image"] == "nginx:1.27"
    c.patch("Deployment", "web", {"spec": {"paused": True}})
    with pytest.raises(ValueError, match="you cannot rollback a paused deployment"):
        c.rollout_undo("Deployment", "web", to_revision=2)


def test_rollout_restart_stamps_the_template_with_the_simulated_time_and_rolls_every_pod():
    c = hollow()
    ScriptedKubelet(c)
    c.apply(deployment(replicas=2))
    c.run(until=100)
    before = {p["metadata"]["name"] for p in pods(c)}
    assert c.rollout_restart("Deployment", "web") == "deployment.apps/web restarted"
    annotations = c.get("Deployment", "web")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": timestamp(100)} == {
        "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:01:40Z"}
    c.run()
    assert not before & {p["metadata"]["name"] for p in pods(c)} and len(pods(c)) == 2
    c.patch("Deployment", "web", {"spec": {"paused": True}})
    with pytest.raises(ValueError, match=r"^can't restart paused deployment \(run rollout resume first\)$"):
        c.rollout_restart("Deployment", "web")


def test_scale_writes_spec_replicas_of_deployments_and_replica_sets():
    c = hollow()
    c.apply(deployment(replicas=2))
    c.run()
    assert c.scale("Deployment", "web", 4)["spec"]["replicas"] == 4
    c.run()
    assert len(pods(c)) == 4
    (rs,) = c.list("ReplicaSet")
    c.scale("ReplicaSet", rs["metadata"]["name"], 1)
    c.run()  # the Deployment owns its ReplicaSet's size: it puts it back to 4
    assert c.get("ReplicaSet", rs["metadata"]["name"])["spec"]["replicas"] == 4
    with pytest.raises(ValueError, match="COUNT must be greater than or equal to 0"):
        c.scale("Deployment", "web", -1)
    with pytest.raises(ValueError):
        c.scale("Pod", "web", 1)


def test_patching_the_image_triggers_a_rollout():
    c = hollow()
    ScriptedKubelet(c)
    c.apply(deployment(replicas=2))
    c.run()
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    events = [e["message"] for e in c.event_log() if e["reason"] == "ScalingReplicaSet"]
    assert len(events) > 2 and all(p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in pods(c))
