"""The resource metrics pipeline: containers' cgroup counters (:mod:`labkit.metrics.usage`) and the
metrics-server addon that serves them as ``metrics.k8s.io`` (:mod:`labkit.metrics.server`)."""
