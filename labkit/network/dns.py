"""Cluster DNS: the pod's ``/etc/resolv.conf``, its stub resolver, and CoreDNS answering from the API.

Three pieces of a real cluster, each reproduced from its source:

- **The kubelet** writes each pod's resolver configuration from its ``dnsPolicy`` and
  ``dnsConfig`` (``pkg/kubelet/network/dns/dns.go``: ``getPodDNSType``, ``GetPodDNS``,
  ``appendDNSConfig``, ``mergeDNSOptions``, ``formDNSConfigFitsLimits``), and containerd renders it
  as the file (``internal/cri/server/podsandbox``: ``parseDNSOptions``: ``search``, then one
  ``nameserver`` line each, then ``options``).
- **The pod's stub resolver** walks the search path: glibc ``resolv/res_query.c``
  (``__res_context_search``) or musl ``src/network/lookup_name.c`` (``name_from_dns_search``).
- **CoreDNS's ``kubernetes`` plugin** answers names under the cluster domain from what it watches
  (Services, EndpointSlices, Pods, Namespaces), as ``plugin/kubernetes/{parse,kubernetes,handler}.go``
  and ``plugin/backend_lookup.go`` do, with the records of the Kubernetes DNS spec
  (``kubernetes/dns docs/specification.md``). Everything else CoreDNS forwards to the node's
  resolver (``forward . /etc/resolv.conf``).

Like CoreDNS, :class:`ClusterDNS` is an API client: it reads the API server's objects and holds no
cluster state of its own except the upstream table (:meth:`ClusterDNS.add_external`).

Simplifications (each stated where it matters):

- Answers reflect the API at the moment of the call: no informer lag, no ``cache 30``, no TTLs.
- CoreDNS is always up and reachable at the kube-dns ClusterIP: its pods are not modelled, so the
  kube-dns Service's own endpoints (and kube-proxy's rules for it) are not consulted.
- The kubelet's ``clusterDNS`` is read from the ``kube-system/kube-dns`` Service (:data:`KUBE_DNS_IP`
  without one); a real kubelet has it as a flag, which ACK sets to that Service's ClusterIP.
- The lab has no internet. The upstream resolver (Alibaba Cloud DNS, 100.100.2.136/.138, which
  ACK's CoreDNS forwards to and ``dnsPolicy: Default`` pods ask directly) is a small table filled
  with :meth:`ClusterDNS.add_external`; any other nameserver in a resolv.conf is unreachable.
- A/AAAA answers are in a stable order (addresses sorted); ACK's Corefile enables ``loadbalance``,
  which shuffles them per response.
- Record types A, AAAA, CNAME and SRV; no PTR (reverse zones), TXT ``dns-version``, NS/SOA or
  ``ns.dns`` records; no ``autopath``, ``endpoint_pod_names``, multicluster or zonal names.
- ``mergeDNSOptions`` builds a Go map, so the kubelet writes merged options in random order; here
  they keep first-seen order (existing options, then new names).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.errors import DNSError

if TYPE_CHECKING:
    import pandas as pd

    from labkit.api.server import APIServer

__all__ = ["ClusterDNS", "ResolverConfig", "KUBE_DNS_IP", "NODE_NAMESERVERS", "NODE_OPTIONS", "RECORD_TYPES",
           "RESOLVERS", "POD_MODES"]

#: The kube-dns Service's ClusterIP on ACK with the default Service CIDR 172.21.0.0/20 (the kubelet's
#: ``clusterDNS``). Used when the API holds no ``kube-system/kube-dns`` Service to read it from.
KUBE_DNS_IP = "172.21.0.10"
#: What an ACK ECS node's /etc/resolv.conf holds (the kubelet's ``--resolv-conf``): the VPC's Alibaba
#: Cloud DNS servers, no search line, and ECS's resolver options
#: (https://www.alibabacloud.com/help/en/cs/user-guide/dns-resolution-and-cache-policy-description).
NODE_NAMESERVERS = ("100.100.2.136", "100.100.2.138")
NODE_OPTIONS = ("timeout:2", "attempts:3", "rotate", "single-request-reopen")
RECORD_TYPES = ("A", "AAAA", "CNAME", "SRV")
RESOLVERS = ("glibc", "musl")
#: CoreDNS ``pods`` option; ACK's default Corefile says ``pods verified``
#: (https://www.alibabacloud.com/help/en/container-service-for-kubernetes/latest/configure-coredns),
#: kubeadm's says ``pods insecure``.
POD_MODES = ("verified", "insecure", "disabled")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")

# pkg/apis/core/validation: MaxDNSNameservers, MaxDNSSearchPathsExpanded, MaxDNSSearchListCharsExpanded
# (ExpandedDNSConfig is GA); apimachinery DNS1123SubdomainMaxLength.
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
MAX_SEARCH_LENGTH = 253
DEFAULT_NDOTS = 1  # glibc res_init.c and musl resolvconf.c, when resolv.conf sets no ndots
MAX_NDOTS = 15  # both resolvers cap ndots at 15
MAX_CNAME_CHAIN = 10  # plugin/backend_lookup.go: maxCnameChainLength
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# Outcomes of one resolver step (a query, or an A+AAAA pair).
_ANSWER, _NODATA, _NXDOMAIN, _TIMEOUT = "answer", "nodata", "nxdomain", "timeout"


@dataclass(frozen=True)
class ResolverConfig:
    """A pod's resolver configuration, as the kubelet hands it to the container runtime."""

    nameservers: tuple[str, ...]
    searches: tuple[str, ...]
    options: tuple[str, ...]

    def text(self) -> str:
        """The resolv.conf file as containerd writes it (``parseDNSOptions``)."""
        out = ""
        if self.searches:
            out += "search " + " ".join(self.searches) + "\n"
        if self.nameservers:
            out += "".join(f"nameserver {ns}\n" for ns in self.nameservers)
        if self.options:
            out += "options " + " ".join(self.options) + "\n"
        return out

    @property
    def ndots(self) -> int:
        """``options ndots:n`` (the last one wins), capped at 15; 1 when unset."""
        n = DEFAULT_NDOTS
        for opt in self.options:
            if opt.startswith("ndots:"):
                rest = opt[6:]
                digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
                n = min(int(digits or 0), MAX_NDOTS)  # res_init.c: atoi(), so "ndots:x" is 0
        return n


