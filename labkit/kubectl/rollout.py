"""``kubectl scale`` and ``kubectl rollout status|history|undo|restart`` for Deployments.

Upstream: ``staging/src/k8s.io/kubectl/pkg/polymorphichelpers/`` -- ``rollout_status.go``
(``DeploymentStatusViewer``), ``history.go`` (``DeploymentHistoryViewer``), ``rollback.go``
(``DeploymentRollbacker``), ``objectrestarter.go`` -- and ``pkg/cmd/scale``. The wording of every
message and error is kubectl's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.api.store import timestamp
from labkit.controllers.deployment import (
    POD_TEMPLATE_HASH,
    TIMED_OUT_REASON,
    equal_ignore_hash,
    replica_sets_of,
    revision_of,
    skip_copy_annotation,
)

if TYPE_CHECKING:
    from labkit.api.server import APIServer

__all__ = ["scale", "rollout_status", "deployment_status", "rollout_history", "rollout_undo",
           "rollout_restart",
           "CHANGE_CAUSE", "RESTARTED_AT"]

#: ``kubectl/pkg/polymorphichelpers/history.go: ChangeCauseAnnotation``.
CHANGE_CAUSE = "kubernetes.io/change-cause"
#: The template annotation ``kubectl rollout restart`` sets.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_SCALABLE = ("Deployment", "ReplicaSet")


def _deployment(api: APIServer, kind: str, name: str, namespace: str, what: str) -> dict[str, Any]:
    if kind != "Deployment":
        raise ValueError(f"no {what} has been implemented for {kind}")
    return api.get("Deployment", name, namespace)


def scale(api: APIServer, kind: str, name: str, replicas: int, namespace: str = "default") -> dict[str, Any]:
    """``kubectl scale``: write ``spec.replicas`` through the scale subresource (only that field)."""
    from labkit.errors import ManifestError

    if kind not in _SCALABLE:
        raise ManifestError("kind", kind, f"cannot scale a {kind}: kubectl scale works on "
                                          f"{' and '.join(_SCALABLE)} here")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ManifestError("replicas", replicas, "The --replicas=COUNT flag is required, and COUNT must be "
                                                  "greater than or equal to 0")
    obj = api.get(kind, name, namespace)
    obj["spec"]["replicas"] = replicas
    return api.update(obj, validate=True)


def rollout_status(api: APIServer, kind: str, name: str, namespace: str = "default") -> str:
    """``DeploymentStatusViewer.Status``: one line for the current state (without the newline).

    A Deployment whose Progressing condition says ``ProgressDeadlineExceeded`` gives the error
    kubectl exits with: ``deployment "web" exceeded its progress deadline``.
    """
    return deployment_status(_deployment(api, kind, name, namespace, "status viewer"))


def deployment_status(d: dict[str, Any]) -> str:
    """:func:`rollout_status` for a Deployment object as any API server returns it (the real-cluster
    adapter reads it over HTTP)."""
    name = d["metadata"]["name"]
    st = d.get("status") or {}
    if d["metadata"].get("generation", 0) > st.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed..."
    cond = next((c for c in st.get("conditions") or () if c["type"] == "Progressing"), None)
    if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
        return f'deployment "{name}" exceeded its progress deadline'
    replicas = d["spec"].get("replicas")
    updated, total, available = (st.get("updatedReplicas", 0), st.get("replicas", 0),
                                 st.get("availableReplicas", 0))
    waiting = f'Waiting for deployment "{name}" rollout to finish'
    if replicas is not None and updated < replicas:
        return f"{waiting}: {updated} out of {replicas} new replicas have been updated..."
    if total > updated:
        return f"{waiting}: {total - updated} old replicas are pending termination..."
    if available < updated:
        return f"{waiting}: {available} of {updated} updated replicas are available..."
    return f'deployment "{name}" successfully rolled out'


def rollout_history(api: APIServer, kind: str, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    """``DeploymentHistoryViewer.ViewHistory``: one record per revision, oldest first.

    Each is ``{"revision": int, "change_cause": str | None, "replicaset": name}``; the change
    cause is the ReplicaSet's ``kubernetes.io/change-cause`` annotation (copied there from the
    Deployment when it was rolled out). As upstream, a later ReplicaSet with the same revision wins.
    """
    d = _deployment(api, kind, name, namespace, "history viewer")
    by_revision: dict[int, dict[str, Any]] = {}
    for rs in replica_sets_of(api, d):
        rev = revision_of(rs)
        if rev is None:
            continue
        cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or None
        by_revision[rev] = {"revision": rev, "change_cause": cause, "replicaset": rs["metadata"]["name"]}
    return [by_revision[r] for r in sorted(by_revision)]


def _revision_replica_set(api: APIServer, d: dict[str, Any], to_revision: int) -> dict[str, Any]:
    """``rollback.go: deploymentRevision``: the ReplicaSet of ``to_revision``, or with 0 the
    second newest."""
    latest: tuple[int, dict[str, Any] | None] = (-1, None)
    previous: tuple[int, dict[str, Any] | None] = (-1, None)
    for rs in replica_sets_of(api, d):
        v = revision_of(rs)
        if v is None:
            continue
        if to_revision == 0:
            if latest[0] < v:
                previous, latest = latest, (v, rs)
            elif previous[0] < v:
                previous = (v, rs)
        elif to_revision == v:
            return rs
    if to_revision > 0:
        raise ValueError(f"unable to find specified revision {to_revision} in history")
    if previous[1] is None:
        raise ValueError(f'no rollout history found for deployment "{d["metadata"]["name"]}"')
    return previous[1]


def rollout_undo(api: APIServer, kind: str, name: str, to_revision: int | None = None,
                 namespace: str = "default") -> str:
    """``DeploymentRollbacker.Rollback``: put an earlier revision's pod template back.

    The template of that revision's ReplicaSet, minus ``pod-template-hash``, replaces the
    Deployment's, and its annotations (except the controller's own) replace the Deployment's.
    The controller then finds that ReplicaSet as the new one again: the rollback reuses its
    name and gives it the next revision. Returns kubectl's line (``deployment.apps/web rolled back``).
    """
    d = _deployment(api, kind, name, namespace, "rollbacker")
    rev = 0 if to_revision is None else to_revision
    if rev < 0:
        raise ValueError(f"unable to find specified revision {rev} in history")
    rs = _revision_replica_set(api, d, rev)
    if d["spec"].get("paused"):
        raise ValueError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
                         "resume' and try again")
    if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
        return f"deployment.apps/{name} skipped rollback (current template already matches revision {rev})"
    template = rs["spec"]["template"]
    labels = {k: v for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()
              if k != POD_TEMPLATE_HASH}
    new_template = {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}
    annotations = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
                   if skip_copy_annotation(k)}
    annotations.update({k: v for k, v in (rs["metadata"].get("annotations") or {}).items()
                        if not skip_copy_annotation(k)})
    # A JSON patch replacing /spec/template and /metadata/annotations (no resourceVersion precondition).
    d["spec"]["template"] = new_template
    d["metadata"]["annotations"] = annotations
    d["metadata"].pop("resourceVersion", None)
    api.update(d, validate=True)
    return f"deployment.apps/{name} rolled back"


def rollout_restart(api: APIServer, kind: str, name: str, now: float, namespace: str = "default") -> str:
    """``objectrestarter.go``: stamp the template with ``kubectl.kubernetes.io/restartedAt`` (RFC 3339,
    simulated time), which changes the template and so rolls every pod."""
    d = _deployment(api, kind, name, namespace, "restarter")
    if d["spec"].get("paused"):
        raise ValueError("can't restart paused deployment (run rollout resume first)")
    meta = d["spec"]["template"].setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), RESTARTED_AT: timestamp(now)}
    api.update(d, validate=True)
    return f"deployment.apps/{name} restarted"
