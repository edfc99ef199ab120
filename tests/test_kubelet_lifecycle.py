"""A pod's life on a node, as the kubelet reports it: phases, conditions, events, deletion.

Upstream: ``pkg/kubelet/kubelet.go`` (SyncPod), ``pkg/kubelet/kuberuntime`` (sandbox, init
containers, then pull → create → start), ``pkg/kubelet/images/image_manager.go`` (the Pulling /
Pulled wordings) and ``pkg/kubelet/status`` (conditions). The article's pod (``my-nginx``,
untagged image) is the main subject.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import labkit
from labkit.api.store import WatchEvent
from labkit.node.kubelet import go_duration

POD_FILE = Path(__file__).resolve().parent.parent / "data" / "manifests" / "my-nginx-pod.yaml"
NODE = "cn-hangzhou.10.0.0.1"  # the first node of the first pool
ARTICLE_IMAGE_BYTES = 56890825  # data/images.csv, my-nginx:latest (nginx:latest plus the index.html layer)
GO_DURATION = r"(?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?s|\d+ms)"


def pod(name: str, image: str = "my-nginx:1.0", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "nginx", "image": image}], **spec}}


def one_node_cluster() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    return c


class History:
    """Every version of the pods the store wrote, with the simulated time of the write."""

    def __init__(self, c: labkit.Cluster) -> None:
        self.c = c
        self.versions: list[tuple[float, str, dict[str, Any]]] = []
        c.store.watch("Pod", self._record)

    def _record(self, ev: WatchEvent) -> None:
        self.versions.append((self.c.now, ev.type, ev.object))

    def of(self, name: str) -> list[tuple[float, str, dict[str, Any]]]:
        return [v for v in self.versions if v[2]["metadata"]["name"] == name]

    def states(self, name: str) -> list[str]:
        """Collapsed sequence of ``phase`` or ``phase/waiting-reason`` (kubectl's STATUS column)."""
        out: list[str] = []
        for _, _, obj in self.of(name):
            st_ = obj.get("status") or {}
            waiting = [cs["state"]["waiting"]["reason"] for cs in st_.get("containerStatuses") or []
                       if "waiting" in cs["state"]]
            state = st_.get("phase", "") + (f"/{waiting[0]}" if waiting else "")
            if not out or out[-1] != state:
                out.append(state)
        return out

    def became_true(self, name: str) -> dict[str, float]:
        """Simulated time at which each condition first had status True."""
        seen: dict[str, float] = {}
        for t, _, obj in self.of(name):
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond["status"] == "True":
                    seen.setdefault(cond["type"], t)
        return seen


def reasons(c: labkit.Cluster, name: str) -> list[str]:
    return [e["reason"] for e in c.events(involved=name)]


# -- the article's pod ------------------------------------------------------------------------------
def test_pod_goes_pending_container_creating_running() -> None:
    """kubectl's STATUS column walks Pending → ContainerCreating → Running."""
    c = one_node_cluster()
    history = History(c)
    c.apply(POD_FILE)
    c.run()
    assert history.states("my-nginx") == ["Pending", "Pending/ContainerCreating", "Running"]
    final = c.get("Pod", "my-nginx")
    assert final["spec"]["nodeName"] == NODE
    status = final["status"]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("172.20.") and status["hostIP"] == "10.0.0.1"
    cs = status["containerStatuses"][0]
    assert (cs["ready"], cs["started"], cs["restartCount"]) == (True, True, 0)
    assert set(cs["state"]) == {"running"}
    assert cs["imageID"].startswith("docker.io/library/my-nginx@sha256:")


def test_pod_is_pending_until_the_scheduler_binds_it() -> None:
    """Right after apply nothing has run: Pending, no node, no conditions yet."""
    c = one_node_cluster()
    c.apply(POD_FILE)
    p = c.get("Pod", "my-nginx")
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "nodeName" not in p["spec"]


def test_events_follow_the_upstream_wording_and_order() -> None:
    """Scheduled, Pulling, Pulled, Created, Started — with the messages a v1.36 kubectl describe shows."""
    c = one_node_cluster()
    c.apply(POD_FILE)
    c.run()
    events = c.events(involved="my-nginx")
    assert [e["reason"] for e in events] == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    scheduled, pulling, pulled, created, started = (e["message"] for e in events)
    assert scheduled == f"Successfully assigned default/my-nginx to {NODE}"
    assert pulling == 'Pulling image "my-nginx"'
    assert re.fullmatch(rf'Successfully pulled image "my-nginx" in {GO_DURATION} \({GO_DURATION} including '
                        rf"waiting\)\. Image size: {ARTICLE_IMAGE_BYTES} bytes\.", pulled), pulled
    assert created == "Container created"  # v1.36 kuberuntime_container.go (older: "Created container: <c>")
    assert started == "Container started"
    assert [e["source"]["component"] for e in events] == ["default-scheduler"] + ["kubelet"] * 4
    assert all(e["source"]["host"] == NODE for e in events[1:])
    assert all(e["involvedObject"]["fieldPath"] == "spec.containers{nginx}" for e in events[1:])
    assert "fieldPath" not in events[0]["involvedObject"]
    times = [e["firstTime"] for e in events]
    assert times == sorted(times) and times[0] > 0


def test_pull_duration_in_the_message_is_the_simulated_pull_time() -> None:
    """The "in <d>" of Pulled is the time between the Pulling and Pulled events, truncated to ms."""
    c = one_node_cluster()
    c.apply(POD_FILE)
    c.run()
    pulling, pulled = (e for e in c.events(involved="my-nginx") if e["reason"] in ("Pulling", "Pulled"))
    took = re.search(rf"in ({GO_DURATION}) \(", pulled["message"]).group(1)
    assert took == go_duration(pulled["firstTime"] - pulling["firstTime"])


def test_conditions_become_true_in_kubelet_order() -> None:
    """Without init containers the pod is Initialized at its first status, before the sandbox is ready
    (GeneratePodInitializedCondition); ContainersReady and Ready come last, together."""
    c = one_node_cluster()
    history = History(c)
    c.apply(POD_FILE)
    c.run()
    t = history.became_true("my-nginx")
    assert t["PodScheduled"] <= t["Initialized"] <= t["PodReadyToStartContainers"] \
        <= t["ContainersReady"] <= t["Ready"]
    conditions = c.get("Pod", "my-nginx")["status"]["conditions"]
    assert [x["type"] for x in conditions] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                               "ContainersReady", "PodScheduled"]
    assert all(x["status"] == "True" and "reason" not in x for x in conditions)


