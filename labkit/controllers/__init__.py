"""The simulated kube-controller-manager: control loops that watch the API server and write back.

Each controller is an API client built on :mod:`labkit.controllers.runtime` (informer-style
watches feeding a work queue keyed by object, as ``client-go/util/workqueue``).
"""
