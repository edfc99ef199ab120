"""Every failure a learner can meet is a typed labkit error with a next step, and none shows a token."""

from __future__ import annotations

import logging
import socket
import time
import traceback

import pytest

import labkit
from tests.real.conftest import TOKEN, write_kubeconfig
from tests.real.conftest import status_body as status

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}


def no_secret(err: BaseException) -> None:
    text = "".join(traceback.format_exception(err)) + repr(err) + str(getattr(err, "hint", ""))
    assert TOKEN not in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_kubeconfig_says_where_it_looked_and_how_to_get_one(tmp_path):
    with pytest.raises(labkit.KubeconfigError) as err:
        labkit.RealCluster.from_kubeconfig(str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in err.value.message and "kind create cluster" in err.value.hint


def test_an_unknown_context_lists_the_contexts_there_are(kubeconfig):
    with pytest.raises(labkit.KubeconfigError) as err:
        labkit.RealCluster.from_kubeconfig(str(kubeconfig), context="prod")
    assert "no context 'prod'" in err.value.message and err.value.hint == "its contexts: lab"


def test_an_unreachable_server_fails_fast_and_reads_are_retried(tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{free_port()}")
    slept = []
    rc = labkit.RealCluster.from_kubeconfig(str(cfg), connect_timeout=0.5, sleep=slept.append)
    start = time.monotonic()
    with pytest.raises(labkit.UnreachableError) as err:
        rc.get("Pod", "web", namespace=rc.namespace)
    assert time.monotonic() - start < 5
    assert slept == [0.2, 0.4, 0.8]  # three retries with back-off, then the error
    assert "could not be reached" in err.value.message and "kubeconfig's server address" in err.value.hint
    no_secret(err.value)


def test_a_tls_failure_is_a_tls_error(tmp_path, kube):
    cfg = write_kubeconfig(tmp_path / "config", kube.url.replace("http://", "https://"))
    rc = labkit.RealCluster.from_kubeconfig(str(cfg), sleep=lambda s: None)
    with pytest.raises(labkit.TLSError) as err:
        rc.version()
    assert "TLS handshake" in err.value.message and "certificate-authority-data" in err.value.hint
    no_secret(err.value)


def test_401_asks_for_fresh_credentials(real, kube):
    kube.answer("GET", r"^/version", 401, status(401, "Unauthorized", "Unauthorized"))
    with pytest.raises(labkit.UnauthorizedError) as err:
        real.version()
    assert err.value.status == 401 and "fresh kubeconfig" in err.value.hint
    no_secret(err.value)


def test_403_names_the_missing_rbac_verb_and_resource(real, kube):
    kube.answer(
        "GET",
        r"/namespaces/labkit-ann/pods/web$",
        403,
        status(
            403,
            "Forbidden",
            'pods "web" is forbidden: User "system:serviceaccount:labkit-ann:student" cannot get '
            'resource "pods" in API group "" in the namespace "labkit-ann"',
            name="web",
            kind="pods",
        ),
    )
    with pytest.raises(labkit.ForbiddenError) as err:
        real.get("Pod", "web")
    e = err.value
    assert (e.verb, e.resource, e.api_group, e.namespace) == ("get", "pods", "", "labkit-ann")
    assert e.message.endswith('RBAC does not allow you to get pods in namespace "labkit-ann" (403 Forbidden)')
    assert e.hint == 'ask for a Role with apiGroups: [""], resources: ["pods"], verbs: ["get"]'


def test_403_on_a_cluster_scoped_resource_asks_for_a_cluster_role(real, kube):
    kube.answer(
        "GET",
        r"^/api/v1/nodes$",
        403,
        status(
            403,
            "Forbidden",
            'nodes is forbidden: User "ann" cannot list resource "nodes" in API group "" at the '
            "cluster scope",
            kind="nodes",
        ),
    )
    with pytest.raises(labkit.ForbiddenError) as err:
        real.list("Node")
    assert "cluster-wide" in err.value.message and "ClusterRole" in err.value.hint


def test_a_namespace_the_learner_may_not_create_is_a_forbidden_error(real, kube):
    kube.answer(
        "POST",
        r"^/api/v1/namespaces$",
        403,
        status(
            403,
            "Forbidden",
            'namespaces is forbidden: User "ann" cannot create resource "namespaces" in API group '
            '"" at the cluster scope',
            kind="namespaces",
        ),
    )
    with pytest.raises(labkit.ForbiddenError) as err:
        real.apply(POD)
    assert err.value.verb == "create" and err.value.resource == "namespaces"


def test_quota_exceeded_is_its_own_error(real, kube):
    kube.answer(
        "PATCH",
        r"/pods/web\?",
        403,
        status(
            403,
            "Forbidden",
            'pods "web" is forbidden: exceeded quota: labkit, requested: pods=1, used: pods=10, '
            "limited: pods=10",
            name="web",
            kind="pods",
        ),
    )
    with pytest.raises(labkit.QuotaExceededError) as err:
        real.apply(POD)
    assert "exceeded quota" in err.value.message and "ResourceQuota" in err.value.hint


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (
            'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
            ".spec.replicas",
            "force=True",
        ),
        ('pods "web" already exists', "get it again"),
    ],
)
def test_409_conflicts_say_what_to_do(real, kube, message, hint):
    reason = "AlreadyExists" if "exists" in message else "Conflict"
    kube.answer("PATCH", r"/pods/web\?", 409, status(409, reason, message))
    with pytest.raises(labkit.ConflictError) as err:
        real.apply(POD)
    assert hint in err.value.hint and err.value.status == 409


def test_a_write_is_never_retried(real, kube):
    kube.answer("PATCH", r"/pods/web\?", 503, status(503, "ServiceUnavailable", "etcd is busy"))
    with pytest.raises(labkit.RealClusterError) as err:
        real.apply(POD)
    assert err.value.status == 503
    assert sum(1 for m, p in kube.log() if m == "PATCH") == 1


def test_a_read_is_retried_through_a_passing_server_error(real, kube):
    kube.answer("GET", r"^/version", 503, status(503, "ServiceUnavailable", "starting"), times=2)
    assert real.version() == "v1.36.2"
    assert [p for m, p in kube.log()].count("/version") == 3


def test_no_token_in_reprs_errors_or_logs(real, kube, caplog):
    caplog.set_level(logging.DEBUG)
    assert TOKEN not in repr(real) and TOKEN not in str(vars(real).get("_http"))
    kube.answer("GET", r"/pods/web$", 401, status(401, "Unauthorized", "Unauthorized"))
    errors = []
    for call in (lambda: real.get("Pod", "web"), lambda: real.get("Pod", "nope")):
        try:
            call()
        except labkit.RealClusterError as e:
            errors.append(e)
    assert len(errors) == 2
    for e in errors:
        no_secret(e)
    assert TOKEN not in caplog.text
    assert all(
        c["headers"]["Authorization"] == f"Bearer {TOKEN}" for c in kube.calls
    )  # it was sent, not shown
