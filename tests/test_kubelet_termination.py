"""Graceful termination (spec 10.5): Killing, preStop, SIGTERM, SIGKILL at the grace period, the
terminal phase, then removal with grace 0 (``kuberuntime_container.go: killContainer``,
``kubelet_pods.go: getPhase``)."""

from __future__ import annotations

from typing import Any

import labkit


def cluster() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    return c


def pod(annotations: dict[str, str] | None = None, grace: int = 30, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "annotations": annotations or {}},
            "spec": {"terminationGracePeriodSeconds": grace,
                     "containers": [{"name": "app", "image": "my-nginx:1.0", **container}]}}


def delete_and_watch(c: labkit.Cluster, grace: int | None = None
                     ) -> tuple[float, list[tuple[float, str, dict[str, Any]]]]:
    c.run()
    seen: list[tuple[float, str, dict[str, Any]]] = []
    t0 = c.now
    c.store.watch("Pod", lambda ev: seen.append((round(c.now - t0, 4), ev.type, ev.object)))
    c.delete("Pod", "web", grace_period_seconds=grace)
    c.run()
    return t0, seen


def exit_state(seen: list[tuple[float, str, dict[str, Any]]]) -> dict[str, Any]:
    return seen[-2][2]["status"]["containerStatuses"][0]["state"]["terminated"]


def test_spec_timeline_prestop_5s_then_sigterm_exit_after_1s_gives_143_and_failed() -> None:
    """grace 30 s, preStop sleeping 5 s, app exiting 1 s after SIGTERM: the pod stays Terminating
    for 6 s, exits with 143, is written Failed, then removed."""
    c = cluster()
    c.apply(pod({"labkit.io/sigterm-exit-after": "1s"}, lifecycle={"preStop": {"sleep": {"seconds": 5}}}))
    _, seen = delete_and_watch(c)
    killing = [e for e in c.events(involved="web") if e["reason"] == "Killing"]
    assert [(e["type"], e["message"]) for e in killing] == [("Normal", "Stopping container app")]
    assert all(v[2]["metadata"].get("deletionTimestamp") for v in seen)  # Terminating meanwhile
    (t_status, _, last), (t_gone, kind, _) = seen[-2:]
    assert (t_status, t_gone, kind) == (6.0, 6.0, "DELETED")
    assert last["status"]["phase"] == "Failed" and exit_state(seen)["exitCode"] == 143
    ready = {x["type"]: x for x in last["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "PodFailed")


def test_app_ignoring_sigterm_is_killed_at_the_grace_period_with_137() -> None:
    c = cluster()
    c.apply(pod({"labkit.io/sigterm-exit-after": "1h"}, grace=10))
    _, seen = delete_and_watch(c)
    assert seen[-1][0] == 10.0 and exit_state(seen)["exitCode"] == 137


def test_a_prestop_hook_longer_than_the_grace_period_leaves_the_2s_minimum() -> None:
    """The hook is cut at the grace period; SIGTERM still gets minimumGracePeriodInSeconds = 2 s.

    The API server refuses a sleep longer than the pod's own grace period, so the deletion asks for a
    shorter one (``kubectl delete --grace-period=5``)."""
    c = cluster()
    c.apply(pod({"labkit.io/sigterm-exit-after": "1h"}, grace=60,
                lifecycle={"preStop": {"sleep": {"seconds": 60}}}))
    _, seen = delete_and_watch(c, grace=5)
    assert seen[-1][0] == 7.0 and exit_state(seen)["exitCode"] == 137


def test_failing_prestop_hook_gives_a_warning_without_the_error_text() -> None:
    c = cluster()
    c.apply(pod(lifecycle={"preStop": {"exec": {"command": ["/bin/false"]}}}))
    delete_and_watch(c)
    (failed,) = [e for e in c.events(involved="web") if e["reason"] == "FailedPreStopHook"]
    assert (failed["type"], failed["message"]) == ("Warning", "PreStopHook failed")
    assert failed["involvedObject"]["fieldPath"] == "spec.containers{app}"


def test_readiness_keeps_probing_during_termination_and_turns_unready_after_sigterm() -> None:
    """Liveness stops at the deletion; readiness goes on, fails once the app got SIGTERM, and the
    pod turns unready (endpoints stop serving it) before the app exits."""
    c = cluster()
    fast = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1, "failureThreshold": 1}
    c.apply(pod({"labkit.io/sigterm-exit-after": "20s"}, readinessProbe=fast, livenessProbe=fast))
    _, seen = delete_and_watch(c)
    unready = next(t for t, _, obj in seen if {x["type"]: x for x in obj["status"]["conditions"]}
                   ["Ready"]["status"] == "False")
    assert unready <= 1.0 and seen[-1][0] == 20.0
    messages = {e["message"] for e in c.events(involved="web") if e["reason"] == "Unhealthy"}
    assert messages == {"Readiness probe failed: HTTP probe failed with statuscode: 503"}


def test_pod_without_probes_still_stops_in_the_kubelets_short_stop_time() -> None:
    """The default application exits a few hundred milliseconds after SIGTERM (as before probes existed)."""
    c = cluster()
    c.apply(pod())
    _, seen = delete_and_watch(c)
    assert 0.2 < seen[-1][0] < 0.4 and exit_state(seen)["exitCode"] == 143
