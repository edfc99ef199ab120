"""The simulated kube-scheduler: queue, framework, default plugins, profiles, preemption, explain."""
