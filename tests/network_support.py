"""A small web application behind a Service, for the kube-proxy, SLB and traffic scenario tests."""

from __future__ import annotations

import labkit


def web_yaml(replicas: int = 3, *, service_time: str = "exponential 20ms", concurrency: int = 4,
             pre_stop: int | None = None, service_type: str = "ClusterIP", extra_service: str = "",
             extra_annotations: str = "", name: str = "web") -> str:
    lifecycle = f"\n        lifecycle: {{preStop: {{sleep: {{seconds: {pre_stop}}}}}}}" if pre_stop else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations:
        {{labkit.io/service-time: "{service_time}",
         labkit.io/concurrency: "{concurrency}"{extra_annotations}}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{{containerPort: 80, name: http}}]{lifecycle}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {service_type}
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http}}]{extra_service}
"""


CLIENT = """
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: curl, image: curlimages/curl:8.10.1}]
"""


def web_cluster(seed: int = 0, nodes: int = 3, client: bool = False, **kw) -> labkit.Cluster:
    """A settled cluster of ``nodes`` ECS nodes running ``web`` (and optionally a ``client`` pod)."""
    cluster_kw = {k: kw.pop(k) for k in ("proxy_mode", "ipvs_scheduler", "endpoint_propagation",
                                         "traffic_engine") if k in kw}
    c = labkit.Cluster(seed=seed, **cluster_kw)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=nodes)
    c.apply(web_yaml(**kw) + ("---" + CLIENT if client else ""))
    c.run()
    return c
