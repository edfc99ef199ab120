"""Cluster DNS as a pod sees it: the kubelet's resolv.conf, the resolver's search path, CoreDNS's records.

One scenario (two namespaces; a ClusterIP Service in each, headless Services with hand-written
EndpointSlices, ExternalNames, pods with every dnsPolicy) drives table tests. Services carry an
explicit ``spec.clusterIP`` and the headless ones are selector-less with their own EndpointSlices
(a real-world pattern), so the tests depend on neither the ClusterIP allocator nor the
EndpointSlice controller. Upstream rules: CoreDNS ``plugin/kubernetes/`` and
``plugin/backend_lookup.go``; kubelet ``pkg/kubelet/network/dns/dns.go``; glibc
``resolv/res_query.c``; musl ``src/network/lookup_name.c``.
"""

from __future__ import annotations

import pytest

import labkit
from labkit.network.dns import ClusterDNS

SCENARIO = """
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 172.21.0.20
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other}
spec:
  clusterIP: 172.21.0.21
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
spec:
  clusterIP: 172.21.0.30
  ports: [{name: grpc, port: 9000}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-x1y2z
  namespace: default
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- addresses: ["10.0.1.7"]
  conditions: {ready: true}
- addresses: ["10.0.1.5"]
  conditions: {ready: true}
  hostname: db-0
- addresses: ["10.0.1.6"]
  conditions: {ready: false}
  hostname: db-1
---
apiVersion: v1
kind: Service
metadata: {name: peers, namespace: default}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  ports: [{name: gossip, port: 7946}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: peers-abcde
  namespace: default
  labels: {kubernetes.io/service-name: peers}
addressType: IPv4
ports: [{name: gossip, port: 7946, protocol: TCP}]
endpoints:
- addresses: ["10.0.2.2"]
  conditions: {ready: true, serving: false, terminating: false}
- addresses: ["10.0.2.1"]
  conditions: {ready: true, serving: true, terminating: false}
- addresses: ["10.0.2.3"]
  conditions: {ready: true, serving: true, terminating: false}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: my.database.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: alias, namespace: default}
spec: {type: ExternalName, externalName: web.other.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: gone, namespace: default}
spec: {type: ExternalName, externalName: nothing.example.org}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: other}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: default}
spec:
  hostNetwork: true
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet-cf, namespace: default}
spec:
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: nodedns, namespace: default}
spec:
  dnsPolicy: Default
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: custom, namespace: default}
spec:
  dnsPolicy: "None"
  dnsConfig:
    nameservers: [172.21.0.10]
    searches: [other.svc.cluster.local]
    options: [{name: ndots, value: "1"}]
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: merged, namespace: default}
spec:
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [corp.example.com, svc.cluster.local]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: offline, namespace: default}
spec:
  dnsPolicy: "None"
  dnsConfig: {nameservers: [8.8.8.8]}
  containers: [{name: c, image: busybox}]
"""

CLUSTER_FIRST = ("search {ns}.svc.cluster.local svc.cluster.local cluster.local\n"
                 "nameserver 172.21.0.10\noptions ndots:5\n")
NODE = ("nameserver 100.100.2.136\nnameserver 100.100.2.138\n"
        "options timeout:2 attempts:3 rotate single-request-reopen\n")


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=2)
    c.apply(SCENARIO)
    c.run()
    c.dns.add_external("www.aliyun.com", ["106.11.93.21", "106.11.93.22"])
    c.dns.add_external("my.database.example.com", "203.0.113.7")
    return c


@pytest.fixture(scope="module")
def dns(cluster) -> ClusterDNS:
    return cluster.dns


def dashed(ip: str) -> str:
    return ip.replace(".", "-")


