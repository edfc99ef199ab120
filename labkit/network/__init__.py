"""Service networking: what kube-proxy, CoreDNS and the node's kernel do with a Service.

``dataplane`` is the node kernels' state (the rules kube-proxy programmed, which pod IPs answer);
``proxy`` is kube-proxy, an API client that programs those rules; ``dns`` is the cluster DNS
(CoreDNS's ``kubernetes`` plugin); ``slb`` is the Alibaba Cloud load balancer in front of
``LoadBalancer`` Services.
"""
