"""The adapter's calls against an in-process API (kmock): the requests it sends and what it returns."""

from __future__ import annotations

import threading
import time

import pytest

import labkit
from labkit.real import MANAGED_BY, planned_requests
from labkit.real.transport import USER_AGENT

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "my-nginx", "labels": {"app": "my-nginx"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "my-nginx"},
    "spec": {"selector": {"app": "my-nginx"}, "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}]},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


def writes(kube):
    return [(m, p) for m, p in kube.log() if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_the_first_call_creates_the_namespace_with_the_managed_by_label(real, kube):
    real.apply(POD)
    ns = kube.objects()[("namespaces", None, "labkit-ann")]
    assert ns["metadata"]["labels"] == {MANAGED_BY[0]: MANAGED_BY[1]}
    assert ("POST", "/api/v1/namespaces") in kube.log()


def test_apply_is_server_side_apply_with_the_labkit_field_manager_after_a_dry_run(real, kube):
    out = real.apply([POD, SERVICE])
    assert [o["kind"] for o in out] == ["Pod", "Service"]
    pod_url = "/api/v1/namespaces/labkit-ann/pods/my-nginx"
    patches = [c for c in kube.calls if c["method"] == "PATCH"]
    assert [c["path"] for c in patches] == [
        f"{pod_url}?fieldManager=labkit&force=false&dryRun=All",
        "/api/v1/namespaces/labkit-ann/services/my-nginx?fieldManager=labkit&force=false&dryRun=All",
        f"{pod_url}?fieldManager=labkit&force=false",
        "/api/v1/namespaces/labkit-ann/services/my-nginx?fieldManager=labkit&force=false",
    ]
    assert all(c["headers"]["Content-Type"] == "application/apply-patch+yaml" for c in patches)
    stored = kube.objects()[("pods", "labkit-ann", "my-nginx")]
    assert stored["metadata"]["labels"] == {"app": "my-nginx", MANAGED_BY[0]: MANAGED_BY[1]}
    assert stored["metadata"]["namespace"] == "labkit-ann"


def test_every_request_carries_the_labkit_user_agent_and_the_token(real, kube):
    real.apply(POD)
    real.get("Pod", "my-nginx")
    assert USER_AGENT.startswith("labkit/")
    assert kube.calls and all(c["headers"]["User-Agent"] == USER_AGENT for c in kube.calls)
    assert all(c["headers"]["Authorization"].startswith("Bearer ") for c in kube.calls)


def test_get_and_list_return_the_simulators_shapes(real, kube):
    real.apply([POD, DEPLOYMENT])
    pod = real.get("Pod", "my-nginx")
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "my-nginx" and pod["spec"]["containers"]
    (listed,) = real.list("Pod")
    assert listed["apiVersion"] == "v1" and listed["kind"] == "Pod"
    assert [d["metadata"]["name"] for d in real.list("Deployment")] == ["web"]


def test_a_label_selector_filters_even_where_the_server_ignores_it(real, kube):
    real.apply([POD, {**POD, "metadata": {"name": "other", "labels": {"app": "other"}}}])
    assert [p["metadata"]["name"] for p in real.list("Pod")] == ["my-nginx", "other"]
    assert [p["metadata"]["name"] for p in real.list("Pod", label_selector="app=my-nginx")] == ["my-nginx"]
    assert kube.log()[-1] == ("GET", "/api/v1/namespaces/labkit-ann/pods?labelSelector=app%3Dmy-nginx")


def test_a_missing_object_is_a_not_found_error_that_is_also_a_key_error(real):
    with pytest.raises(labkit.NotFoundError) as err:
        real.get("Pod", "nope")
    assert isinstance(err.value, KeyError) and err.value.status == 404


def test_delete_sends_delete_options_with_the_propagation_policy(real, kube):
    real.apply(DEPLOYMENT)
    real.delete("Deployment", "web", grace_period_seconds=0)
    call = kube.calls[-1]
    assert (call["method"], call["path"]) == ("DELETE", "/apis/apps/v1/namespaces/labkit-ann/deployments/web")
    assert call["body"] == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
        "gracePeriodSeconds": 0,
    }
    assert ("deployments", "labkit-ann", "web") not in kube.objects()


def test_dry_run_writes_nothing_and_says_what_would_change(real, kube):
    real.apply(POD)
    before = kube.objects()
    changed = {**POD, "metadata": {"name": "my-nginx", "labels": {"app": "my-nginx", "tier": "web"}}}
    plan = real.apply([changed, SERVICE, POD], dry_run=True)
    assert [(p["object"], p["action"]) for p in plan] == [
        ("Pod/my-nginx", "update"),
        ("Service/my-nginx", "create"),
        ("Pod/my-nginx", "unchanged"),
    ]
    assert plan[0]["changes"] == ["metadata.labels.tier"]
    assert kube.objects() == before
    assert all("dryRun=All" in p for m, p in writes(kube)[-3:])


def test_one_document_the_server_refuses_leaves_the_cluster_unchanged(real, kube):
    kube.answer(
        "PATCH",
        r"/services/my-nginx\?.*dryRun=All",
        422,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "Invalid",
            "code": 422,
            "message": 'Service "my-nginx" is invalid: spec.ports[0].port: Invalid value: 80: already used',
            "details": {
                "name": "my-nginx",
                "kind": "Service",
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: 80: already used",
                        "field": "spec.ports[0].port",
                    }
                ],
            },
        },
    )
    with pytest.raises(labkit.ManifestError) as err:
        real.apply([POD, SERVICE])
    assert err.value.path == "spec.ports[0].port" and err.value.value == 80
    assert err.value.document == "Service/my-nginx"
    assert ("pods", "labkit-ann", "my-nginx") not in kube.objects()  # the Pod's dry run passed, no write


