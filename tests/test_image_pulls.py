"""Push and pull by layer: a registry takes only the layers it lacks, a node pulls only the layers it
lacks; the imagePullPolicy matrix; ErrImagePull then ImagePullBackOff with the upstream back-off."""

from __future__ import annotations

import re

import pytest

import labkit
from labkit.images import build

ACR = "registry.cn-hangzhou.aliyuncs.com/lab"
ARTICLE = "FROM nginx:latest\nCOPY index.html /usr/share/nginx/html/index.html\n"


def cluster(nodes: int = 1) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", instance_type="ecs.g7.xlarge", count=nodes)
    c.run()
    return c


def pod(name: str, image: str, policy: str | None = None, node: str | None = None) -> dict:
    ctr = {"name": "web", "image": image}
    if policy:
        ctr["imagePullPolicy"] = policy
    spec = {"containers": [ctr]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def kubelet_events(c: labkit.Cluster, name: str) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"]) for e in c.events(involved=name) if e["source"]["component"] == "kubelet"
    ]


def pulled_seconds(c: labkit.Cluster, name: str) -> float:
    msg = next(m for r, m in kubelet_events(c, name) if r == "Pulled")
    took = re.search(r" in ([\d.]+)(ms|s) ", msg)
    return float(took.group(1)) / (1000 if took.group(2) == "ms" else 1)


def test_a_push_uploads_only_the_layers_the_registry_lacks():
    c = cluster()
    v1 = build(ARTICLE, {"index.html": "<h1>v1</h1>"})
    v2 = build(ARTICLE, {"index.html": "<h1>v2</h1>"})
    first = c.registry.push(v1, f"{ACR}/my-nginx:1.0")
    assert first["layers_pushed"] == len(v1.layers) and first["bytes_pushed"] == v1.size_bytes
    second = c.registry.push(v2, f"{ACR}/my-nginx:1.1")
    assert (second["layers_pushed"], second["layers_skipped"]) == (1, len(v2.layers) - 1)  # index.html only
    assert second["bytes_pushed"] == v2.layers[-1].size_bytes < 1000
    assert c.registry.push(v2, f"{ACR}/my-nginx:latest")["bytes_pushed"] == 0  # a new tag, no new layer


def test_a_node_pulls_only_the_layers_it_lacks():
    c = cluster()
    node = c.list("Node")[0]["metadata"]["name"]
    v1, v2 = (build(ARTICLE, {"index.html": f"<h1>{v}</h1>"}) for v in ("v1", "v2"))
    c.registry.push(v1, f"{ACR}/my-nginx:1.0")
    c.registry.push(v2, f"{ACR}/my-nginx:1.1")
    c.apply(pod("cold", f"{ACR}/my-nginx:1.0", node=node))
    c.run()
    c.apply(pod("warm", f"{ACR}/my-nginx:1.1", node=node))
    c.run()
    cold, warm = pulled_seconds(c, "cold"), pulled_seconds(c, "warm")
    assert warm < 0.1 < 1.0 < cold  # one small layer and the manifest round trip, against ~57 MB
    images = c.get("Node", node)["status"]["images"]
    assert [i["sizeBytes"] for i in images] == sorted((i["sizeBytes"] for i in images), reverse=True)
    assert {n for i in images for n in i["names"]} >= {f"{ACR}/my-nginx:1.0", f"{ACR}/my-nginx:1.1"}
    image_id = c.get("Pod", "warm")["status"]["containerStatuses"][0]["imageID"]
    assert image_id == f"{ACR}/my-nginx@{v2.digest}"


@pytest.mark.parametrize(
    ("policy", "present", "reasons"),
    [
        ("IfNotPresent", True, ["Pulled", "Created", "Started"]),
        ("IfNotPresent", False, ["Pulling", "Pulled", "Created", "Started"]),
        ("Always", True, ["Pulling", "Pulled", "Created", "Started"]),
        ("Always", False, ["Pulling", "Pulled", "Created", "Started"]),
        ("Never", True, ["Pulled", "Created", "Started"]),
        ("Never", False, ["ErrImageNeverPull"]),
    ],
)
def test_the_image_pull_policy_matrix(policy, present, reasons):
    c = cluster()
    node = c.list("Node")[0]["metadata"]["name"]
    if present:
        c.apply(pod("first", "nginx:1.27", node=node))
        c.run()
    c.apply(pod("second", "nginx:1.27", policy, node=node))
    c.run(until=c.now + 30)
    events = kubelet_events(c, "second")
    assert [r for r, _ in events] == reasons
    if reasons[0] == "Pulled":
        assert (
            events[0][1]
            == 'Container image "nginx:1.27" already present on machine and can be accessed by the pod'
        )
    if policy == "Always" and present:
        assert pulled_seconds(c, "second") < 0.6  # every layer is there: Docker Hub's round trip (0.4 s) only
    if reasons == ["ErrImageNeverPull"]:
        assert events[0][1] == 'Container image "nginx:1.27" is not present with pull policy of Never'


