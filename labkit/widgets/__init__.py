"""Interactive panels, one per chapter, each a thin layer over a plain, tested ``labkit`` function.

``ipywidgets`` and ``matplotlib`` are imported inside the functions, so importing this package
stays as light as ``import labkit``.

================================  ================================================
``timeline_stepper``              step through a pod's control-plane timeline (chapter 00)
``step_html``                     the HTML the stepper shows for one step
``scheduling_playground``         change pools and a pod, see where it lands (chapter 02)
``playground_cluster``            the playground's cluster, built from node pools
``place``                         the playground's what-if placement of one pod
``pods_per_zone``                 how many pods a label selector matches in each zone
``load_balance_panel``            replicas, kube-proxy mode, a slow pod: load and p99 per pod (chapter 03)
``load_balance``                  the load-balance panel's run: one minute of traffic, per pod
``failure_panel``                 a pod deleted, a node failed, a rollout: requests by outcome (chapter 03)
``failure_run``                   the failure panel's run: traffic with one disturbance 10 s in
``autoscaling_panel``             pattern, target, bounds, scale-down window: the HPA at work (chapter 04)
``autoscale_run``                 the autoscaling panel's run: 15 minutes of one load pattern, sampled
``PANEL_TEXT``                    what a panel says in plain text (a notebook not yet run)
================================  ================================================
"""

from __future__ import annotations

from labkit.widgets._panel import PANEL_TEXT
from labkit.widgets.autoscaling import autoscale_run, autoscaling_panel
from labkit.widgets.scheduling import place, playground_cluster, pods_per_zone, scheduling_playground
from labkit.widgets.service_discovery import failure_panel, failure_run, load_balance, load_balance_panel
from labkit.widgets.timeline import step_html, timeline_stepper

__all__ = ["timeline_stepper", "step_html", "scheduling_playground", "playground_cluster", "place",
           "pods_per_zone", "load_balance_panel", "load_balance", "failure_panel", "failure_run",
           "autoscaling_panel", "autoscale_run", "PANEL_TEXT"]
