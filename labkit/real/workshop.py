"""The workshop kit: a namespace, least-privilege RBAC, a quota and a kubeconfig for every student.

``python -m labkit workshop --students 20 --context ack-workshop`` prints what it would create (a dry
run, the default); ``--apply`` creates it with the instructor's kubeconfig and writes one kubeconfig
per student (a ServiceAccount token from the TokenRequest API, never printed); ``--delete`` removes
what the kit created, and only that (everything carries ``app.kubernetes.io/managed-by=labkit``).

Per student ``<prefix>-NN``:

- the Namespace, labelled as labkit's, so the student's ``RealCluster`` accepts it;
- ServiceAccount ``student``, Role ``labkit-student`` and its RoleBinding: create, read, change and
  delete the kinds the chapters use (Pods, Services, ConfigMaps, Deployments, ReplicaSets, Jobs,
  HPAs, PDBs; ``deployments/scale``), read Events and pod logs; no Secrets, no RBAC, nothing else;
- ResourceQuota ``labkit`` (pods, CPU and memory, no LoadBalancer Services: on ACK each one buys an
  SLB instance) and LimitRange ``labkit`` (default requests and limits, so pods that set none still
  fit the quota).

Shared: ClusterRole ``labkit-workshop-student`` (get the students' own Namespace objects, by name;
get/list/watch Nodes, which ``Cluster.from_real`` and the placement comparison read) and one
ClusterRoleBinding to every student's ServiceAccount.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from labkit.real.cluster import MANAGED_BY

__all__ = [
    "namespaces",
    "student_manifests",
    "shared_manifests",
    "apply",
    "delete",
    "student_kubeconfig",
    "ROLE_RULES",
]

SERVICE_ACCOUNT = "student"
ROLE = "labkit-student"
CLUSTER_ROLE = "labkit-workshop-student"
_LABELS = {MANAGED_BY[0]: MANAGED_BY[1], "app.kubernetes.io/part-of": "labkit-workshop"}
_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]
_READ = ["get", "list", "watch"]
#: What a student may do in their namespace: exactly what RealCluster's calls need.
ROLE_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
        "verbs": _WRITE,
    },
    {"apiGroups": [""], "resources": ["events", "pods/log", "resourcequotas", "limitranges"], "verbs": _READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets"], "verbs": _WRITE},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": _WRITE},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _WRITE},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _WRITE},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
]
DEFAULT_QUOTA = {
    "pods": "20",
    "requests.cpu": "2",
    "requests.memory": "4Gi",
    "limits.cpu": "4",
    "limits.memory": "8Gi",
    "services.loadbalancers": "0",
}


def namespaces(students: int, prefix: str = "labkit-student") -> list[str]:
    """``labkit-student-01`` ... (two digits, three from 100 students on)."""
    if isinstance(students, bool) or not isinstance(students, int) or not 1 <= students <= 500:
        from labkit.errors import ManifestError

        raise ManifestError("students", students, "Invalid value: between 1 and 500 students")
    width = max(2, len(str(students)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, students + 1)]


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def student_manifests(namespace: str, quota: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The namespaced objects of one student (the Namespace first)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(SERVICE_ACCOUNT, namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(ROLE, namespace),
            "rules": ROLE_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(ROLE, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta("labkit", namespace),
            "spec": {"hard": dict(quota or DEFAULT_QUOTA)},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": _meta("labkit", namespace),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "default": {"cpu": "500m", "memory": "512Mi"},
                    }
                ]
            },
        },
    ]


def shared_manifests(student_namespaces: list[str]) -> list[dict[str, Any]]:
    """The ClusterRole every student shares and its binding."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(CLUSTER_ROLE),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces"],
                    "resourceNames": list(student_namespaces),
                    "verbs": ["get"],
                },
                {"apiGroups": [""], "resources": ["nodes"], "verbs": _READ},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(CLUSTER_ROLE),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": ns}
                for ns in student_namespaces
            ],
        },
    ]


