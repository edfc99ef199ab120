"""kubectl's client-side logic (``staging/src/k8s.io/kubectl``) that ``Cluster``'s calls delegate to.

kubectl is an API client like any other: these functions read and write through the
:class:`~labkit.api.server.APIServer` and never reach into a controller.
"""
