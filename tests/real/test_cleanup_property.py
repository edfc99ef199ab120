"""Property: whatever labkit calls a learner makes, followed by ``cleanup()``, no object without the
managed-by label was created, modified or deleted (read from the mock's request log), and nothing
labkit made is left behind."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import labkit
from labkit.real import MANAGED_BY
from labkit.real.transport import USER_AGENT
from tests.real.conftest import KubeMock, write_kubeconfig

NAMES = ["web", "theirs", "their-web"]  # the last two are someone else's
_counter = itertools.count()


def manifest(kind: str, name: str) -> dict[str, Any]:
    if kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        }
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }


KIND = st.sampled_from(["Pod", "ConfigMap", "Deployment"])
NAME = st.sampled_from(NAMES)
OP = st.one_of(
    st.tuples(st.just("apply"), KIND, NAME),
    st.tuples(st.just("dry_run"), KIND, NAME),
    st.tuples(st.just("delete"), KIND, NAME),
    st.tuples(st.just("scale"), st.just("Deployment"), NAME),
    st.tuples(st.just("get"), KIND, NAME),
    st.tuples(st.just("list"), KIND, NAME),
    st.tuples(st.just("elsewhere"), KIND, NAME),
)


@pytest.fixture(scope="module")
def shared_kube():
    mock = KubeMock()
    # /scale is not emulated: answer like an API server for any Deployment.
    mock.answer("PATCH", r"/deployments/[^/]+/scale$", 200, {"kind": "Scale", "spec": {"replicas": 2}})
    yield mock
    mock.stop()


def seed_foreign(kube: KubeMock, ns: str) -> None:
    """Someone else's objects: in the learner's namespace (no label) and in another namespace."""
    kube.seed(
        f"/api/v1/namespaces/{ns}/pods",
        {**manifest("Pod", "theirs"), "metadata": {"name": "theirs", "namespace": ns}},
    )
    kube.seed(
        f"/apis/apps/v1/namespaces/{ns}/deployments",
        {**manifest("Deployment", "their-web"), "metadata": {"name": "their-web", "namespace": ns}},
    )
    kube.seed(
        "/api/v1/namespaces/team-b/pods",
        {**manifest("Pod", "web"), "metadata": {"name": f"web-{ns}", "namespace": "team-b"}},
    )


def run_op(rc: labkit.RealCluster, op: tuple[str, str, str]) -> None:
    what, kind, name = op
    try:
        if what == "apply":
            rc.apply(manifest(kind, name))
        elif what == "dry_run":
            rc.apply(manifest(kind, name), dry_run=True)
        elif what == "delete":
            rc.delete(kind, name)
        elif what == "scale":
            rc.scale(kind, name, 2)
        elif what == "get":
            rc.get(kind, name)
        elif what == "list":
            rc.list(kind, label_selector="app=web")
        elif what == "elsewhere":
            rc.delete(kind, f"web-{rc.namespace}", namespace="team-b")
    except (labkit.RealClusterError, labkit.ManifestError):
        pass  # refusals and 404s are part of the sequence


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OP, min_size=2, max_size=10))
@example(ops=[("apply", "Pod", "web"), ("delete", "Pod", "theirs"), ("scale", "Deployment", "their-web")])
@example(
    ops=[("apply", "Deployment", "their-web"), ("apply", "ConfigMap", "theirs"), ("elsewhere", "Pod", "web")]
)
def test_cleanup_after_any_sequence_touches_only_labelled_objects(shared_kube, tmp_path_factory, ops):
    kube = shared_kube
    ns = f"labkit-p{next(_counter)}"
    cfg = write_kubeconfig(tmp_path_factory.mktemp("kc") / "config", kube.url)
    rc = labkit.RealCluster.from_kubeconfig(str(cfg), namespace=ns, sleep=lambda s: None)
    rc.ensure_namespace()
    seed_foreign(kube, ns)
    foreign = {
        k: v
        for k, v in kube.objects().items()
        if k[1] in (ns, "team-b")
        and k[0] != "namespaces"
        and not v["metadata"].get("labels", {}).get(MANAGED_BY[0])
    }
    start = len(kube.calls)

    for op in ops:
        run_op(rc, op)
    rc.cleanup()

    after = kube.objects()
    # 1. someone else's objects are exactly as they were
    assert {k: after.get(k) for k in foreign} == foreign
    # 2. nothing of labkit's is left in the namespace, and nothing unlabelled was made there
    left = {k for k in after if k[1] == ns}
    assert left <= set(foreign)
    # 3. the request log: every write labkit sent targeted a labelled object or created one
    for call in kube.calls[start:]:
        if call["headers"].get("User-Agent") != USER_AGENT or call["method"] == "GET":
            continue
        path = call["path"].split("?")[0]
        assert not any(
            path.endswith(f"/{plural}/{name}") and (namespace is None or f"/{namespace}/" in path)
            for plural, namespace, name in foreign
        ), call
        if call["method"] in ("PATCH", "POST") and "/scale" not in path:
            assert call["body"]["metadata"]["labels"][MANAGED_BY[0]] == MANAGED_BY[1], call
    rc.close()