NODE_RESOLVER = ResolverConfig(NODE_NAMESERVERS, (), NODE_OPTIONS)


@dataclass(frozen=True)
class _Entry:
    """What CoreDNS's ``findServices``/``findPods`` return (``msg.Service``): a host (an IP, or a name
    for an ExternalName) with a port, under a key that names the record's owner."""

    host: str
    port: int
    key: str  # owner name, no trailing dot: web.default.svc.cluster.local, db-0.db.default.svc...


@dataclass
class _Response:
    rcode: str  # NOERROR | NXDOMAIN | TIMEOUT (no server answered)
    records: list[tuple[str, Any]]  # ("A", ip), ("AAAA", ip), ("CNAME", target), ("SRV", {...})
    server: str | None = None


class _NameError(Exception):
    """CoreDNS's errNoItems / errNsNotExposed / errInvalidRequest: answered NXDOMAIN."""


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _family(ip: str) -> str:
    return "AAAA" if ":" in ip else "A"


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _omit_duplicates(items: list[str]) -> list[str]:
    """``omitDuplicates``: first occurrence kept."""
    return list(dict.fromkeys(items))


def _merge_options(existing: list[str], extra: list[dict[str, Any]]) -> list[str]:
    """``mergeDNSOptions``: ``name[:value]`` options, the pod's dnsConfig overriding by name."""
    merged: dict[str, str] = {}
    for op in existing:
        name, _, value = op.partition(":")
        merged[name] = value
    for op in extra:
        merged[str(op.get("name", ""))] = "" if op.get("value") is None else str(op["value"])
    return [f"{k}:{v}" if v != "" else k for k, v in merged.items()]


def _fits_limits(servers: list[str], searches: list[str]) -> tuple[list[str], list[str]]:
    """``formDNSConfigFitsLimits``: 3 nameservers; 32 search paths, none over 253 characters, the
    line at most 2048 (the kubelet also records a DNSConfigForming Warning; not reproduced)."""
    servers = servers[:MAX_NAMESERVERS]
    searches = [s for s in searches[:MAX_SEARCH_PATHS] if len(s) <= MAX_SEARCH_LENGTH]
    while searches and len(" ".join(searches)) > MAX_SEARCH_CHARS:
        searches.pop()
    return servers, searches


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a DNS name such as 'web', 'web.default' or "
                         f"'web.default.svc.cluster.local' (got {name!r})")
    body = name[:-1] if name.endswith(".") else name
    labels = body.split(".")
    if any(not label for label in labels):
        raise ValueError(f"{name!r} is not a DNS name: it has an empty label (two dots in a row, or a "
                         "leading dot); write it as 'web.default' or, fully qualified, "
                         "'web.default.svc.cluster.local.'")
    for label in labels:
        if len(label) > 63 or not all(ch.isalnum() or ch in "-_" for ch in label):
            raise ValueError(f"{name!r} is not a DNS name: each label is at most 63 letters, digits, '-' "
                             f"or '_' (bad label {label!r}); a port or scheme ('web:80', 'http://web') is "
                             "not part of the name")
    if len(body) > 253:
        raise ValueError(f"{name!r} is longer than 253 characters, the most a DNS name can hold")
    return name