# -- records -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "from_pod", "namespace", "qtype", "expected"), [
    # ClusterIP Service: every spelling a client uses, from the same namespace
    ("web", None, "default", "A", ["172.21.0.20"]),
    ("web.default", None, "default", "A", ["172.21.0.20"]),
    ("web.default.svc", None, "default", "A", ["172.21.0.20"]),
    ("web.default.svc.cluster.local", None, "default", "A", ["172.21.0.20"]),
    ("web.default.svc.cluster.local.", None, "default", "A", ["172.21.0.20"]),
    ("WEB.Default.SVC.cluster.local", None, "default", "A", ["172.21.0.20"]),  # case-insensitive
    # the namespace in the search path decides which "web"
    ("web", None, "other", "A", ["172.21.0.21"]),
    ("web", "worker", "other", "A", ["172.21.0.21"]),
    ("web.other", None, "default", "A", ["172.21.0.21"]),
    ("api.other", "client", "default", "A", ["172.21.0.30"]),
    # IPv4-only Service: AAAA is NOERROR with no answer
    ("web", None, "default", "AAAA", []),
    # headless: the ready endpoints (unset ready counts as ready), sorted; not-ready db-1 left out
    ("db", None, "default", "A", ["10.0.1.5", "10.0.1.7"]),
    ("db", None, "default", "AAAA", []),
    # publishNotReadyAddresses: the EndpointSlice controller marks every endpoint ready
    ("peers", None, "default", "A", ["10.0.2.1", "10.0.2.2", "10.0.2.3"]),
    # per-endpoint names: the hostname when the endpoint has one, else the dashed IP
    ("db-0.db", None, "default", "A", ["10.0.1.5"]),
    ("db-0.db.default.svc.cluster.local", None, "default", "A", ["10.0.1.5"]),
    ("10-0-1-7.db", None, "default", "A", ["10.0.1.7"]),
    ("10-0-2-2.peers.default.svc.cluster.local.", None, "default", "A", ["10.0.2.2"]),
    # ExternalName: CNAME; A follows it upstream, or inside the zone
    ("ext", None, "default", "CNAME", ["my.database.example.com"]),
    ("ext", None, "default", "A", ["203.0.113.7"]),
    ("alias", None, "default", "A", ["172.21.0.21"]),
    ("alias.default.svc.cluster.local", None, "default", "CNAME", ["web.other.svc.cluster.local"]),
    ("gone", None, "default", "A", []),  # CoreDNS answers the CNAME alone: no address
    ("web", None, "default", "CNAME", []),  # a ClusterIP Service has no CNAME
    # SRV: normal Service, one answer, the Service's name and port
    ("_http._tcp.web", None, "default", "SRV",
     [{"priority": 0, "weight": 100, "port": 80, "target": "web.default.svc.cluster.local"}]),
    ("_dns._udp.api.other", None, "default", "SRV",
     [{"priority": 0, "weight": 100, "port": 53, "target": "api.other.svc.cluster.local"}]),
    ("web.other", None, "default", "SRV",  # no _port._proto: every port
     [{"priority": 0, "weight": 100, "port": 80, "target": "web.other.svc.cluster.local"}]),
    ("api.other.svc.cluster.local", None, "default", "SRV",
     [{"priority": 0, "weight": 50, "port": 9000, "target": "api.other.svc.cluster.local"},
      {"priority": 0, "weight": 50, "port": 53, "target": "api.other.svc.cluster.local"}]),
    # SRV: headless, one answer per ready endpoint, weight 100/n floored
    ("_pg._tcp.db", None, "default", "SRV",
     [{"priority": 0, "weight": 50, "port": 5432, "target": "db-0.db.default.svc.cluster.local"},
      {"priority": 0, "weight": 50, "port": 5432, "target": "10-0-1-7.db.default.svc.cluster.local"}]),
    ("_gossip._tcp.peers", None, "default", "SRV",
     [{"priority": 0, "weight": 33, "port": 7946, "target": f"10-0-2-{i}.peers.default.svc.cluster.local"}
      for i in (1, 2, 3)]),
    # the namespace itself exists: NOERROR, no answer
    ("default.svc.cluster.local.", None, "default", "A", []),
    # IP literals are not looked up (getaddrinfo on a numeric host)
    ("10.0.0.1", None, "default", "A", ["10.0.0.1"]),
    # names outside the cluster: the upstream table
    ("www.aliyun.com", None, "default", "A", ["106.11.93.21", "106.11.93.22"]),
    ("www.aliyun.com.", "nodedns", "default", "A", ["106.11.93.21", "106.11.93.22"]),
    ("www.aliyun.com", None, "default", "AAAA", []),
    # dnsPolicy: hostNetwork pods with ClusterFirstWithHostNet, None with its own search path
    ("web", "hostnet-cf", "default", "A", ["172.21.0.20"]),
    ("web", "custom", "default", "A", ["172.21.0.21"]),  # searches: other.svc.cluster.local only
], ids=lambda v: v if isinstance(v, str) else None)
def test_resolve(dns, name, from_pod, namespace, qtype, expected):
    assert dns.resolve(name, from_pod=from_pod, namespace=namespace, type=qtype) == expected


