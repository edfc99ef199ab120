"""Pod conditions and phase from container statuses, as the kubelet's status manager computes them.

Upstream: ``pkg/kubelet/status/generate.go`` (``GenerateContainersReadyCondition``,
``GeneratePodReadyCondition``) and ``pkg/kubelet/kubelet_pods.go`` (``getPhase``).
Readiness gates are not modelled (no component sets custom pod conditions).
"""

from __future__ import annotations

from typing import Any

__all__ = ["containers_ready", "pod_phase", "set_condition"]


def containers_ready(spec: dict[str, Any], statuses: list[dict[str, Any]], phase: str
                     ) -> tuple[str, str | None, str | None]:
    """``(status, reason, message)`` of ContainersReady; Ready takes the same while not True."""
    if phase in ("Succeeded", "Failed"):
        # generateContainersReadyConditionForTerminalPhase: no message.
        return "False", "PodCompleted" if phase == "Succeeded" else "PodFailed", None
    by_name = {s["name"]: s for s in statuses}
    names = [c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    names += [c["name"] for c in spec["containers"]]
    unknown = [n for n in names if n not in by_name]
    unready = [n for n in names if n in by_name and not by_name[n].get("ready")]
    parts = []
    if unknown:
        parts.append(f"containers with unknown status: [{' '.join(unknown)}]")
    if unready:
        parts.append(f"containers with unready status: [{' '.join(unready)}]")
    if parts:
        return "False", "ContainersNotReady", ", ".join(parts)
    return "True", None, None


def pod_phase(spec: dict[str, Any], statuses: list[dict[str, Any]], will_restart) -> str:
    """``getPhase`` for the regular containers once none is waiting to be created.

    ``will_restart(status)`` says whether a terminated container is going to be restarted (its
    restart policy allows it), in which case the pod stays Running.
    """
    running = terminated = succeeded = 0
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            if will_restart(s):
                running += 1  # a crash-looping container keeps the pod Running
                continue
            terminated += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif "waiting" in state and s.get("lastState", {}).get("terminated"):
            running += 1  # waiting to restart (CrashLoopBackOff)
        else:
            return "Pending"
    if running:
        return "Running"
    return "Succeeded" if succeeded == terminated else "Failed"


def set_condition(st: dict[str, Any], type_: str, status: str, reason: str | None, message: str | None,
                  now: str) -> None:
    """Update one existing condition; ``lastTransitionTime`` moves only when the status changes."""
    for c in st.get("conditions") or []:
        if c["type"] == type_:
            if c["status"] != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            for key, value in (("reason", reason), ("message", message)):
                if value is None:
                    c.pop(key, None)
                else:
                    c[key] = value