def _check_type(type: Any) -> str:
    qtype = type.upper() if isinstance(type, str) else type
    if qtype not in RECORD_TYPES:
        valid = ", ".join(f'"{t}"' for t in RECORD_TYPES)
        raise ValueError(f"type must be one of {valid} (got {type!r})")
    return qtype


def _check_resolver(resolver: Any) -> str:
    if resolver not in RESOLVERS:
        raise ValueError(f'resolver must be "glibc" (Debian, Ubuntu, most images) or "musl" (Alpine) '
                         f"(got {resolver!r})")
    return resolver


class ClusterDNS:
    """The cluster's DNS as pods see it: CoreDNS behind the kube-dns Service, and each pod's resolver.

    Parameters
    ----------
    api:
        The API server to read Services, EndpointSlices, Pods and Namespaces from.
    cluster_domain:
        The kubelet's ``--cluster-domain`` and the zone CoreDNS's ``kubernetes`` plugin serves.
    pods:
        CoreDNS's ``pods`` option for ``a-b-c-d.<ns>.pod.<domain>`` records: ``"verified"`` (ACK's
        Corefile: only the IP of a pod in that namespace), ``"insecure"`` (any IP) or ``"disabled"``.

    Examples
    --------
    >>> c.dns.resolve("web")                                   # ['172.21.0.20']
    >>> c.dns.resolve("_http._tcp.web", type="SRV")            # [{'priority': 0, 'weight': 100, ...}]
    >>> [q["query"] for q in c.dns.queries("www.aliyun.com")]  # the search path, then as is
    """

    def __init__(self, api: APIServer, cluster_domain: str = "cluster.local", *,
                 pods: str = "verified") -> None:
        if pods not in POD_MODES:
            raise ValueError(f'pods must be one of "verified", "insecure", "disabled" (got {pods!r})')
        domain = cluster_domain.strip(".").lower()
        _check_name(domain)
        self.api = api
        self.cluster_domain = domain
        self.pod_mode = pods
        self._external: dict[str, tuple[str, ...]] = {}

    # -- the upstream resolver (a table: the lab has no internet) --------------------------------
    def add_external(self, name: str, ips: str | list[str]) -> None:
        """Register a name outside the cluster domain with the upstream resolver.

        CoreDNS forwards every name outside its zones to the node's resolver (ACK: Alibaba Cloud
        DNS); ``dnsPolicy: Default`` pods ask that resolver directly. The lab has no internet, so
        the upstream resolver is this table: a name not added here is NXDOMAIN. ``ips`` may mix
        IPv4 (A) and IPv6 (AAAA) addresses; a name with only IPv4 addresses answers AAAA with
        NOERROR and no records.
        """
        _check_name(name)
        key = name.rstrip(".").lower()
        if self._in_zone(key):
            raise ValueError(f"{name!r} is inside the cluster domain {self.cluster_domain}: CoreDNS answers "
                             "those names from Services and Pods and never forwards them; apply a Service "
                             "instead")
        addrs = [ips] if isinstance(ips, str) else list(ips)
        if not addrs:
            raise ValueError("ips must list at least one IPv4 or IPv6 address")
        for ip in addrs:
            if not isinstance(ip, str) or not _is_ip(ip):
                raise ValueError(f"ips: {ip!r} is not an IPv4 or IPv6 address")
        self._external[key] = tuple(str(ipaddress.ip_address(ip)) for ip in addrs)

    # -- resolver configuration (the kubelet) -----------------------------------------------------
    @property
    def cluster_dns_ip(self) -> str:
        """The nameserver ClusterFirst pods get: the kube-dns Service's ClusterIP, or :data:`KUBE_DNS_IP`."""
        svc = self.api.peek("Service", "kube-dns", "kube-system")
        ips = _cluster_ips(svc) if svc is not None else []
        return ips[0] if ips and ips[0] != "None" else KUBE_DNS_IP

    def resolver_config(self, pod_name: str | None = None, namespace: str = "default") -> ResolverConfig:
        """The resolver configuration the kubelet gives ``pod_name`` (``GetPodDNS``); with no pod, a
        ``dnsPolicy: ClusterFirst`` pod's in ``namespace``. An unknown pod raises ``KeyError``."""
        spec: dict[str, Any] = {}
        if pod_name is not None:
            spec = self.api.get("Pod", pod_name, namespace, copy=False).get("spec") or {}
        return self._pod_config(spec, namespace)

    def resolv_conf(self, pod_name: str, namespace: str = "default") -> str:
        """The pod's ``/etc/resolv.conf`` as the kubelet and containerd write it.

        ``dnsPolicy: ClusterFirst`` (the default) in namespace ``default``::

            search default.svc.cluster.local svc.cluster.local cluster.local
            nameserver 172.21.0.10
            options ndots:5
        """
        text = self.resolver_config(pod_name, namespace).text()
        # containerd copies the host's /etc/resolv.conf when the kubelet passes no DNS settings at all
        return text or NODE_RESOLVER.text()

    def _pod_config(self, spec: dict[str, Any], namespace: str) -> ResolverConfig:
        # getPodDNSType: None -> none; ClusterFirstWithHostNet -> cluster; ClusterFirst -> cluster unless
        # hostNetwork, which falls through to Default -> host. An unknown policy (the API refuses it) is
        # treated as cluster, as the kubelet does.
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        host_network = bool(spec.get("hostNetwork"))
        if policy == "None":
            servers: list[str] = []
            searches: list[str] = []
            options: list[str] = []
        elif policy == "Default" or (policy == "ClusterFirst" and host_network):
            servers, searches, options = list(NODE_NAMESERVERS), [], list(NODE_OPTIONS)
        else:
            # generateSearchesForDNSClusterFirst: the cluster's three domains, then the host's searches;
            # the cluster DNS server is the only nameserver; options are defaultDNSOptions (ndots:5).
            d = self.cluster_domain
            servers = [self.cluster_dns_ip]
            searches = _omit_duplicates([f"{namespace}.svc.{d}", f"svc.{d}", d, *NODE_RESOLVER.searches])
            options = ["ndots:5"]
        dns_config = spec.get("dnsConfig")
        if dns_config is not None:  # appendDNSConfig
            servers = _omit_duplicates(servers + [str(s) for s in dns_config.get("nameservers") or []])
            searches = _omit_duplicates(searches + [str(s) for s in dns_config.get("searches") or []])
            options = _merge_options(options, list(dns_config.get("options") or []))
        servers, searches = _fits_limits(servers, searches)
        return ResolverConfig(tuple(servers), tuple(searches), tuple(options))

    # -- the client side (stub resolver) ---------------------------------------------------------
    def resolve(self, name: str, from_pod: str | None = None, namespace: str = "default", type: str = "A",
                *, resolver: str = "glibc") -> list[Any]:
        """Resolve ``name`` as a process in ``from_pod`` would (``res_search`` over its resolv.conf).

        Parameters
        ----------
        name:
            As a client writes it: ``web``, ``web.default``, ``web.default.svc``,
            ``web.default.svc.cluster.local``, with or without a trailing dot; an IP address is
            returned as it is, with no query (``getaddrinfo`` on a numeric host).
        from_pod:
            A pod in ``namespace`` whose resolver configuration (dnsPolicy, dnsConfig) is used;
            ``None``: a ``dnsPolicy: ClusterFirst`` pod in ``namespace``.
        type:
            ``"A"``, ``"AAAA"``, ``"CNAME"`` or ``"SRV"``.
        resolver:
            ``"glibc"`` or ``"musl"`` (Alpine): they walk the search path differently (see :meth:`queries`).

        Returns
        -------
        list
            A/AAAA: addresses; CNAME: ``[target]``; SRV: ``[{"priority", "weight", "port", "target"}]``
            (targets without the trailing dot). An empty list when the name exists but holds no
            record of that type (NOERROR, no answer: e.g. AAAA of an IPv4-only Service, or an
            ExternalName whose target does not resolve).

        Raises
        ------
        labkit.DNSError
            ``NXDOMAIN`` (no candidate name exists) or ``TIMEOUT`` (no nameserver reachable); the
            message lists every name tried.
        KeyError
            ``pods "x" not found`` for an unknown ``from_pod``.
        """
        qtype = _check_type(type)
        _check_name(name)
        _check_resolver(resolver)
        if qtype in ("A", "AAAA") and _is_ip(name) and _family(name) == qtype:
            return [name]
        conf = self.resolver_config(from_pod, namespace)
        log, outcome, answers = self._search(name, conf, qtype, resolver, with_aaaa=False)
        if outcome in (_ANSWER, _NODATA):
            return answers
        raise self._error(name, conf, log, outcome, from_pod, namespace)

    def queries(self, name: str, from_pod: str | None = None, namespace: str = "default", type: str = "A",
                *, resolver: str = "glibc", with_aaaa: bool = False) -> list[dict[str, Any]]:
        """Every query the pod's resolver sends for ``name``, in order, with its outcome.

        Each query is ``{"query": "web.default.svc.cluster.local.", "type": "A", "server":
        "172.21.0.10", "rcode": "NOERROR" | "NXDOMAIN" | "TIMEOUT", "answers": [...], "cname": [...]}``
        (``cname``: the CNAME chain CoreDNS put before the answers; ``server``: the nameserver that
        answered, ``None`` when none did). The list stops at the first query that answers.

        The search path, as the resolvers implement it:

        - fewer dots than ``ndots``: each search domain in turn, then the name as is;
        - at least ``ndots`` dots: glibc tries the name as is first, then the search domains; musl
          tries it only as is;
        - a trailing dot: only as is.

        glibc moves on after NXDOMAIN and after NOERROR with no answer; musl stops at the first
        NOERROR. So with ``ndots:5``, ``www.aliyun.com`` costs 4 queries (3 search domains, then as
        is) before it is found.

        ``with_aaaa=True`` models ``getaddrinfo(AF_UNSPEC)`` (what ``curl`` or Python's ``socket``
        call): glibc and musl send an A and an AAAA query for each candidate, in parallel, so each
        step costs two queries and succeeds if either has an answer. With ``type="A"`` only (the
        default), one query per step.
        """
        qtype = _check_type(type)
        _check_name(name)
        _check_resolver(resolver)
        if with_aaaa and qtype != "A":
            raise ValueError(f'with_aaaa pairs an AAAA query with each A query: use it with type="A" '
                             f"(got {type!r})")
        if qtype in ("A", "AAAA") and _is_ip(name):
            return []
        conf = self.resolver_config(from_pod, namespace)
        return self._search(name, conf, qtype, resolver, with_aaaa=with_aaaa)[0]

    def _search(self, name: str, conf: ResolverConfig, qtype: str, resolver: str, with_aaaa: bool
                ) -> tuple[list[dict[str, Any]], str, list[Any]]:
        log: list[dict[str, Any]] = []
        last: list[Any] = [_NXDOMAIN, []]

        def step(candidate: str) -> str:
            types = (qtype, "AAAA") if with_aaaa else (qtype,)
            outcomes = []
            for t in types:
                resp = self._send(conf, candidate, t)
                answers = [v for kind, v in resp.records if kind == t]
                log.append({"query": candidate, "type": t, "server": resp.server, "rcode": resp.rcode,
                            "answers": answers,
                            "cname": [v.rstrip(".") for kind, v in resp.records if kind == "CNAME"]})
                outcomes.append((resp, answers))
            # glibc __res_context_querydomain with answerp2: success when either reply carries answers
            if any(resp.rcode == "NOERROR" and resp.records for resp, _ in outcomes):
                out = _ANSWER
            elif any(resp.rcode == "TIMEOUT" for resp, _ in outcomes):
                out = _TIMEOUT
            elif all(resp.rcode == "NXDOMAIN" for resp, _ in outcomes):
                out = _NXDOMAIN
            else:
                out = _NODATA
            last[:] = [out, outcomes[0][1]]
            return out

        trailing = name.endswith(".")
        bare = name[:-1] if trailing else name
        dots = name.count(".")
        ndots = conf.ndots
        if resolver == "musl":
            # lookup_name.c name_from_dns_search: no search at all with >= ndots dots or a trailing dot;
            # NXDOMAIN moves to the next domain, anything else (answer, NODATA, failure) ends the walk.
            searches = () if dots >= ndots or trailing else conf.searches
            for domain in searches:
                out = step(_fqdn(f"{bare}.{domain}"))
                if out != _NXDOMAIN:
                    return log, out, last[1]
            out = step(bare + ".")
            return log, out, last[1]

        # glibc res_query.c __res_context_search
        saved: str | None = None
        got_nodata = tried_as_is = root_on_list = False
        if dots >= ndots or trailing:
            out = step(bare + ".")
            if out == _ANSWER or trailing:
                return log, out, last[1]
            saved, tried_as_is = out, True
        # RES_DEFNAMES (no dots) and RES_DNSRCH (dots, no trailing dot) are on by default
        for domain in conf.searches:
            d = domain[1:] if domain.startswith(".") else domain
            if not d:
                root_on_list = True
            out = step(_fqdn(f"{bare}.{d}" if d else bare))
            if out == _ANSWER:
                return log, out, last[1]
            if out == _NODATA:
                got_nodata = True
            elif out == _TIMEOUT:
                break  # TRY_AGAIN without SERVFAIL: "anything else implies that we're done"
        if not (tried_as_is or root_on_list):
            out = step(bare + ".")
            if out == _ANSWER:
                return log, out, last[1]
        # "if we did an initial full query, return that query's H_ERRNO ... else if we ever got a
        # nodata, send that back ... else the one from the last query we did"
        if saved is not None:
            final = saved
        elif got_nodata:
            final = _NODATA
        else:
            final = last[0]
        return log, final, [] if final == _NODATA else last[1]

    def _error(self, name: str, conf: ResolverConfig, log: list[dict[str, Any]], outcome: str,
               from_pod: str | None, namespace: str) -> DNSError:
        tried = list(dict.fromkeys(q["query"] for q in log))
        who = f'pod "{from_pod}"' if from_pod else "a ClusterFirst pod"
        setup = (f"search {' '.join(conf.searches) or '(none)'}; "
                 f"nameserver {', '.join(conf.nameservers) or '(none)'}; ndots:{conf.ndots}")
        if outcome == _TIMEOUT:
            rcode = "TIMEOUT"
            lines = [f'TIMEOUT: no nameserver answered for "{name}" from {who} in namespace "{namespace}" '
                     f"({setup})",
                     f"tried, in order: {' '.join(tried)}",
                     f"The lab has no route to nameservers other than CoreDNS ({self.cluster_dns_ip}) and "
                     f"the VPC's Alibaba Cloud DNS ({', '.join(NODE_NAMESERVERS)})."]
        else:
            rcode = "NXDOMAIN"
            lines = [f'NXDOMAIN: "{name}" does not resolve from {who} in namespace "{namespace}" ({setup})',
                     f"tried, in order: {' '.join(tried)}"]
        return DNSError(name, rcode, tried, "\n".join(lines + self._hints(name, conf, namespace)))

    def _hints(self, name: str, conf: ResolverConfig, namespace: str) -> list[str]:
        hints = []
        bare = name.rstrip(".").lower()
        labels = bare.split(".")
        if self.cluster_dns_ip not in conf.nameservers:
            hints.append(f"This resolver does not ask CoreDNS ({self.cluster_dns_ip}), so no cluster name "
                         "resolves: dnsPolicy Default (and ClusterFirst with hostNetwork: true) uses the "
                         "node's resolver; ClusterFirstWithHostNet gives a hostNetwork pod the cluster DNS.")
        services = [svc for svc in self.api.items("Service") if svc["metadata"]["name"] in labels]
        for svc in services:
            ns, svc_name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            if _cluster_ips(svc)[:1] == ["None"] and not self._endpoint_entries(svc, "", "", ""):
                hints.append(f"Service {ns}/{svc_name} is headless and has no ready endpoint, so CoreDNS "
                             "answers NXDOMAIN for it until one is ready.")
            elif ns != namespace and labels == [svc_name]:
                hints.append(f'Service "{svc_name}" exists in namespace "{ns}": from namespace "{namespace}" '
                             f'write "{svc_name}.{ns}" (or "{svc_name}.{ns}.svc.{self.cluster_domain}").')
        cluster_like = (self._in_zone(bare) or services or "svc" in labels or "pod" in labels
                        or any(self.api.peek("Namespace", label, None) is not None for label in labels))
        if not cluster_like and len(labels) > 1 and bare not in self._external:
            hints.append(f"Names outside {self.cluster_domain} go to the upstream resolver (Alibaba Cloud "
                         "DNS); the lab has no internet, so only names registered with "
                         "c.dns.add_external(name, ips) resolve.")
        return hints

    def _send(self, conf: ResolverConfig, qname: str, qtype: str) -> _Response:
        """res_send: the nameservers in order (at most 3, MAXNS), the next one on a timeout."""
        for server in conf.nameservers[:MAX_NAMESERVERS]:
            resp = self._ask(server, qname, qtype)
            if resp is not None:
                resp.server = server
                return resp
        return _Response("TIMEOUT", [])

    def _ask(self, server: str, qname: str, qtype: str) -> _Response | None:
        """One query to one nameserver; None when the lab has no route to it."""
        if server == self.cluster_dns_ip:
            return self._coredns(qname, qtype)
        if server in NODE_NAMESERVERS:
            return self._upstream(qname, qtype)
        return None

    # -- the server side ---------------------------------------------------------------------------
    def _coredns(self, qname: str, qtype: str) -> _Response:
        """CoreDNS's answer to one query: the ``kubernetes`` plugin for the cluster domain
        (``handler.go: ServeDNS``), ``forward`` to the upstream resolver for anything else."""
        name = qname.rstrip(".").lower()
        if not self._in_zone(name):
            return self._upstream(name, qtype)
        try:
            if qtype in ("A", "AAAA"):
                records = self._address(name, qtype, [])
            elif qtype == "CNAME":
                entries = self._services(name)
                records = ([("CNAME", entries[0].host)] if entries and not _is_ip(entries[0].host) else [])
            else:
                records = self._srv(name)
        except _NameError:
            return _Response("NXDOMAIN", [])
        return _Response("NOERROR", records)  # no records: NOERROR with an empty answer (NODATA)

    def _upstream(self, qname: str, qtype: str) -> _Response:
        """The upstream resolver: the table :meth:`add_external` fills (the lab has no internet)."""
        ips = self._external.get(qname.rstrip(".").lower())
        if ips is None:
            return _Response("NXDOMAIN", [])
        return _Response("NOERROR", [(qtype, ip) for ip in ips if _family(ip) == qtype])

    def _in_zone(self, name: str) -> bool:
        return name == self.cluster_domain or name.endswith("." + self.cluster_domain)

    def _address(self, name: str, qtype: str, previous: list[tuple[str, str]]) -> list[tuple[str, Any]]:
        """``plugin.A``/``plugin.AAAA``: addresses (deduplicated), and CNAMEs followed inside the zone
        or through the upstream resolver."""
        records: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for entry in self._services(name):
            if _is_ip(entry.host):
                if _family(entry.host) == qtype and entry.host not in seen:
                    seen.add(entry.host)
                    records.append((qtype, entry.host))
                continue
            target = entry.host.rstrip(".").lower()
            cname = ("CNAME", entry.host.rstrip("."))
            if target == name or len(previous) > MAX_CNAME_CHAIN or cname in previous:
                continue  # x CNAME x, a chain too long, or a loop
            if self._in_zone(target):
                try:
                    following = self._address(target, qtype, [*previous, cname])
                except _NameError:
                    continue
                if following:
                    records += [cname, *following]
                continue
            # "we can not complete the CNAME, try to look else where": the CNAME goes in even when the
            # upstream has no address for the target.
            records += [cname, *self._upstream(target, qtype).records]
        return records

    def _srv(self, name: str) -> list[tuple[str, Any]]:
        """``plugin.SRV``: weight 100/n (floored, at least 1) among the n entries of one priority
        (all are priority 0); the target is the entry's owner name."""
        entries = [e for e in self._services(name) if _is_ip(e.host)]  # SRV drops ExternalName CNAMEs
        total = 100 * len(entries)  # every entry has weight 0, counted as 100
        weight = max(1, math.floor(100.0 / total * 100)) if total else 0
        records: list[tuple[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        for e in entries:
            if e.port == -1 or (e.key, e.port) in seen:  # no declared port; duplicates dropped
                continue
            seen.add((e.key, e.port))
            records.append(("SRV", {"priority": 0, "weight": weight, "port": e.port, "target": e.key}))
        return records

    def _services(self, name: str) -> list[_Entry]:
        """``Kubernetes.Records``: parse the name (``parseRequest``), then ``findPods``/``findServices``.
        Raises :class:`_NameError` for NXDOMAIN; an empty list is NODATA."""
        base = name[: -len(self.cluster_domain)].rstrip(".") if name != self.cluster_domain else ""
        if base in ("", "svc", "pod"):
            return []  # the apex, svc.<zone>, pod.<zone>: NODATA
        segs = base.split(".")
        pod_or_svc = segs.pop()
        if pod_or_svc not in ("svc", "pod"):
            raise _NameError
        namespace = segs.pop() if segs else ""
        service = segs.pop() if segs else ""
        endpoint = port = protocol = ""
        if len(segs) == 1:
            endpoint = segs[0]
        elif len(segs) == 2:
            port, protocol = (s[1:] if s.startswith("_") else s for s in segs)
        elif segs:
            raise _NameError  # too long to mean anything
        if not namespace:
            return []
        if self.api.peek("Namespace", namespace, None) is None:
            raise _NameError  # namespaceExposed: the Namespace must exist
        if not service:
            return []  # <ns>.svc.<zone>: NODATA
        if pod_or_svc == "pod":
            return self._pods(namespace, service)
        return self._find_services(namespace, service, endpoint, port, protocol)

    def _pods(self, namespace: str, podname: str) -> list[_Entry]:
        """``findPods``: ``1-2-3-4`` is an IPv4 address, otherwise dashes stand for colons (IPv6)."""
        if self.pod_mode == "disabled":
            raise _NameError
        if podname.count("-") == 3 and "--" not in podname:
            ip = podname.replace("-", ".")
        else:
            ip = podname.replace("-", ":")
        key = f"{podname}.{namespace}.pod.{self.cluster_domain}"
        if self.pod_mode == "insecure":
            if not _is_ip(ip):
                raise _NameError
            return [_Entry(ip, 0, key)]
        # verified: a pod of that namespace holds the IP (terminating pods are left out of the index)
        for pod in self.api.items("Pod", namespace):
            if (pod.get("status") or {}).get("podIP") == ip and not pod["metadata"].get("deletionTimestamp"):
                return [_Entry(ip, 0, key)]
        raise _NameError

    def _find_services(self, namespace: str, service: str, endpoint: str, port: str, protocol: str
                       ) -> list[_Entry]:
        """``findServices``: ExternalName -> its name; headless (or an endpoint name) -> ready endpoints
        from the EndpointSlices; otherwise the ClusterIPs, for each matching port."""
        svc = self.api.peek("Service", service, namespace)
        if svc is None:
            raise _NameError
        spec = svc.get("spec") or {}
        fqdn = f"{service}.{namespace}.svc.{self.cluster_domain}"
        if spec.get("type") == "ExternalName":
            # no endpoints and no port/protocol pseudo-labels for an ExternalName; an IP is not a CNAME
            target = spec.get("externalName") or ""
            if endpoint or port or protocol or not target or _is_ip(target):
                raise _NameError
            return [_Entry(target, 0, fqdn)]
        ips = _cluster_ips(svc)
        if ips[:1] == ["None"] or endpoint:
            entries = self._endpoint_entries(svc, endpoint, port, protocol)
            if not entries:
                raise _NameError  # e.g. a headless Service with no ready endpoint: NXDOMAIN
            return entries
        ports = spec.get("ports") or [{"port": -1, "name": "", "protocol": ""}]  # the no-ports sentinel
        matching = [p for p in ports
                    if _match_port(port, p.get("name") or "", protocol, p.get("protocol") or "")]
        if not matching:
            raise _NameError
        return [_Entry(ip, int(p.get("port", -1)), fqdn) for p in matching for ip in ips if ip]

    def _endpoint_entries(self, svc: dict[str, Any], endpoint: str, port: str, protocol: str) -> list[_Entry]:
        """Ready endpoint addresses of the Service's EndpointSlices × their matching ports, owned by
        ``<hostname or dashed IP>.<svc>.<ns>.svc.<zone>``. CoreDNS reads only ``conditions.ready``
        (unset counts as ready): the EndpointSlice controller already set it true for every endpoint of
        a ``publishNotReadyAddresses`` Service."""
        meta = svc["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        entries = []
        for sl in self.api.items("EndpointSlice", namespace):
            if ((sl["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) != name
                    or sl.get("addressType") == "FQDN"):
                continue
            ports = sl.get("ports") or [{"port": -1}]
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for addr in ep.get("addresses") or []:
                    host = ep.get("hostname") or _dashed(addr)
                    if endpoint and endpoint != host.lower():
                        continue
                    for p in ports:
                        if p.get("port") is None:
                            p = {**p, "port": -1}
                        if _match_port(port, p.get("name") or "", protocol, p.get("protocol") or ""):
                            entries.append(_Entry(addr, int(p["port"]),
                                                  f"{host}.{name}.{namespace}.svc.{self.cluster_domain}"))
        entries.sort(key=lambda e: (_ip_key(e.host), e.port, e.key))
        return entries

    # -- the zone, for teaching --------------------------------------------------------------------
    def records(self, namespace: str | None = None) -> pd.DataFrame:
        """The zone CoreDNS serves right now, one row per record: ``name``, ``type``, ``answer``.

        Service records (A/AAAA, CNAME for ExternalName, SRV for each named port), for headless
        Services one A record per ready endpoint under ``<hostname-or-dashed-ip>.<svc>...``, and the
        pod records of pods with an IP (``pods verified``). Names are written without the final dot.
        """
        import pandas as pd

        rows: list[tuple[str, str, str]] = []

        def add(owner: str, qtype: str) -> None:
            for kind, value in self._coredns(owner, qtype).records:
                if kind == "SRV":
                    value = f"{value['priority']} {value['weight']} {value['port']} {value['target']}"
                rows.append((owner, kind, value))

        d = self.cluster_domain
        for svc in sorted(self.api.items("Service", namespace),
                          key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])):
            meta, spec = svc["metadata"], svc.get("spec") or {}
            fqdn = f"{meta['name']}.{meta['namespace']}.svc.{d}"
            if spec.get("type") == "ExternalName":
                add(fqdn, "CNAME")
                continue
            add(fqdn, "A")
            add(fqdn, "AAAA")
            headless = _cluster_ips(svc)[:1] == ["None"]
            if headless:
                for key in dict.fromkeys(e.key for e in self._endpoint_entries(svc, "", "", "")):
                    add(key, "A")
                    add(key, "AAAA")
            for p in spec.get("ports") or []:
                if p.get("name"):
                    add(f"_{p['name']}._{(p.get('protocol') or 'TCP').lower()}.{fqdn}", "SRV")
        if self.pod_mode != "disabled":
            for pod in self.api.items("Pod", namespace):
                ip = (pod.get("status") or {}).get("podIP")
                if ip and not pod["metadata"].get("deletionTimestamp"):
                    rows.append((f"{_dashed(ip)}.{pod['metadata']['namespace']}.pod.{d}", _family(ip), ip))
        return pd.DataFrame(rows, columns=["name", "type", "answer"])


def _cluster_ips(svc: dict[str, Any]) -> list[str]:
    """``spec.clusterIPs``, else ``[spec.clusterIP]`` (object/service.go ``ToService``); ``[]`` when
    the Service has no address yet."""
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [str(ip) for ip in ips]


def _match_port(q_port: str, port: str, q_proto: str, proto: str) -> bool:
    """``matchPortAndProtocol``: an empty query label matches anything; case-insensitive."""
    return ((not q_port or q_port.lower() == port.lower())
            and (not q_proto or q_proto.lower() == proto.lower()))


def _dashed(ip: str) -> str:
    """``endpointHostname`` for an address without a hostname: dots (or colons) become dashes."""
    if "." in ip:
        return ip.replace(".", "-")
    out = ip.replace(":", "-")
    return out + "0" if out.endswith("-") else out


def _ip_key(ip: str) -> tuple[int, int]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (addr.version, int(addr))