def test_pod_records_verified(cluster, dns):
    """``pods verified`` (ACK's Corefile): the dashed IP of a pod of that namespace, nothing else."""
    client_ip = cluster.get("Pod", "client")["status"]["podIP"]
    worker_ip = cluster.get("Pod", "worker", namespace="other")["status"]["podIP"]
    assert dns.resolve(f"{dashed(client_ip)}.default.pod.cluster.local") == [client_ip]
    assert dns.resolve(f"{dashed(worker_ip)}.other.pod") == [worker_ip]
    for name in (f"{dashed(worker_ip)}.default.pod.cluster.local", "10-99-99-99.default.pod.cluster.local"):
        with pytest.raises(labkit.DNSError, match="^NXDOMAIN"):
            dns.resolve(name)


def test_pod_records_insecure_and_disabled(cluster):
    insecure = ClusterDNS(cluster.api, pods="insecure")
    assert insecure.resolve("10-99-99-99.default.pod.cluster.local") == ["10.99.99.99"]
    disabled = ClusterDNS(cluster.api, pods="disabled")
    ip = cluster.get("Pod", "client")["status"]["podIP"]
    with pytest.raises(labkit.DNSError):
        disabled.resolve(f"{dashed(ip)}.default.pod.cluster.local")


@pytest.mark.parametrize(("name", "qtype"), [
    ("nope", "A"), ("db-1.db", "A"), ("empty", "A"), ("web.nowhere", "A"), ("_https._tcp.web", "SRV"),
    ("_http._tcp.ext", "SRV"), ("api", "A"), ("nothing.example.org", "A"),
    ("web.default.svc.cluster.local", "A"),
])
def test_unknown_names_are_nxdomain(dns, name, qtype):
    if name == "web.default.svc.cluster.local":  # from a pod that does not ask CoreDNS
        with pytest.raises(labkit.DNSError, match="^NXDOMAIN"):
            dns.resolve(name, from_pod="nodedns")
        return
    with pytest.raises(labkit.DNSError) as info:
        dns.resolve(name, type=qtype)
    assert str(info.value).startswith("NXDOMAIN")
    assert info.value.rcode == "NXDOMAIN" and info.value.name == name


def test_nxdomain_lists_every_candidate(dns):
    with pytest.raises(labkit.DNSError) as info:
        dns.resolve("nope", from_pod="client")
    err = info.value
    assert isinstance(err, LookupError)
    assert err.tried == ["nope.default.svc.cluster.local.", "nope.svc.cluster.local.", "nope.cluster.local.",
                         "nope."]
    msg = str(err)
    assert msg.startswith('NXDOMAIN: "nope" does not resolve from pod "client" in namespace "default"')
    assert all(t in msg for t in err.tried)


@pytest.mark.parametrize(("name", "kwargs", "hint"), [
    ("api", {}, 'write "api.other"'),
    ("empty", {}, "headless and has no ready endpoint"),
    ("nothing.example.org", {}, "add_external"),
    ("web", {"from_pod": "nodedns"}, "does not ask CoreDNS"),
    ("web", {"from_pod": "hostnet"}, "ClusterFirstWithHostNet"),
])
def test_nxdomain_tells_the_learner_why(dns, name, kwargs, hint):
    with pytest.raises(labkit.DNSError, match="^NXDOMAIN") as info:
        dns.resolve(name, **kwargs)
    assert hint in str(info.value)


def test_unreachable_nameserver_times_out(dns):
    with pytest.raises(labkit.DNSError) as info:
        dns.resolve("web", from_pod="offline")
    assert info.value.rcode == "TIMEOUT" and str(info.value).startswith("TIMEOUT")
    assert [q["rcode"] for q in dns.queries("web", from_pod="offline")] == ["TIMEOUT"]  # glibc stops there