def test_an_image_nobody_pushed_is_err_image_pull_then_back_off_that_doubles():
    c = cluster()
    c.apply(pod("typo", f"{ACR}/my-nginx:1.0"))  # never pushed
    c.run(until=c.now + 200)
    events = [e for e in c.events(involved="typo") if e["source"]["component"] == "kubelet"]
    failed = [e for e in events if e["reason"] == "Failed"]
    ref = f"{ACR}/my-nginx:1.0"
    assert failed[0]["message"] == (
        f'Failed to pull image "{ref}": rpc error: code = NotFound desc = failed to pull and unpack '
        f'image "{ref}": failed to resolve reference "{ref}": {ref}: not found'
    )
    assert {e["message"] for e in failed} >= {"Error: ErrImagePull", "Error: ImagePullBackOff"}
    assert any(
        e["reason"] == "BackOff" and e["message"] == f'Back-off pulling image "{ACR}/my-nginx:1.0"'
        for e in events
    )
    state = c.get("Pod", "typo")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert state["reason"] in ("ImagePullBackOff", "ErrImagePull")
    # the attempts: each after the back-off (10 s, 20 s, 40 s, ...) and the next pod sync (10-15 s);
    # in 200 s near 0, 10-25, 30-55, 70-115 and 150-215 s
    count = next(e["count"] for e in events if e["reason"] == "Pulling")
    assert 3 <= count <= 5, count


def test_pushed_images_start_and_the_pull_is_faster_from_acr_than_docker_hub():
    c = cluster(nodes=2)
    a, b = (n["metadata"]["name"] for n in c.list("Node"))
    image = build("FROM python:3.12-slim\nCOPY app.py /app/\n", {"app.py": "print('hi')\n"})
    c.registry.push(image, f"{ACR}/app:1.0")
    c.registry.push(image, "docker.io/lab/app:1.0")
    c.apply([pod("acr", f"{ACR}/app:1.0", node=a), pod("hub", "docker.io/lab/app:1.0", node=b)])
    c.run()
    assert all(p["status"]["phase"] == "Running" for p in c.list("Pod"))
    assert pulled_seconds(c, "acr") < pulled_seconds(c, "hub")


def _small_disk(c: labkit.Cluster, node: str, size: str) -> None:
    c.api.mutate_status("Node", node, None, lambda st: st["capacity"].update({"ephemeral-storage": size}))


def test_image_gc_deletes_unused_images_oldest_first_down_to_the_low_threshold():
    c = cluster()
    node = c.list("Node")[0]["metadata"]["name"]
    _small_disk(c, node, "2Gi")  # python:3.12 (1.02 GB on disk) and node:22 (1.12 GB) do not both fit
    c.apply(pod("old", "python:3.12", node=node))
    c.run(until=c.now + 60)
    c.delete("Pod", "old")
    c.run(until=c.now + 60)
    c.apply(pod("new", "node:22", node=node))
    c.run(until=c.now + 700)  # two GC periods
    names = {n for i in c.get("Node", node)["status"]["images"] for n in i["names"]}
    assert "python:3.12" not in names and "node:22" in names  # the unused one went, the one in use stayed
    assert not [e for e in c.events() if e["reason"] == "FreeDiskSpaceFailed"]


def test_image_gc_that_cannot_free_enough_says_so_on_the_node():
    c = cluster()
    node = c.list("Node")[0]["metadata"]["name"]
    _small_disk(c, node, "2Gi")
    c.apply([pod("a", "python:3.12", node=node), pod("b", "node:22", node=node)])  # both in use
    c.run(until=c.now + 700)
    failed = [e for e in c.events() if e["reason"] == "FreeDiskSpaceFailed"]
    assert failed and failed[0]["type"] == "Warning" and failed[0]["involvedObject"]["kind"] == "Node"
    assert re.fullmatch(
        r"Insufficient free disk space on the node's image filesystem \(\d+% of 2\.0 GiB used\)\. "
        r"Failed to free sufficient space by deleting unused images \(freed 0 bytes\)\. "
        r"Investigate disk usage, as it could be used by active images, logs, volumes, or other "
        r"data\.",
        failed[0]["message"],
    ), failed[0]["message"]
