"""The simulated kubelet and container runtime."""