# -- the search path -------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "from_pod", "kwargs", "expected"), [
    ("web", None, {}, [("web.default.svc.cluster.local.", "NOERROR")]),
    ("web.other", None, {}, [("web.other.default.svc.cluster.local.", "NXDOMAIN"),
                             ("web.other.svc.cluster.local.", "NOERROR")]),
    # 4 dots < ndots:5: the FQDN without its final dot still walks the whole search path first
    ("web.default.svc.cluster.local", None, {}, [
        ("web.default.svc.cluster.local.default.svc.cluster.local.", "NXDOMAIN"),
        ("web.default.svc.cluster.local.svc.cluster.local.", "NXDOMAIN"),
        ("web.default.svc.cluster.local.cluster.local.", "NXDOMAIN"),
        ("web.default.svc.cluster.local.", "NOERROR")]),
    ("web.default.svc.cluster.local.", None, {}, [("web.default.svc.cluster.local.", "NOERROR")]),
    ("www.aliyun.com", None, {}, [("www.aliyun.com.default.svc.cluster.local.", "NXDOMAIN"),
                                  ("www.aliyun.com.svc.cluster.local.", "NXDOMAIN"),
                                  ("www.aliyun.com.cluster.local.", "NXDOMAIN"),
                                  ("www.aliyun.com.", "NOERROR")]),
    ("www.aliyun.com.", None, {}, [("www.aliyun.com.", "NOERROR")]),
    ("nope.", None, {}, [("nope.", "NXDOMAIN")]),  # trailing dot: only as is, even when it fails
    # ndots:2 (merged pod): 2 dots are enough to go as is first
    ("www.aliyun.com", "merged", {}, [("www.aliyun.com.", "NOERROR")]),
    ("web.other", "merged", {}, [("web.other.default.svc.cluster.local.", "NXDOMAIN"),
                                 ("web.other.svc.cluster.local.", "NOERROR")]),
    # glibc: as is first, then the whole search path; musl: as is only
    ("a.b.example", "merged", {}, [("a.b.example.", "NXDOMAIN"),
                                   ("a.b.example.default.svc.cluster.local.", "NXDOMAIN"),
                                   ("a.b.example.svc.cluster.local.", "NXDOMAIN"),
                                   ("a.b.example.cluster.local.", "NXDOMAIN"),
                                   ("a.b.example.corp.example.com.", "NXDOMAIN")]),
    ("a.b.example", "merged", {"resolver": "musl"}, [("a.b.example.", "NXDOMAIN")]),
    # glibc goes on after NOERROR-no-answer; musl stops there
    ("web", None, {"type": "AAAA"}, [("web.default.svc.cluster.local.", "NOERROR"),
                                     ("web.svc.cluster.local.", "NXDOMAIN"),
                                     ("web.cluster.local.", "NXDOMAIN"),
                                     ("web.", "NXDOMAIN")]),
    ("web", None, {"type": "AAAA", "resolver": "musl"}, [("web.default.svc.cluster.local.", "NOERROR")]),
    # the node's resolver: no search path, ndots 1, Alibaba Cloud DNS
    ("web", "nodedns", {}, [("web.", "NXDOMAIN")]),
    ("www.aliyun.com", "hostnet", {}, [("www.aliyun.com.", "NOERROR")]),
])
def test_queries_follow_the_search_path(dns, name, from_pod, kwargs, expected):
    got = dns.queries(name, from_pod=from_pod, **kwargs)
    assert [(q["query"], q["rcode"]) for q in got] == expected


def test_queries_record_server_type_answers_and_cname(dns):
    last = dns.queries("www.aliyun.com")[-1]
    assert last == {"query": "www.aliyun.com.", "type": "A", "server": "172.21.0.10", "rcode": "NOERROR",
                    "answers": ["106.11.93.21", "106.11.93.22"], "cname": []}
    assert dns.queries("www.aliyun.com", from_pod="nodedns")[0]["server"] == "100.100.2.136"
    ext = dns.queries("ext")[0]
    assert ext["cname"] == ["my.database.example.com"] and ext["answers"] == ["203.0.113.7"]
    srv = dns.queries("_http._tcp.web", type="SRV")[0]
    assert srv["type"] == "SRV" and srv["answers"][0]["port"] == 80


def test_getaddrinfo_sends_a_and_aaaa_for_every_candidate(dns):
    """``with_aaaa``: an A and an AAAA query per step, so ``www.aliyun.com`` costs 8 queries."""
    got = dns.queries("www.aliyun.com", with_aaaa=True)
    assert len(got) == 8
    assert [q["type"] for q in got] == ["A", "AAAA"] * 4
    assert [q["query"] for q in got[::2]] == [q["query"] for q in dns.queries("www.aliyun.com")]
    assert got[-1]["rcode"] == "NOERROR" and got[-1]["answers"] == []  # no AAAA; the A answer is enough