def test_condition_transition_times_are_ordered_with_init_containers() -> None:
    """PodScheduled ≤ PodReadyToStartContainers ≤ Initialized ≤ ContainersReady ≤ Ready, both in
    simulated time and in the lastTransitionTime stamps (RFC 3339 strings sort as times)."""
    c = one_node_cluster()
    history = History(c)
    c.apply(pod("web", initContainers=[{"name": "init", "image": "busybox:latest"}]))
    c.run()
    order = ["PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"]
    t = history.became_true("web")
    assert [t[k] for k in order] == sorted(t[k] for k in order)
    assert t["PodReadyToStartContainers"] < t["Initialized"] < t["ContainersReady"]
    stamps = {x["type"]: x["lastTransitionTime"] for x in c.get("Pod", "web")["status"]["conditions"]}
    assert [stamps[k] for k in order] == sorted(stamps[k] for k in order)


def test_init_containers_run_before_containers() -> None:
    """Every init container is started (and completed) before the first app container is pulled."""
    c = one_node_cluster()
    history = History(c)
    c.apply(pod("web", initContainers=[{"name": "init-a", "image": "busybox:latest"},
                                       {"name": "init-b", "image": "busybox:latest"}]))
    c.run()
    events = [(e["reason"], e["involvedObject"].get("fieldPath", "")) for e in c.events(involved="web")]
    started = [path for reason, path in events if reason == "Started"]
    assert started == ["spec.initContainers{init-a}", "spec.initContainers{init-b}", "spec.containers{nginx}"]
    first_app = next(i for i, (_, path) in enumerate(events) if path == "spec.containers{nginx}")
    assert all("initContainers" in path for _, path in events[1:first_app])
    assert "Pending/PodInitializing" in history.states("web")
    status = c.get("Pod", "web")["status"]
    assert [s["state"]["terminated"]["reason"] for s in status["initContainerStatuses"]] == ["Completed"] * 2
    assert status["phase"] == "Running"


# -- image cache ---------------------------------------------------------------------------------------
def test_second_pod_with_a_tagged_image_finds_it_on_the_node() -> None:
    """IfNotPresent (a tagged image) and the image already pulled: no pull, the upstream message."""
    c = one_node_cluster()
    c.apply(pod("first"))
    c.run()
    c.apply(pod("second"))
    c.run()
    assert reasons(c, "second") == ["Scheduled", "Pulled", "Created", "Started"]
    pulled = next(e for e in c.events(involved="second") if e["reason"] == "Pulled")
    assert pulled["message"] == ('Container image "my-nginx:1.0" already present on machine and can be '
                                 "accessed by the pod")
    images = c.get("Node", NODE)["status"].get("images") or []
    assert any("my-nginx:1.0" in name for img in images for name in img["names"])


def test_second_pod_with_an_untagged_image_pulls_again() -> None:
    """Untagged means :latest, which defaults to Always: the kubelet asks the registry every time
    (a cheap manifest check when the layers are on the node)."""
    c = one_node_cluster()
    c.apply(POD_FILE)
    c.run()
    second = pod("second", image="my-nginx")
    c.apply(second)
    c.run()
    assert reasons(c, "second") == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    first_pull, second_pull = (re.search(rf"in ({GO_DURATION}) ", e["message"]).group(1)
                               for e in c.events() if e["reason"] == "Pulled")
    assert second_pull.endswith("ms"), "only the registry round trip is paid again"
    assert not first_pull.endswith("ms")


