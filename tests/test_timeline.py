"""labkit.timeline: the control-plane timeline as flat records, in the store's revision order."""

from __future__ import annotations

import gc
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st
from support import POD, ZONES, chapter00_cluster

import labkit
from labkit import timeline as tl


def test_first_step_is_the_pod_stored_pending_without_a_node():
    first = tl.steps(chapter00_cluster(), "Pod/my-nginx")[0]
    assert (first.component, first.reason, first.time) == ("kube-apiserver", "ADDED", 0.0)
    assert first.pod.phase == "Pending" and first.pod.node_name is None and first.pod.conditions == ()


def test_scheduled_event_sees_the_pod_already_bound():
    """The binding write comes before the Scheduled event, so the event's pod state has the node."""
    c = chapter00_cluster()
    timeline = tl.steps(c, "my-nginx")
    scheduled = next(s for s in timeline if s.reason == "Scheduled")
    assert scheduled.component == "kube-scheduler" and scheduled.source == "default-scheduler"
    assert scheduled.pod.node_name == c.get("Pod", "my-nginx")["spec"]["nodeName"]
    assert ("PodScheduled", "True") in scheduled.pod.conditions
    before = timeline[timeline.index(scheduled) - 1]
    assert before.reason == "MODIFIED" and "spec.nodeName=" in before.message


def test_kubelet_events_come_in_lifecycle_order_and_the_pod_ends_running_and_ready():
    timeline = tl.steps(chapter00_cluster(), "Pod/my-nginx")
    kubelet = [s.reason for s in timeline if s.component == "kubelet"]
    assert kubelet == ["Pulling", "Pulled", "Created", "Started"]
    last = timeline[-1].pod
    assert last.phase == "Running" and last.ready and last.containers == (("nginx", "running"),)


def test_steps_are_in_strictly_increasing_resource_version_and_time_order():
    timeline = tl.steps(chapter00_cluster())
    rvs = [int(s.resource_version) for s in timeline]
    assert rvs == sorted(set(rvs))
    assert [s.time for s in timeline] == sorted(s.time for s in timeline)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_write_step_carries_the_pod_state_it_wrote(seed):
    for s in tl.steps(chapter00_cluster(seed)):
        if s.component == tl.APISERVER and s.reason != "DELETED":
            assert s.pod is not None and s.pod.resource_version == s.resource_version


def test_same_seed_gives_the_same_timeline():
    assert tl.steps(chapter00_cluster(3)) == tl.steps(chapter00_cluster(3))


def test_record_is_idempotent():
    c = labkit.Cluster(seed=0)
    assert tl.record(c) is tl.record(c)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1, zones=ZONES)
    c.apply(POD)
    c.run()
    adds = [s for s in tl.steps(c) if s.reason == "ADDED"]
    assert len(adds) == 1, "a second record() must not watch twice"


def test_without_recording_only_events_are_listed_and_pod_state_is_unknown():
    timeline = tl.steps(chapter00_cluster(recorded=False))
    pod_events = ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    assert [s.reason for s in timeline] == ["RegisteredNode"] * 3 + pod_events  # the nodes, then the pod
    assert all(s.pod is None and s.resource_version == "" for s in timeline)


def test_involved_filter_matches_name_or_kind_slash_name():
    c = chapter00_cluster()
    assert tl.steps(c, "my-nginx") == tl.steps(c, "Pod/my-nginx") != []
    assert tl.steps(c, "Pod/other") == []


def test_label_update_and_delete_are_recorded():
    c = chapter00_cluster()
    labelled = {"name": "my-nginx", "labels": {"app": "my-nginx"}}
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": labelled,
             "spec": {"containers": [{"name": "nginx", "image": "my-nginx"}]}})
    relabel = tl.steps(c)[-1]
    assert relabel.message == "metadata.labels=app=my-nginx" and relabel.pod.labels == (("app", "my-nginx"),)
    c.delete("Pod", "my-nginx")
    c.run()
    reasons = [s.reason for s in tl.steps(c, "Pod/my-nginx")]
    assert reasons[-1] == "DELETED" and "Killing" in reasons


def test_to_frame_has_one_row_per_step_with_kubernetes_field_names():
    timeline = tl.steps(chapter00_cluster(), "Pod/my-nginx")
    df = tl.to_frame(timeline)
    assert list(df.columns) == tl.FRAME_COLUMNS
    assert len(df) == len(timeline)
    assert df["phase"].iloc[-1] == "Running" and bool(df["ready"].iloc[-1])


def test_recorder_does_not_keep_its_cluster_alive():
    c = chapter00_cluster()
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None


def test_replicaset_writes_are_steps_with_the_sizes_they_changed():
    import labkit
    from labkit import timeline as tl

    c = labkit.Cluster(seed=0, kubelets=False)
    tl.record(c)
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
          "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    c.apply(rs)
    c.patch("ReplicaSet", "web", {"spec": {"replicas": 0}, "metadata": {"labels": {"tier": "web"}}})
    writes = [s for s in tl.steps(c, "ReplicaSet/web") if s.component == tl.APISERVER]
    assert writes[0].reason == "ADDED" and writes[0].message == "created (spec.replicas=0)"
    assert writes[0].replicasets[0].name == "web" and writes[0].replicasets[0].desired == 0
