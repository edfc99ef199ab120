"""The HPA's decision as a pure function: ``labkit.hpa.reconcile(hpa, now=, scale=, pods=, metrics=)``.

What kube-controller-manager's HorizontalPodAutoscaler controller computes at every sync
(``pkg/controller/podautoscaler/horizontal.go``, v1.36), given what it would read from the API
and the metrics APIs; the lab's controller calls it, ``Cluster.explain_hpa`` shows its trace. See
:func:`labkit.controllers.podautoscaler.reconcile.reconcile` for the arguments.
"""

from __future__ import annotations

from labkit.controllers.podautoscaler.reconcile import Config, HPAState, Reconciliation, reconcile

__all__ = ["reconcile", "Config", "HPAState", "Reconciliation"]