def student_kubeconfig(
    server: str,
    namespace: str,
    token: str,
    *,
    ca_data: str | None = None,
    insecure: bool = False,
    cluster_name: str = "workshop",
) -> dict[str, Any]:
    """A kubeconfig for one student: the cluster, the ServiceAccount token, their namespace."""
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    elif insecure:
        cluster["insecure-skip-tls-verify"] = True
    user = f"{namespace}-student"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": namespace,
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": namespace, "context": {"cluster": cluster_name, "user": user, "namespace": namespace}}
        ],
    }


def _ca_data(configuration: Any) -> str | None:
    path = getattr(configuration, "ssl_ca_cert", None)
    if path and Path(path).is_file():
        return base64.b64encode(Path(path).read_bytes()).decode()
    return None


def apply(
    connection: Any,
    students: int,
    *,
    prefix: str = "labkit-student",
    out: str | os.PathLike[str] = "kubeconfigs",
    token_hours: float = 8.0,
    quota: dict[str, str] | None = None,
    echo: Any = print,
) -> list[Path]:
    """Create every student's objects with the instructor's ``connection`` and write their kubeconfigs
    (mode 0600) into ``out``. Returns the kubeconfig paths; tokens go only into those files."""
    import yaml

    from labkit.real.cluster import RealCluster

    names = namespaces(students, prefix)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ns in names:
        rc = RealCluster(connection, ns)
        rc.ensure_namespace()
        rc.apply(student_manifests(ns, quota)[1:])
        echo(f"created namespace {ns}: ServiceAccount, Role, RoleBinding, ResourceQuota, LimitRange")
    RealCluster(connection, names[0], allow_cluster_scoped=True).apply(shared_manifests(names))
    echo(f"created ClusterRole and ClusterRoleBinding {CLUSTER_ROLE}")
    for ns in names:
        token = RealCluster(connection, ns).service_account_token(SERVICE_ACCOUNT, int(token_hours * 3600))
        config = student_kubeconfig(
            connection.server,
            ns,
            token,
            ca_data=_ca_data(connection.configuration),
            insecure=not getattr(connection.configuration, "verify_ssl", True),
        )
        path = folder / f"{ns}.kubeconfig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        os.chmod(path, 0o600)
        written.append(path)
        echo(f"wrote {path} (token valid {token_hours:g} h; hand it to one student only)")
    return written


def delete(connection: Any, students: int, *, prefix: str = "labkit-student", echo: Any = print) -> list[str]:
    """Delete the students' namespaces and the shared RBAC, each only if it carries labkit's label."""
    from labkit.errors import NotFoundError
    from labkit.real.cluster import RealCluster

    names = namespaces(students, prefix)
    gone = []
    shared = RealCluster(connection, names[0], allow_cluster_scoped=True)
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        try:
            shared.delete(kind, CLUSTER_ROLE)
            gone.append(f"{kind}/{CLUSTER_ROLE}")
        except NotFoundError:
            pass
    for ns in names:
        try:
            gone += [
                g
                for g in RealCluster(connection, ns).cleanup(delete_namespace=True)
                if g.startswith("Namespace")
            ]
        except NotFoundError:
            continue
    for g in gone:
        echo(f"deleted {g}")
    return gone


def dry_run_text(
    students: int,
    *,
    prefix: str = "labkit-student",
    out: str = "kubeconfigs",
    token_hours: float = 8.0,
    quota: dict[str, str] | None = None,
) -> str:
    """What ``--apply`` would create, as YAML documents, and the files it would write."""
    import yaml

    names = namespaces(students, prefix)
    docs = [d for ns in names for d in student_manifests(ns, quota)] + shared_manifests(names)
    lines = [f"# dry run: {len(docs)} objects for {students} students; add --apply to create them", "---"]
    lines.append(yaml.safe_dump_all(docs, sort_keys=False).rstrip())
    lines += [
        f"# then: a {token_hours:g} h token for {ns}/{SERVICE_ACCOUNT} (TokenRequest API) into "
        f"{Path(out) / (ns + '.kubeconfig')}"
        for ns in names
    ]
    return "\n".join(lines) + "\n"
