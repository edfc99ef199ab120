"""From ``"web.default.svc.cluster.local:80"`` to a traffic source: what the client dials, from where.

A client resolves the name once (as a client with a DNS cache does), then dials the address:
a Service's ClusterIP goes through the client node's kube-proxy; a ``LoadBalancer`` Service's
ingress IP through the Alibaba Cloud SLB to a node; ``<node IP>:<nodePort>`` straight to that
node's kube-proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.workloads.engine import Source
from labkit.workloads.patterns import as_pattern

if TYPE_CHECKING:
    from labkit.api.server import APIServer
    from labkit.network.dataplane import DataPlane
    from labkit.network.proxy import KubeProxy

__all__ = ["make_source", "DEFAULT_TIMEOUT", "DEFAULT_CLIENTS"]

#: The client's timeout for one request (connect plus answer), seconds.
DEFAULT_TIMEOUT = 10.0
#: Client pods a source without ``from_pod`` stands for, spread over the nodes.
DEFAULT_CLIENTS = 50


def _split(target: Any) -> tuple[str, int]:
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"target {target!r}: write host:port, e.g. 'web.default.svc.cluster.local:80', "
                         "'172.21.3.7:80' (a ClusterIP) or '10.0.0.1:30080' (a node and its nodePort)")
    host, _, port = target.rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"target {target!r}: the port after ':' is a number from 1 to 65535")
    return host, int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def make_source(ident: int, target: Any, rate: Any, duration: Any, arrivals: str, from_pod: str | None,
                namespace: str, timeout: float, clients: int, *, now: float, seed: int, api: APIServer,
                proxy: KubeProxy, dataplane: DataPlane, resolve: Callable[..., list[str]],
                keep: str = "requests") -> Source:
    """A :class:`Source` for ``c.traffic(...)``, or a ``ValueError`` that says what to change."""
    if keep not in ("requests", "summary"):
        raise ValueError(f"keep {keep!r}: choose 'requests' (a row per request: .frame()) or 'summary' "
                         "(counts and latency histograms only, for long runs: a day is ~17M requests)")
    if arrivals not in ("poisson", "constant"):
        raise ValueError(f"arrivals {arrivals!r}: choose 'poisson' (random, the usual model of many "
                         "independent users) or 'constant' (evenly spaced)")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration < 1e9:
        raise ValueError(f"duration {duration!r}: give the seconds of simulated time to send for (> 0)")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout {timeout!r}: the client's timeout in seconds (> 0)")
    if isinstance(clients, bool) or not isinstance(clients, int) or not 1 <= clients <= 65_000:
        raise ValueError(f"clients {clients!r}: how many client pods to stand for (1 to 65000)")
    pattern = as_pattern(rate)
    host, port = _split(target)
    host = host.rstrip(".")
    if _is_ip(host):
        ips = [host]
    else:
        ips = resolve(host, from_pod=from_pod, namespace=namespace, type="A")
    ip = ips[0] if ips else ""
    vip = (ip, port, "TCP")
    key = proxy.by_vip.get(vip)
    route, entry = "cluster", ""
    if key is not None:
        rules = proxy.versions[key][-1]
        if ip != rules.cluster_ip:
            route = "slb"
    elif ip in _node_ips(api).values():
        key = proxy.by_node_port.get((port, "TCP"))
        if key is None:
            raise ValueError(f"target {target!r}: no Service has nodePort {port} (NodePort Services take "
                             "ports 30000-32767; c.get('Service', name)['spec']['ports'] shows them)")
        route = "nodeport"
        entry = next(n for n, a in _node_ips(api).items() if a == ip)
    else:
        svc_ips = {r.cluster_ip for h in proxy.versions.values() for r in h[-1:] if not r.deleted}
        if ip in svc_ips:
            raise ValueError(f"target {target!r}: the Service at {ip} has no port {port}")
        if ips and not _is_ip(host):
            shown = ", ".join(ips[:3])
            raise ValueError(f"target {target!r}: {host} resolves to pod IPs ({shown}): a headless Service, "
                             "whose clients connect to pods directly without kube-proxy; the lab sends "
                             "traffic through Services with a ClusterIP")
        raise ValueError(f"target {target!r}: {ip} is no Service IP, load balancer or node of this cluster")
    if from_pod is not None:
        if route != "cluster":
            raise ValueError("from_pod: traffic to a NodePort or SLB address comes from outside the cluster; "
                             "leave from_pod=None")
        pod = api.peek("Pod", from_pod, namespace)
        if pod is None:
            raise KeyError(f'pods "{from_pod}" not found')
        pod_ip, node = (pod.get("status") or {}).get("podIP"), pod["spec"].get("nodeName")
        if not pod_ip or not node:
            raise ValueError(f"from_pod: pod {namespace}/{from_pod} is not running yet (no pod IP); run the "
                             "cluster until it is")
        client_list = [(pod_ip, node)]
    elif route == "cluster":
        nodes = [n for n in proxy.nodes if n not in dataplane.down]
        if not nodes:
            raise ValueError("no node is up to send from")
        # client pods that are not API objects, from a /24 no node's pod CIDR uses
        client_list = [(f"172.20.{254 - i // 250}.{i % 250 + 2}", nodes[i % len(nodes)])
                       for i in range(clients)]
    else:
        # external clients, from the documentation range TEST-NET-2 (RFC 5737)
        client_list = [(f"198.51.100.{i % 250 + 1}", "") for i in range(clients)]
    return Source(ident, now, float(duration), pattern, arrivals, route, vip, client_list, float(timeout),
                  seed, entry_node=entry, virtual=from_pod is None and route == "cluster", keep=keep)


def _node_ips(api: APIServer) -> dict[str, str]:
    out = {}
    for node in api.items("Node"):
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                out[node["metadata"]["name"]] = addr["address"]
    return out
