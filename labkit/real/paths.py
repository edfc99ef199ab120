"""REST paths, as kubectl builds them, for the kinds the adapter may send.

The simulator's kinds (:mod:`labkit.api.kinds`) plus the ones only a real cluster needs for the
workshop kit (RBAC, quotas, limit ranges). Upstream's layout:
``/api/v1/namespaces/{ns}/{plural}/{name}/{subresource}`` for the core group,
``/apis/{group}/{version}/...`` for the others, no ``namespaces/{ns}`` for cluster-scoped kinds.
"""

from __future__ import annotations

from urllib.parse import quote

from labkit.api.kinds import KINDS, Kind
from labkit.errors import ManifestError

__all__ = ["KIND_TABLE", "kind_of", "path"]

KIND_TABLE: dict[str, Kind] = {
    **KINDS,
    **{
        k.kind: k
        for k in (
            Kind("v1", "ResourceQuota", True, "resourcequotas"),
            Kind("v1", "LimitRange", True, "limitranges"),
            Kind("rbac.authorization.k8s.io/v1", "Role", True, "roles"),
            Kind("rbac.authorization.k8s.io/v1", "RoleBinding", True, "rolebindings"),
            Kind("rbac.authorization.k8s.io/v1", "ClusterRole", False, "clusterroles"),
            Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False, "clusterrolebindings"),
        )
    },
}


def kind_of(kind: str) -> Kind:
    """The kind by name (``Pod``), plural (``pods``) or lower-case singular; ManifestError otherwise."""
    if kind in KIND_TABLE:
        return KIND_TABLE[kind]
    low = str(kind).lower()
    for k in KIND_TABLE.values():
        if low in (k.kind.lower(), k.plural):
            return k
    raise ManifestError("kind", kind, f"unknown kind; the adapter sends: {', '.join(sorted(KIND_TABLE))}")


def path(
    kind: Kind, namespace: str | None = None, name: str | None = None, subresource: str | None = None
) -> str:
    """The REST path of a kind's collection, of one object, or of one object's subresource."""
    base = "/api/v1" if kind.api_version == "v1" else f"/apis/{kind.api_version}"
    parts = [base]
    if kind.namespaced:
        if not namespace:
            raise ManifestError(
                "metadata.namespace", namespace, f"{kind.kind} is namespaced: a namespace is needed"
            )
        parts.append(f"namespaces/{quote(namespace, safe='')}")
    parts.append(kind.plural)
    if name:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)
