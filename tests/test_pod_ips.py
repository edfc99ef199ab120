"""Pod IPs: a /24 per node from ACK's container CIDR, handed out host-local style and reused."""

from __future__ import annotations

import ipaddress

import labkit

POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  containers: [{{name: c, image: "nginx:1.27"}}]
"""


def test_a_node_reuses_the_ips_of_deleted_pods_instead_of_running_out():
    c = labkit.Cluster(seed=0)
    node = c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=1)[0]["metadata"]["name"]
    seen = set()
    for i in range(300):
        c.apply(POD.format(name=f"p{i}", node=node))
        c.run()
        ip = c.get("Pod", f"p{i}")["status"]["podIP"]
        assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("172.20.0.0/24")
        assert ip.rsplit(".", 1)[1] not in ("0", "1", "255")
        seen.add(ip)
        c.delete("Pod", f"p{i}", grace_period_seconds=0)
        c.run()
    assert len(seen) == 253  # every usable address once, then round again


def test_nodes_past_the_first_256_get_their_own_24_outside_the_service_cidr():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=260)
    c.apply(POD.format(name="late", node=c.list("Node")[-1]["metadata"]["name"]))
    c.run()
    ip = ipaddress.IPv4Address(c.get("Pod", "late")["status"]["podIP"])
    assert ip not in ipaddress.IPv4Network("172.21.0.0/20")
    assert ip.is_private
