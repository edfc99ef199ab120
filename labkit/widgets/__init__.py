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
``PANEL_TEXT``                    what a panel says in plain text (a notebook not yet run)
================================  ================================================
"""

from __future__ import annotations

from labkit.widgets._panel import PANEL_TEXT
from labkit.widgets.scheduling import place, playground_cluster, pods_per_zone, scheduling_playground
from labkit.widgets.timeline import step_html, timeline_stepper

__all__ = ["timeline_stepper", "step_html", "scheduling_playground", "playground_cluster", "place",
           "pods_per_zone", "PANEL_TEXT"]
