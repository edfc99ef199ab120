"""Probes, restarts and CrashLoopBackOff, as a v1.36 kubelet runs them.

Upstream: ``pkg/kubelet/prober/worker.go`` (thresholds, initial results, on-hold),
``prober_manager.go`` (the immediate readiness probe after a start), ``prober.go`` (the
``Unhealthy`` wording), ``status/generate.go`` (conditions), ``kuberuntime_manager.go``
(Killing on a liveness failure, ``doBackOff``). The application's behaviour comes from the pod
annotations ``labkit.io/ready-after`` and ``labkit.io/fail-after``.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.node.termination import Backoff


def cluster() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    return c


def probe_pod(name: str = "web", annotations: dict[str, str] | None = None, restart: str = "Always",
              **probes: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "my-nginx:1.0", "ports": [{"name": "http", "containerPort": 80}],
                 **probes}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"restartPolicy": restart, "containers": [container]}}


HTTP = {"httpGet": {"path": "/healthz", "port": 80}}


def conditions(c: labkit.Cluster, name: str = "web") -> dict[str, dict[str, Any]]:
    return {x["type"]: x for x in c.get("Pod", name)["status"]["conditions"]}


def events(c: labkit.Cluster, reason: str, name: str = "web") -> list[dict[str, Any]]:
    return [e for e in c.events(involved=name) if e["reason"] == reason]


def started_at(c: labkit.Cluster, name: str = "web") -> float:
    return next(e["firstTime"] for e in c.events(involved=name) if e["reason"] == "Started")


def test_readiness_probe_runs_at_once_after_start_and_makes_the_pod_ready() -> None:
    """UpdatePodStatus triggers a readiness probe right after the start: with an app that answers
    at once, Ready turns True in the same instant (lastTransitionTime set), without any Unhealthy."""
    c = cluster()
    c.apply(probe_pod(readinessProbe=HTTP))
    c.run()
    cond = conditions(c)
    assert cond["Ready"]["status"] == cond["ContainersReady"]["status"] == "True"
    assert "reason" not in cond["Ready"] and not events(c, "Unhealthy")
    cs = c.get("Pod", "web")["status"]["containerStatuses"][0]
    assert (cs["ready"], cs["started"]) == (True, True)


def test_unready_pod_reports_generate_go_reason_and_message_and_a_merged_unhealthy_event() -> None:
    """Before ready-after every attempt fails: one Warning Unhealthy per attempt, merged into one event
    with a count; Ready/ContainersReady stay False with upstream's reason and message."""
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/ready-after": "25s"}, readinessProbe=HTTP))
    c.run(until=21)
    cond = conditions(c)
    for t in ("Ready", "ContainersReady"):
        assert (cond[t]["status"], cond[t]["reason"], cond[t]["message"]) == (
            "False", "ContainersNotReady", "containers with unready status: [app]")
    (unhealthy,) = events(c, "Unhealthy")
    assert (unhealthy["type"], unhealthy["message"]) == (
        "Warning", "Readiness probe failed: HTTP probe failed with statuscode: 503")
    assert unhealthy["involvedObject"]["fieldPath"] == "spec.containers{app}"
    # Triggered after the start, then the ticks 10 s and 20 s after the pod was added.
    assert unhealthy["count"] == 3
    c.run()
    assert conditions(c)["Ready"]["status"] == "True", "c.run() waits for the verdict the app will give"


def test_tcp_grpc_and_exec_failures_print_what_pkg_probe_prints() -> None:
    c = cluster()
    ann = {"labkit.io/ready-after": "1h"}
    c.apply(probe_pod("tcp", ann, readinessProbe={"tcpSocket": {"port": "http"}}))
    c.apply(probe_pod("grpc", ann, readinessProbe={"grpc": {"port": 80}}))
    c.apply(probe_pod("exec", ann, readinessProbe={"exec": {"command": ["cat", "/tmp/ready"]}}))
    while not all(events(c, "Started", n) for n in ("tcp", "grpc", "exec")):  # pulled and started
        c.run(until=c.now + 0.5)
    c.run(until=c.now + 1)  # the probe right after the start
    ip = c.get("Pod", "tcp")["status"]["podIP"]
    assert events(c, "Unhealthy", "tcp")[0]["message"] == (
        f"Readiness probe failed: dial tcp {ip}:80: connect: connection refused")
    assert events(c, "Unhealthy", "grpc")[0]["message"] == (
        'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")')
    # exec.go: the output is what the command printed, and the simulated command prints nothing.
    assert events(c, "Unhealthy", "exec")[0]["message"] == "Readiness probe failed: "


def test_liveness_failure_after_fail_after_kills_and_restarts_the_container() -> None:
    """Three failed liveness attempts (failureThreshold 3) publish Failure: Killing with upstream's
    message, exit 143 after SIGTERM, restartCount 1, lastState terminated, Running again."""
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/fail-after": "30s"}, livenessProbe=HTTP))
    c.run(until=90)
    (killing,) = events(c, "Killing")
    assert (killing["type"], killing["message"]) == (
        "Normal", "Container app failed liveness probe, will be restarted")
    (unhealthy,) = events(c, "Unhealthy")
    assert unhealthy["message"] == "Liveness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy["count"] == 3
    st_ = c.get("Pod", "web")["status"]
    cs = st_["containerStatuses"][0]
    assert st_["phase"] == "Running" and cs["restartCount"] == 1 and "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 143
    assert cs["lastState"]["terminated"]["reason"] == "Error"