# -- resolv.conf -----------------------------------------------------------------------------
@pytest.mark.parametrize(("pod", "namespace", "expected"), [
    ("client", "default", CLUSTER_FIRST.format(ns="default")),
    ("worker", "other", CLUSTER_FIRST.format(ns="other")),
    ("hostnet", "default", NODE),  # ClusterFirst with hostNetwork falls back to Default
    ("hostnet-cf", "default", CLUSTER_FIRST.format(ns="default")),
    ("nodedns", "default", NODE),
    ("custom", "default", "search other.svc.cluster.local\nnameserver 172.21.0.10\noptions ndots:1\n"),
    # dnsConfig merged into ClusterFirst: servers and searches appended without duplicates, ndots overridden
    ("merged", "default",
     "search default.svc.cluster.local svc.cluster.local cluster.local corp.example.com\n"
     "nameserver 172.21.0.10\nnameserver 192.0.2.53\noptions ndots:2 edns0\n"),
    ("offline", "default", "nameserver 8.8.8.8\n"),
])
def test_resolv_conf_as_the_kubelet_writes_it(dns, pod, namespace, expected):
    assert dns.resolv_conf(pod, namespace) == expected


def test_dnsconfig_merges_with_default_policy_and_kubelet_limits():
    c = labkit.Cluster(seed=0)
    c.apply("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  dnsPolicy: Default
  dnsConfig:
    nameservers: [100.100.2.138, 192.0.2.1, 192.0.2.2]
    options: [{name: timeout, value: "5"}, {name: ndots, value: "3"}]
  containers: [{name: c, image: busybox}]
""")
    # appendDNSConfig drops the duplicate; formDNSConfigFitsLimits keeps 3 nameservers
    assert c.dns.resolv_conf("p") == (
        "nameserver 100.100.2.136\nnameserver 100.100.2.138\nnameserver 192.0.2.1\n"
        "options timeout:5 attempts:3 rotate single-request-reopen ndots:3\n")


def test_nameserver_is_read_from_the_kube_dns_service():
    c = labkit.Cluster(seed=0)
    if c.api.peek("Service", "kube-dns", "kube-system") is not None:  # the cluster's own, on 172.21.0.10
        assert c.dns.cluster_dns_ip == "172.21.0.10"
        c.delete("Service", "kube-dns", namespace="kube-system")
    assert c.dns.cluster_dns_ip == "172.21.0.10"  # no Service to read: the kubelet's configured clusterDNS
    c.apply("""
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 172.21.0.53
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 172.21.0.20
  ports: [{port: 80}]
""")
    assert c.dns.cluster_dns_ip == "172.21.0.53"
    assert "nameserver 172.21.0.53\n" in c.dns.resolver_config().text()
    assert c.dns.resolve("web") == ["172.21.0.20"]
    assert c.dns.resolve("_dns._udp.kube-dns.kube-system", type="SRV")[0]["port"] == 53
    # without _port._proto CoreDNS lists every port, named or not
    assert [r["port"] for r in c.dns.resolve("web", type="SRV")] == [80]


# -- input checks and the facade -------------------------------------------------------------
def test_bad_type_names_the_valid_ones(dns):
    with pytest.raises(ValueError, match='"A", "AAAA", "CNAME", "SRV"'):
        dns.resolve("web", type="MX")
    with pytest.raises(ValueError, match='"A", "AAAA", "CNAME", "SRV"'):
        dns.queries("web", type="PTR")


def test_unknown_pod_is_a_key_error(dns):
    with pytest.raises(KeyError, match='pods "ghost" not found'):
        dns.resolve("web", from_pod="ghost")
    with pytest.raises(KeyError, match='pods "client" not found'):
        dns.resolv_conf("client", "other")


@pytest.mark.parametrize("name", ["", "web..default", ".web", "web:80", "http://web", "a" * 64, 42])
def test_bad_names_are_value_errors(dns, name):
    with pytest.raises(ValueError):
        dns.resolve(name)


def test_add_external_checks_its_input(dns):
    with pytest.raises(ValueError, match="inside the cluster domain"):
        dns.add_external("web.default.svc.cluster.local", ["10.0.0.1"])
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        dns.add_external("example.org", ["example.com"])
    with pytest.raises(ValueError, match="resolver must be"):
        dns.resolve("web", resolver="bionic")


def test_dns_is_one_object_per_cluster(cluster):
    assert cluster.dns is cluster.dns
    assert cluster.dns.cluster_domain == "cluster.local"


def test_records_frame_shows_the_zone(cluster, dns):
    frame = dns.records("default")
    assert list(frame.columns) == ["name", "type", "answer"]
    rows = set(map(tuple, frame.itertuples(index=False)))
    client_ip = cluster.get("Pod", "client")["status"]["podIP"]
    assert {("web.default.svc.cluster.local", "A", "172.21.0.20"),
            ("_http._tcp.web.default.svc.cluster.local", "SRV", "0 100 80 web.default.svc.cluster.local"),
            ("db.default.svc.cluster.local", "A", "10.0.1.5"),
            ("db-0.db.default.svc.cluster.local", "A", "10.0.1.5"),
            ("10-0-1-7.db.default.svc.cluster.local", "A", "10.0.1.7"),
            ("ext.default.svc.cluster.local", "CNAME", "my.database.example.com"),
            (f"{dashed(client_ip)}.default.pod.cluster.local", "A", client_ip)} <= rows
    assert not any("10.0.1.6" in r[2] for r in rows)  # the not-ready endpoint
    assert not any(".other." in r[0] for r in rows)
    assert len(dns.records()) > len(frame)


# -- end to end: the EndpointSlice controller and the ClusterIP allocator feed CoreDNS -------------
def _has_controllers() -> bool:
    c = labkit.Cluster(seed=0, kubelets=False)
    kube_dns = c.api.peek("Service", "kube-dns", "kube-system")
    return hasattr(c, "endpointslice_controller") and kube_dns is not None


e2e = pytest.mark.skipif(not _has_controllers(),
                         reason="the EndpointSlice controller or the ClusterIP allocator is not wired in")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {labkit.io/ready-after: "30s"}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 5}
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-all}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  containers: [{name: db, image: postgres}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
"""


@pytest.fixture()
def deployed() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=2)
    c.apply(DEPLOYMENT)
    return c