def test_a_locally_invalid_manifest_sends_nothing(real, kube):
    bad = {
        **POD,
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": "80"}]}]
        },
    }
    with pytest.raises(labkit.ManifestError) as err:
        real.apply(bad)
    assert "containerPort" in err.value.path
    assert kube.log() == []


def test_planned_requests_need_no_cluster_and_match_what_apply_sends(real, kube):
    plan = planned_requests([POD, SERVICE], namespace="labkit-ann")
    assert [(p["method"], p["path"]) for p in plan] == [
        ("PATCH", "/api/v1/namespaces/labkit-ann/pods/my-nginx"),
        ("PATCH", "/api/v1/namespaces/labkit-ann/services/my-nginx"),
    ]
    assert plan[0]["body"]["metadata"]["labels"][MANAGED_BY[0]] == MANAGED_BY[1]
    real.apply([POD, SERVICE])
    sent = [c["body"] for c in kube.calls if c["method"] == "PATCH" and "dryRun" not in c["path"]]
    assert sent == [p["body"] for p in plan]


def test_scale_patches_only_the_scale_subresource(real, kube):
    kube.answer(
        "PATCH",
        r"/deployments/web/scale$",
        200,
        {"kind": "Scale", "apiVersion": "autoscaling/v1", "spec": {"replicas": 5}, "status": {"replicas": 2}},
    )
    real.apply(DEPLOYMENT)
    out = real.scale("Deployment", "web", 5)
    assert out["spec"] == {"replicas": 5}
    call = kube.calls[-1]
    assert call["path"].endswith("/deployments/web/scale") and call["body"] == {"spec": {"replicas": 5}}
    assert call["headers"]["Content-Type"] == "application/merge-patch+json"
    with pytest.raises(labkit.ManifestError):
        real.scale("Deployment", "web", -1)


def test_rollout_status_reads_the_deployment_in_kubectls_words(real, kube):
    real.apply(DEPLOYMENT)
    kube.answer(
        "GET",
        r"/deployments/web$",
        200,
        {
            **DEPLOYMENT,
            "metadata": {"name": "web", "generation": 1},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
        },
    )
    assert real.rollout_status("Deployment", "web") == (
        'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...'
    )