def test_never_pull_policy_without_the_image_fails() -> None:
    c = one_node_cluster()
    p = pod("web")
    p["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    c.apply(p)
    c.run()
    failed = c.events(involved="web")[-1]
    assert (failed["type"], failed["reason"]) == ("Warning", "ErrImageNeverPull")
    assert failed["message"] == 'Container image "my-nginx:1.0" is not present with pull policy of Never'
    assert c.get("Pod", "web")["status"]["phase"] == "Pending"


# -- deletion and unschedulable pods ------------------------------------------------------------------
def test_deletion_marks_then_kills_then_removes() -> None:
    """A running pod gets a deletionTimestamp (now + grace); its kubelet then stops each container
    (a Killing event) and the pod is gone once they have stopped."""
    c = one_node_cluster()
    c.apply(POD_FILE)
    c.run()
    marked = c.delete("Pod", "my-nginx")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:32Z"  # now (~2.6 s) + 30 s, truncated
    held = c.get("Pod", "my-nginx")["metadata"]
    assert held["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    assert reasons(c, "my-nginx")[-1] == "Started", "the kubelet has not reacted yet"
    c.run(until=c.now + 0.01)
    c.get("Pod", "my-nginx")  # still there while the containers stop
    killing = c.events(involved="my-nginx")[-1]
    assert (killing["reason"], killing["message"]) == ("Killing", "Stopping container nginx")
    assert killing["involvedObject"]["fieldPath"] == "spec.containers{nginx}"
    c.run()
    with pytest.raises(KeyError, match='pods "my-nginx" not found'):
        c.get("Pod", "my-nginx")


def test_deletion_timestamp_precedes_removal_in_the_watch() -> None:
    c = one_node_cluster()
    history = History(c)
    c.apply(POD_FILE)
    c.run()
    c.delete("Pod", "my-nginx")
    c.run()
    versions = history.of("my-nginx")
    marked = next(v for v in versions if v[2]["metadata"].get("deletionTimestamp"))
    assert marked[1] == "MODIFIED"
    assert versions[-1][1] == "DELETED" and versions[-1][0] > marked[0]
    # The last write before the removal is the kubelet's terminal status (getPhase after SIGTERM: 143).
    assert versions[-2][1] == "MODIFIED" and versions[-2][2]["status"]["phase"] == "Failed"


def test_unschedulable_pod_stays_pending_with_pod_scheduled_false() -> None:
    """No node is big enough: the scheduler reports why and the kubelet never sees the pod."""
    c = one_node_cluster()
    big = pod("big")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "64"}}
    c.apply(big)
    c.run(until=60)
    p = c.get("Pod", "big")
    assert p["status"]["phase"] == "Pending" and "nodeName" not in p["spec"]
    cond = {x["type"]: x for x in p["status"]["conditions"]}
    assert list(cond) == ["PodScheduled"]
    assert (cond["PodScheduled"]["status"], cond["PodScheduled"]["reason"]) == ("False", "Unschedulable")
    assert cond["PodScheduled"]["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert set(reasons(c, "big")) == {"FailedScheduling"}


# -- go_duration -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"),
    (0.0004, "0s"),
    (0.001, "1ms"),
    (0.0015, "1ms"),
    (0.523, "523ms"),
    (0.999, "999ms"),
    (1, "1s"),
    (1.05, "1.05s"),
    (1.5, "1.5s"),
    (1.805, "1.805s"),
    (10.1, "10.1s"),
    (59.999, "59.999s"),
    (60, "1m0s"),
    (62.5, "1m2.5s"),
    (3599.999, "59m59.999s"),
    (3600, "1h0m0s"),
    (3661.001, "1h1m1.001s"),
    (90061, "25h1m1s"),
])
def test_go_duration_matches_time_duration_string(seconds: float, text: str) -> None:
    """Go's ``time.Duration.String()`` after ``Truncate(time.Millisecond)``, as the Pulled event prints it."""
    assert go_duration(seconds) == text


def _parse_go_duration(text: str) -> int:
    """Milliseconds of a Go duration string (the inverse the property below checks)."""
    if text.endswith("ms"):
        return int(text[:-2])
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s", text)
    assert m, text
    h, mins, s = int(m.group(1) or 0), int(m.group(2) or 0), m.group(3)
    whole, _, frac = s.partition(".")
    return ((h * 60 + mins) * 60 + int(whole)) * 1000 + int((frac + "000")[:3])


@given(st.integers(min_value=0, max_value=10**9))
def test_go_duration_round_trips_milliseconds(ms: int) -> None:
    text = go_duration(ms / 1000)
    assert re.fullmatch(GO_DURATION, text)
    assert _parse_go_duration(text) == ms