def web_ips(c: labkit.Cluster) -> list[str]:
    return sorted((p["status"]["podIP"] for p in c.list("Pod", label_selector="app=web")),
                  key=lambda ip: tuple(map(int, ip.split("."))))


@e2e
def test_headless_service_answers_the_ready_pods_of_a_deployment(deployed):
    c = deployed
    c.run(until=15)  # pods running with IPs, readiness probes still failing
    assert len(web_ips(c)) == 3
    with pytest.raises(labkit.DNSError, match="headless and has no ready endpoint"):
        c.dns.resolve("web-headless")
    assert c.dns.resolve("web-all") == web_ips(c)  # publishNotReadyAddresses
    assert c.dns.resolve("web") == [c.get("Service", "web")["spec"]["clusterIP"]]  # the VIP, ready or not
    c.run()
    assert c.dns.resolve("web-headless") == web_ips(c)
    assert c.dns.resolve("_http._tcp.web-headless", type="SRV") == [
        {"priority": 0, "weight": 33, "port": 8080,
         "target": f"{dashed(ip)}.web-headless.default.svc.cluster.local"}
        for ip in web_ips(c)]  # the pods' port (targetPort), not the Service's
    assert c.dns.resolve("_http._tcp.web", type="SRV") == [
        {"priority": 0, "weight": 100, "port": 80, "target": "web.default.svc.cluster.local"}]


@e2e
def test_scaling_down_shrinks_the_headless_answer(deployed):
    c = deployed
    c.run()
    c.scale("Deployment", "web", 1)
    c.run()
    assert c.dns.resolve("web-headless") == web_ips(c) and len(web_ips(c)) == 1


@e2e
def test_hostname_and_subdomain_give_a_pod_its_own_name(deployed):
    c = deployed
    c.run()
    ip = c.get("Pod", "db-0")["status"]["podIP"]
    assert c.dns.resolve("db-0.db") == [ip]
    assert c.dns.resolve("db-0.db.default.svc.cluster.local.") == [ip]
    assert c.dns.resolve(f"{dashed(ip)}.default.pod.cluster.local") == [ip]


@e2e
def test_allocated_cluster_ip_and_kube_dns(deployed):
    c = deployed
    c.run()
    vip = c.get("Service", "web")["spec"]["clusterIP"]
    assert vip.startswith("172.21.")
    assert c.dns.resolve("web.default.svc.cluster.local") == [vip]
    assert c.dns.resolve("kube-dns.kube-system") == ["172.21.0.10"]
    assert c.dns.resolve("kubernetes.default") == [c.get("Service", "kubernetes")["spec"]["clusterIP"]]