def test_events_are_sorted_and_filtered_by_the_involved_object(real, kube):
    def event(name, obj, t, reason):
        return {
            "metadata": {"name": name, "namespace": "labkit-ann"},
            "reason": reason,
            "message": reason,
            "involvedObject": {"kind": "Pod", "name": obj},
            "lastTimestamp": t,
        }

    kube.answer(
        "GET",
        r"/namespaces/labkit-ann/events$",
        200,
        {
            "kind": "EventList",
            "items": [
                event("b", "my-nginx", "2026-12-01T00:00:05Z", "Started"),
                event("a", "my-nginx", "2026-12-01T00:00:01Z", "Scheduled"),
                event("c", "other", "2026-12-01T00:00:02Z", "Scheduled"),
            ],
        },
    )
    assert [e["reason"] for e in real.events(involved="my-nginx")] == ["Scheduled", "Started"]
    assert [e["metadata"]["name"] for e in real.events()] == ["a", "c", "b"]


def test_pods_frame_has_the_simulators_columns_and_times_from_the_status(real, kube):
    kube.answer(
        "GET",
        r"/namespaces/labkit-ann/pods$",
        200,
        {
            "kind": "PodList",
            "items": [
                {
                    "metadata": {
                        "name": "my-nginx",
                        "namespace": "labkit-ann",
                        "creationTimestamp": "2026-12-01T00:00:00Z",
                    },
                    "spec": {
                        "nodeName": "kind-worker",
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                            }
                        ],
                    },
                    "status": {
                        "phase": "Running",
                        "conditions": [
                            {
                                "type": "PodScheduled",
                                "status": "True",
                                "lastTransitionTime": "2026-12-01T00:00:01Z",
                            },
                            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:09Z"},
                        ],
                        "containerStatuses": [
                            {"name": "nginx", "state": {"running": {"startedAt": "2026-12-01T00:00:08Z"}}}
                        ],
                    },
                }
            ],
        },
    )
    df = real.pods_frame()
    assert list(df.columns) == list(labkit.Cluster(seed=0).pods_frame().columns)
    row = df.iloc[0].to_dict()
    assert row == {
        "name": "my-nginx",
        "namespace": "labkit-ann",
        "node": "kind-worker",
        "phase": "Running",
        "ready": True,
        "cpu_request_m": 100,
        "memory_request_bytes": 64 * 2**20,
        "created_s": 0.0,
        "scheduled_s": 1.0,
        "running_s": 8.0,
    }


def test_wait_for_watches_until_the_pod_is_bound_and_ready(real, kube):
    real.apply(POD)

    def kubelet():  # another client binds the pod and marks it Ready, as the scheduler and kubelet would
        time.sleep(0.3)
        import json
        import urllib.request

        url = kube.url + "/api/v1/namespaces/labkit-ann/pods/my-nginx"
        patch = {
            "spec": {"nodeName": "kind-worker"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }
        req = urllib.request.Request(
            url,
            data=json.dumps(patch).encode(),
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        urllib.request.urlopen(req, timeout=5).read()

    t = threading.Thread(target=kubelet)
    t.start()
    start = time.monotonic()
    assert real.wait_for("Ready", timeout=10)
    t.join()
    assert time.monotonic() - start < 5
    watches = [p for m, p in kube.log() if "watch=true" in p]
    assert watches and "timeoutSeconds=" in watches[0]


def test_wait_for_gives_up_at_the_timeout_without_hanging(real, kube):
    real.apply(POD)
    start = time.monotonic()
    assert real.wait_for("bound", timeout=1.5) is False
    assert time.monotonic() - start < 4


def test_import_labkit_leaves_the_kubernetes_client_out_and_realcluster_brings_it():
    import subprocess
    import sys

    code = (
        "import sys, labkit; before = 'kubernetes' in sys.modules; labkit.RealCluster; "
        "print(before, 'kubernetes' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True"]
