"""The Kubernetes version the lab follows, written once.

``kubernetes-validate`` 1.37 and the ``kubernetes`` client 37 both support 1.36 and 1.37. The lab
follows **1.36**: its scheduling and autoscaling semantics (``shared/spec/kubernetes-semantics.md``)
were checked line by line against a real v1.36.2 kube-scheduler and the v1.36.2 source tree, and
the manifests are validated against the same minor's OpenAPI schemas, so every rule the lab
teaches comes from one release. Move it forward only together with a re-check of those rules.
"""

from __future__ import annotations

KUBERNETES_VERSION = "1.36"
#: The patch release whose behaviour was recorded (kubelet version reported by simulated nodes).
KUBERNETES_PATCH_VERSION = "v1.36.2"
