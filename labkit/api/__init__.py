"""The simulated etcd + kube-apiserver: object store, kinds, admission, validation, quantities, selectors."""