def test_liveness_kill_with_restart_policy_never_fails_the_pod() -> None:
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/fail-after": "5s"}, restart="Never", livenessProbe=HTTP))
    c.run(until=120)
    (killing,) = events(c, "Killing")
    assert killing["message"] == "Container app failed liveness probe"
    st_ = c.get("Pod", "web")["status"]
    assert st_["phase"] == "Failed"
    assert st_["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    assert (conditions(c)["Ready"]["status"], conditions(c)["Ready"]["reason"]) == ("False", "PodFailed")
    assert "message" not in conditions(c)["Ready"]


def test_crash_loop_waits_10_20_40_seconds_from_finished_at_with_upstream_messages() -> None:
    """The first exit restarts at once; later exits wait out 10 s, 20 s, 40 s counted from
    finishedAt (restarts happen at the pod worker's next retry); the waiting state and BackOff
    event carry upstream's wording."""
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/fail-after": "1s"}, livenessProbe={**HTTP, "periodSeconds": 1,
                                                                                  "failureThreshold": 1}))
    c.run()  # returns while the container waits in CrashLoopBackOff (back-off waits are daemon waits)
    pod = c.get("Pod", "web")
    cs = pod["status"]["containerStatuses"][0]
    uid = pod["metadata"]["uid"]
    assert cs["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": f"back-off 10s restarting failed container=app pod=web_default({uid})"}
    assert pod["status"]["phase"] == "Running"
    (backoff,) = events(c, "BackOff")
    assert (backoff["type"], backoff["message"]) == (
        "Warning", f"Back-off restarting failed container app in pod web_default({uid})")
    history: list[tuple[float, dict[str, Any]]] = []
    c.store.watch("Pod", lambda ev: history.append(
        (c.now, copy.deepcopy(ev.object["status"]["containerStatuses"][0]))))
    c.run(until=c.now + 200)
    starts, finishes = [], {}
    for t, s in history:
        if "running" in s["state"] and (not starts or starts[-1][1] != s["restartCount"]):
            starts.append((t, s["restartCount"]))
        if "terminated" in s.get("lastState", {}):
            finishes.setdefault(s["restartCount"], s["lastState"]["terminated"]["finishedAt"])
    waits = [t - labkit_seconds(finishes[n]) for t, n in starts]
    assert [n for _, n in starts][:3] == [2, 3, 4]
    for wait, delay in zip(waits, (10, 20, 40)):
        # finishedAt is whole seconds; the retry comes 10-15 s after the previous sync.
        assert delay - 1 <= wait < delay + 16, waits
    messages = {s["state"]["waiting"]["message"].split(" restarting")[0] for _, s in history
                if "waiting" in s["state"]}
    assert {"back-off 20s", "back-off 40s", "back-off 1m20s"} <= messages  # Go durations


def labkit_seconds(stamp: str) -> float:
    from datetime import datetime, timezone
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (t - datetime(2026, 1, 1, tzinfo=timezone.utc)).total_seconds()


def test_backoff_doubles_to_the_cap_and_resets_after_ten_quiet_minutes() -> None:
    b = Backoff()
    delays = []
    t = 0.0
    for _ in range(8):
        b.next("k", t, t)
        delays.append(b.get("k"))
        t += 1
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert not b.in_backoff_since("k", t + 601, t + 601)  # a run of 10 minutes: restart at once
    b.next("k", t + 601, t + 601)
    assert b.get("k") == 10


def test_startup_probe_gates_liveness_and_readiness() -> None:
    """Until the startup probe passes, liveness and readiness do not run (no Liveness/Readiness
    events), and the container is not started; then readiness is triggered at once."""
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/ready-after": "25s"},
                      startupProbe={**HTTP, "failureThreshold": 30}, livenessProbe=HTTP, readinessProbe=HTTP))
    c.run(until=20)
    cs = c.get("Pod", "web")["status"]["containerStatuses"][0]
    assert (cs["started"], cs["ready"]) == (False, False)
    assert {e["message"].split(" ")[0] for e in events(c, "Unhealthy")} == {"Startup"}
    c.run()
    cs = c.get("Pod", "web")["status"]["containerStatuses"][0]
    assert (cs["started"], cs["ready"], cs["restartCount"]) == (True, True, 0)
    ready = conditions(c)["Ready"]
    assert ready["status"] == "True"


def test_initial_delay_skips_probes() -> None:
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/ready-after": "1h"},
                      readinessProbe={**HTTP, "initialDelaySeconds": 25}))
    c.run(until=24)
    assert not events(c, "Unhealthy")
    c.run(until=40)
    assert events(c, "Unhealthy")


@settings(deadline=None, max_examples=8)
@given(ready_after=st.integers(min_value=0, max_value=40), period=st.integers(min_value=1, max_value=15),
       success=st.integers(min_value=1, max_value=3))
def test_ready_flips_exactly_at_the_first_published_success_after_ready_after(
        ready_after: int, period: int, success: int) -> None:
    """Ready turns True at the successThreshold-th consecutive successful attempt, and every
    attempt before ready-after fails."""
    c = cluster()
    c.apply(probe_pod(annotations={"labkit.io/ready-after": f"{ready_after}s"},
                      readinessProbe={**HTTP, "periodSeconds": period, "successThreshold": success}))
    flips: list[float] = []
    c.store.watch("Pod", lambda ev: flips.extend(
        c.now for x in ev.object["status"].get("conditions") or []
        if x["type"] == "Ready" and x["status"] == "True" and not flips))
    c.run()
    worker = c.kubelets._pods[c.get("Pod", "web")["metadata"]["uid"]].containers["app"].probes["readiness"]
    start = started_at(c)
    assert all(ok == (t - start >= ready_after) for t, ok in worker.attempts)
    successes = [t for t, ok in worker.attempts if ok]
    assert flips == [successes[success - 1]]
